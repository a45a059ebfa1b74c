"Every sampler of the course keeps lesson 06b's contract, lives in `miniai.samplers`, and refuses schedules and options that would give NaN."
import ast, math
from pathlib import Path
import pytest
import torch, torch.nn as nn
import miniai.samplers as S
from miniai.diffusion import GaussianMixture
from miniai.ddpm import DDPMSchedule
from miniai.cosine import CosineSchedule, abar
from miniai.diffusion import MethodModel
from miniai.karras import edm_method

ROOT = Path(__file__).resolve().parent.parent
GM = GaussianMixture([[-1., 0.], [1., 0.5]], 0.3)

class Denoiser:
    "The mixture's exact denoiser D(x, sigma), taking (and ignoring) the check's probe label."
    def __call__(self, x, sigma, probe=None): return GM.denoiser(x, sigma)

class Velocity:
    "The mixture's exact rectified-flow velocity v(x_t, t) = (x_t - D(x_t/(1 - t), t/(1 - t)))/t."
    def __call__(self, x, t, probe=None):
        tt = t[:, None]
        return (x - GM.denoiser(x / (1 - tt), t / (1 - t))) / tt

class Eps:
    "The mixture's exact eps-prediction on a variance-preserving schedule; `abar_of(model_time)` reads abar off what the model is told."
    def __init__(self, abar_of): self.abar_of = abar_of
    def __call__(self, x, t_in, probe=None):
        a = self.abar_of(t_in)[:, None]
        x_ve, sigma = x / a.sqrt(), ((1 - a) / a).sqrt()
        return (x_ve - GM.denoiser(x_ve, sigma[:, 0])) / sigma

class Consistency:
    "A consistency function on TrigFlow's clock: the exact denoiser at sigma = sd tan(t) of x / cos(t)."
    sigma_data = 0.5
    def __call__(self, x, t, probe=None):
        return GM.denoiser(x / torch.cos(t)[:, None], self.sigma_data * torch.tan(t))

class PointNet(nn.Module):
    "A small network net(x, c_noise) for 2-D points, taking the probe label."
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(3, 2, dtype=torch.float64)
    def forward(self, x, c, probe=None): return self.l(torch.cat([x, c[:, None].to(x.dtype)], 1))

sched = DDPMSchedule.linear()
x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
sigmas = S.sigmas_karras(6, 0.01, 20., dtype=torch.float64)
CASES = {   # name: (model, schedule, starting noise, expected calls, options)
    'sample_euler': (Denoiser(), sigmas, 20 * x, 6, {}),
    'sample_euler_ancestral': (Denoiser(), sigmas, 20 * x, 6, dict(eta=0.7)),
    'sample_heun': (Denoiser(), sigmas, 20 * x, 11, dict(s_churn=2., s_tmax=10.)),   # churn below sigma 10: the first step sees the starting noise
    'sample_lms': (Denoiser(), sigmas, 20 * x, 6, {}),
    'sample_dpmpp_2m': (Denoiser(), sigmas, 20 * x, 6, {}),
    'sample_flow_euler': (Velocity(), S.flow_times(5, t_max=0.95, dtype=torch.float64), x, 5, {}),
    'sample_flow_heun': (Velocity(), S.flow_times(5, t_max=0.95, dtype=torch.float64), x, 9, {}),
    'sample_ddpm': (Eps(lambda t: sched.abar[t.round().long()]), sched, x.float(), 1000, {}),
    'sample_ddim': (Eps(lambda t: abar(t.double() / 1000)), CosineSchedule(), x.float(), 7, dict(n_steps=7, eta=0.5)),   # DDIM computes in float32
    'sample_consistency': (Consistency(), S.consistency_times(3, 0.5, dtype=torch.float64), 0.5 * x, 3, {}),
    'sample_method_ddim': (MethodModel(edm_method(0.5), PointNet()), S.sigmas_karras(4, 0.01, 20., dtype=torch.float64)[:-1], 20 * x, 4, {}),
}

def test_every_sampler_is_checked_here():
    "A sampler added to miniai.samplers without a case here fails this test, so none escapes the contract."
    samplers = sorted(n for n in dir(S) if n.startswith('sample_') and callable(getattr(S, n)))
    assert samplers == sorted(CASES), f"miniai.samplers has {samplers}, this test checks {sorted(CASES)}"

