"""Every claim of the paper evaluated on the book's results: what the ledger page shows.

:func:`gather` obtains every result the chapters compute — through the same experiment functions and
settings, so on a built book everything comes from the cache — and :func:`evaluate_all` runs every
claim of :mod:`springblock.claims` on them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import analysis, claims, scales
from .experiments import architectures, chain_fits, chain_grids, control, fig1, protocols


def _cifar(scale, device, seed):
    try:
        return {key: architectures.dataset_diagram(**scales.settings(key, scale), device=device, seed=seed, progress=False)
                for key in ("gen_cifar_dropout", "gen_cifar_lr")}
    except FileNotFoundError:
        return None


def gather(scale: str, device: str = "cpu", seed: int = 0) -> dict:
    """The named results every claim needs, at ``scale`` (cached results are read, not recomputed)."""
    s = lambda name: scales.settings(name, scale)  # noqa: E731
    kw = dict(device=device, seed=seed, progress=False)
    panels = {n: fig1.run_panel(n, **s(f"fig1_{n}"), **kw) for n in fig1.PANELS}
    grids = {n: s(f"fig1_{n}") for n in fig1.PANELS}
    boot = s("gen_accuracy")
    stats = {n: analysis.accuracy_vs_shape(r.test_acc, r.load["train_trace"], seed=seed, **boot) for n, r in panels.items()}
    without = {n: analysis.accuracy_vs_shape(r.test_acc[:-1], r.load["train_trace"][:-1], n_boot=0) for n, r in panels.items()}
    out = dict(panels=panels, stats=stats, without=without, norms=fig1.norm_comparison(**s("fig1_norm"), **kw),
               resize=fig1.resize_comparison(grids, **s("fig1_resize"), **kw), dyn=fig1.run_dynamics(**s("fig4_dynamics"), **kw),
               demo=protocols.separation_demo(**s("separation"), device=device, seed=seed))
    chains = dict(seed=seed)
    out.update(sim=chain_grids.fig2_simulation(**s("chain_fig2"), **chains), eq7=chain_grids.eq7_check(**s("chain_eq7")),
               phase=chain_grids.phase_diagram(**s("chain_phase"), **chains),
               second=chain_grids.phase_diagram(**s("chain_second_order"), **chains),
               sweep=chain_grids.noise_sweep(**s("chain_noise"), **chains),
               bounded=chain_grids.bounded_vs_gaussian(**s("chain_bounded"), **chains),
               chain_dyn=chain_grids.load_dynamics(**s("chain_dynamics"), **chains),
               lang=chain_grids.langevin(**s("chain_langevin"), **chains),
               mu_r=s("chain_noise")["mu_r"], mu_l=s("chain_noise")["mu_l"])
    L1 = next(iter(panels.values())).load["train_trace"].shape[-1]
    pooled = {sp: np.concatenate([r.mean_load(sp).reshape(-1, L1) for r in panels.values()]) for sp in ("train", "test")}
    out["tt"] = analysis.compare_shapes(pooled["train"], pooled["test"])
    out["dw"] = architectures.depth_width(**s("gen_depth_width"), **kw)
    out["dw_stats"] = [analysis.accuracy_vs_shape(d["acc"], d["load"], n_boot=0) for d in out["dw"]["diagrams"]]
    out["fashion"] = architectures.dataset_diagram(**s("gen_fashion"), **kw)
    out["fashion_sgd"] = architectures.dataset_diagram(**s("gen_fashion_sgd"), **kw)
    out["cifar"] = _cifar(scale, device, seed)
    out["mc"] = architectures.metric_comparison(**s("gen_metrics"), **kw)
    rows = []
    for i, a in enumerate(panels["dropout"].alphas):
        tr = np.concatenate([r.mean_load("train", "trace")[i] for r in panels.values()])
        pi = np.concatenate([r.mean_load("train", "pinv")[i] for r in panels.values()])
        m = analysis.compare_shapes(tr, pi)
        rows.append({"α": a, "r": m["pearson"], "same": 100 * m["same_shape"]})
    out["metric_rows"] = pd.DataFrame(rows).set_index("α")
    out.update(cnn=protocols.cnn_dropout(**s("gen_cnn"), device=device, seed=seed),
               lin=protocols.linear_orthogonal(**s("gen_linear"), device=device, seed=seed),
               reg=protocols.regression_load(**s("gen_regression"), device=device, seed=seed),
               pr=protocols.torchvision_probe(**s("gen_probe"), device=device, seed=seed + 1),
               ctl=control.compare_with_fixed(**s("gen_control"), device=device, seed=seed))
    out["fits"] = chain_fits.chain_fits(out["dyn"].history, out["dyn"].epochs, **s("gen_chainfit"), seed=seed)
    return out


_INPUTS = {  # claim id -> {argument: key in gather()'s result}
    "net.relu_demo_concave": {"demo": "demo"}, "net.metrics_demo": {"demo": "demo"},
    "fig1.relu_concave": {"panels": "panels"}, "fig1.linear_convex": {"panels": "panels"},
    "fig1.noise_raises": {"panels": "panels"}, "fig1.alpha_raises": {"panels": "panels"},
    "fig1.monotone": {"panels": "panels"}, "fig1.acc_ranges": {"panels": "panels"}, "data.resize": {"resize": "resize"},
    "shape.measures_agree": {"panels": "panels"}, "s3.no_batchnorm": {"norms": "norms"},
    "fig1.seed_averaging": {"panels": "panels", "norms": "norms"}, "fig4.dynamics_shapes": {"dyn": "dyn"},
    "chain.fig2_linear": {"sim": "sim"}, "chain.eq7": {"eq7": "eq7"}, "chain.stuck": {"eq7": "eq7"},
    "chain.phase_diagram": {"phase": "phase"}, "chain.second_order": {"phase": "phase", "second": "second"},
    "chain.effective_friction": {"mu_r": "mu_r", "mu_l": "mu_l"}, "chain.eq8": {"sweep": "sweep"},
    "chain.bounded": {"bounded": "bounded"}, "chain.synchronous": {"sweep": "sweep"},
    "chain.load_dynamics": {"dyn": "chain_dyn"}, "chain.langevin_s14": {"lang": "lang"},
    "chain.langevin_grid": {"lang": "lang"}, "chain.fig5b": {"sweep": "sweep"},
    "acc.linear_best": {"stats": "stats", "without": "without"}, "s4.train_test": {"tt": "tt"},
    "s56.depth_width": {"dw": "dw", "stats": "dw_stats"}, "s56.pattern": {"dw": "dw", "stats": "dw_stats"},
    "s7.fashion": {"fashion": "fashion", "fashion_sgd": "fashion_sgd"},
    "s89.cifar": {"cifar": "cifar"}, "s1011.metrics": {"rows": "metric_rows", "mc": "mc"}, "s2.cnn": {"cnn": "cnn"},
    "fig5a.linear_net": {"lin": "lin"}, "s12.regression": {"reg": "reg"}, "beyond.probe": {"pr": "pr"},
    "beyond.chain_fit": {"fits": "fits"}, "beyond.controller": {"ctl": "ctl"},
}


def evaluate_all(results: dict) -> list:
    """Every registered claim evaluated on ``results`` (from :func:`gather`), in registration order."""
    missing = set(claims.CLAIMS) - set(_INPUTS)
    if missing:
        raise KeyError(f"claims without ledger inputs: {sorted(missing)}")
    return [claims.evaluate(cid, **{arg: results[key] for arg, key in _INPUTS[cid].items()}) for cid in claims.CLAIMS]
