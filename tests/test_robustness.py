"Bad inputs and faults against the public API (tiny tensors, CPU): files that would run code or hold damaged weights, labels out of range, seeds where generators belong, samplers that drop the generator, data folders that are not what they claim."
import os, subprocess, warnings, gzip, struct
from pathlib import Path
import numpy as np
import pytest
import torch, torch.nn as nn
from miniai.core import random_tensor, env_var, ItemGenerators
from miniai.checkpoint import save_model, load_model, spec_model, build_model, register_model, weights_checksum
from miniai.accel import demo_model
from miniai.diffusion import GaussianMixture, NoisingCB
from miniai.samplers import generate, sigmas_karras, sample_euler, sample_euler_ancestral, starts_from, first_point
from miniai.unet import UNet
from miniai.datasets import load_fashion_mnist, DataNotFoundError, _FMNIST_FILES

ROOT = Path(__file__).resolve().parents[1]

# Trust at load time

def _file_naming(tmp_path, factory, kwargs):
    "A model file whose spec names `factory`, otherwise well formed (weights of a real model, a correct checksum)."
    net = spec_model(demo_model, n_hidden=4)
    path = save_model(net, tmp_path/'evil.pt')
    raw = torch.load(path, weights_only=True)
    raw['spec'] = {'factory': factory, 'kwargs': kwargs}
    torch.save(raw, path)
    return path

def test_file_naming_a_miniai_function_that_is_not_a_model_is_refused_before_it_runs(tmp_path):
    "miniai.core.set_seed would reseed the generators, miniai.accel.accelerate_demo would train and write files: both refused, nothing run."
    path = _file_naming(tmp_path, 'miniai.core.set_seed', {'seed': 1})
    before = torch.get_rng_state()
    with pytest.raises(ValueError, match="refusing to import 'miniai.core.set_seed'"): load_model(path)
    assert torch.equal(torch.get_rng_state(), before), 'set_seed ran'
    out = tmp_path/'demo_out'
    with pytest.raises(ValueError, match='registered model factory'): load_model(_file_naming(tmp_path, 'miniai.accel.accelerate_demo', {'out': str(out), 'epochs': 1}))
    assert not out.exists(), 'accelerate_demo ran'
    nested = {'net': {'factory': 'torch.nn.init.zeros_', 'kwargs': {}}, 'mean': 0., 'std': 1.}
    with pytest.raises(ValueError, match="refusing to import 'torch.nn.init.zeros_'"): build_model({'factory': 'miniai.checkpoint.Normalised', 'kwargs': nested})

def test_registered_factories_and_torch_layers_still_build(tmp_path):
    "miniai's models, a torch.nn layer class and a class registered by the user load; an unregistered user class is refused at save, with the fix."
    assert isinstance(build_model({'factory': 'torch.nn.modules.linear.Linear', 'kwargs': {'in_features': 2, 'out_features': 3}}), nn.Linear)
    class Mine(nn.Module):
        def __init__(self, n=2): super().__init__(); self.kwargs = dict(n=n); self.lin = nn.Linear(n, n)
    Mine.__module__, Mine.__qualname__ = 'tests_user_code', 'Mine'   # as if imported from a module
    with pytest.raises(ValueError, match='@register_model'): save_model(Mine(), tmp_path/'mine.pt')
    register_model(Mine)
    import sys, types
    sys.modules['tests_user_code'] = types.SimpleNamespace(Mine=Mine)
    try: assert isinstance(load_model(save_model(Mine(), tmp_path/'mine.pt')), Mine)
    finally: del sys.modules['tests_user_code']

def test_flipped_bit_in_a_weight_is_refused_naming_the_file(tmp_path):
    "One flipped bit (a weight becomes ~1e37) is caught by the checksum saved with the weights."
    path = save_model(spec_model(demo_model, n_hidden=4), tmp_path/'net.pt')
    raw = torch.load(path, weights_only=True)
    w = raw['state_dict']['0.weight']
    w.view(torch.int32).view(-1)[0] ^= 1 << 30    # the top exponent bit of one float32
    torch.save(raw, path)
    with pytest.raises(ValueError, match=f"{path} is damaged"): load_model(path)

def test_old_file_without_checksum_loads_with_a_warning(tmp_path):
    path = save_model(spec_model(demo_model, n_hidden=4), tmp_path/'old.pt')
    raw = torch.load(path, weights_only=True); del raw['checksum']; torch.save(raw, path)
    with pytest.warns(UserWarning, match='no checksum'): load_model(path)

