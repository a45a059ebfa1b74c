"Library edges of lesson 17a's autoencoder and GAN losses, on tiny tensors."
import math
import pytest, torch
from miniai.autoencoder import (DiagonalGaussian, Autoencoder, PatchDiscriminator, AELossWeights, AutoencoderTrainer, autoencoder_loss,
                                gan_d_loss, gan_g_loss, latent_scale, encode_latents, decode_latents, autoencoder_path, find_autoencoder)
from miniai.checkpoint import save_model, load_model

def test_kl_matches_closed_form_and_torch_distributions():
    params = torch.randn(4, 6, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    q = DiagonalGaussian(params)
    mu, s2 = params[:, :3], params[:, 3:].exp()
    want = (0.5 * (mu**2 + s2 - 1 - s2.log())).flatten(1).sum(1)
    torch.testing.assert_close(q.kl(), want)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(q.mean, q.std), torch.distributions.Normal(0., 1.)).flatten(1).sum(1)
    torch.testing.assert_close(q.kl(), ref)
    assert torch.equal(DiagonalGaussian(torch.zeros(2, 4, 1, 1)).kl(), torch.zeros(2))

def test_posterior_samples_follow_the_generator():
    q = DiagonalGaussian(torch.randn(2, 4, 2, 2))
    a, b = (q.sample(torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, q.mode())

def test_nonsaturating_gradient_is_larger_where_d_is_confident():
    l = torch.tensor([-7., -5.], dtype=torch.float64, requires_grad=True)   # D(G(z)) below 0.01: D rejects the fakes
    g_sat, = torch.autograd.grad(gan_g_loss(l, 'saturating') * 2, l)
    g_ns, = torch.autograd.grad(gan_g_loss(l, 'nonsaturating') * 2, l)
    s = torch.sigmoid(l.detach())
    torch.testing.assert_close(g_sat, -s); torch.testing.assert_close(g_ns, -(1 - s))
    assert (g_ns.abs() > 100 * g_sat.abs()).all()

def test_gan_losses_at_known_points():
    zero = torch.zeros(3)
    torch.testing.assert_close(gan_d_loss(zero, zero), torch.tensor(2 * math.log(2)))   # D undecided: -log(1/2) twice
    torch.testing.assert_close(gan_d_loss(torch.full((3,), 2.), torch.full((3,), -2.), 'hinge'), torch.tensor(0.))   # beyond the margin
    with pytest.raises(ValueError, match="'nonsaturating' or 'hinge'"): gan_d_loss(zero, zero, 'wgan')

@pytest.mark.parametrize('factor,zc', [(4, 8), (8, 4)])
def test_encoder_decoder_shapes(factor, zc):
    ae = Autoencoder(z_channels=zc, factor=factor, width=8, max_mult=2)
    x = torch.randn(2, 3, 32, 32)
    recon, post = ae(x, torch.Generator().manual_seed(0))
    assert post.mean.shape == post.logvar.shape == (2, zc, 32 // factor, 32 // factor)
    assert recon.shape == x.shape and ae.decode(post.mode()).shape == x.shape

def test_discriminator_gives_a_map_of_logits():
    assert PatchDiscriminator(width=8)(torch.randn(2, 3, 32, 32)).shape == (2, 1, 6, 6)
    assert PatchDiscriminator(width=8, n_layers=3)(torch.randn(1, 3, 64, 64)).shape == (1, 1, 6, 6)

def test_bad_inputs_name_the_fix():
    ae = Autoencoder(width=8, max_mult=1)
    with pytest.raises(ValueError, match=r'expected images of shape \(N, 3, H, W\), got \(2, 1, 32, 32\)'): ae.encode(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match=r'x\[None\]'): ae.encode(torch.randn(3, 32, 32))
    with pytest.raises(ValueError, match=r'multiples of 8, got \(30, 32\).*crop or pad'): ae.encode(torch.randn(1, 3, 30, 32))
    with pytest.raises(ValueError, match=r'latents of shape \(N, 4, h, w\)'): ae.decode(torch.randn(1, 8, 4, 4))
    with pytest.raises(ValueError, match='must be 2, 4, 8 or 16'): Autoencoder(factor=6)
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\), got \(1, 4, 32, 32\)'): PatchDiscriminator(width=8)(torch.randn(1, 4, 32, 32))
    with pytest.raises(ValueError, match='needs a discriminator'): AutoencoderTrainer(ae, None, AELossWeights(perceptual=0.))
    with pytest.raises(ValueError, match='needs the perceptual module'):
        x = torch.randn(1, 3, 8, 8); autoencoder_loss(x, x, DiagonalGaussian(torch.zeros(1, 8, 1, 1)), AELossWeights())

def test_trainer_switches_the_discriminator_on_after_warmup():
    torch.manual_seed(0)
    ae, disc = Autoencoder(width=8, max_mult=1, factor=4), PatchDiscriminator(width=8)
    tr = AutoencoderTrainer(ae, disc, AELossWeights(perceptual=0., adv_start=2), lr=1e-3, generator=torch.Generator().manual_seed(0))
    before = [p.clone() for p in disc.parameters()]
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    for _ in range(2): tr.step(x)
    assert all(torch.equal(a, b) for a, b in zip(before, disc.parameters()))     # warm-up: D untouched
    tr.step(x)
    assert not all(torch.equal(a, b) for a, b in zip(before, disc.parameters()))
    assert [sorted(h) for h in tr.history] == [['kl', 'rec']] * 2 + [['d', 'g_adv', 'kl', 'rec']]
    assert tr.losses('d').shape == (1,)

def test_latent_scale_gives_unit_variance():
    ae = Autoencoder(width=8, max_mult=1, factor=4)
    images = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    scale, ch = latent_scale(ae, images, batch_size=4, generator=torch.Generator().manual_seed(1))
    z = ae.encode(images.float() / 127.5 - 1).sample(torch.Generator().manual_seed(1)).double()
    assert ch.shape == (4,)
    torch.testing.assert_close((z * scale).std().item(), 1.)

def test_psnr_and_reconstruct():
    from miniai.autoencoder import psnr, reconstruct
    x = torch.rand(2, 3, 4, 4, dtype=torch.float64) * 2 - 1
    torch.testing.assert_close(psnr(x, x - 0.2), torch.full((2,), 10 * math.log10(4 / 0.04), dtype=torch.float64))
    with pytest.raises(ValueError, match='one shape'): psnr(x, x[:1])
    ae = Autoencoder(width=8, max_mult=1, factor=4)
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8)
    r = reconstruct(ae, images, batch_size=2)
    assert r.shape == (3, 3, 8, 8) and r.dtype == torch.float32 and r.abs().max() <= 1
    with pytest.raises(TypeError, match='uint8'): reconstruct(ae, images.float())

