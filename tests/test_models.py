"""The paper's networks (springblock.models, springblock.networks) and the training engine's stacked MLP
with its hand-written backward pass, checked against autograd in every layout, normalisation and
kernel backend (springblock.kernels)."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from springblock import kernels, models, separation
from springblock.models import MLP, StackedMLP, c_sigma
from springblock.networks import CNN, LinearNet

BACKENDS = ["native", "public"]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Run a test with torch's private kernels and with their public-op fallbacks."""
    if request.param == "native" and kernels.BACKEND != "native":
        pytest.skip("torch's private kernels are not available here")
    monkeypatch.setattr(kernels, "BACKEND", request.param)
    return request.param


# ---------------------------------------------------------------- MLP
def test_mlp_is_the_papers_network():
    torch.manual_seed(0)
    net = MLP(alpha=0.3, dropout=0.1)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(100, 100)] * 7 + [(10, 100)]
    assert all(m.bias.abs().sum() > 0 for m in linears)  # PyTorch's default init: biases are not zeroed
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 8 and all(b.momentum == 0.1 and b.eps == 1e-5 and b.affine for b in bns)
    assert net.act.negative_slope == 0.3 and net.drop.p == 0.1 and net.norm == "batch" and net.scale == 1.0
    # eval mode, by hand: input BN, then [Linear -> BN -> LeakyReLU] x 7, then the head
    x = torch.rand(5, 100)
    out = net.eval().layers(x)
    with torch.no_grad():
        h = net.input_bn(x)
        want = [h]
        for lin, bn in zip(net.linears, net.bns):
            h = F.leaky_relu(bn(lin(h)), 0.3)
            want.append(h)
        want.append(net.head(h))
    assert len(out) == 9
    for got, ref in zip(out, want):
        torch.testing.assert_close(got, ref)
    torch.testing.assert_close(net(x), want[-1])


def test_default_init_follows_the_seed():
    torch.manual_seed(3)
    a = MLP()
    torch.manual_seed(3)
    lin = nn.Linear(100, 100)  # the first Linear consumes the RNG first
    assert torch.equal(a.linears[0].weight, lin.weight) and torch.equal(a.linears[0].bias, lin.bias)
    bound = 1 / 100 ** 0.5
    assert a.head.weight.abs().max() <= bound


def test_masks_replace_dropout():
    torch.manual_seed(1)
    net = MLP(alpha=0.1, dropout=0.5, hidden=2, width=8, in_dim=6, num_classes=3).train()
    x = torch.randn(4, 6)
    ones = torch.ones(2, 4, 8)
    zeros = torch.zeros(2, 4, 8)
    ref = net.eval().layers(x)
    net.train()
    with torch.no_grad():
        # all-ones masks: training-mode BN but no dropout; all-zero masks: every feature after layer 0 is 0
        kept = net.layers(x, masks=ones)
        dropped = net.layers(x, masks=zeros)
    assert all(torch.equal(d, torch.zeros_like(d)) for d in dropped[1:-1])
    torch.testing.assert_close(dropped[-1], net.head.bias.expand(4, 3))
    assert not torch.allclose(kept[-1], ref[-1])  # training-mode BatchNorm uses the batch statistics


def test_c_sigma():
    assert c_sigma(0.0) == 2.0 and c_sigma(1.0) == 1.0 and c_sigma(-1.0) == 1.0
    assert c_sigma(0.5) == pytest.approx(2 / 1.25)
    # 1 / E[σ_α(z)²] for z ~ N(0, 1), by quadrature: E[σ_α(z)²] = (1 + α²)/2
    z = torch.linspace(-12, 12, 200_001, dtype=torch.float64)
    pdf = torch.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
    for alpha in (0.0, 0.2, 0.7):
        second = torch.trapezoid(F.leaky_relu(z, alpha) ** 2 * pdf, z).item()
        assert 1 / second == pytest.approx(c_sigma(alpha), rel=1e-9)