@pytest.mark.parametrize('name', sorted(CASES))
def test_sampler_keeps_the_contract(name):
    model, schedule, x0, calls, kw = CASES[name]
    report = S.check_sampler(getattr(S, name), model, schedule, x0, calls=calls, **kw)
    assert set(S.CALLBACK_KEYS) <= set(report['keys'])

def test_only_the_samplers_module_defines_samplers():
    "Image samplers live in one module: no other module of miniai defines a function named sample_*."
    elsewhere = [f"{p.name}: {n.name}" for p in (ROOT/'miniai').glob('*.py') if p.name != 'samplers.py'
                 for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.FunctionDef) and n.name.startswith('sample_')]
    assert not elsewhere, f"samplers defined outside miniai/samplers.py: {elsewhere}"

def test_starting_noise_is_carried_by_the_sampler():
    assert S.init_noise(S.sample_heun, None, sigmas) == pytest.approx(20.)
    assert S.init_noise(S.sample_flow_euler, None, torch.tensor([1., 0.])) == 1.
    assert S.init_noise(S.sample_ddim, None, sched) == 1.
    assert S.init_noise(S.sample_consistency, Consistency(), None) == 0.5
    assert S.init_noise(S.sample_method_ddim, MethodModel(edm_method(0.5), PointNet()), torch.tensor([80., 1.])) == pytest.approx(80.)
    with pytest.raises(TypeError, match='starting noise'): S.init_noise(lambda model, x, s: x, None, sigmas)

@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_sigma_schedules_with_nan_or_inf_are_refused(bad):
    s = sigmas.clone(); s[2] = bad
    for name in ('sample_euler', 'sample_euler_ancestral', 'sample_heun', 'sample_lms', 'sample_dpmpp_2m'):
        with pytest.raises(ValueError, match='finite'): getattr(S, name)(Denoiser(), 20 * x, s)

def test_karras_schedule_refuses_what_would_give_nan():
    with pytest.raises(ValueError, match='sigma_max < inf'): S.sigmas_karras(5, 0.01, float('inf'))
    with pytest.raises(ValueError, match='sigma_min <= sigma_max'): S.sigmas_karras(5, float('nan'), 80.)
    for rho in (0., -1., float('nan')):
        with pytest.raises(ValueError, match='rho must be positive'): S.sigmas_karras(5, 0.01, 80., rho=rho)

@pytest.mark.parametrize('eta', [-0.1, 1.5, 2., float('nan'), float('inf')])
def test_eta_outside_zero_one_is_refused(eta):
    with pytest.raises(ValueError, match='eta'): S.sample_euler_ancestral(Denoiser(), 20 * x, sigmas, eta=eta)
    with pytest.raises(ValueError, match='eta'): S.sample_ddim(Eps(lambda t: abar(t.double() / 1000)), x, CosineSchedule(), n_steps=3, eta=eta)

def test_negative_churn_is_refused():
    with pytest.raises(ValueError, match='s_churn'): S.sample_heun(Denoiser(), 20 * x, sigmas, s_churn=-1.)
    with pytest.raises(ValueError, match='s_noise'): S.sample_heun(Denoiser(), 20 * x, sigmas, s_churn=1., s_noise=float('nan'))

@pytest.mark.parametrize('t_max', [-0.5, 0., 1., 1.5, float('nan')])
def test_cosine_schedule_refuses_times_outside_zero_one(t_max):
    with pytest.raises(ValueError, match='t_max must lie in'): CosineSchedule(t_max)

def test_ddim_with_eta_one_on_every_step_is_euler_ancestral_in_sigma():
    "DDIM's eta noise, rewritten in sigma = sqrt((1 - abar)/abar), is the ancestral step's sigma_up: the update is the same random variable."
    cos = CosineSchedule(0.99)
    ts = cos.timesteps(8)
    sig = torch.tensor([math.tan(math.pi / 2 * t) for t in ts] + [0.], dtype=torch.float64)
    eps = Eps(lambda t: abar(t.double() / 1000))
    x_vp = torch.randn(2000, 2, generator=torch.Generator().manual_seed(3))   # DDIM computes in float32, so both run in float32
    a = S.sample_ddim(eps, x_vp, cos, n_steps=8, eta=1., clip=False, generator=torch.Generator().manual_seed(4))
    b = S.sample_euler_ancestral(Denoiser(), x_vp / math.sqrt(abar(ts[0])), sig.float(), eta=1., generator=torch.Generator().manual_seed(4))
    assert (a - b).abs().max() < 1e-3, (a - b).abs().max()

