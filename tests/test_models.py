import pytest
import torch
import torch.nn.functional as F
from torch import nn

from springblock.models import MLP, StackedMLP


def test_mlp_is_the_papers_network():
    net = MLP(alpha=0.3, dropout=0.1)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(100, 100)] * 7 + [(10, 100)]
    assert all(m.bias is not None for m in linears)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 8 and all(b.momentum == 0.1 and b.eps == 1e-5 and b.affine for b in bns)
    assert net.act.negative_slope == 0.3 and net.drop.p == 0.1
    out = net.eval().layers(torch.rand(5, 100))
    assert len(out) == 9 and out[-1].shape == (5, 10) and all(o.shape == (5, 100) for o in out[:-1])


def test_default_init_follows_the_seed():
    torch.manual_seed(3)
    a = MLP()
    torch.manual_seed(3)
    lin = nn.Linear(100, 100)  # the first Linear consumes the RNG first
    assert torch.equal(a.linears[0].weight, lin.weight) and torch.equal(a.linears[0].bias, lin.bias)
    bound = 1 / 100 ** 0.5
    assert a.head.weight.abs().max() <= bound


def _nets(alphas, dtype=torch.float64):
    torch.manual_seed(0)
    nets = [MLP(alpha=a, dropout=0.2).to(dtype) for a in alphas]
    for n in nets:  # non-trivial BN parameters and running statistics
        for p in n.parameters():
            p.data += 0.05 * torch.randn_like(p)
        for b in [n.input_bn, *n.bns]:
            b.running_mean.normal_(0, 0.3)
            b.running_var.uniform_(0.5, 2)
    return nets


def test_stacked_gradients_match_autograd():
    nets = _nets((0.0, 0.35, 1.0))
    stack = StackedMLP(nets, dtype=torch.float64)
    B = 12
    x = torch.randn(3, B, 100, dtype=torch.float64)
    y = torch.randint(0, 10, (3, B))
    masks = (torch.rand(7, 3, B, 100) > 0.2).double() / 0.8
    logits, saved = stack.forward_train(x.mT.contiguous(), list(masks.mT))
    g = torch.softmax(logits, 1)
    g.scatter_add_(1, y[:, None], -torch.ones(3, 1, B, dtype=torch.float64))
    stack.backward(saved, g / B)
    for m, net in enumerate(nets):
        net.train()
        out = net(x[m], masks=masks[:, m])
        torch.testing.assert_close(out, logits[m].T)
        F.cross_entropy(out, y[m]).backward()
        for name, p in net.named_parameters():
            torch.testing.assert_close(stack.grads[name][m], p.grad, atol=1e-12, rtol=1e-10)
        for layer, bn in enumerate([net.input_bn, *net.bns]):  # running stats updated like torch
            torch.testing.assert_close(stack.running[layer][0][m], bn.running_mean)
            torch.testing.assert_close(stack.running[layer][1][m], bn.running_var)


def test_stacked_eval_and_export_roundtrip():
    nets = _nets((0.0, 0.5))
    stack = StackedMLP(nets, dtype=torch.float64)
    x = torch.randn(20, 100, dtype=torch.float64)
    feats = stack.forward_eval(x)
    assert len(feats) == 9
    for m, net in enumerate(nets):
        ref = net.eval().layers(x)
        for f, r in zip(feats, ref):
            torch.testing.assert_close(f[m], r)
        back = stack.module(m)
        for (k, v), (k2, v2) in zip(back.state_dict().items(), net.state_dict().items()):
            if "num_batches" not in k:
                assert torch.equal(v, v2), k
    only_second = stack.forward_eval(x, slice(1, 2))
    torch.testing.assert_close(only_second[-1][0], feats[-1][1])


@pytest.mark.parametrize("width, hidden", [(16, 3)])
def test_other_shapes(width, hidden):
    nets = [MLP(alpha=0.1, hidden=hidden, width=width, in_dim=100, num_classes=4) for _ in range(2)]
    stack = StackedMLP(nets)
    logits, saved = stack.forward_train(torch.rand(2, 100, 8))
    assert logits.shape == (2, 4, 8)
    stack.backward(saved, torch.randn(2, 4, 8))
    assert torch.isfinite(stack.grad).all() and stack.grad.abs().sum() > 0