def test_c_sigma_mlp_is_eq1():
    torch.manual_seed(0)
    net = MLP(alpha=0.2, hidden=3, width=300, in_dim=200, num_classes=10, norm="c_sigma")
    assert net.norm == "c_sigma" and net.scale == pytest.approx(math.sqrt(c_sigma(0.2)))
    assert not any(isinstance(m, nn.BatchNorm1d) for m in net.modules())
    assert not hasattr(net, "input_bn") and not hasattr(net, "bns")
    for lin in [*net.linears, net.head]:  # weights N(0, 1/fan_in), zero biases
        assert torch.equal(lin.bias, torch.zeros_like(lin.bias))
        std = lin.weight.std().item() * math.sqrt(lin.in_features)
        assert std == pytest.approx(1.0, abs=0.05 if lin is net.head else 0.01)
        assert abs(lin.weight.mean().item()) < 4 * lin.in_features ** -0.5 / math.sqrt(lin.weight.numel())
    x = torch.randn(64, 200)
    out = net.eval().layers(x)
    with torch.no_grad():
        h, want = x, [x]  # no input normalisation
        for lin in net.linears:
            h = math.sqrt(2 / (1 + 0.2**2)) * F.leaky_relu(lin(h), 0.2)
            want.append(h)
        want.append(net.head(h))
    for got, ref in zip(out, want):
        torch.testing.assert_close(got, ref)


def test_c_sigma_keeps_the_scale_at_initialisation():
    """With weights N(0, 1/fan_in) and √c_σ, E|x_ℓ|²/width stays at the input's (Eq. 1); without √c_σ
    it would shrink by (1+α²)/2 per layer."""
    torch.manual_seed(0)
    for alpha in (0.0, 0.5):
        net = MLP(alpha=alpha, hidden=6, width=1000, in_dim=1000, norm="c_sigma").eval()
        x = torch.randn(200, 1000)
        with torch.no_grad():
            ms = [h.square().mean().item() for h in net.layers(x)[:-1]]
        for m in ms:
            assert m == pytest.approx(ms[0], rel=0.2), (alpha, ms)  # finite width: a slow random drift
        net.scale = 1.0  # the same weights without √c_σ: the mean square decays by (1+α²)/2 per layer
        with torch.no_grad():
            bare = [h.square().mean().item() for h in net.layers(x)[:-1]]
        assert bare[-1] / bare[0] == pytest.approx(((1 + alpha**2) / 2) ** 6, rel=0.2)


def test_bad_norm():
    with pytest.raises(ValueError, match=r"norm must be one of \('batch', 'c_sigma'\)"):
        MLP(norm="layer")


# ---------------------------------------------------------------- StackedMLP vs autograd
SHAPE = dict(hidden=3, width=24, in_dim=30, num_classes=6)


def _nets(alphas, norm="batch", dtype=torch.float64, shape=SHAPE, p=0.2):
    torch.manual_seed(0)
    nets = [MLP(alpha=a, dropout=p, norm=norm, **shape).to(dtype) for a in alphas]
    for n in nets:  # non-trivial parameters (c_sigma biases start at 0) and BN running statistics
        for q in n.parameters():
            q.data += 0.05 * torch.randn_like(q)
        if norm == "batch":
            for b in [n.input_bn, *n.bns]:
                b.running_mean.normal_(0, 0.3)
                b.running_var.uniform_(0.5, 2)
    return nets


def _check_gradients(nets, batch_major, with_masks, B=12, frozen=None, shape=SHAPE):
    M, hidden, width, C = len(nets), shape["hidden"], shape["width"], shape["num_classes"]
    stack = StackedMLP(nets, dtype=torch.float64, batch_major=batch_major)
    before = [(rm.clone(), rv.clone()) for rm, rv in stack.running]
    g = torch.Generator().manual_seed(1)
    x = torch.randn(M, B, shape["in_dim"], generator=g, dtype=torch.float64)
    y = torch.randint(0, C, (M, B), generator=g)
    masks = (torch.rand(hidden, M, B, width, generator=g) > 0.2).double() / 0.8 if with_masks else None
    if batch_major:  # activations (M, B, F)
        logits, saved = stack.forward_train(x, None if masks is None else list(masks), frozen)
        assert logits.shape == (M, B, C)
        glogits = torch.softmax(logits, -1)
        glogits.scatter_add_(-1, y[..., None], -torch.ones(M, B, 1, dtype=torch.float64))
    else:  # activations (M, F, B)
        logits, saved = stack.forward_train(x.mT.contiguous(), None if masks is None else list(masks.mT), frozen)
        assert logits.shape == (M, C, B)
        glogits = torch.softmax(logits, 1)
        glogits.scatter_add_(1, y[:, None], -torch.ones(M, 1, B, dtype=torch.float64))
    stack.backward(saved, glogits / B)
    for m, net in enumerate(nets):
        net.train()
        for q in net.parameters():
            q.grad = None
        if masks is None:
            net.drop.p = 0.0  # the stack applies dropout only through masks
        out = net(x[m], masks=None if masks is None else masks[:, m])
        torch.testing.assert_close(out, logits[m] if batch_major else logits[m].T, atol=1e-12, rtol=1e-10)
        F.cross_entropy(out, y[m]).backward()
        names = [n for n, _ in net.named_parameters()]
        assert sorted(names) == sorted(stack.names)
        for name, q in net.named_parameters():
            torch.testing.assert_close(stack.grads[name][m], q.grad, atol=1e-12, rtol=1e-10, msg=name)
        if net.norm == "batch":
            for layer, bn in enumerate([net.input_bn, *net.bns]):
                if frozen is not None and frozen[m]:  # an early-stopped network keeps its running statistics
                    assert torch.equal(stack.running[layer][0][m], before[layer][0][m])
                    assert torch.equal(stack.running[layer][1][m], before[layer][1][m])
                else:  # running stats updated like torch
                    torch.testing.assert_close(stack.running[layer][0][m], bn.running_mean, atol=1e-14, rtol=1e-12)
                    torch.testing.assert_close(stack.running[layer][1][m], bn.running_var, atol=1e-14, rtol=1e-12)
    assert (stack.grad.abs().sum(1) > 0).all()  # every network got a gradient


