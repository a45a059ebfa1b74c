"""Training images per second of lesson 10's UNet: lesson 06a's `diffusion_learner` (KarrasCB, one-cycle, EMA, autocast, compile)
against a hand-written loop doing the same work (the same noising, loss, optimiser, schedule and EMA update), interleaved.

    python tools/bench_unet.py                       # the sizes for this machine: lesson 10's cpu-mode UNet on a CPU, its gpu-mode UNet on CUDA
    python tools/bench_unet.py --device cuda --bf16 --compile --bs 512 --steps 50
Autocast and compile are lesson 04's decision for a long training run on this machine (`precision_for`), the same for both
contestants; --bf16/--no-bf16 and --compile/--no-compile override it. The printed ratio (Learner / plain loop) is what to report:
one absolute time on a shared machine means little.
"""
import argparse, contextlib, io, statistics, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch, torch.nn.functional as F
from miniai.core import def_device
from miniai.datasets import TensorLoader, DataLoaders
from miniai.accel import fast_opt, precision_for
from miniai.bench import interleaved_times
from miniai.diffusion import diffusion_learner
from miniai.karras import KarrasCB, karras_noisify
from miniai.unet import UNet

SIZES = {'cpu': dict(nfs=(16, 32, 64, 64), n_layers=1, attn=(), bs=128, steps=30),     # lesson 10's cpu-mode UNet
         'cuda': dict(nfs=(32, 64, 128, 256), n_layers=2, attn=(8,), bs=512, steps=50)}  # its gpu-mode UNet

def _data(n, device, seed=0):
    "`n` random images in [-1, 1] at 32x32 and labels, resident on `device` (the benchmark measures the loop, not the data)."
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 32, 32, generator=g) * 2 - 1).to(device), torch.randint(0, 10, (n,), generator=g).to(device)

def plain_loop(net, opt, sched, ema_params, x, bs, sigma_data, dtype, gen, scaler=None, decay=0.999):
    "One pass over `x` by hand: noisify as KarrasCB does, MSE under autocast to `dtype` (float32: none), backward (through `scaler` for fp16), step, schedule, zero_grad, EMA update."
    net.train()
    params = [p for p in net.parameters()]
    autocast = dtype != torch.float32
    for i in range(0, len(x), bs):
        (x_in, c_noise), target = karras_noisify(x[i:i + bs], sigma_data, generator=gen)
        with torch.autocast(x.device.type, dtype=dtype if autocast else torch.bfloat16, enabled=autocast):
            loss = F.mse_loss(net(x_in, c_noise), target)
        if scaler is None: loss.backward(); opt.step()
        else: scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
        sched.step(); opt.zero_grad(set_to_none=True)
        with torch.no_grad(): torch._foreach_lerp_(ema_params, [p.detach() for p in params], 1 - decay)

def bench_unet(device=None, bs=None, steps=None, nfs=None, n_layers=None, attn=None, bf16=None, compile=None, repeats=5, warmup=1, sigma_data=0.66, lr=3e-3, threads=None, clock='wall'):
    "Images per second of `diffusion_learner` and of `plain_loop` on the same UNet work, medians of `repeats` interleaved pairs, and their ratio; `threads` CPU threads for both (default: PyTorch's); `clock` 'wall' or 'cpu' (this process's CPU time: on a machine shared with other work, what each contestant itself spent)."
    if clock not in ('wall', 'cpu'): raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    old_threads = torch.get_num_threads()
    if threads: torch.set_num_threads(threads)
    try: return _bench_unet(device, bs, steps, nfs, n_layers, attn, bf16, compile, repeats, warmup, sigma_data, lr, clock)
    finally: torch.set_num_threads(old_threads)

