"""The experiment functions of springblock.experiments at the tiniest settings (the quick scale
shrunk to one seed, one grid point, an epoch or two, a few hundred chain steps): the documented
fields with the documented shapes, finite numbers, and a second call served from the cache."""
import dataclasses

import numpy as np
import pytest

from springblock import fingerprint, results, scales
from springblock.experiments import (architectures, chain_fits, chain_grids, cnn, control, fig1, linear_net, regression,
                                     separation_demo, torchvision_probe)
from springblock.train import MEASURED_KINDS as KINDS

L1 = 8  # D_0..D_7: the paper's MLP and the seven-block chain


def tiny(name, **over):
    """``scales.settings(name, "quick")`` with ``over`` on top (each key must be a real setting)."""
    s = dict(scales.settings(name, "quick"))
    assert set(over) <= set(s), set(over) - set(s)
    return {**s, **over}


def finite(*arrays):
    return all(np.isfinite(np.asarray(a, float)).all() for a in arrays)


def again_from_cache(call, first):
    """Call again: nothing may be computed (no new run-log line) and every array must be the same."""
    n = len(results.run_log())
    second = call()
    assert len(results.run_log()) == n, "the second call computed something"
    compared = 0
    for k, v in first.items():
        v = np.asarray(v) if isinstance(v, (np.ndarray, np.generic, float, int)) else None
        if v is not None and v.dtype.kind in "fiub":
            assert np.array_equal(v, second[k], equal_nan=True), k
            compared += 1
    assert compared
    return second


# ------------------------------------------------------------------ fig1: panels, BatchNorm, resize, Fig. 4
def test_a_panel_its_norm_comparison_and_its_resize_share_cells(isolated_cache):
    s = tiny("fig1_dropout", alphas=(0.0,), values=(0.0,), epochs=1)
    r = fig1.run_panel("dropout", **s, progress=False)
    assert r.computed == 1 and r.panel.name == "dropout"
    assert r.test_acc.shape == r.train_acc.shape == r.epochs_run.shape == (1, 1, 1)
    assert set(r.load) == {f"{sp}_{k}" for sp in fig1.SPLITS for k in KINDS}
    assert all(v.shape == (1, 1, 1, L1) for v in r.load.values())
    assert finite(r.test_acc, r.train_acc, *r.load.values()) and 0 <= r.test_acc.item() <= 100
    assert r.curvature().shape == r.mean_acc().shape == (1, 1) and r.best_cell() == (0, 0)
    assert np.isnan(r.acc_spread()).all()  # one seed: no spread
    cached = fig1.run_panel("dropout", **s, progress=False)
    assert cached.computed == 0 and np.array_equal(cached.load["train_trace"], r.load["train_trace"])
    assert np.array_equal(fig1.run_panel("dropout", **s, progress=False, cached_only=True).test_acc, r.test_acc)

    norms = fig1.norm_comparison(panel="dropout", alphas=(0.0,), values=(0.0,), seeds=1, epochs=1, progress=False)
    assert set(norms) == {"batch", "c_sigma"}
    assert norms["batch"].computed == 0 and norms["c_sigma"].computed == 1  # the BatchNorm cell is the panel's
    assert norms["c_sigma"].norm == "c_sigma" and finite(norms["c_sigma"].load["train_trace"])

    grid = {"dropout": dict(values=s["values"], epochs=1)}
    with pytest.raises(ValueError, match=r"columns \(positions in the dropout panel\) must be an integer in \[0, 0\]"):
        fig1.resize_comparison(grid, alphas=(0.0,), columns=(0, 5), seeds=1, progress=False)  # no column 5
    res = fig1.resize_comparison(grid, alphas=(0.0,), columns=(0,), seeds=1, progress=False)
    assert set(res) == {("dropout", True), ("dropout", False)}
    assert res[("dropout", True)].computed == 0  # the antialiased resize is the default data
    assert res[("dropout", False)].computed == 1
    assert res[("dropout", False)].test_acc.shape == (1, 1, 1)