@pytest.mark.parametrize("norm", models.NORMS)
@pytest.mark.parametrize("batch_major", [False, True])
@pytest.mark.parametrize("with_masks", [False, True])
def test_stacked_gradients_match_autograd(norm, batch_major, with_masks, backend):
    _check_gradients(_nets((0.0, 0.35, 1.0), norm), batch_major, with_masks)


@pytest.mark.parametrize("batch_major", [False, True])
def test_frozen_networks_keep_their_running_statistics(batch_major, backend):
    frozen = torch.tensor([[True], [False], [True]])
    _check_gradients(_nets((0.1, 0.2, 0.3)), batch_major, True, frozen=frozen)


@pytest.mark.parametrize("norm", models.NORMS)
def test_stacked_gradients_at_the_papers_size(norm):
    shape = dict(hidden=7, width=100, in_dim=100, num_classes=10)
    _check_gradients(_nets((0.0, 0.5), norm, shape=shape), False, True, shape=shape)


@pytest.mark.parametrize("norm", models.NORMS)
def test_layouts_compute_the_same_numbers(norm, backend):
    nets = _nets((0.0, 0.4), norm)
    x = torch.randn(2, 10, SHAPE["in_dim"], dtype=torch.float64)
    masks = list((torch.rand(SHAPE["hidden"], 2, 10, SHAPE["width"]) > 0.3).double() / 0.7)
    fm, bm = StackedMLP(nets, dtype=torch.float64), StackedMLP(nets, dtype=torch.float64, batch_major=True)
    lf, sf = fm.forward_train(x.mT.contiguous(), [mk.mT.contiguous() for mk in masks])
    lb, sb = bm.forward_train(x, masks)
    torch.testing.assert_close(lf.mT, lb, atol=1e-13, rtol=1e-12)
    g = torch.randn_like(lb)
    fm.backward(sf, g.mT.contiguous())
    bm.backward(sb, g)
    torch.testing.assert_close(fm.grad, bm.grad, atol=1e-13, rtol=1e-11)
    for (a, b), (c, d) in zip(fm.running, bm.running):
        torch.testing.assert_close(a, c, atol=1e-15, rtol=1e-13)
        torch.testing.assert_close(b, d, atol=1e-15, rtol=1e-13)


@pytest.mark.parametrize("norm", models.NORMS)
def test_stacked_eval_and_export_roundtrip(norm):
    nets = _nets((0.0, 0.5), norm)
    stack = StackedMLP(nets, dtype=torch.float64)
    x = torch.randn(20, SHAPE["in_dim"], dtype=torch.float64)
    feats = stack.forward_eval(x)
    assert len(feats) == SHAPE["hidden"] + 2
    for m, net in enumerate(nets):
        ref = net.eval().layers(x)
        for f, r in zip(feats, ref):
            torch.testing.assert_close(f[m], r)
        back = stack.module(m)
        assert back.norm == norm and back.alpha == net.alpha and not back.training
        for (k, v), (k2, v2) in zip(back.state_dict().items(), net.state_dict().items()):
            assert k == k2
            if "num_batches" not in k:
                assert torch.equal(v, v2), k
    only_second = stack.forward_eval(x, slice(1, 2))
    torch.testing.assert_close(only_second[-1][0], feats[-1][1])