def _bench_unet(device, bs, steps, nfs, n_layers, attn, bf16, compile, repeats, warmup, sigma_data, lr, clock):
    device = torch.device(def_device if device is None else device)
    size = SIZES['cuda' if device.type == 'cuda' else 'cpu']
    bs, steps = bs or size['bs'], steps or size['steps']
    nfs, n_layers, attn = nfs or size['nfs'], n_layers or size['n_layers'], size['attn'] if attn is None else attn
    if clock == 'cpu' and device.type != 'cpu': raise ValueError(f"clock='cpu' times the host's CPU, not {device.type}'s work: use clock='wall' there")
    prec = precision_for(device, bf16=bf16, compile=compile)   # what a long training run on this machine would use
    make = lambda: UNet(nfs=nfs, n_layers=n_layers, attn_resolutions=attn).to(device)
    x, y = _data(bs * steps, device)
    total = (warmup + repeats) * steps
    torch.manual_seed(0); net_p = make()
    opt = fast_opt(torch.optim.AdamW, device, eps=1e-5, weight_decay=0.01)(net_p.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    ema_params = [p.detach().clone() for p in net_p.parameters()]
    net_run = torch.compile(net_p) if prec.compile else net_p
    scaler = torch.amp.GradScaler(device.type) if prec.grad_scaler else None
    gen = torch.Generator(device).manual_seed(0)
    torch.manual_seed(0); net_l = make()
    dls = DataLoaders(TensorLoader(x, y, batch_size=bs), TensorLoader(x[:bs], y[:bs], batch_size=bs))
    learn = diffusion_learner(net_l, dls, KarrasCB(sigma_data, generator=torch.Generator(device).manual_seed(0)), total_steps=total, lr=lr,
                              bf16=bf16, compile=prec.compile, ema_decay=0.999, device=device)
    assert learn.precision.dtype == prec.dtype and learn.precision.compile == prec.compile, (learn.precision, prec)
    def run_plain(): plain_loop(net_run, opt, sched, ema_params, x, bs, sigma_data, prec.dtype, gen, scaler)
    def run_learner():
        with contextlib.redirect_stdout(io.StringIO()): learn.fit(1, valid=False)
    cpu_p, cpu_l = [], []
    def cpu_timed(fn, out):
        def f():
            start = time.process_time(); fn(); out.append(time.process_time() - start)
        return f
    tp, tl = interleaved_times(cpu_timed(run_plain, cpu_p), cpu_timed(run_learner, cpu_l), device, repeats, warmup)   # lesson 04b's timing, alternating who goes first
    if clock == 'cpu': tp, tl = cpu_p[warmup:], cpu_l[warmup:]
    n = bs * steps
    return dict(plain=n / statistics.median(tp), learner=n / statistics.median(tl), ratio=statistics.median(p / l for p, l in zip(tp, tl)),
                ratios=[p / l for p, l in zip(tp, tl)], precision=prec, device=str(device), bs=bs, steps=steps, nfs=list(nfs), n_layers=n_layers,
                attn=list(attn), bf16=prec.dtype == torch.bfloat16, compile=prec.compile, repeats=repeats, threads=torch.get_num_threads(), clock=clock,
                params=sum(p.numel() for p in net_p.parameters()))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device'); ap.add_argument('--bs', type=int); ap.add_argument('--steps', type=int)
    ap.add_argument('--repeats', type=int, default=5); ap.add_argument('--warmup', type=int, default=1)
    for flag in ('bf16', 'compile'): ap.add_argument(f'--{flag}', action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument('--threads', type=int, help='CPU threads for both contestants (default: all); 1 keeps a busy machine from stalling every operation')
    ap.add_argument('--clock', choices=['wall', 'cpu'], default='wall', help="'cpu': each contestant's own CPU time, for a machine shared with other work (use with --threads 1)")
    a = ap.parse_args(argv)
    r = bench_unet(a.device, a.bs, a.steps, bf16=a.bf16, compile=a.compile, repeats=a.repeats, warmup=a.warmup, threads=a.threads, clock=a.clock)
    print(f"UNet {r['nfs']} x {r['n_layers']} ({r['params']:,} parameters) on {r['device']}, batch {r['bs']}, {r['steps']} steps a pass, {r['threads']} CPU threads, {r['clock']} clock; median of {r['repeats']} interleaved pairs")
    print(f"both: {r['precision']}")
    print('Learner / plain, pair by pair:', ' '.join(f'{q:.3f}' for q in r['ratios']))
    print(f"plain loop: {r['plain']:,.0f} img/s | diffusion_learner: {r['learner']:,.0f} img/s | ratio (Learner / plain): {r['ratio']:.3f}")
    return r

if __name__ == '__main__': main()