def test_models_round_trip_through_checkpoints(tmp_path):
    from miniai.checkpoint import save_model, load_model
    for m in (Autoencoder(z_channels=8, factor=4, width=8, max_mult=1), PatchDiscriminator(width=8)):
        back = load_model(save_model(m, tmp_path/f'{type(m).__name__}.pt'))   # no expect=: the file names a registered factory
        assert type(back) is type(m) and back.kwargs == m.kwargs
        assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), back.state_dict().values()))

def test_latents_round_trip_through_scale_and_a_saved_file(tmp_path, monkeypatch):
    "Scaled latents decode to the same images as the autoencoder itself; the saved autoencoder (its spec names the library class) reloads with its meta and the same outputs."
    torch.manual_seed(0)
    ae = Autoencoder(z_channels=4, factor=4, width=8, max_mult=2).eval()
    x = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
    z = encode_latents(ae, x, 0.5, sample=False, batch_size=2)
    assert z.shape == (3, 4, 4, 4) and z.dtype == torch.float32
    with torch.no_grad(): want = ae(x.float() / 127.5 - 1, sample=False)[0].clamp(-1, 1)
    torch.testing.assert_close(decode_latents(ae, z, 0.5, batch_size=2), want)
    g = lambda: torch.Generator().manual_seed(1)
    assert torch.equal(encode_latents(ae, x, generator=g()), encode_latents(ae, x, generator=g()))
    assert not torch.equal(encode_latents(ae, x, generator=g()), encode_latents(ae, x, sample=False))
    monkeypatch.setenv('MINIAI_DATA', str(tmp_path)); monkeypatch.setenv('MINIAI_MODE', 'quick')
    path = save_model(ae, autoencoder_path(), expect=Autoencoder, latent_scale=0.5)
    assert path == tmp_path/'checkpoints'/'17a_autoencoder_quick.pt'
    back = load_model(path, expect=Autoencoder)
    assert back.meta['latent_scale'] == 0.5
    torch.testing.assert_close(decode_latents(back, z, 0.5), want)

def test_lesson_17_finds_its_own_autoencoder_else_the_package_copy(tmp_path, monkeypatch):
    "find_autoencoder gives this machine's file for the run mode when there is one, else the package's copy; with neither, an error naming lesson 17a's command and the reinstall."
    import miniai.autoencoder as mae
    from miniai.resnet import WeightsNotFoundError
    monkeypatch.setenv('MINIAI_DATA', str(tmp_path/'data')); monkeypatch.setenv('MINIAI_MODE', 'quick')
    monkeypatch.setattr(mae, 'package_weights_path', lambda name: tmp_path/'package'/'weights'/name)
    with pytest.raises(WeightsNotFoundError) as e: find_autoencoder()
    assert 'MINIAI_MODE=quick bash scripts/lesson.sh 17a' in str(e.value) and 'reinstall miniai' in str(e.value), str(e.value)
    ae = Autoencoder(z_channels=4, factor=4, width=8, max_mult=1)
    shipped = save_model(ae, tmp_path/'package'/'weights'/mae.AE_WEIGHTS, expect=Autoencoder, mode='cpu')
    assert find_autoencoder() == shipped
    own = save_model(ae, autoencoder_path(), expect=Autoencoder, mode='quick')
    assert find_autoencoder() == own == tmp_path/'data'/'checkpoints'/'17a_autoencoder_quick.pt'
    assert find_autoencoder('cpu') == shipped, "another mode's file is not this mode's"