def test_panels_refuse_bad_settings_before_any_work(isolated_cache):
    with pytest.raises(ValueError, match="panel"):
        fig1.run_panel("temperature", alphas=(0.0,), values=(0.0,), seeds=1, epochs=1)
    with pytest.raises(ValueError, match="norm"):
        fig1.run_panel("noise", alphas=(0.0,), values=(0.0,), seeds=1, epochs=1, norm="layer")
    with pytest.raises(results.MissingResults):
        fig1.run_panel("noise", alphas=(0.0,), values=(0.0,), seeds=1, epochs=1, cached_only=True)
    assert results.run_log() == []


def test_dynamics(isolated_cache, small):
    s = tiny("fig4_dynamics", settings={"b": dict(lr=1e-3, batch_size=160), "d": dict(lr=3e-3, dropout=0.2,
                                                                                      batch_size=160)},
             epochs=2, record_every=1)
    d = fig1.run_dynamics(**s, data=small, progress=False)
    assert d.computed == 2 and list(d.history) == ["b", "d"] and list(d.epochs) == [0, 1, 2]
    assert all(h.shape == (1, 3, L1) and finite(h) for h in d.history.values())
    assert all(a.shape == (1,) for a in d.test_acc.values())
    assert fig1.run_dynamics(**s, data=small, progress=False).computed == 0


# ------------------------------------------------------------------ architectures
def test_depth_width(isolated_cache, small):
    s = tiny("gen_depth_width", depths=(3,), widths=(20,), alphas=(0.0,), dropouts=(0.0,), epochs=1)
    out = architectures.depth_width(**s, base_depth=3, base_width=20, data=small, progress=False)
    assert out["archs"] == [(3, 20)]  # the depth and the width sweep meet at (3, 20): trained once
    (d,) = out["diagrams"]
    assert d["acc"].shape == (1, 1, 1) and d["load"].shape == (1, 1, 1, 4) and d["rc"].shape == (1, 1)
    assert finite(d["acc"], d["load"], d["rc"])
    again_from_cache(lambda: architectures.depth_width(**s, base_depth=3, base_width=20, data=small,
                                                       progress=False)["diagrams"][0], d)


def test_dataset_diagram_on_shipped_fashion_mnist(isolated_cache):
    s = tiny("gen_fashion", alphas=(0.0,), values=(0.0,), epochs=1)
    out = architectures.dataset_diagram(**s, progress=False)
    assert out["acc"].shape == (1, 1, 1) and out["load"].shape == out["load_test_trace"].shape == (1, 1, 1, L1)
    assert out["axis"] == "dropout" and out["in_dim"] == 100 and "Fashion" in out["description"]
    assert finite(out["acc"], out["load"], out["rc"])
    again_from_cache(lambda: architectures.dataset_diagram(**s, progress=False), out)


def test_cifar_is_not_on_this_machine_and_says_where_it_looked(isolated_cache):
    s = tiny("gen_cifar_dropout", alphas=(0.0,), values=(0.0,), epochs=1)
    with pytest.raises(FileNotFoundError, match="cifar"):
        architectures.dataset_diagram(**s, progress=False)
    with pytest.raises(ValueError, match="axis"):
        architectures.dataset_diagram(**{**s, "axis": "momentum"})


def test_metric_comparison(isolated_cache, small):
    s = tiny("gen_metrics", alphas=(1.0,), epochs=1)
    out = architectures.metric_comparison(**s, data=small, progress=False)
    for kind in ("trace", "pinv", "inverse"):
        assert out[f"load_{kind}"].shape == (1, 1, 1, L1) and out[f"rc_{kind}"].shape == (1, 1)
    assert out["inverse_spread"].shape == (1, 1) and finite(out["load_trace"], out["inverse_spread"])
    assert out["inverse_spread"].item() < 1e-3  # a linear net cannot change Tr(Σ_b Σ_w⁺) (float64)
    again_from_cache(lambda: architectures.metric_comparison(**s, data=small, progress=False), out)


# ------------------------------------------------------------------ single-network protocols
SINGLE = (separation_demo, cnn, linear_net, regression, torchvision_probe)


