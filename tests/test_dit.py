"Library edges of lesson 17's diffusion transformer, on tiny tensors."
import pytest, torch
import torch.nn.functional as F
from miniai.dit import patchify, unpatchify, pos_embedding_2d, DiTBlock, DiT
from miniai.diffusion import MethodModel, net_inputs
from miniai.flows import rectified_flow_method

@pytest.mark.parametrize('shape,p', [((2, 4, 8, 8), 2), ((1, 3, 12, 8), 4), ((2, 16, 4, 4), 1)])
def test_patchify_round_trip(shape, p):
    x = torch.randn(shape)
    tok = patchify(x, p)
    assert tok.shape == (shape[0], shape[2] * shape[3] // p**2, p * p * shape[1])
    assert torch.equal(unpatchify(tok, p, shape[2]), x)

def test_patchify_orders_tokens_by_rows():
    x = torch.arange(16.).reshape(1, 1, 4, 4)
    assert patchify(x, 2)[0].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]

def test_patchify_refuses_sizes_the_patch_does_not_divide():
    with pytest.raises(ValueError, match='must divide the height and width, got 6x5'): patchify(torch.randn(1, 2, 6, 5), 2)
    with pytest.raises(ValueError, match='not a grid'): unpatchify(torch.randn(1, 5, 8), 2, 4)

def test_fresh_block_is_the_identity():
    block = DiTBlock(16, 2, 8)
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        assert torch.equal(block(x, torch.randn(2, 8)), x)
        block.ada[1].bias.normal_()
        assert not torch.equal(block(x, torch.randn(2, 8)), x)

def test_output_shape_and_zero_start():
    net = DiT(in_channels=4, img_size=8, patch=2, dim=16, depth=2, n_heads=2, n_classes=3)
    z = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        assert torch.equal(net(z, torch.tensor([1., 500.]), c=torch.tensor([0, 3])), torch.zeros_like(z))   # 3: the null class
        assert net(z, 0.3).shape == z.shape
    assert DiT(in_channels=3, out_channels=6, img_size=4, patch=1, dim=8, depth=1, n_heads=1)(torch.randn(1, 3, 4, 4), 0.).shape == (1, 6, 4, 4)

def test_bad_inputs_name_the_fix():
    net = DiT(in_channels=4, img_size=8, dim=16, depth=1, n_heads=2, n_classes=3)
    with pytest.raises(ValueError, match=r'DiT expected latents of shape \(N, 4, 8, 8\), got \(1, 4, 16, 16\)'): net(torch.randn(1, 4, 16, 16), 0.)
    with pytest.raises(ValueError, match="0..2, or 3 for 'no class'"): net(torch.randn(1, 4, 8, 8), 0., c=torch.tensor([4]))
    with pytest.raises(ValueError, match='no class conditioning'): DiT(img_size=8, dim=16, depth=1, n_heads=2)(torch.randn(1, 4, 8, 8), 0., c=torch.tensor([0]))
    with pytest.raises(ValueError, match='does not split into 3 heads'): DiTBlock(16, 3, 8)
    with pytest.raises(ValueError, match="'sincos' or 'learned'"): DiT(pos='rope')

def test_positions_separate_rows_and_columns():
    pe = pos_embedding_2d(2, 3, 8)
    assert pe.shape == (6, 8)
    assert torch.equal(pe[0, :4], pe[2, :4]) and torch.equal(pe[0, 4:], pe[3, 4:])
    assert len({tuple(r.tolist()) for r in pe}) == 6

def test_works_as_a_method_network():
    rf = rectified_flow_method()
    x, t = torch.randn(2, 4, 8, 8), torch.tensor([0.25, 0.75])
    x_in, c_noise = net_inputs(lambda n: MethodModel(rf, n), x, t)
    assert torch.equal(x_in, x) and torch.allclose(c_noise, 1000 * t)
    net = DiT(in_channels=4, img_size=8, dim=16, depth=1, n_heads=2, n_classes=3)
    assert MethodModel(rf, net)(x, t, c=torch.tensor([0, 3])).shape == x.shape

def test_class_conditioning_changes_the_output_after_training():
    torch.manual_seed(0)
    net = DiT(in_channels=2, img_size=4, patch=2, dim=16, depth=1, n_heads=2, n_classes=2)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    x, c = torch.randn(8, 2, 4, 4), torch.arange(8) % 2
    target = torch.where(c[:, None, None, None] == 0, 1., -1.).expand_as(x)
    with torch.no_grad(): assert torch.equal(net(x, 0.5, c=c), net(x, 0.5, c=1 - c))   # at init the label cannot matter
    losses = []
    for _ in range(5):
        loss = F.mse_loss(net(x, 0.5, c=c), target)
        opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
    assert losses[-1] < losses[0]
    with torch.no_grad():
        a, b, null = net(x, 0.5, c=c), net(x, 0.5, c=1 - c), net(x, 0.5, c=torch.full_like(c, 2))
    assert (a - b).abs().max() > 1e-3 and (a - null).abs().max() > 1e-3

def test_dit_round_trips_through_a_checkpoint(tmp_path):
    from miniai.checkpoint import save_model, load_model
    net = DiT(in_channels=4, img_size=8, dim=16, depth=1, n_heads=2, n_classes=3, pos='learned')
    back = load_model(save_model(net, tmp_path/'dit.pt'))
    assert type(back) is DiT and back.kwargs == net.kwargs
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), back.state_dict().values()))
