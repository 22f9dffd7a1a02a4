import pytest
import torch
from torch import nn

from springblock import probe, separation, shape


def mlp(seed=0):
    """Two (Linear, BatchNorm, ReLU, Dropout) blocks and a linear readout: names "0.0".."1.3", "2"."""
    torch.manual_seed(seed)
    block = lambda d_in: nn.Sequential(nn.Linear(d_in, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Dropout(0.3))
    return nn.Sequential(block(6), block(12), nn.Linear(12, 3))


def data(n=45, d=6, c=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % c
    x = 2 * torch.randn(c, d, generator=g)[y] + torch.randn(n, d, generator=g)
    return x, y


def test_features_equal_manual_forward_in_eval_mode():
    model, (x, y) = mlp(), data()
    model.train()
    with torch.no_grad():  # a few training-mode passes give BatchNorm non-trivial running stats
        for _ in range(3):
            model(x)
    names, feats = probe.layer_features(model, x, layers=["0.2", "1.2", "2"], batch_size=10)
    model.eval()
    with torch.no_grad():
        h1 = model[0](x)
        h2 = model[1](h1)
        out = model[2](h2)
    assert names == ("input", "0.2", "1.2", "2")
    for got, want in zip(feats, [x, h1, h2, out]):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)

    res = probe.load_curve(model, x, y, layers=["0.2", "1.2", "2"], kind="pinv", batch_size=10)
    want = separation.load_curve([x, h1, h2, out], y, kind="pinv")
    torch.testing.assert_close(res.load, want, rtol=1e-4, atol=1e-5)
    assert res.dims == (6, 12, 12, 3) and res.kind == "pinv" and res.load.shape == (4,)


def test_conv_outputs_are_flattened_and_input_optional():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 16, 3))
    x = torch.randn(12, 1, 4, 4)
    y = torch.arange(12) % 3
    res = probe.load_curve(model, x, y, layers=nn.ReLU, include_input=False)
    assert res.names == ("1",) and res.dims == (32,)
    names, feats = probe.layer_features(model, x, layers="0")
    assert feats[0].shape == (12, 16) and feats[1].shape == (12, 32)
    torch.testing.assert_close(feats[1], model[0](x).detach().reshape(12, -1))


def test_output_changed_in_place_later_is_copied():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(inplace=True))
    x, _ = data()
    _, feats = probe.layer_features(model, x, layers="1", include_input=False)
    with torch.no_grad():
        want = model.eval()[1](model[0](x))
    assert (feats[0] < 0).any()  # not clipped by the in-place ReLU that ran after the hook
    torch.testing.assert_close(feats[0], want)


def test_selection_by_name_glob_type_and_default():
    model = mlp()
    sel = lambda layers: [n for n, _ in probe.select_layers(model, layers)]
    assert sel(None) == ["0", "1", "2"]  # direct children
    assert sel("1.0") == ["1.0"]
    assert sel(["1.2", "0.2"]) == ["1.2", "0.2"]  # exact names keep the given order
    assert sel("*.2") == ["0.2", "1.2"]  # "*" stays within one dotted part
    assert sel("1.*") == ["1.0", "1.1", "1.2", "1.3"]
    assert sel("**") == [n for n, _ in model.named_modules() if n]
    assert sel("[01].[02]") == ["0.0", "0.2", "1.0", "1.2"]
    assert sel(["0.2", "*.2"]) == ["0.2", "1.2"]  # a module matched twice keeps its first place
    assert sel(nn.ReLU) == ["0.2", "1.2"]
    assert sel((nn.Linear, nn.ReLU)) == ["0.0", "0.2", "1.0", "1.2", "2"]
    assert sel(nn.Sequential) == ["0", "1"]  # the root is never selected; outermost matches only
    assert probe.list_layers(model, nn.ReLU) == [("0.2", "ReLU"), ("1.2", "ReLU")]
    assert probe.list_layers(model)[0] == probe.Layer("0", "Sequential")