def test_method_ddim_refuses_times_outside_the_methods_clock():
    "DDPM's clock ends at step 999: a schedule from step 5,000 used to return NaN; now it is refused with the range."
    from miniai.ddpm import ddpm_method
    model = MethodModel(ddpm_method(), PointNet())
    with pytest.raises(ValueError, match=r'must lie in \[0, 999\]'): S.sample_method_ddim(model, x, torch.tensor([5000., 10.], dtype=torch.float64))
    out = S.sample_method_ddim(model, x, torch.tensor([999., 10.], dtype=torch.float64))
    assert torch.isfinite(out).all()

def test_consistency_times_refuse_a_zero_sigma_data():
    "consistency_times(sd=0) divided by zero; now it names the two numbers it needs."
    for sd, smax in ((0., 80.), (-1., 80.), (0.5, float('inf'))):
        with pytest.raises(ValueError, match='sigma_data and sigma_max must be positive'): S.consistency_times(2, sd, smax)

def random_unet(seed):
    "A small UNet with random weights (it starts with a zero output layer, which would make every network's samples the same)."
    from miniai.unet import UNet
    torch.manual_seed(seed); m = UNet(nfs=(8, 16), n_layers=1, img_size=8, norm_groups=4)
    with torch.no_grad():
        for p in m.parameters(): p.normal_(0, 0.2)
    return m

def test_compiled_sampling_matches_eager_and_shares_one_compile():
    "generate(compile=True): the same samples as eager, forward restored after, and a second network of the same class compiles no new graph."
    from torch._dynamo.utils import counters
    sigmas = S.sigmas_karras(3, 0.01, 10., device='cpu')
    kw = dict(n=6, schedule=sigmas, shape=(1, 8, 8), batch_size=6)
    a, b = random_unet(0), random_unet(1)
    eager = [S.generate(S.sample_euler, m, **kw, generator=torch.Generator().manual_seed(0)) for m in (a, b)]
    graphs = counters['stats']['unique_graphs']
    compiled_b = S.generate(S.sample_euler, b, **kw, generator=torch.Generator().manual_seed(0), compile=True)
    assert torch.allclose(compiled_b, eager[1], atol=1e-5), (compiled_b - eager[1]).abs().max()
    compiled_a = S.generate(S.sample_euler, a, **kw, generator=torch.Generator().manual_seed(0), compile=True)
    assert torch.allclose(compiled_a, eager[0], atol=1e-5), (compiled_a - eager[0]).abs().max()
    assert not torch.allclose(compiled_a, compiled_b)   # each network's own weights were used
    assert counters['stats']['unique_graphs'] - graphs == 1, 'the second network of the same class must reuse the compiled code'
    assert 'forward' not in vars(a) and 'forward' not in vars(b)   # eager again after sampling
    a.train(); a.forward = lambda x, t: x
    with pytest.raises(ValueError, match='own `forward`'): S.generate(S.sample_euler, a, **kw, compile=True)
    assert a.training   # refused before anything changed

def test_compile_reaches_through_wrappers_to_the_network():
    "Two methods' models, each clipped and read as a denoiser around a UNet of one architecture: compile=True compiles the UNet once for both (the wrappers' settings differ, so compiling them would cost a graph per method), with eager's samples."
    from torch._dynamo.utils import counters
    from miniai.ddpm import ddpm_method
    from miniai.diffusion import method_denoiser
    unets = [random_unet(i) for i in (2, 3)]
    models = [S.clipped(method_denoiser(MethodModel(m, u))) for m, u in zip((ddpm_method(), edm_method(0.5)), unets)]
    assert [S._unwrapped(m) for m in models] == unets and S._unwrapped(unets[0]) is unets[0]
    sigmas = S.sigmas_karras(3, 0.01, 10., device='cpu')
    kw = dict(n=5, schedule=sigmas, shape=(1, 8, 8), batch_size=5)
    eager = [S.generate(S.sample_dpmpp_2m, m, **kw, generator=torch.Generator().manual_seed(0)) for m in models]
    graphs = counters['stats']['unique_graphs']
    for m, e in zip(models, eager):
        c = S.generate(S.sample_dpmpp_2m, m, **kw, generator=torch.Generator().manual_seed(0), compile=True)
        assert torch.allclose(c, e, atol=1e-5), (c - e).abs().max()
    assert counters['stats']['unique_graphs'] - graphs == 1, 'one graph for the UNet, shared by both methods'
    assert not any('forward' in vars(u) for u in unets)
