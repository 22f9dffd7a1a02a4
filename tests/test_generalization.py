"""Chapter-5 experiments (springblock.generalization) and the models they add; tiny data only."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from springblock import generalization as g
from springblock import separation, train
from springblock.models import CNN, LinearNet


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(tmp_path / "cache"))


def _toy(n=256, d=100, classes=4, seed=0, spread=2.0):
    """Gaussian blobs (class means ``spread``·N(0, I)) shaped like a Dataset."""
    gen = torch.Generator().manual_seed(seed)
    means = spread * torch.randn(classes, d, generator=gen)

    def draw(m):
        y = torch.arange(m) % classes
        return means[y] + torch.randn(m, d, generator=gen), y

    xtr, ytr = draw(n)
    xte, yte = draw(n)
    return SimpleNamespace(x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, num_classes=classes,
                           name="toy", description=f"toy blobs n={n} seed={seed}")


# ------------------------------------------------------------------------------ shapes of curves
def test_relative_curvature_and_shapes():
    ell = np.arange(8.0)
    lines = np.stack([8 - ell, 8 - ell**2 / 7, 8 * np.exp(-ell / 2)])  # linear, concave, convex
    rc = g.relative_curvature(lines)
    assert abs(rc[0]) < 1e-12 and rc[1] < -0.05 and rc[2] > 0.05
    assert list(g.shape_of(rc)) == ["linear", "concave", "convex"]
    assert g.shape_of(np.nan) == "nan"
    with pytest.raises(ValueError, match="load"):
        g.relative_curvature([1.0, 2.0])


def test_accuracy_vs_curvature_finds_the_linear_winner():
    rng = np.random.default_rng(0)
    A, V, S, L = 3, 4, 3, 7
    bend = rng.uniform(-0.3, 0.3, (A, V))
    bend[1, 2] = 0.0  # the straightest cell ...
    ell = np.arange(L + 1)
    load = 5 - ell + bend[..., None] * ell * (ell - L) / 2
    load = np.repeat(load[:, :, None], S, 2) + 0.001 * rng.standard_normal((A, V, S, L + 1))
    acc = 90 - 20 * np.abs(g.relative_curvature(load)) + 0.01 * rng.standard_normal((A, V, S))
    res = g.accuracy_vs_curvature(acc, load, n_boot=50)
    assert res["linear_wins"] and tuple(res["most_linear"]) == (1, 2) and res["linear_rank"] == 1
    assert res["pearson_abs"] < -0.95 and res["ci_over"] == "seeds"
    assert res["pearson_abs_lo"] <= res["pearson_abs"] <= res["pearson_abs_hi"]
    assert res["per_seed_pearson_abs"].shape == (S,) and res["best_shape"] == "linear"
    one = g.accuracy_vs_curvature(acc[..., :1], load[:, :, :1], n_boot=20)
    assert one["ci_over"] == "cells"
    with pytest.raises(ValueError, match="acc"):
        g.accuracy_vs_curvature(acc[..., 0], load)


def test_compare_curves():
    a = np.stack([np.linspace(3, 0, 8), 3 - np.arange(8.0) ** 2 / 16])
    same = g.compare_curves(a, a + 1.0)  # an offset does not change the shape
    assert same["same_shape"] == 1.0 and same["mean_abs_diff"] < 1e-12
    with pytest.raises(ValueError, match="same shape"):
        g.compare_curves(a, a[:1])


# ------------------------------------------------------------------------------ models
def test_cnn_keeps_every_layer_shape():
    net = CNN(channels=4, hidden=3, size=10)
    out = g.features(net, torch.randn(6, 100))
    assert [tuple(o.shape) for o in out] == [(6, 100)] + [(6, 400)] * 3 + [(6, 10)]
    assert net.training  # features() restores the mode
    with pytest.raises(ValueError, match="size"):
        CNN(size=9)


def test_linear_net_orthogonal_init():
    torch.manual_seed(0)
    net = LinearNet(hidden=3, width=20, in_dim=20, num_classes=2)
    for lin in net.linears:
        w = lin.weight.detach()
        assert torch.allclose(w @ w.T, torch.eye(20), atol=1e-5)
        assert torch.all(lin.bias == 0)
    head = net.head.weight.detach()
    assert torch.allclose(head @ head.T, torch.eye(2), atol=1e-5) and torch.all(net.head.bias == 0)
    with pytest.raises(ValueError, match="init"):
        LinearNet(init="kaiming")


def test_whitened_data_is_whitened():
    x, y = g.whitened_data(32, 2, seed=3)
    assert torch.allclose(x @ x.T, torch.eye(32), atol=1e-5) and torch.allclose(x.T @ x, torch.eye(32), atol=1e-5)
    assert torch.bincount(y).tolist() == [16, 16]
    x2, y2 = g.whitened_data(32, 2, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(ValueError, match="classes"):
        g.whitened_data(4, 5)


# ------------------------------------------------------------------------------ the loop
def test_train_module_is_deterministic_and_validates():
    data = _toy(64, 20)

    def run(seed):
        with g.seeded(seed):
            net = train.MLP(0.0, 0.2, 2, 16, 20, 4)
        losses, _ = g.train_module(net, data.x_train, data.y_train, epochs=3, batch_size=16, seed=seed)
        return losses, torch.cat([p.detach().ravel() for p in net.parameters()])

    l1, w1 = run(5)
    l2, w2 = run(5)
    l3, _ = run(6)
    assert np.array_equal(l1, l2) and torch.equal(w1, w2) and not np.array_equal(l1, l3)
    net = train.MLP(0.0, 0.0, 2, 16, 20, 4)
    for kwargs, word in [(dict(loss="hinge"), "loss"), (dict(optimizer="lbfgs"), "optimizer"), (dict(lr=0), "lr"),
                         (dict(batch_size=63), "batch_size"), (dict(epochs=0), "epochs")]:
        with pytest.raises(ValueError, match=word):
            g.train_module(net, data.x_train, data.y_train, **kwargs)
    with pytest.raises(ValueError, match="p"):
        g.set_dropout(net, 1.0)


def test_engine_measures_networks_narrower_than_their_input():
    # train.py fix: layers of different widths cannot be stacked; the loads must still be right
    data = _toy(128, 100)
    cfg = train.TrainConfig(epochs=3, hidden=3, width=30, seed=2, batch_size=128)
    res = train.train_networks([cfg], data, progress=False, keep_models=True, kinds=("trace", "pinv"))[0]
    feats = g.features(res.model, data.x_train)[:-1]
    for kind in ("trace", "pinv"):
        want = separation.load_curve(feats, data.y_train, kind).numpy()
        np.testing.assert_allclose(res.load_train[kind], want, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------ experiments
def test_depth_width_shapes_and_cache():
    data = _toy(128, 100)
    kw = dict(depths=(2, 4), widths=(20, 50), dropouts=(0.0, 0.2), seeds=1, epochs=2, base_depth=3, base_width=50,
              data=data)
    res = g.depth_width(**kw)
    assert res["depth_load"].shape == (2, 2, 1, 5) and np.isnan(res["depth_load"][:, 0, :, 3:]).all()
    assert res["width_load"].shape == (2, 2, 1, 4) and np.isfinite(res["width_load"]).all()
    assert res["depth_rc"].shape == (2, 2) and res["width_acc"].shape == (2, 2, 1)
    again = g.depth_width(**kw)  # from the per-network cache
    np.testing.assert_array_equal(res["width_load"], again["width_load"])


def test_metric_comparison_inverse_is_blind_for_linear_nets():
    data = _toy(256, 100, spread=0.3)  # overlapping classes keep Σ_w well conditioned through the layers
    res = g.metric_comparison_linear(alphas=(0.0, 1.0), dropouts=(0.0,), seeds=1, epochs=3, data=data)
    assert res["load_inverse"].shape == (2, 1, 1, 8)
    # every layer of a linear net is an invertible affine map: Tr(Σ_b Σ_w⁺) cannot change; ReLU can
    assert res["inverse_spread"][1, 0] < 1e-6 < 1e-2 < res["inverse_spread"][0, 0]


def test_dataset_diagram_missing_cifar_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="cifar10"):
        g.dataset_diagram("cifar10", seeds=1, epochs=1)
    with pytest.raises(ValueError, match="axis"):
        g.dataset_diagram("fashion-mnist", axis="momentum")


def test_cnn_protocol_tiny():
    kw = dict(dropouts=(0.0, 0.3), pretrain_epochs=1, resume_epochs=1, seeds=1, channels=4, hidden=3,
              batch_size=128, n_train=256)
    res = g.cnn_dropout_protocol(**kw)
    assert res["load"].shape == (2, 1, 4) and res["pre_load"].shape == (1, 4) and res["acc"].shape == (2, 1)
    assert np.isfinite(res["load"]).all() and res["rc"].shape == (2,)


def test_linear_orthogonal_starts_flat():
    res = g.linear_orthogonal(lrs=(1e-2, 1e-1, 1e-2), epochs=20, seeds=1, n=16, hidden=3, record_every=10)
    assert res["history"].shape == (3, 1, 3, 4) and res["load"].shape == (3, 1, 4)
    # orthogonal weights and zero biases preserve Tr Σ_w and Tr Σ_b: at init every D_ℓ equals D_0
    h0 = res["history"][:, :, 0]
    np.testing.assert_allclose(h0, h0[..., :1].repeat(4, -1), atol=1e-4)
    with pytest.raises(ValueError, match="same length"):
        g.linear_orthogonal(lrs=(1e-2,))


def test_regression_experiment_tiny():
    res = g.regression_load_experiment(epochs=2, seeds=1, hidden=3, width=20, n_train=256)
    assert res["load"].shape == (4, 1, 4) and res["test_rmse"].shape == (4, 1)
    assert np.all(res["load"] > 0) and np.all(res["load"] <= 1.0 + 1e-9)  # relative RMSE of a fit with intercept


def test_torchvision_probe_tiny():
    res = g.torchvision_probe("mlp", epochs=1, n_train=256)
    assert res["names"][0] == "input" and len(res["names"]) == 8 and res["load_train_trace"].shape == (8,)
    net, layers = g.torchvision_model("resnet18")
    from springblock import probe

    out = probe.load_curve(net, torch.randn(20, 100), torch.arange(20) % 2, layers=layers)
    assert out.names == ("input", "1.relu", "1.layer1", "1.layer2", "1.layer3", "1.layer4")
    with pytest.raises(ValueError, match="arch"):
        g.torchvision_model("vgg")


def test_chain_fits_tiny():
    e = np.arange(6.0)
    ell = np.arange(4.0)
    hist = {"a": (3 - ell[None] * (1 - np.exp(-e[:, None] / 2)))[None]}  # (S=1, R=6, L+1=4)
    res = g.chain_fits(hist, e, realisations=4, candidates=8, rounds=0)
    assert res["observed"].shape == (1, 6, 4) and res["fitted"].shape == (1, 6, 4) and res["params"].shape == (1, 6)
    assert list(res["names"]) == ["a"]
