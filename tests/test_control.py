"""The load-guided dropout controller (springblock.control); synthetic signals and tiny data."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from springblock import control
from springblock.models import MLP


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(tmp_path / "cache"))


def test_concave_raises_dropout_convex_lowers_it():
    up = control.DropoutController(gain_p=0.1, gain_i=0.05, p_max=0.4)
    ps = [up.update(-0.3) for _ in range(30)]  # concave: more noise needed
    assert ps[0] > 0 and np.all(np.diff(ps) >= 0) and ps[-1] == pytest.approx(0.4)
    down = control.DropoutController(gain_p=0.1, gain_i=0.05, p0=0.2)
    ps = [down.update(+0.3) for _ in range(30)]  # convex: less
    assert ps[0] < 0.2 and np.all(np.diff(ps) <= 0) and ps[-1] == pytest.approx(0.0)
    still = control.DropoutController(p0=0.1)
    assert still.update(0.0) == pytest.approx(0.1)  # on target: stay


def test_no_windup_and_nan_holds():
    c = control.DropoutController(gain_p=0.1, gain_i=0.1, p_max=0.3)
    for _ in range(100):
        c.update(-1.0)  # saturated at p_max for a long time
    assert c.p == pytest.approx(0.3)
    assert c.update(+0.5) < 0.3  # reacts at once: the integral did not wind up while saturated
    p = c.p
    assert c.update(float("nan")) == p
    c.reset()
    assert c.p == 0.0 and c.integral == 0.0


@pytest.mark.parametrize("kwargs, word", [
    (dict(p_max=1.0), "p_max"), (dict(p0=0.6, p_max=0.5), "p0"), (dict(gain_p=-1.0), "gain_p"),
    (dict(gain_i=float("inf")), "gain_i"), (dict(target=True), "target"), (dict(p_min=0.3, p_max=0.2), "p_min"),
])
def test_controller_rejects_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=word):
        control.DropoutController(**kwargs)


def _toy(n=128, d=20, classes=3):
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(n) % classes
    return torch.randn(classes, d, generator=gen)[y] + torch.randn(n, d, generator=gen), y


def test_train_controlled_sets_the_rate():
    x, y = _toy()
    net = MLP(0.0, 0.0, 3, 16, 20, 3)
    ctrl = control.DropoutController(gain_p=0.5, gain_i=0.2, p_max=0.45)
    log = control.train_controlled(net, x, y, ctrl, every=2, start=2, epochs=8, seed=1)
    assert list(log["epochs"]) == [2, 4, 6, 8] and log["rc"].shape == (4,)
    assert net.drop.p == pytest.approx(log["p"][-1]) and np.all((log["p"] >= 0) & (log["p"] <= 0.45))
    fixed = MLP(0.0, 0.1, 3, 16, 20, 3)
    log = control.train_controlled(fixed, x, y, None, every=3, start=3, epochs=6, seed=1)
    assert np.allclose(log["p"], 0.1)
    with pytest.raises(ValueError, match="every"):
        control.train_controlled(net, x, y, ctrl, every=0)


def test_compare_with_fixed_tiny_is_deterministic(tmp_path, monkeypatch):
    kw = dict(dropouts=(0.0, 0.2), seeds=2, epochs=4, every=1, start=1, hidden=3, width=20, n_train=256)
    res = control.compare_with_fixed(**kw)
    assert res["fixed_acc"].shape == (2, 2, 2) and res["ctrl_acc"].shape == (2, 2)
    assert res["ctrl_p"].shape == (2, 4) and 0 <= res["best_fixed"] < 2 and np.isfinite(res["diff_mean"])
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(tmp_path / "other"))  # recompute from scratch
    again = control.compare_with_fixed(**kw)
    np.testing.assert_array_equal(res["ctrl_acc"], again["ctrl_acc"])
    np.testing.assert_array_equal(res["ctrl_p"], again["ctrl_p"])
    with pytest.raises(ValueError, match="dropouts"):
        control.compare_with_fixed(dropouts=(0.0, 1.2), **{k: v for k, v in kw.items() if k != "dropouts"})
    with pytest.raises(ValueError, match="p_max"):
        control.compare_with_fixed(p_max=1.5, **kw)