def test_each_protocol_is_its_own_experiment():
    """Editing one protocol invalidates only its own results: no protocol's code fingerprint
    covers another's module, and each has its own cache namespace."""
    names = {m.__name__ for m in SINGLE}
    assert len({m.EXPERIMENT.name for m in SINGLE}) == len(SINGLE)
    for m in SINGLE:
        covered = set(fingerprint.code_fingerprint(m.EXPERIMENT.code)[1])
        assert m.__name__ in covered and not (covered & names) - {m.__name__}, m.__name__


@pytest.fixture
def small_mnist(monkeypatch, mnist, small):
    """The single-network protocols and the controller always train on the paper's MNIST split; here
    they get a 320/400-digit slice of it (with 320 validation digits) so that each runs in seconds."""
    data = dataclasses.replace(small, x_val=mnist.x_val[:320], y_val=mnist.y_val[:320])
    for module in (cnn, regression, torchvision_probe, control):
        monkeypatch.setattr(module, "load_dataset", lambda name="mnist", **kw: data)
    return data


def test_separation_demo(isolated_cache):  # the paper's full-batch MLP: needs the 2560 digits
    s = tiny("separation", alphas=(0.0, 1.0), epochs=1, seeds=2)
    out = separation_demo.separation_demo(**s, project=(0, 7))
    for when in ("trained", "untrained"):
        for kind in separation_demo.KINDS:
            assert out[f"{when}_{kind}"].shape == (2, 2, L1) and finite(out[f"{when}_{kind}"])
    assert out["test_acc"].shape == (2, 2)
    # the figures' views are kept for the first seed only (most of a result's size)
    assert out["projections"].shape == (2, 2, 2560, 2) and out["last_features"].shape[:2] == (2, 2560)
    assert out["projections"].dtype == out["last_features"].dtype == np.float32
    assert out["labels"].shape == (2560,) and list(out["project"]) == [0, 7]
    again_from_cache(lambda: separation_demo.separation_demo(**s, project=(0, 7)), out)
    first = separation_demo.separation_demo(**{**s, "seeds": 1}, project=(0, 7))  # the same first seed, from cache
    assert np.array_equal(first["projections"], out["projections"])


def test_cnn_dropout_resumed(isolated_cache, small_mnist):
    s = tiny("gen_cnn", dropouts=(0.0, 0.2), pretrain_epochs=1, epochs=1, batch_size=160)
    out = cnn.cnn_dropout(**s, channels=4)
    P, S = 2, 1
    assert out["load"].shape[:2] == out["load_test"].shape[:2] == (P, S) and out["acc"].shape == (P, S)
    assert out["rc"].shape == (P,) and out["pre_load"].shape[0] == S and out["pre_acc"].shape == (S,)
    assert finite(out["load"], out["acc"], out["pre_load"], out["pre_rc"])
    again_from_cache(lambda: cnn.cnn_dropout(**s, channels=4), out)
    # one result per seed and rate, resumed from one pre-training per seed: more epochs after the
    # pre-training retrain the branches only, and a new rate only its own branch
    n = len(results.run_log())
    more = cnn.cnn_dropout(**{**s, "epochs": 2, "dropouts": (0.0, 0.2, 0.4)}, channels=4)
    (line,) = results.run_log()[n:]
    assert line["experiment"] == "cnn" and line["computed"] == 3 and line["total"] == 3
    assert np.array_equal(more["pre_load"], out["pre_load"]) and more["load"].shape[:2] == (3, S)


def test_a_resumed_cnn_continues_bitwise_from_its_checkpoint(small_mnist):
    import copy

    import torch

    from springblock.loops import train_module
    from springblock.networks import CNN

    x, y = torch.randn(64, 100), torch.arange(64) % 10
    torch.manual_seed(0)
    net = CNN(4, 2)
    _, state = train_module(net, x, y, epochs=2, lr=1e-2, batch_size=32, seed=0)
    saved = cnn._checkpoint(net, state)
    twin = CNN(4, 2)  # other initial weights: everything must come from the checkpoint
    resumed = cnn._resume(twin, saved, lr=1e-2)
    a, _ = train_module(net, x, y, epochs=2, lr=1e-2, batch_size=32, seed=1, opt_state=copy.deepcopy(state))
    b, _ = train_module(twin, x, y, epochs=2, lr=1e-2, batch_size=32, seed=1, opt_state=resumed)
    assert np.array_equal(a, b)
    assert all(torch.equal(p, q) for p, q in zip(net.state_dict().values(), twin.state_dict().values()))


