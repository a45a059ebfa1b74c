"Edges of miniai.consistency that lesson 13 does not show: bad input gets a clear error, and the sCM step keeps what it promises."
import math
import pytest
import torch, torch.nn as nn
from miniai.consistency import (TrigFlow, SCMTrainCB, consistency_learner, student_from_denoiser, sigma_to_trig_time,
                                trigflow_tangent, trigflow_noisify, scm_loss, denoiser_to_trigflow, trigflow_to_denoiser)
from miniai.karras import rand_log_normal
from miniai.samplers import consistency_times, sample_consistency
from miniai.datasets import TensorLoader, DataLoaders
from miniai.diffusion import GaussianMixture
from miniai.karras import KarrasDenoiser
from miniai.unet import UNet, timestep_embedding

class PointNet(nn.Module):
    "F(x_scaled, t) for 2-D points."
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 + 8, 32), nn.SiLU(), nn.Linear(32, 2))
    def forward(self, x, t): return self.mlp(torch.cat([x, timestep_embedding(t, 8, 10.).to(x.dtype)], 1))

def _dls(x, bs=32):
    return DataLoaders(TensorLoader(x, torch.zeros(len(x)), batch_size=bs, shuffle=True, generator=torch.Generator().manual_seed(0)),
                       TensorLoader(x[:bs], torch.zeros(bs), batch_size=bs))

def test_times_follow_edm_lognormal():
    "t = arctan(e^tau / sd): the median of sigma = sd tan t is e^p_mean, and every t lies in (0, pi/2)."
    t = sigma_to_trig_time(rand_log_normal(200_000, -1., 1.4, generator=torch.Generator().manual_seed(0), dtype=torch.float64), 0.5)
    assert ((t > 0) & (t < math.pi / 2)).all()
    assert abs((0.5 * torch.tan(t)).log().median().item() - (-1.)) < 0.02

def test_sct_and_scd_learners_reject_bad_input():
    x = torch.randn(64, 2)
    learn = consistency_learner(PointNet(), _dls(x), device='cpu')          # a bare network is not a TrigFlow model
    with pytest.raises(TypeError, match='TrigFlow model'): learn.fit(1, valid=False)
    learn = consistency_learner(TrigFlow(PointNet(), 1.), _dls(torch.randint(0, 255, (64, 2))), device='cpu')
    with pytest.raises(TypeError, match='floating-point data'): learn.fit(1, valid=False)
    with pytest.raises(ValueError, match='warmup_steps'): SCMTrainCB(warmup_steps=-1)

def test_warmup_rises_linearly_and_steps_count():
    cb = SCMTrainCB(warmup_steps=4)
    rs = []
    for _ in range(6): rs.append(cb.r); cb.after_step(None)
    assert rs == [0., 0.25, 0.5, 0.75, 1., 1.]
    assert SCMTrainCB().r == 1.

def test_sct_training_changes_the_model_and_stays_finite():
    gm = GaussianMixture(means=[[-2., 0.], [2., 0.]], stds=[0.3, 0.3])
    x = gm.sample(512, torch.Generator().manual_seed(1)).float()
    torch.manual_seed(0)
    model = TrigFlow(PointNet(), x.std().item())
    before = [p.detach().clone() for p in model.parameters()]
    learn = consistency_learner(model, _dls(x, 64), lr=1e-3, warmup_steps=4, device='cpu', generator=torch.Generator().manual_seed(2))
    learn.fit(2, valid=False)
    assert learn.scm.steps == 16
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert model.logvar.linear.bias.item() > 0       # the weight head learns to scale the (normalised, tiny) error up

def test_loss_gradient_is_minus_twice_the_tangent():
    "At F = F_minus the gradient of ||F - F_minus - g||^2 / D with respect to F is -2 g / D: the loss moves F along the tangent."
    F_pred = torch.randn(3, 5, requires_grad=True)
    g = torch.randn(3, 5)
    scm_loss(F_pred, F_pred.detach(), g).backward()
    torch.testing.assert_close(F_pred.grad, -2 * g / (3 * 5))

def test_sampling_and_times_refuse_bad_input():
    model = TrigFlow(PointNet(), 1.)
    with pytest.raises(ValueError, match='at least 1'): consistency_times(0, 0.5)
    with pytest.raises(ValueError, match='1-D tensor'): sample_consistency(model, torch.randn(4, 2), torch.ones(2, 2))
    with pytest.raises(ValueError, match='1-D tensor'): sample_consistency(model, torch.randn(4, 2), [1.0])
    ts = consistency_times(3, 0.5)
    assert ts[0] == pytest.approx(math.atan(160.)) and ts[1] == pytest.approx(1.1) and ts[2] == pytest.approx(0.55)

def test_student_from_denoiser_needs_a_unet_and_starts_as_the_teacher():
    with pytest.raises(TypeError, match="lesson 07a's UNet"): student_from_denoiser(KarrasDenoiser(PointNet(), 0.5))
    torch.manual_seed(0)
    net = UNet(nfs=(8, 16), n_layers=1, norm_groups=4, img_size=8)
    for p in net.parameters(): p.data.normal_(0, 0.05)
    teacher = KarrasDenoiser(net, 0.5)
    student, (before, after) = student_from_denoiser(teacher, fit_steps=300, generator=torch.Generator().manual_seed(0))
    assert after < 0.2 * before
    x0 = torch.randn(16, 1, 8, 8) * 0.5
    t = torch.full((16,), 0.8)
    x_t, _ = trigflow_noisify(x0, t, 0.5 * torch.randn_like(x0))
    with torch.no_grad():
        v_t, v_s = denoiser_to_trigflow(teacher).velocity(x_t, t), student.velocity(x_t, t)
    assert ((v_s - v_t).pow(2).mean() / v_t.pow(2).mean()).item() < 0.05
    with torch.no_grad():   # and back: the student as a denoiser agrees with the teacher at the same sigma
        d_t, d_s = teacher(x_t / math.cos(0.8), 0.5 * math.tan(0.8)), trigflow_to_denoiser(student)(x_t / math.cos(0.8), 0.5 * math.tan(0.8))
    assert ((d_s - d_t).pow(2).mean() / d_t.pow(2).mean()).item() < 0.05

def test_tangent_rejects_shapes():
    x = torch.randn(4, 2)
    with pytest.raises(ValueError, match='one time per sample'): trigflow_tangent(PointNet(), x, 0.5, x, 1.)