def test_shipped_weights_carry_a_checksum():
    "The classifiers shipped in miniai/weights/ load without the no-checksum warning, and their checksums match."
    for p in sorted((ROOT/'miniai'/'weights').glob('*.pt')):
        raw = torch.load(p, weights_only=True)
        assert raw.get('checksum') == weights_checksum(raw['state_dict'], raw['ema_state_dict']), p
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            load_model(p)

# Labels, dtypes and noise levels into the UNet and the exact denoiser

@pytest.fixture(scope='module')
def unet(): return UNet(nfs=(8, 16), n_layers=1, img_size=8, n_classes=10, norm_groups=4, attn_head_dim=8)

def test_unet_labels_out_of_range_name_the_range(unet):
    x = torch.randn(3, 1, 8, 8)
    with pytest.raises(ValueError, match=r"0\.\.9, or 10 for 'no class', got values from 0 to 11"): unet(x, 0.5, c=torch.tensor([0, 1, 11]))
    with pytest.raises(ValueError, match='got values from -1 to 1'): unet(x, 0.5, c=torch.tensor([0, 1, -1]))
    unet(x, 0.5, c=torch.tensor([0, 9, 10]))   # 10 is the UNet's "no class" label
    with pytest.raises(TypeError, match=r"integer tensor of shape \(3,\).*uint8.*\.long\(\)"): unet(x, 0.5, c=torch.tensor([0, 1, 2], dtype=torch.uint8))

def test_unet_float64_images_and_missing_t(unet):
    with pytest.raises(TypeError, match=r'torch\.float32, got torch\.float64.*x\.to\(torch\.float32\)'): unet(torch.randn(2, 1, 8, 8, dtype=torch.float64), 0.5)
    with pytest.raises(TypeError, match='t=None'): unet(torch.randn(2, 1, 8, 8), None)

def test_gaussian_mixture_has_no_null_label():
    gm = GaussianMixture(torch.randn(10, 2), 0.1)
    x = torch.randn(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"0\.\.9 \(there is no 'no class' label 10 here\), got values from 0 to 10"): gm.denoiser(x, 1., c=torch.tensor([0, 1, 10]))

# A seed where a generator belongs

def test_int_generator_is_a_clear_error():
    for f in (lambda: random_tensor(3, 0), lambda: NoisingCB(generator=0), lambda: GaussianMixture(torch.zeros(2, 2), 1.).sample(3, generator=0),
              lambda: generate(sample_euler, GaussianMixture(torch.zeros(2, 2), 1.), 2, sigmas_karras(3, 0.1, 2.), shape=(2,), generator=0)):
        with pytest.raises(TypeError, match=r'torch\.Generator\(\)\.manual_seed\(0\)'): f()

# generate

def _gm(): return GaussianMixture([[-1., 0.], [1., 0.]], 0.3)
def _seed(s=0): return torch.Generator().manual_seed(s)

def test_generate_needs_at_least_one_sample_and_batch():
    for kw in (dict(n=0), dict(n=2, batch_size=0), dict(n=2.5)):
        with pytest.raises(ValueError, match='positive whole numbers'): generate(sample_euler, _gm(), schedule=sigmas_karras(3, 0.1, 2.), shape=(2,), **kw)

def test_sampler_that_drops_the_generator_is_an_error():
    "A stochastic sampler in a lambda cannot say its starting noise: refused. One that hides its generator would draw from the global RNG: an error; passed through, the seed fixes the samples."
    sigmas = sigmas_karras(5, 0.1, 2.)
    with pytest.raises(TypeError, match='starting noise'): generate(lambda model, x, s, **kw: sample_euler_ancestral(model, x, s), _gm(), 4, sigmas, shape=(2,), generator=_seed())
    @starts_from(first_point)
    def hides(model, x, schedule, extra_args=None, callback=None, generator=None): return sample_euler_ancestral(model, x, schedule)
    with pytest.raises(RuntimeError, match='global generator'): generate(hides, _gm(), 4, sigmas, shape=(2,), generator=_seed())
    @starts_from(first_point)
    def passes(model, x, schedule, extra_args=None, callback=None, generator=None): return sample_euler_ancestral(model, x, schedule, generator=generator)
    a, b = (generate(passes, _gm(), 4, sigmas, shape=(2,), generator=_seed()) for _ in range(2))
    assert torch.equal(a, b)