def test_linear_orthogonal(isolated_cache):
    s = tiny("gen_linear", epochs=4, record_every=2)
    out = linear_net.linear_orthogonal(**s, n=20)
    V = len(s["names"])
    assert out["load"].shape == (V, 1, L1) and out["history"].shape == (V, 1, 3, L1)
    assert list(out["history_epochs"]) == [0, 2, 4] and out["loss"].shape == (V, 1) and out["rc"].shape == (V,)
    assert finite(out["load"], out["history"], out["loss"])
    assert np.allclose(out["history"][:, :, -1], out["load"])  # the last record is the final curve
    again_from_cache(lambda: linear_net.linear_orthogonal(**s, n=20), out)
    with pytest.raises(ValueError, match="same length"):
        linear_net.linear_orthogonal(**{**s, "lrs": s["lrs"][:1]})


def test_regression_load(isolated_cache, small_mnist):
    s = tiny("gen_regression", names=("default",), lrs=(1e-3,), dropouts=(0.0,), epochs=1)
    out = regression.regression_load(**s, hidden=3, width=20)
    assert out["load"].shape == out["load_test"].shape == (1, 1, 4) and out["test_rmse"].shape == (1, 1)
    assert out["rc"].shape == (1,) and finite(out["load"], out["test_rmse"]) and out["test_rmse"].item() > 0
    again_from_cache(lambda: regression.regression_load(**s, hidden=3, width=20), out)


def test_torchvision_probe_of_a_torchvision_mlp(isolated_cache, small_mnist):
    s = tiny("gen_probe", epochs=1)
    assert s["arch"] == "mlp"  # the quick scale's; resnet18 is too slow here (and needs no download either)
    out = torchvision_probe.torchvision_probe(**s)
    n = len(out["names"])
    assert n == len(out["dims"]) == 8 and out["dims"][0] == 100  # the input and seven ReLUs
    for split in ("train", "test"):
        for kind in ("trace", "pinv"):
            assert out[f"load_{split}_{kind}"].shape == (n,) and finite(out[f"load_{split}_{kind}"])
    assert 0 <= out["test_acc"] <= 100 and np.isfinite(out["rc"])
    again_from_cache(lambda: torchvision_probe.torchvision_probe(**s), out)


# ------------------------------------------------------------------ control
def test_controller_against_fixed_rates(isolated_cache, small_mnist):
    s = tiny("gen_control", dropouts=(0.0, 0.1), epochs=3, every=1, start=1)
    out = control.compare_with_fixed(**s, hidden=3, width=20)
    P, S, T = 2, 1, 3
    assert out["fixed_val"].shape == out["fixed_test"].shape == out["fixed_rc"].shape == (P, S)
    assert out["ctrl_val"].shape == out["ctrl_test"].shape == out["ctrl_rc"].shape == (S,)
    assert out["ctrl_p"].shape == out["ctrl_rc_traj"].shape == (S, T) and list(out["traj_epochs"]) == [1, 2, 3]
    assert 0 <= out["ctrl_p"].min() and out["ctrl_p"].max() <= s.get("p_max", 0.5)
    assert out["best_fixed"] in (0, 1) and out["oracle_fixed"] in (0, 1)
    assert np.isfinite(out["diff_mean"]) and np.isnan(out["diff_sem"])  # one seed: no standard error
    assert finite(out["fixed_test"], out["ctrl_test"], out["fixed_rc"], out["ctrl_rc_traj"])
    again_from_cache(lambda: control.compare_with_fixed(**s, hidden=3, width=20), out)


# ------------------------------------------------------------------ the spring-block chain
def test_eq7_check(isolated_cache):
    s = tiny("chain_eq7", mu_r=(0.0, 0.02, 0.06), steps=2000, dt=0.1)
    out = chain_grids.eq7_check(**s)
    assert out["load"].shape == out["x"].shape[:2] + (L1,) == (2, 3, L1) and out["predicted"].shape == (3, L1)
    assert out["error"] < 1e-10 and list(out["valid"]) == [True, True, False]
    again_from_cache(lambda: chain_grids.eq7_check(**s), out)


