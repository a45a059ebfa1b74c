"The evaluation report of miniai.fid (issue 24) and the FID/KID guard rails of issue 26: small tensors, plus lesson 05's shipped classifier features."
import warnings
import pytest
import torch
from miniai.fid import (frechet_distance, sqrtm_psd, fid_from_feats, kid_from_feats, kernel_mean, mmd2_unbiased, knn_radii, precision_recall,
                        pixel_check, ImageEval, SmallSampleWarning, fmnist_images, fmnist_eval)
from miniai.datasets import DataNotFoundError

def _warnings(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        fn()
    return w

# --- issue 26: FID and KID guard rails ---

def test_frechet_refuses_a_covariance_with_a_negative_eigenvalue():
    "Clipping the eigenvalue at 0 used to hide it: this pair scored exactly 0.0."
    bad = torch.diag(torch.tensor([1., 1., -1.], dtype=torch.float64))
    z = torch.zeros(3, dtype=torch.float64)
    for args in [(z, bad, z, bad), (z, torch.eye(3, dtype=torch.float64), z, bad), (z, bad, z, torch.eye(3, dtype=torch.float64))]:
        with pytest.raises(ValueError, match='not positive semi-definite'): frechet_distance(*args)
    with pytest.raises(ValueError, match='smallest eigenvalue is -1'): sqrtm_psd(bad)

def test_sqrtm_psd_still_clips_rounding():
    "A rank-deficient covariance (eigenvalues of -1e-16 from rounding) is accepted, and FID of a set with itself is 0."
    f = torch.randn(20, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    c = torch.cov(f.T)
    s = sqrtm_psd(c)
    assert torch.allclose(s @ s, c, atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SmallSampleWarning)
        assert fid_from_feats(f, f) == pytest.approx(0., abs=1e-9)

def test_fid_and_kid_warn_below_the_feature_dimension():
    g = torch.Generator().manual_seed(0)
    small, big = torch.randn(30, 64, generator=g), torch.randn(200, 64, generator=g)
    for fn in (lambda: fid_from_feats(small, big), lambda: kid_from_feats(small, big, n_subsets=2)):
        w = _warnings(fn)
        assert [o.category for o in w] == [SmallSampleWarning] and '30 samples in 64-d features' in str(w[0].message)
    assert not _warnings(lambda: fid_from_feats(big[:100], big[100:]))
    assert not _warnings(lambda: kid_from_feats(big[:100], big[100:], n_subsets=2))

def _tiny_eval(n_ref=64):
    "An ImageEval on 16 pixel features of random uint8 references: fast, no weights."
    ref = torch.randint(0, 256, (n_ref, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return ImageEval(lambda x: x.flatten(1)[:, ::49], ref, device='cpu')

def test_images_in_unit_range_warn_for_any_count():
    "The old check warned only from 16 images up, and not at all when a sampler undershot 0 slightly."
    ev = _tiny_eval()
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    for imgs in (x, x - 0.02):
        assert any('pass images * 2 - 1' in str(o.message) for o in _warnings(lambda: ev.features(imgs)))
    assert not any('pass images * 2 - 1' in str(o.message) for o in _warnings(lambda: ev.features(x * 2 - 1)))

# --- the pieces of the report ---

def test_knn_radii_match_brute_force_in_any_chunk():
    f = torch.randn(40, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    brute = torch.stack([torch.cdist(f[i:i+1], f[torch.arange(40) != i])[0].sort().values[2] for i in range(40)])
    for chunk in (1, 7, 1024): assert torch.allclose(knn_radii(f, 3, chunk), brute, atol=1e-9)
    with pytest.raises(ValueError, match='k must be between 1 and N - 1'): knn_radii(f[:3], 3)

def test_precision_recall_separate_quality_from_variety():
    g = torch.Generator().manual_seed(3)
    real = torch.randn(1_000, 8, generator=g)
    same = precision_recall(real, torch.randn(1_000, 8, generator=g), chunk=100)
    far = precision_recall(real, torch.randn(1_000, 8, generator=g) + 8)
    copies = precision_recall(real, torch.randn(10, 8, generator=g).repeat(100, 1))
    assert min(same) > 0.6 and max(far) < 0.05
    assert copies[0] > 0.5 and copies[1] < 0.05

def test_kernel_mean_in_chunks_and_a_cached_within_term():
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(30, 5, generator=g, dtype=torch.float64), torch.randn(20, 5, generator=g, dtype=torch.float64)
    k = (a @ a.T / 5 + 1) ** 3
    assert kernel_mean(a, chunk=7) == pytest.approx(((k.sum() - k.trace()) / (30 * 29)).item(), rel=1e-12)
    assert mmd2_unbiased(a, b, kyy=kernel_mean(b)) == pytest.approx(mmd2_unbiased(a, b), rel=1e-12)

def test_pixel_check_names_what_differs():
    ref = dict(mean=-0.42, std=0.70, ends=0.52, binary=0.0)
    assert pixel_check(dict(mean=-0.40, std=0.72, ends=0.50, binary=0.0), ref) == 'ok'
    msg = pixel_check(dict(mean=-0.38, std=0.93, ends=1.0, binary=1.0), ref)
    assert 'nearly black-and-white' in msg and 'ends of the range' in msg
    # the ends are one-sided: fewer pixels at +-1 than the data (a background at -0.97) is not saturation
    assert pixel_check(dict(mean=-0.41, std=0.69, ends=0.20, binary=0.0), ref) == 'ok'
    assert 'ends of the range' in pixel_check(dict(mean=-0.41, std=0.75, ends=0.70, binary=0.0), ref)

def test_report_keys_and_reference_work_done_once():
    calls = []
    def feats(x): calls.append(len(x)); return x.flatten(1)[:, ::49]
    ref = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    ev = ImageEval(feats, ref, device='cpu', batch_size=32)
    n_ref_calls = len(calls)
    x = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(5)) * 2 - 1
    r = ev.report(x, generator=torch.Generator().manual_seed(0))
    for key in ('n', 'fid', 'kid', 'kid_se', 'precision', 'recall', 'pix_mean', 'pix_std', 'pix_ends', 'pix_binary',
                'ref_pix_mean', 'ref_pix_std', 'ref_pix_ends', 'ref_pix_binary', 'pixel_check'):
        assert key in r, key
    assert sum(calls[n_ref_calls:]) == 40                     # only the samples were featurised
    assert r['n'] == 40 and r['kid_se'] > 0 and r['kid'] == pytest.approx(mmd2_unbiased(ev.features(x), ev.ref_feats), abs=4 * r['kid_se'])
    radii = ev._radii[40, 3]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ev.report(x[:40].flip(0))
    assert ev._radii[40, 3] is radii                          # the reference radii for this count are computed once
    with pytest.raises(ValueError, match='at least 4 images'): ev.report(x[:3])

def test_score_samples_is_the_report_and_the_class_share():
    "Lesson 15's scorer: the whole report from one pass of features, plus the share that the classifier's head puts in the asked class."
    import torch.nn as nn
    from miniai.fid import score_samples
    calls = []
    def feats(x): calls.append(len(x)); return x.flatten(1)[:, ::49]
    ev = ImageEval(feats, torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)), device='cpu')
    clf = nn.Module(); clf.head = nn.Linear(16, 3)
    x = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(5)) * 2 - 1
    labels = torch.arange(40) % 3
    n_before = len(calls)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SmallSampleWarning)
        r, fid = score_samples(ev, clf, x, labels), ev.fid(x)
    assert calls[n_before] == 40 and len(calls) == n_before + 2          # one pass of features for the scorer, one for ev.fid
    for key in ('fid', 'kid', 'kid_se', 'precision', 'recall', 'pix_mean', 'pixel_check', 'top1'): assert key in r, key
    assert r['fid'] == pytest.approx(fid)
    with torch.no_grad(): want = (clf.head(ev.features(x).float()).argmax(1) == labels).double().mean().item()
    assert r['top1'] == pytest.approx(want)