def test_a_stack_needs_one_shape_and_one_norm():
    with pytest.raises(ValueError, match="one shape and one normalisation"):
        StackedMLP([MLP(**SHAPE), MLP(norm="c_sigma", **SHAPE)])
    with pytest.raises(ValueError, match="one shape and one normalisation"):
        StackedMLP([MLP(**SHAPE), MLP(**dict(SHAPE, hidden=2))])


# ---------------------------------------------------------------- kernels: public vs native
def _bn_inputs(M=3, Fe=5, B=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = 2 * torch.randn(M, Fe, B, generator=g, dtype=torch.float64) + 1
    w = 1 + 0.3 * torch.randn(M, Fe, generator=g, dtype=torch.float64)
    b = 0.3 * torch.randn(M, Fe, generator=g, dtype=torch.float64)
    rm = 0.2 * torch.randn(M, Fe, generator=g, dtype=torch.float64)
    rv = 0.5 + torch.rand(M, Fe, generator=g, dtype=torch.float64)
    gy = torch.randn(M, Fe, B, generator=g, dtype=torch.float64)
    return z, w, b, rm, rv, gy


def _bn_run(backend, batch_major, need_input_grad=True):
    saved_backend = kernels.BACKEND
    kernels.BACKEND = backend
    try:
        z, w, b, rm, rv, gy = _bn_inputs()
        if batch_major:
            z, gy = z.mT.contiguous(), gy.mT.contiguous()
        ax = 1 if batch_major else -1
        y, saved = kernels.batch_norm_train(z, w, b, rm, rv, ax)
        gz, gw, gb = kernels.batch_norm_backward(gy, z, w, saved, need_input_grad, ax)
    finally:
        kernels.BACKEND = saved_backend
    if batch_major:
        y, gz = y.mT, None if gz is None else gz.mT
    return y, gz, gw, gb, rm, rv


@pytest.mark.skipif(kernels.BACKEND != "native", reason="torch's private kernels are not available here")
@pytest.mark.parametrize("batch_major", [False, True])
def test_batch_norm_public_path_equals_native(batch_major):
    native, public = _bn_run("native", batch_major), _bn_run("public", batch_major)
    for a, b in zip(native, public):
        torch.testing.assert_close(a, b, atol=1e-13, rtol=1e-12)
    # no input gradient when it is not needed (the input BatchNorm)
    assert _bn_run("native", batch_major, False)[1] is None and _bn_run("public", batch_major, False)[1] is None


@pytest.mark.parametrize("batch_major", [False, True])
def test_batch_norm_kernels_equal_torch(batch_major, backend):
    """Against nn.functional.batch_norm and autograd, network by network."""
    y, gz, gw, gb, rm, rv = _bn_run(backend, batch_major)
    z, w, b, rm0, rv0, gy = _bn_inputs()
    for m in range(z.shape[0]):
        zz, ww, bb = (t[m].clone().requires_grad_() for t in (z, w, b))
        rmm, rvv = rm0[m].clone(), rv0[m].clone()
        ref = F.batch_norm(zz.T, rmm, rvv, ww, bb, training=True, momentum=kernels.BN_MOMENTUM, eps=kernels.BN_EPS)
        ref.backward(gy[m].T)
        torch.testing.assert_close(y[m], ref.T.detach(), atol=1e-13, rtol=1e-12)
        torch.testing.assert_close(gz[m], zz.grad, atol=1e-13, rtol=1e-12)
        torch.testing.assert_close(gw[m], ww.grad, atol=1e-13, rtol=1e-12)
        torch.testing.assert_close(gb[m], bb.grad, atol=1e-13, rtol=1e-12)
        torch.testing.assert_close(rm[m], rmm, atol=1e-15, rtol=1e-13)
        torch.testing.assert_close(rv[m], rvv, atol=1e-15, rtol=1e-13)


def test_relu_backward_both_backends(backend):
    y = torch.tensor([-1.0, 0.0, 2.0, -0.0, 3.0], dtype=torch.float64)
    g = torch.tensor([5.0, 6.0, 7.0, 8.0, 9.0], dtype=torch.float64)
    assert torch.equal(kernels.relu_backward(g, y), torch.tensor([0.0, 0.0, 7.0, 0.0, 9.0], dtype=torch.float64))


def test_adam_step_matches_torch_adam(backend):
    torch.manual_seed(0)
    p0 = torch.randn(2, 6, dtype=torch.float64)
    ours, ref = p0.clone(), p0.clone().requires_grad_()
    m, v, t = torch.zeros_like(p0), torch.zeros_like(p0), torch.zeros((), dtype=torch.float64)
    opt = torch.optim.Adam([ref], lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
    for _ in range(5):
        g = torch.randn_like(p0)
        kernels.adam_step([ours], [g], [m], [v], [t], lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
        ref.grad = g.clone()
        opt.step()
    assert t.item() == 5
    torch.testing.assert_close(ours, ref.detach(), atol=1e-14, rtol=1e-12)


# ---------------------------------------------------------------- the other networks
def test_cnn_layers_are_the_pooled_maps():
    torch.manual_seed(0)
    net = CNN(channels=16, hidden=3, size=10).eval()
    x = torch.randn(12, 100)
    out = net.layers(x)
    assert [o.shape[1] for o in out] == [100, 16 * 25, 16 * 25, 16 * 25, 10]
    assert net.head.in_features == 16 * 10 * 10  # the head reads the upsampled maps
    with torch.no_grad():
        h = net.input_bn(x.reshape(-1, 1, 10, 10))
        torch.testing.assert_close(out[0], h.flatten(1))
        for i, block in enumerate(net.blocks):
            pooled = block(h)
            assert pooled.shape == (12, 16, 5, 5)
            torch.testing.assert_close(out[i + 1], pooled.flatten(1))
            h = net.up(pooled)
        torch.testing.assert_close(out[-1], net.head(h.flatten(1)))
        torch.testing.assert_close(net(x.reshape(12, 1, 10, 10)), out[-1])  # flat or image-shaped input


def test_cnn_pooled_and_upsampled_maps_have_the_same_D():
    torch.manual_seed(1)
    net = CNN(channels=4, hidden=2, size=6).double().eval()
    labels = torch.arange(30) % 3
    x = torch.randn(30, 36, dtype=torch.float64) + labels[:, None]
    pooled = net.layers(x)[1]
    with torch.no_grad():
        upsampled = net.up(pooled.reshape(30, 4, 3, 3)).flatten(1)  # each value four times
    assert upsampled.shape == (30, 4 * 36)
    for kind in ("trace", "pinv"):
        assert separation.data_separation(upsampled, labels, kind).item() == pytest.approx(
            separation.data_separation(pooled, labels, kind).item(), abs=1e-10)


def test_cnn_channels_and_bad_size():
    net = CNN(channels=3, hidden=1, size=8, in_channels=2, num_classes=4).eval()
    out = net.layers(torch.randn(5, 2, 8, 8))
    assert [o.shape[1] for o in out] == [2 * 64, 3 * 16, 4]
    with pytest.raises(ValueError, match="size must be even"):
        CNN(size=7)


def test_linear_net_orthogonal_init_keeps_D():
    torch.manual_seed(0)
    net = LinearNet(hidden=4, width=20, in_dim=20, num_classes=2).double().eval()
    for lin in [*net.linears, net.head]:
        assert torch.equal(lin.bias, torch.zeros_like(lin.bias))
        w = lin.weight
        eye = torch.eye(min(w.shape), dtype=w.dtype)
        # (semi-)orthogonal up to the float32 in which torch initialises
        torch.testing.assert_close(w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w, eye, atol=1e-6, rtol=0)
    labels = torch.arange(40) % 2
    x = torch.randn(40, 20, dtype=torch.float64) + 0.5 * labels[:, None]
    layers = net.layers(x)
    assert len(layers) == 6 and layers[-1].shape == (40, 2)
    # orthogonal maps leave the trace separation unchanged: a flat load curve through the hidden layers
    curve = separation.load_curve(layers[:-1], labels)
    torch.testing.assert_close(curve, curve[:1].expand(5), atol=1e-5, rtol=0)
    # PyTorch's default initialisation is not orthogonal, and the curve moves
    torch.manual_seed(0)
    default = LinearNet(hidden=4, width=20, in_dim=20, num_classes=2, init="default").double().eval()
    assert separation.load_curve(default.layers(x)[:-1], labels).std() > 0.05


def test_linear_net_default_init_and_dropout():
    torch.manual_seed(0)
    net = LinearNet(hidden=2, width=8, in_dim=6, num_classes=3, dropout=0.5, init="default")
    assert all(lin.bias.abs().sum() > 0 for lin in net.linears)
    x = torch.randn(10, 6)
    with torch.no_grad():
        ev = net.eval().layers(x)
        torch.testing.assert_close(ev[1], net.linears[0](x))  # no dropout in eval mode
        tr = net.train().layers(x)
    assert (tr[1] == 0).any() and not torch.allclose(tr[1], ev[1])
    with pytest.raises(ValueError, match="init must be"):
        LinearNet(init="xavier")