def test_fig2_simulation(isolated_cache):
    s = tiny("chain_fig2", steps=200, record_every=50, realisations=2)
    out = chain_grids.fig2_simulation(**s)
    assert out["times"].shape == (5,) and out["trajectory"].shape == out["mean_trajectory"].shape == (5, L1)
    assert out["mean_load"].shape == out["linear"].shape == (L1,) and out["realisations"] == 2
    assert finite(out["trajectory"], out["mean_load"])
    again_from_cache(lambda: chain_grids.fig2_simulation(**s), out)


def test_log_grid_is_the_same_whatever_the_last_bit_of_geomspace(monkeypatch):
    # geomspace's exp/log differ in the last bit between CPUs; the grid is part of the results' keys
    exact = chain_grids.log_grid(0.002, 1.0, 32)
    assert exact[0] == 0.002 and exact[-1] == 1.0 and np.all(np.diff(exact) > 0)
    np_geomspace = np.geomspace
    for direction in (-1.0, 1.0):
        monkeypatch.setattr(chain_grids.np, "geomspace",
                            lambda *a, d=direction: np.nextafter(np_geomspace(*a), d * np.inf))
        assert np.array_equal(chain_grids.log_grid(0.002, 1.0, 32), exact)
    monkeypatch.undo()
    assert not np.array_equal(np.nextafter(np_geomspace(0.002, 1.0, 32), np.inf), np_geomspace(0.002, 1.0, 32))


@pytest.mark.parametrize("name", ["chain_phase", "chain_second_order"])
def test_phase_diagrams(isolated_cache, name):
    s = tiny(name, mu_r=(0.0, 0.035), sigma=(0.0, 0.2), realisations=2, steps=300)
    out = chain_grids.phase_diagram(**s)
    assert out["mean_load"].shape == (2, 2, L1) and out["curvature"].shape == (2, 2, 2)
    assert out["c"].shape == out["excess"].shape == (2, 2) and out["eq7"].shape == (2,)
    assert finite(out["mean_load"], out["c"], out["excess"])
    again_from_cache(lambda: chain_grids.phase_diagram(**s), out)


def test_explorer_grid(isolated_cache):
    s = tiny("chain_explorer", realisations=2, steps=200)
    out = chain_grids.explorer_grid(**s)
    R, C = len(s["mu_r"]), len(s["sigma"])
    assert out["x"].shape == (R, C, 2, L1 - 1) and out["load"].shape == (R, C, 2, L1)
    assert out["eq7"].shape == out["eq8"].shape == (R, L1) and finite(out["x"], out["load"])
    again_from_cache(lambda: chain_grids.explorer_grid(**s), out)


def test_noise_sweep(isolated_cache):
    s = tiny("chain_noise", n_sigma=2, realisations=2, steps=300)
    out = chain_grids.noise_sweep(**s)
    assert out["sigmas"].shape == (3,) and out["sigmas"][0] == 0 and list(out["rows"]) == [s["mu_r"], 0.0]
    for kind in ("independent", "synchronous"):
        assert out[f"{kind}_c"].shape == out[f"{kind}_sem"].shape == (2, 3)
        assert out[f"{kind}_load"].shape == (2, 3, L1) and finite(out[f"{kind}_c"], out[f"{kind}_load"])
    assert all(np.isfinite(out[k]) for k in ("eq7_c", "eq8_c", "eq8_c_free"))
    again_from_cache(lambda: chain_grids.noise_sweep(**s), out)


def test_bounded_vs_gaussian(isolated_cache):
    s = tiny("chain_bounded", bounds=(0.01, 0.08), realisations=2, steps=300, record_every=100)
    out = chain_grids.bounded_vs_gaussian(**s)
    assert out["freeze"].shape == (2,) and out["times"].shape == (4,)
    for noise in ("uniform", "gaussian"):
        assert out[f"{noise}_final"].shape[:2] == (2, 2) and out[f"{noise}_force"].shape[:2] == (2, 4)
        assert finite(out[f"{noise}_final"], out[f"{noise}_force"])
    again_from_cache(lambda: chain_grids.bounded_vs_gaussian(**s), out)
    with pytest.raises(ValueError, match="bounds"):
        chain_grids.bounded_vs_gaussian(**{**s, "bounds": (0.0,)})


