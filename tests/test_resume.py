"Training that is interrupted and resumed from a checkpoint equals the uninterrupted run bit for bit, with any noising callback and validation on; and the ways a resume can go wrong fail early, with errors that name the fix."
import math
import pytest
import torch, torch.nn as nn, torch.nn.functional as F
from miniai.core import set_seed
from miniai.datasets import TensorLoader, DataLoaders
from miniai.learner import Learner, Callback, TrainCB, DeviceCB, MetricsCB, ProgressCB, NonFiniteLossError, simple_cnn
from miniai.accel import CountOps
from miniai.checkpoint import CheckpointCB, load_checkpoint, register_model, spec_model
from miniai.diffusion import diffusion_learner
from miniai.karras import KarrasCB
from miniai.flows import FlowCB
from miniai.ddpm import DDPMCB, DDPMSchedule

@register_model
class TinyNet(nn.Module):
    "net(x, t) for 1x8x8 images: a convolution, told the noise level by a per-channel shift."
    def __init__(self, nf:int=4):
        super().__init__()
        self.kwargs = dict(nf=nf)
        self.conv_in, self.t_proj, self.conv_out = nn.Conv2d(1, nf, 3, padding=1), nn.Linear(1, nf), nn.Conv2d(nf, 1, 3, padding=1)
    def forward(self, x, t):
        t = torch.as_tensor(t, device=x.device).float().reshape(-1, 1).expand(len(x), 1)
        return self.conv_out(F.silu(self.conv_in(x) + self.t_proj(t)[:, :, None, None]))

def _dls():
    g = torch.Generator().manual_seed(0)
    x, xv = torch.randn(48, 1, 8, 8, generator=g).tanh(), torch.randn(20, 1, 8, 8, generator=g).tanh()
    y, yv = torch.randint(0, 10, (48,), generator=g), torch.randint(0, 10, (20,), generator=g)
    return DataLoaders(TensorLoader(x, y, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(1)),
                       TensorLoader(xv, yv, batch_size=8))

class LossLog(Callback):
    "Every training and validation loss, as tensors (no host read)."
    def __init__(self): self.losses = []
    def after_batch(self, learn): self.losses.append((learn.training, learn.loss.detach().clone()))

NOISERS = {   # name: a fresh noising callback; `seed` seeds its generator, where it has one
    'karras_generator':        lambda seed: KarrasCB(0.5, generator=torch.Generator().manual_seed(seed)),
    'karras_generator_vnone':  lambda seed: KarrasCB(0.5, generator=torch.Generator().manual_seed(seed), valid_seed=None),
    'flow_global':             lambda seed: FlowCB(),
    'flow_global_vnone':       lambda seed: FlowCB(valid_seed=None),
    'ddpm_valid0':             lambda seed: DDPMCB(DDPMSchedule(torch.linspace(1e-4, 0.02, 100)), valid_seed=0),
    'ddpm_global_vnone':       lambda seed: DDPMCB(DDPMSchedule(torch.linspace(1e-4, 0.02, 100)), valid_seed=None),
    'ddpm_generator_vnone':    lambda seed: DDPMCB(DDPMSchedule(torch.linspace(1e-4, 0.02, 100)), generator=torch.Generator().manual_seed(seed), valid_seed=None),
}

def _learner(noiser, seed, path, epochs=4):
    set_seed(seed)
    log = LossLog()
    learn = diffusion_learner(TinyNet(), _dls(), NOISERS[noiser](seed + 1), epochs=epochs, lr=1e-2, device='cpu', bf16=False, compile=False,
                              cbs=[log, CheckpointCB(path)])
    return learn, log

def _weights(learn): return [*learn.model.state_dict().values(), *learn.ema.ema_model.state_dict().values()]

@pytest.mark.parametrize('noiser', list(NOISERS))
def test_interrupted_run_equals_uninterrupted(noiser, tmp_path):
    "4 epochs in one go, against 2 epochs, a checkpoint, and a fresh learner (other seed, other weights, other generators) that loads it and trains 2 more: every loss and every weight (and the EMA's) equal, bit for bit."
    a, a_log = _learner(noiser, 0, tmp_path/'a.pth'); a.fit(4)
    b, b_log = _learner(noiser, 0, tmp_path/'b.pth'); b.fit(2)
    c, c_log = _learner(noiser, 1234, tmp_path/'b.pth')
    load_checkpoint(c, tmp_path/'b.pth')
    c.fit(2)
    both = b_log.losses + c_log.losses
    assert [t for t, _ in a_log.losses] == [t for t, _ in both]
    same = [torch.equal(p, q) for (_, p), (_, q) in zip(a_log.losses, both)]
    assert all(same), f"{sum(same)} of {len(same)} losses equal; first differs at {same.index(False)}"
    assert len(same) == 4 * (3 + 3)   # 3 training and 3 validation batches an epoch
    assert all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(c)))

def test_noising_generator_must_match_the_checkpoint(tmp_path):
    "A checkpoint written with a generator, loaded into a callback without one (or the reverse), says what to change."
    b, _ = _learner('karras_generator', 0, tmp_path/'b.pth'); b.fit(1)
    set_seed(0)
    no_gen = diffusion_learner(TinyNet(), _dls(), KarrasCB(0.5), epochs=4, device='cpu', bf16=False, compile=False)
    with pytest.raises(ValueError, match='pass it generator=torch.Generator'): load_checkpoint(no_gen, tmp_path/'b.pth')