@pytest.mark.parametrize('sampler', [sample_euler_ancestral, sample_euler])
def test_samples_do_not_depend_on_batch_size(sampler):
    "The same seed gives the same samples at batch size 4, 2 and 3 (each item has its own generator)."
    xs = [generate(sampler, _gm(), 6, sigmas_karras(5, 0.1, 2.), shape=(2,), generator=_seed(), batch_size=bs) for bs in (4, 2, 3)]
    assert torch.equal(xs[0], xs[1]) and torch.equal(xs[0], xs[2])
    assert not torch.equal(xs[0], generate(sampler, _gm(), 6, sigmas_karras(5, 0.1, 2.), shape=(2,), generator=_seed(1)))

def test_item_generators_draw_each_row_from_its_own():
    gens = ItemGenerators.from_generator(3, _seed())
    x = random_tensor((3, 5), gens, kind=torch.randn)
    again = ItemGenerators.from_generator(3, _seed())
    assert torch.equal(x[1:], random_tensor((2, 5), again[1:], kind=torch.randn))
    with pytest.raises(ValueError, match='first dimension must be 3'): random_tensor((4, 5), ItemGenerators.from_generator(3, _seed()))

class Wrapper:
    "A denoiser that is not an nn.Module but holds one: dropout on if its network is left in train mode."
    def __init__(self, net): self.net = net
    def __call__(self, x, sigma, **kw): return self.net(x)

def test_network_inside_a_wrapper_samples_in_eval_mode():
    net = nn.Sequential(nn.Dropout(0.5), nn.Linear(2, 2)).train()
    a, b = (generate(sample_euler, Wrapper(net), 4, sigmas_karras(4, 0.1, 2.), shape=(2,), generator=_seed()) for _ in range(2))
    assert torch.equal(a, b), 'dropout was on while sampling'
    assert net.training, 'the network must be back in train mode afterwards'

# Data sets

def test_hub_forced_offline_is_a_clear_error():
    with env_var('HF_HUB_OFFLINE', '1'):
        with pytest.raises(ConnectionError, match=r"HF_HUB_OFFLINE.*source='local'"): load_fashion_mnist(source='hub')

def _write_idx(path, a):
    a = np.ascontiguousarray(a, dtype=np.uint8)
    with gzip.open(path, 'wb') as f: f.write(b'\0\0\x08' + bytes([a.ndim]) + struct.pack(f'>{a.ndim}I', *a.shape) + a.tobytes())

def test_fashion_mnist_folder_named_by_the_environment_is_the_one_used(tmp_path):
    "MINIAI_FASHION_MNIST naming a missing, empty or partial folder: an error naming it and what it lacks, not another copy loaded silently."
    missing, empty, partial = tmp_path/'missing', tmp_path/'empty', tmp_path/'partial'
    empty.mkdir(); partial.mkdir()
    ims, labs = _FMNIST_FILES['train']
    _write_idx(partial/(ims + '.gz'), np.zeros((2, 28, 28))); _write_idx(partial/(labs + '.gz'), np.arange(2))
    with env_var('HF_HUB_OFFLINE', '1'):
        for folder, says in ((missing, 'does not exist'), (empty, 'lacks train-images-idx3-ubyte'), (partial, 'lacks t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte')):
            with env_var('MINIAI_FASHION_MNIST', str(folder)):
                with pytest.raises(DataNotFoundError) as e: load_fashion_mnist()
            assert f'MINIAI_FASHION_MNIST names {folder}' in str(e.value) and says in str(e.value), str(e.value)

# scripts/lesson.sh

def test_lesson_script_looks_for_checkpoints_under_miniai_data(tmp_path):
    "With MINIAI_DATA moved, lesson 11 finds lesson 10's denoiser there, not under data/checkpoints."
    (tmp_path/'checkpoints').mkdir()
    (tmp_path/'checkpoints'/'10_karras_cpu.pt').write_bytes(b'')
    env = {**os.environ, 'MINIAI_DATA': str(tmp_path), 'MINIAI_MODE': 'cpu', 'PYTHONPATH': str(ROOT)}
    out = subprocess.run(['bash', 'scripts/lesson.sh', '11', '--needs'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"11_samplers needs {tmp_path/'checkpoints'/'10_karras_cpu.pt'}: present" in out.stdout, out.stdout
    out = subprocess.run(['bash', 'scripts/lesson.sh', '17', '--needs'], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (f"17_latent_dit needs {tmp_path/'checkpoints'/'17a_autoencoder_cpu.pt'}: missing, lesson 17a_autoencoder makes it; "
            "until then it uses the package's copy, miniai/weights/tiny_imagenet_autoencoder.pt") in out.stdout, out.stdout