def test_load_dynamics(isolated_cache):
    s = tiny("chain_dynamics", steps=300, record_every=100)
    out = chain_grids.load_dynamics(**s)
    n = len(s["sigma"])
    assert out["trajectory"].shape == (n, 4, L1) and out["times"].shape == (4,) and out["curvature"].shape == (n,)
    assert finite(out["trajectory"], out["curvature"])
    again_from_cache(lambda: chain_grids.load_dynamics(**s), out)


def test_langevin(isolated_cache):
    s = tiny("chain_langevin", steps=200, realisations=2, mu_r=(0.0,), eps_grid=(0.0, 0.01))
    out = chain_grids.langevin(**s)
    for conv in ("langevin", "langevin_sign"):
        assert out[f"s14_load_{conv}"].shape == (2, L1) and out[f"s14_c_{conv}"].shape == (2,)
        assert out[f"grid_c_{conv}"].shape == (1, 2) and out[f"grid_load_{conv}"].shape == (1, 2, L1)
        assert finite(out[f"s14_load_{conv}"], out[f"grid_c_{conv}"])
    assert np.isfinite(out["eq8_c"])
    again_from_cache(lambda: chain_grids.langevin(**s), out)


def test_chain_simulations_refuse_bad_arguments_before_any_work(isolated_cache):
    with pytest.raises(ValueError, match="keep"):
        chain_grids.simulate(("everything",), label="x", steps=10)
    with pytest.raises(ValueError, match="mu_r"):
        chain_grids.eq7_check(mu_r=(-0.1,), mu_l=(0.0,), steps=10, dt=0.1)
    assert results.run_log() == []


# ------------------------------------------------------------------ chain fits
def test_chain_fits_on_synthetic_dynamics(isolated_cache):
    epochs = np.arange(6.0)
    lam = np.linspace(1, 0, L1)
    start = np.ones(L1) * 0.9
    history = {n: np.stack([start + (lam * (1 + 0.2 * i) - start) * (1 - np.exp(-epochs / 2))[:, None]] * 2)
               for i, n in enumerate("bc")}  # (S, R, L+1)
    s = dict(scales.settings("gen_chainfit", "quick"))
    out = chain_fits.chain_fits(history, epochs, **s)
    assert list(out["names"]) == ["b", "c"] and list(out["param_names"]) == list(chain_fits.PARAMS)
    assert out["observed"].shape == out["fitted"].shape == (2, 6, L1) and out["params"].shape == (2, 6)
    assert out["mu_eff"].shape == out["r2"].shape == out["rc_observed"].shape == (2,)
    assert out["at_bound"].shape == (2, len(out["bound_names"])) and out["at_bound"].dtype == bool
    assert finite(out["fitted"], out["params"], out["r2"]) and (out["r2"] <= 1).all()
    again_from_cache(lambda: chain_fits.chain_fits(history, epochs, **s), out)


def test_networks_without_a_finite_load_curve_are_left_out_and_counted(monkeypatch):
    from springblock.experiments import mlp

    def fake_train(cfgs, data, **kw):  # two seeds per cell; one network of the first cell collapsed
        out = []
        for i, c in enumerate(cfgs):
            curve = np.linspace(2.0, 1.0, 8) + 0.01 * i
            if i == 1:
                curve[3:] = np.inf
            out.append({"test_acc": np.array(90.0), "train_acc": np.array(95.0), "epochs_run": np.array(c.epochs),
                        **{f"load_{sp}_{k}": curve for sp in fig1.SPLITS for k in KINDS}})
        res = results.Results(out)
        return res

    monkeypatch.setattr(mlp, "train", fake_train)
    r = fig1.run_panel("noise", alphas=(0.0,), values=(0.1, 0.0), seeds=2, epochs=1,
                       data=__import__("springblock.data", fromlist=["x"]).load_dataset("mnist"))
    assert r.diverged_cells() == [(0, 0, 1)]
    assert np.isfinite(r.mean_load()).all()  # the other seed's curve alone, not inf
    np.testing.assert_allclose(r.mean_load()[0, 0], np.linspace(2.0, 1.0, 8))