def test_resume_longer_than_the_schedule_fails_before_training(tmp_path):
    "fit(3) where the one-cycle schedule has 2 epochs left: an error naming the fix, before any step (not the scheduler's 'Tried to step')."
    b, _ = _learner('flow_global', 0, tmp_path/'b.pth'); b.fit(2)
    c, c_log = _learner('flow_global', 1, tmp_path/'b.pth')
    load_checkpoint(c, tmp_path/'b.pth')
    with pytest.raises(ValueError, match=r'Fit at most 2 more epoch'): c.fit(3)
    assert c_log.losses == [] and c.epochs_done == 2

def _classifier(opt_func, cbs=()):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 1, 28, 28, generator=g), torch.randint(0, 10, (32,), generator=g)
    dls = DataLoaders(TensorLoader(x, y, batch_size=16), TensorLoader(x, y, batch_size=16))
    return Learner(spec_model(simple_cnn, nfs=[4, 8]), dls, F.cross_entropy, lr=1e-2, opt_func=opt_func, cbs=[TrainCB(), DeviceCB('cpu'), *cbs])

def test_checkpoint_of_another_optimiser_is_refused_at_load(tmp_path):
    "An SGD checkpoint loaded into an Adam learner: refused at load, naming both (it used to load, and fit failed with KeyError: 'betas')."
    sgd = _classifier(torch.optim.SGD, [CheckpointCB(tmp_path/'sgd.pth')]); sgd.fit(1)
    adam = _classifier(torch.optim.Adam)
    with pytest.raises(TypeError, match=r'torch\.optim\.sgd\.SGD.*torch\.optim\.adam\.Adam'): load_checkpoint(adam, tmp_path/'sgd.pth')

def test_unwritable_checkpoint_folder_fails_before_training(tmp_path):
    "A CheckpointCB whose folder cannot be made (a file is in the way) fails before the first batch, not after the first epoch."
    (tmp_path/'file').write_text('in the way')
    log = LossLog()
    learn = _classifier(torch.optim.SGD, [log, CheckpointCB(tmp_path/'file'/'run.pth')])
    with pytest.raises(PermissionError, match='cannot write checkpoints to'): learn.fit(1)
    assert log.losses == []

class Steps(Callback):
    def __init__(self): self.n = 0
    def after_step(self, learn): self.n += 1

def _blow_up_at(step:int, value:float):
    "A loss function that returns `value` at training call `step` (0-based) and MSE otherwise."
    calls = [0]
    def loss(p, t):
        out = F.cross_entropy(p, t)
        calls[0] += 1
        return out + value if calls[0] - 1 == step else out
    return loss

@pytest.mark.parametrize('value, word', [(float('nan'), 'NaN'), (float('inf'), 'inf')])
def test_nonfinite_loss_stops_at_once_and_says_what_was_kept(value, word, tmp_path):
    "A loss that becomes NaN or inf at step 3 of an epoch stops training there (no step on bad weights, on the CPU), reported as what it was, with the last good checkpoint named."
    steps = Steps()
    learn = _classifier(torch.optim.SGD, [steps, CheckpointCB(tmp_path/'run.pth')])
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(160, 1, 28, 28, generator=g), torch.randint(0, 10, (160,), generator=g)
    learn.dls = DataLoaders(TensorLoader(x, y, batch_size=16), TensorLoader(x[:16], y[:16], batch_size=16))   # 10 steps an epoch
    learn.fit(1)
    learn.loss_func = _blow_up_at(3, value)
    with pytest.raises(NonFiniteLossError) as e: learn.fit(1)
    msg = str(e.value)
    assert f'the loss became {word} at epoch 1, step 3 of 10' in msg, msg
    assert steps.n == 10 + 3, f"{steps.n - 13} optimiser steps were taken after the bad loss"
    assert f"The last good checkpoint, {tmp_path/'run.pth'} (after epoch 1), is kept" in msg, msg
    assert 'still has finite weights' in msg and all(torch.isfinite(p).all() for p in learn.model.parameters())

def test_nonfinite_message_says_when_the_model_is_already_bad(tmp_path):
    "Weights that went NaN before the loss did: the message says the model in memory is not to be used."
    class Poison(Callback):
        def before_batch(self, learn):
            if learn.training and learn.iter == 1:
                with torch.no_grad(): next(learn.model.parameters()).view(-1)[0] = float('nan')
    learn = _classifier(torch.optim.SGD, [Poison()])
    with pytest.raises(NonFiniteLossError, match='now has NaN or infinite weights'): learn.fit(1)

def _host_reads(n_batches:int) -> int:
    "Host reads in one training epoch of the Learner with lesson 04b's standard callbacks (after a first epoch made the optimiser's state)."
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16 * n_batches, 1, 28, 28, generator=g), torch.randint(0, 10, (16 * n_batches,), generator=g)
    dl = TensorLoader(x, y, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
    from torcheval.metrics import MulticlassAccuracy
    cbs = [TrainCB(), DeviceCB('cpu'), MetricsCB(accuracy=MulticlassAccuracy()), ProgressCB(plot=False, live=False)]
    learn = Learner(simple_cnn(nfs=(4, 8)), DataLoaders(dl, dl), F.cross_entropy, lr=0.01, cbs=cbs)
    learn.fit(1, valid=False)
    with CountOps() as ops: learn.fit(1, valid=False)
    return ops.host_reads

def test_nan_watch_adds_no_host_read_per_batch(capsys):
    "Lesson 04b's measure: host reads per training epoch, the same for 10 and 20 batches, and as many as lesson 04b published (4)."
    assert _host_reads(10) == _host_reads(20) == 4
