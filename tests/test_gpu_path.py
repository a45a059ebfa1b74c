"The GPU path, tested without a GPU: the check script's syntax and refusal, and that CUDA selects bf16, compile and the gpu preset."
import subprocess, sys
from pathlib import Path
from unittest import mock
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))

def test_gpu_check_script_parses_and_refuses_without_cuda(tmp_path):
    subprocess.run(['bash', '-n', str(ROOT/'scripts'/'gpu_check.sh')], check=True)
    if torch.cuda.is_available(): return   # on a GPU machine the script runs for real instead
    r = subprocess.run(['bash', str(ROOT/'scripts'/'gpu_check.sh'), str(tmp_path)], capture_output=True, text=True,
                       env={'PATH': '/usr/bin:/bin', 'PYTHON': sys.executable})
    assert r.returncode == 2 and 'no CUDA device' in r.stdout, (r.returncode, r.stdout, r.stderr)

def test_cuda_turns_on_bf16_compile_and_the_gpu_preset():
    from miniai.accel import MixedPrecisionCB, CompileCB
    from miniai.diffusion import diffusion_learner
    from miniai.datasets import TensorLoader, DataLoaders
    from miniai.karras import KarrasCB
    from miniai.bench import bench_settings
    x, y = torch.zeros(8, 1, 32, 32), torch.zeros(8, dtype=torch.long)
    dls = DataLoaders(TensorLoader(x, y, batch_size=4), TensorLoader(x, y, batch_size=4))
    kinds = lambda learn: {type(cb) for cb in learn.cbs}
    with mock.patch('miniai.accel.fast_opt_kwargs', return_value={'fused': True}), \
         mock.patch('miniai.accel.cuda_has_native_bf16', return_value=True), mock.patch('miniai.accel.has_compiler', return_value=True):
        on_cuda = diffusion_learner(torch.nn.Conv2d(1, 1, 1), dls, KarrasCB(0.66), total_steps=2, device='cuda')   # built, not run
    with mock.patch('miniai.accel.cpu_has_native_bf16', return_value=False):   # a CPU without bf16 units, a short run
        on_cpu = diffusion_learner(torch.nn.Conv2d(1, 1, 1), dls, KarrasCB(0.66), total_steps=2, device='cpu')
    assert {MixedPrecisionCB, CompileCB} <= kinds(on_cuda) and not ({MixedPrecisionCB, CompileCB} & kinds(on_cpu))
    assert (on_cuda.precision.name, on_cpu.precision.name, on_cpu.precision.compile) == ('bf16', 'fp32', False)
    with mock.patch('torch.cuda.is_available', return_value=True):
        s = bench_settings(['learner'])
    assert s['device'] == 'cuda' and s['bf16'] and s['compile']
    with mock.patch('torch.cuda.is_available', return_value=False):
        assert bench_settings(['learner'])['device'] == 'cpu'

def test_unet_benchmark_runs_and_compares_like_with_like():
    from bench_unet import bench_unet
    from miniai.accel import precision_for
    r = bench_unet('cpu', bs=8, steps=2, nfs=(8, 16), n_layers=1, repeats=1, warmup=1, compile=False)   # compiling would take minutes
    assert r['plain'] > 0 and r['learner'] > 0 and 0.2 < r['ratio'] < 5, r   # the same work: neither side can be many times faster
    assert r['bf16'] == (precision_for('cpu').dtype == torch.bfloat16) and not r['compile']   # lesson 04's autocast decision, for both