# --- issue 24's done-when, on lesson 05's shipped classifier features ---

@pytest.fixture(scope='module')
def fmnist():
    try: ev, (xtr, ytr) = fmnist_eval(n_ref=500, device='cpu'), fmnist_images('train', labels=True)
    except DataNotFoundError as e: pytest.skip(f'Fashion-MNIST not available: {e}')
    return ev, xtr[:3_000].float() / 127.5 - 1, ytr[:3_000]

def _report(ev, x):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SmallSampleWarning)   # 500 images in 512-d features
        warnings.filterwarnings('ignore', message='these float images have no pixel below')
        return ev.report(x, generator=torch.Generator().manual_seed(0))

def test_fmnist_labels_match_images(fmnist):
    _, x, y = fmnist
    assert y.dtype == torch.int64 and y.shape == (3_000,) and set(y.tolist()) == set(range(10))

def test_real_training_images_have_high_precision_and_recall(fmnist):
    ev, x, _ = fmnist
    r = _report(ev, x[:500])
    assert r['precision'] > 0.8 and r['recall'] > 0.8 and r['pixel_check'] == 'ok', r

def test_copies_of_ten_images_have_low_recall(fmnist):
    ev, x, _ = fmnist
    r = _report(ev, x[:10].repeat(50, 1, 1, 1))
    assert r['recall'] < 0.1 and r['precision'] > 0.5, r

def test_speckle_has_low_precision(fmnist):
    ev, _, _ = fmnist
    speckle = torch.where(torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(6)) < 0.5, 1., -1.)
    assert _report(ev, speckle)['precision'] < 0.2

def test_white_squares_and_speckle_have_low_recall_and_fail_the_pixel_check(fmnist):
    ev, x, _ = fmnist
    speckle = torch.where(torch.rand(250, 1, 28, 28, generator=torch.Generator().manual_seed(7)) < 0.5, 1., -1.)
    r = _report(ev, torch.cat([torch.ones(250, 1, 28, 28), speckle]))
    assert r['recall'] < 0.1 and 'nearly black-and-white' in r['pixel_check'], r
    sat = _report(ev, torch.where(x[500:1_000] > 0, 1., -1.))   # the sign of real images: garments to the classifier, broken pixels
    assert sat['pixel_check'] != 'ok', sat
