"Edges of the method rows (lesson 06a's `Method`, each lesson's row) that the lessons do not show: the loss weight, DDPM's clock between steps, one learner for every row, and bad input."
import dataclasses, math
import pytest
import torch, torch.nn as nn, torch.nn.functional as F
from miniai.diffusion import Method, method_noisify, MethodModel, MethodCB, method_denoiser, method_learner
from miniai.ddpm import ddpm_method
from miniai.cosine import cosine_method
from miniai.karras import edm_method
from miniai.flows import rectified_flow_method
from miniai.consistency import trigflow_method
from miniai.methods import method_times
from miniai.datasets import TensorLoader, DataLoaders
from miniai.unet import timestep_embedding
from miniai.samplers import sigmas_karras, sample_euler, sample_method_ddim

class PointNet(nn.Module):
    "A small network for 2-D points: net(x, c_noise)."
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 + 16, 64), nn.SiLU(), nn.Linear(64, 2))
    def forward(self, x, c_noise): return self.mlp(torch.cat([x, timestep_embedding(c_noise, 16).to(x.dtype)], 1))

def _methods(): return [ddpm_method(), cosine_method(), edm_method(0.5), rectified_flow_method(), trigflow_method(0.5)]

def test_ddpm_clock_between_steps_round_trips():
    "DDPM's sigma is the table's at whole steps, log-linear between them, and t_of_sigma inverts it everywhere in range."
    m = ddpm_method()
    t = torch.linspace(0, 999, 2_001, dtype=torch.float64)
    sig = m.sigma(t)
    assert (sig[1:] > sig[:-1]).all()
    assert torch.allclose(m.t_of_sigma(sig), t, atol=1e-8)
    steps = torch.arange(0, 1000, 37)
    assert torch.allclose(m.sigma(steps.double()), m.sigma(steps).double(), rtol=1e-6)

def test_the_weight_on_x0_matches_each_parameterisation():
    "eps-prediction puts 1/sigma^2 on the x0 error, the velocity 1/t^2, EDM and TrigFlow 1/c_out^2 (the same function of sigma)."
    sig = torch.tensor([0.05, 0.3, 1., 4., 20.], dtype=torch.float64)
    ddpm, cos, edm, rf, trig = _methods()
    for m in (ddpm, cos): assert torch.allclose(m.x0_weight(m.t_of_sigma(sig)), 1 / sig**2, rtol=1e-6)
    assert torch.allclose(rf.x0_weight(rf.t_of_sigma(sig)), ((1 + sig) / sig)**2, rtol=1e-9)
    c_out2 = (sig * 0.5)**2 / (sig**2 + 0.25)
    for m in (edm, trig): assert torch.allclose(m.x0_weight(m.t_of_sigma(sig)), 1 / c_out2, rtol=1e-9)

def test_a_loss_weight_is_the_weighted_mse():
    "With `weight`, MethodCB scales the target and the model's prediction by sqrt(w), so the Learner's plain MSE is the weighted one."
    base = edm_method(0.5)
    weighted = dataclasses.replace(base, name='EDM, weight 1 + sigma', weight=lambda s: 1 + s)
    x0, gen = torch.randn(64, 2), torch.Generator().manual_seed(0)
    model = MethodModel(weighted, PointNet())
    cb = MethodCB(weighted, generator=gen)
    (x_t, t), scaled_target = cb.noisify(x0, torch.Generator().manual_seed(1))
    _, t_again, target = method_noisify(base, x0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(t, t_again)
    with torch.no_grad():
        pred = model(x_t, t)
        plain = F.mse_loss(model(x_t, t, loss_scale=cb.scale), scaled_target)
        by_hand = ((1 + t)[:, None] * (pred - target)**2).mean()
    assert torch.allclose(plain, by_hand, rtol=1e-5)

@pytest.mark.parametrize('make', [ddpm_method, cosine_method, lambda: edm_method(1.), rectified_flow_method, lambda: trigflow_method(1.)])
def test_every_method_trains_through_the_learner(make):
    "One learner for every row: `method_learner(row, net, dls)` with only the row changed trains each method (the loss on 2-D data falls), and lesson 11's Euler on its denoiser lands near the data."
    m = make()
    torch.manual_seed(0)
    x = torch.randn(512, 2) * 0.3 + torch.tensor([1., -1.])
    dls = DataLoaders(TensorLoader(x, torch.zeros(len(x)), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0)),
                      TensorLoader(x[:128], torch.zeros(128), batch_size=128))
    learn = method_learner(m, PointNet(), dls, torch.Generator().manual_seed(0), epochs=20, lr=3e-3, device="cpu", ema_decay=None)
    assert isinstance(learn.model, MethodModel) and learn.model.method is m
    losses = []
    class Keep:
        order = 100
        def after_batch(self, learn):
            if learn.training: losses.append(learn.loss.item())
    learn.fit(20, cbs=[Keep()])
    assert sum(losses[-8:]) / 8 < 0.8 * sum(losses[:8]) / 8
    sigmas = sigmas_karras(8, max(0.01, m.sigma_min), 10.)           # from sigma = 10: eps-prediction's x0 at t_max is its error x 1/a (636 for cosine)
    out = sample_euler(method_denoiser(learn.model.eval()), 10 * torch.randn(256, 2, generator=torch.Generator().manual_seed(1)), sigmas)
    assert torch.isfinite(out).all() and (out.mean(0) - torch.tensor([1., -1.])).norm() < 0.7   # half the way from an untrained model's mean (0)

def test_bad_input_is_named():
    m = rectified_flow_method()
    with pytest.raises(ValueError, match='at least one call'): method_times(m, 0)
    with pytest.raises(ValueError, match='strictly decreasing'): sample_method_ddim(MethodModel(m, PointNet()), torch.randn(4, 2), torch.tensor([0.2, 0.5]))
    with pytest.raises(ValueError, match='sigma_data must be positive'): edm_method(0.)
    with pytest.raises(ValueError, match='sigma_data must be positive'): trigflow_method(-1.)
    with pytest.raises(ValueError, match='one value per item'): method_denoiser(MethodModel(m, PointNet()))(torch.randn(4, 2), torch.ones(3))
    with pytest.raises(ValueError, match='one time per item'): method_noisify(m, torch.randn(4, 2), t=torch.rand(3))

@pytest.mark.parametrize('make', [ddpm_method, cosine_method, lambda: edm_method(0.7), rectified_flow_method, lambda: trigflow_method(0.7)])
def test_lesson_12_samplers_run_on_every_method(make):
    "Lesson 12's Euler in t on the velocity of any method's denoiser is lesson 11's Euler in sigma (the straight-line clock is affine), step for step."
    from miniai.flows import denoiser_to_velocity
    from miniai.samplers import sample_flow_euler
    m = make()
    torch.manual_seed(0)
    model = MethodModel(m, PointNet()).double().eval()
    nn.init.normal_(model.net.mlp[-1].weight, std=0.3)
    sigmas = sigmas_karras(6, max(0.01, m.sigma_min), 20., dtype=torch.float64)
    x = 20 * torch.randn(64, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    with torch.no_grad():
        in_sigma = sample_euler(method_denoiser(model), x, sigmas)
        ts = sigmas / (1 + sigmas)
        in_t = sample_flow_euler(denoiser_to_velocity(method_denoiser(model)), x / (1 + sigmas[0]), ts)
    assert torch.allclose(in_t, in_sigma, atol=1e-9, rtol=1e-9)