def test_modes_restored_and_hooks_removed_also_on_error():
    model, (x, y) = mlp(), data()
    model.train()
    model[1][1].eval()  # a mixed model: one frozen BatchNorm
    before = {n: m.training for n, m in model.named_modules()}
    probe.load_curve(model, x, y, layers=nn.ReLU)
    assert {n: m.training for n, m in model.named_modules()} == before
    assert all(not m._forward_hooks for m in model.modules())

    class Boom(nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    model.append(Boom())
    with pytest.raises(RuntimeError, match="boom"):
        probe.load_curve(model, x, y, layers=nn.ReLU)
    assert {n: m.training for n, m in model.named_modules() if n != "3"} == before
    assert all(not m._forward_hooks for m in model.modules())


def test_eval_mode_used_inside():
    model, (x, _) = mlp(), data()
    seen = []
    model[0][3].register_forward_hook(lambda m, a, o: seen.append(m.training))
    model.train()
    probe.layer_features(model, x, layers="0.3")
    assert seen == [False] and model.training


def test_batching_matches_one_pass():
    model, (x, y) = mlp(), data()
    full = probe.load_curve(model, x, y, layers=nn.ReLU)
    parts = probe.load_curve(model, x, y, layers=nn.ReLU, batch_size=4)
    torch.testing.assert_close(full.load, parts.load, rtol=1e-5, atol=1e-6)


def test_errors():
    model, (x, y) = mlp(), data()
    with pytest.raises(KeyError, match=r"no layer named '1\.22'.*close names: .*1\.2"):
        probe.load_curve(model, x, y, layers="1.22")
    with pytest.raises(ValueError, match="matched no module"):
        probe.load_curve(model, x, y, layers="features.*")
    with pytest.raises(ValueError, match="no layer of type Conv2d.*types present: .*Linear"):
        probe.load_curve(model, x, y, layers=nn.Conv2d)
    with pytest.raises(TypeError, match="layers must be"):
        probe.load_curve(model, x, y, layers=3)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        probe.list_layers(lambda t: t)
    with pytest.raises(ValueError, match="batch_size"):
        probe.load_curve(model, x, y, layers=nn.ReLU, batch_size=0)
    with pytest.raises(ValueError, match="kind"):
        probe.load_curve(model, x, y, layers=nn.ReLU, kind="nope")
    with pytest.raises(ValueError, match="labels"):
        probe.load_curve(model, x, y[:-1], layers=nn.ReLU)

    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.spare = nn.Linear(6, 3), nn.ReLU()

        def forward(self, x):
            return self.fc(x)

    unused = Unused()
    with pytest.raises(RuntimeError, match="'spare' was not called"):
        probe.load_curve(unused, x, y, layers="spare")


def test_module_called_twice():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.act = nn.Linear(6, 8), nn.Linear(8, 8), nn.ReLU()

        def forward(self, x):
            return self.act(self.fc2(self.act(self.fc1(x))))

    model, (x, y) = Twice(), data()
    with pytest.raises(RuntimeError, match=r"'act' was called 2 times.*repeated='last'"):
        probe.load_curve(model, x, y, layers=nn.ReLU)
    _, last = probe.layer_features(model, x, layers="act", repeated="last", include_input=False)
    _, first = probe.layer_features(model, x, layers="act", repeated="first", include_input=False)
    with torch.no_grad():
        h = model.act(model.fc1(x))
        torch.testing.assert_close(first[0], h)
        torch.testing.assert_close(last[0], model(x))
    assert all(not m._forward_hooks for m in model.modules())


def test_same_module_under_two_names():
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU())
    model.alias = model[1]
    with pytest.raises(ValueError, match="same module object"):
        probe.select_layers(model, ["1", "alias"])


def test_torchvision_resnet18():
    from springblock._vision import import_torchvision

    tv = import_torchvision()
    torch.manual_seed(0)
    model = tv.models.resnet18(weights=None, num_classes=3)
    g = torch.Generator().manual_seed(0)
    y = torch.arange(12) % 3
    x = torch.randn(12, 3, 32, 32, generator=g) + 0.5 * y[:, None, None, None]
    names = [n for n, _ in probe.select_layers(model, nn.Sequential)]
    assert names == ["layer1", "layer2", "layer3", "layer4"]  # not the nested downsample Sequentials
    model.train()
    res = probe.load_curve(model, x, y, layers=nn.Sequential, batch_size=6)
    assert res.names == ("input", "layer1", "layer2", "layer3", "layer4")
    # 32×32 input, stride 4 after the stem: 64·8·8, 128·4·4, 256·2·2, 512·1·1
    assert res.dims == (3 * 32 * 32, 4096, 2048, 1024, 512)
    assert res.load.shape == (5,) and torch.isfinite(res.load).all()
    assert model.training and all(not m._forward_hooks for m in model.modules())
    assert probe.load_curve(model, x, y, layers="layer[34]", include_input=False).names == ("layer3", "layer4")
    with pytest.raises(RuntimeError, match="called 2 times"):  # BasicBlock reuses its one ReLU
        probe.load_curve(model, x, y, layers="layer1.0.relu")


def test_curvature_is_the_authors_c_as_a_float():
    model, (x, y) = mlp(), data()
    res = probe.load_curve(model, x, y, layers=["0.2", "1.2", "2"])
    assert res.load.dtype == torch.float32
    c = res.curvature()
    assert type(c) is float
    d = res.load.double()
    assert c == pytest.approx(((d[0] - d[1]) - (d[-2] - d[-1])).item(), abs=1e-12)
    assert c == pytest.approx(float(shape.curvature(d.numpy())), abs=0)
    assert c != 0.0  # a real network's curve is not exactly straight
    # a curve of two entries (L = 1) has no curvature
    short = probe.load_curve(model, x, y, layers=["2"])
    with pytest.raises(ValueError, match="load must have >= 3 points"):
        short.curvature()
