import json

import numpy as np
import pytest

from springblock import scales, sweep
from springblock.train import TrainConfig
from test_train import toy_data

# spec §5.2: the columns of the paper's Fig. 1, left to right
PAPER_COLUMNS = {
    "noise": (0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0),
    "lr": (2e-1, 1e-1, 5e-2, 1e-2, 5e-3, 1e-3, 5e-4, 1e-4),
    "dropout": (0.28, 0.24, 0.2, 0.16, 0.12, 0.08, 0.04, 0.0),
    "batch": (10, 20, 40, 80, 160, 320, 640, 1280),
}


def test_panels_are_the_papers_grids():
    assert sweep.ALPHAS == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    for name, cols in PAPER_COLUMNS.items():
        p = sweep.PANELS[name]
        assert p.values == cols and p.epochs == (200 if name == "lr" else 100)
        paper = scales.settings(f"fig1_{name}", "paper")
        assert tuple(paper["values"]) == cols and tuple(paper["alphas"]) == sweep.ALPHAS
        assert paper["seeds"] == 10 and paper["epochs"] == p.epochs
        for scale in scales.SCALES:
            s = scales.settings(f"fig1_{name}", scale)
            assert set(s["values"]) <= set(cols) and set(s["alphas"]) <= set(sweep.ALPHAS)
    assert {"quick", "default", "paper"} <= set(scales.EXPERIMENTS["fig4_dynamics"])


@pytest.fixture
def small(monkeypatch, tmp_path):
    """A two-by-two noise panel of tiny networks on toy data, cached under tmp_path."""
    monkeypatch.setitem(scales.EXPERIMENTS, "fig1_noise", {
        s: dict(alphas=(0.0, 1.0), values=(0.5, 0.0), seeds=2, epochs=2) for s in scales.SCALES})
    calls = []
    real = sweep.train_networks

    def counting(configs, *args, **kwargs):
        calls.append(len(configs))
        return real(configs, *args, **kwargs)

    monkeypatch.setattr(sweep, "train_networks", counting)
    return dict(data=toy_data(n=128, n_test=60), cache_dir=tmp_path, progress=False), calls


def test_run_panel_shapes_and_cache(small):
    kw, calls = small
    r = sweep.run_panel("noise", "quick", **kw)
    assert r.test_acc.shape == (2, 2, 2) and r.load["train_trace"].shape == (2, 2, 2, 8)
    assert set(r.load) == {f"{s}_{k}" for s in ("train", "test") for k in ("trace", "pinv")}
    assert list(r.values) == [0.5, 0.0] and list(r.seeds) == [1, 2] and r.computed == 8
    assert r.mean_load().shape == (2, 2, 8) and r.curvature().shape == (2, 2)
    d = r.mean_load()
    np.testing.assert_allclose(r.curvature(relative=False), (d[..., 0] - d[..., 1]) - (d[..., 6] - d[..., 7]))
    files = list((kw["cache_dir"] / "fig1").glob("*"))
    assert len([f for f in files if f.suffix == ".npz"]) == 8 and not [f for f in files if ".tmp" in f.name]
    meta = json.loads(next(f for f in files if f.suffix == ".json").read_text())
    assert meta["config"]["config"]["epochs"] == 2 and meta["config"]["data"]["name"] == "toy"
    again = sweep.run_panel("noise", "quick", **kw)
    assert again.computed == 0 and calls == [8]
    np.testing.assert_array_equal(again.load["test_pinv"], r.load["test_pinv"])
    np.testing.assert_array_equal(again.test_acc, r.test_acc)
    # one more seed: only the new cells are trained
    more = sweep.run_panel("noise", "quick", seeds=3, **kw)
    assert more.computed == 4 and calls == [8, 4]
    np.testing.assert_array_equal(more.test_acc[..., :2], r.test_acc)


def test_killed_sweep_resumes_without_redoing_cells(small, monkeypatch):
    kw, calls = small
    real_save = sweep.ResultCache.save
    saved = []

    def dying_save(self, config, result, **k):
        if len(saved) == 3:
            raise KeyboardInterrupt("killed")  # the sweep dies after 3 finished cells
        saved.append(config)
        return real_save(self, config, result, **k)

    monkeypatch.setattr(sweep.ResultCache, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_panel("noise", "quick", **kw)
    monkeypatch.setattr(sweep.ResultCache, "save", real_save)
    r = sweep.run_panel("noise", "quick", **kw)
    assert calls == [8, 5] and r.computed == 5  # only the 5 unfinished cells
    assert not [f for f in (kw["cache_dir"] / "fig1").glob("*") if ".tmp" in f.name]
    fresh = sweep.run_panel("noise", "quick", **{**kw, "cache_dir": kw["cache_dir"] / "fresh"})
    np.testing.assert_array_equal(fresh.test_acc, r.test_acc)  # resuming changed nothing


def test_keys_follow_the_full_configuration():
    data, other = toy_data(n=64, n_test=20), toy_data(n=64, n_test=20, seed=1)
    cfg = TrainConfig(alpha=0.2, noise=0.1, epochs=2)
    key = sweep.ResultCache("fig1").path(sweep._cell_key("fig1", cfg, data, "cpu")).name
    for changed in (sweep._cell_key("fig1", TrainConfig(alpha=0.2, noise=0.1, epochs=3), data, "cpu"),
                    sweep._cell_key("fig1", TrainConfig(alpha=0.2, noise=0.2, epochs=2), data, "cpu"),
                    sweep._cell_key("fig1", cfg, other, "cpu"),
                    sweep._cell_key("fig1", cfg, data, "cuda")):
        assert sweep.ResultCache("fig1").path(changed).name != key


def test_dynamics(monkeypatch, tmp_path):
    monkeypatch.setitem(scales.EXPERIMENTS, "fig4_dynamics", {
        s: dict(alpha=0.0, seeds=1, epochs=2, record_every=1) for s in scales.SCALES})
    monkeypatch.setattr(sweep, "DYNAMICS", {"b": dict(lr=1e-4, batch_size=64), "d": dict(lr=3e-3, batch_size=32)})
    r = sweep.run_dynamics("quick", cache_dir=tmp_path, progress=False, data=toy_data(n=128, n_test=60),
                           settings=("b", "d"))
    assert list(r.epochs) == [0, 1, 2] and r.history["b"].shape == (1, 3, 8) and set(r.test_acc) == {"b", "d"}
    assert r.computed == 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="panel"):
        sweep.run_panel("temperature", "quick")
    with pytest.raises(ValueError, match="scale"):
        sweep.panel_configs("noise", "huge")
    with pytest.raises(ValueError, match="seeds"):
        sweep.panel_configs("noise", "quick", seeds=0)
    with pytest.raises(ValueError, match="settings"):
        sweep.run_dynamics("quick", settings=("z",), data=toy_data(n=64, n_test=20))


def test_panel_readouts(small):
    kw, _ = small
    res = sweep.run_panel("noise", "quick", **kw)
    i, j = res.best_cell()
    assert res.mean_acc()[i, j] == np.nanmax(res.mean_acc())
    corners = res.corners()
    assert corners["ĉ ReLU, least noise"] == res.curvature()[0, -1]
    assert set(res.rising(tol=-np.inf)) == {(a, v) for a in range(len(res.alphas)) for v in range(len(res.values))}
    assert res.rising(tol=np.inf) == []
    assert res.cell_name((0, 0)).startswith(f"({res.panel.letter}) α=")
