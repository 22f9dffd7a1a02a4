"""Chapters 6–7's claims: the CNN, the linear network, regression and beyond the paper.

Cells that hold whatever the code does are left out of the evidence (see each claim).
"""
from __future__ import annotations

import numpy as np

from .. import analysis, shape
from . import INCONCLUSIVE, Part, claim
from .common import TOL, fmt, shaped, two_seeds
from .criteria import band, beyond, holds, within


def _cnn_cf(cnn):
    P = len(cnn["dropouts"])
    target = np.full(P, -0.3)
    acc = two_seeds(np.asarray(cnn["acc"], dtype=float), 1)
    out = {**cnn, "pre_load": shaped(two_seeds(cnn["pre_load"], 0), 0.3),
           "load": shaped(two_seeds(cnn["load"], 1), target[:, None]),
           "acc": acc[:1].repeat(P, 0) - np.arange(P)[:, None]}
    return {"cnn": out}


@claim("s2.cnn", "SM S2", "A CNN given dropout after convergence: moderate dropout turns concave into linear with "
       "better accuracy; strong dropout gives convex and worse.", "concave (purple) → linear, better (blue) → convex, "
       "worse", "06_other_networks", evidence="every seed: after pre-training, at the most accurate moderate rate and "
       "at the strongest rate (accuracies paired by seed against no dropout)", counterfactual=_cnn_cf)
def _s2(cnn):
    load, acc_s = np.asarray(cnn["load"]), np.asarray(cnn["acc"], dtype=float)
    rc_s = shape.relative_curvature(load)  # (P, S)
    rc, acc = shape.relative_curvature(load.mean(1)), acc_s.mean(1)
    top = len(rc) - 1
    best = 1 + int(np.argmax(acc[1:top])) if top > 1 else top  # the most accurate moderate rate
    labels = shape.verdict(load.mean(1)).label()
    pre = str(shape.verdict(np.asarray(cnn["pre_load"]).mean(0)).label())
    pre_rc = float(shape.relative_curvature(np.asarray(cnn["pre_load"]).mean(0)))
    nums = {"pre_rc": pre_rc, "pre_acc": float(np.mean(cnn["pre_acc"])), "ctrl_rc": float(rc[0]),
            "ctrl_acc": float(acc[0]), "best_p": float(cnn["dropouts"][best]), "best_acc": float(acc[best]),
            "best_rc": float(rc[best]), "top_p": float(cnn["dropouts"][top]), "top_rc": float(rc[top]),
            "top_acc": float(acc[top]), "top_rc_seeds": float(rc_s[top].mean()), "best_gain": float(acc[best] - acc[0])}
    chance = 100.0 / 10  # MNIST's ten classes
    collapsed = ", no better than chance (10 % on ten classes): the network has collapsed, and its features " \
        "separate nothing, so a curvature says little about them" if acc[top] < 2 * chance else \
        ", well above chance (10 % on ten classes)"
    parts = [beyond("after pre-training: concave", shape.relative_curvature(np.asarray(cnn["pre_load"])), -TOL, "<"),
             band("moderate dropout: linear", rc_s[best], TOL),
             beyond("… and more accurate than none", acc_s[best] - acc_s[0], 0.0, ">", what="accuracy gain (points)", digits=2),
             beyond("strong dropout: convex", rc_s[top], TOL, ">"),
             beyond("… and less accurate than moderate", acc_s[top] - acc_s[best], 0.0, "<",
                    what="accuracy change (points)", digits=2)]
    return parts, f"ĉ {fmt(pre_rc)} after pre-training; best moderate rate {nums['best_p']:g} at ĉ {fmt(nums['best_rc'])}; " \
        f"strongest ĉ {fmt(nums['top_rc'])}, {nums['top_acc']:.1f} %", nums, \
        {"pre_shape": pre, "best_shape": str(labels[best]), "top_shape": str(labels[top]), "top_collapsed": collapsed,
         "best_gain_text": fmt(acc[best] - acc[0], 1)}


@claim("fig5a.linear_net", "Fig. 5(a)", "A linear network with orthogonal weights on whitened data: small-step SGD "
       "gives a linear curve; a large step or dropout a convex one.", "small lr linear; large lr, dropout convex",
       "06_other_networks", evidence="every seed of the three variants",
       counterfactual=lambda lin: {"lin": {**lin, "load": shaped(two_seeds(lin["load"], 1),
                                                                 np.array([0.3, -0.3, -0.3])[:, None])}})
def _f5a(lin):
    rc_s = shape.relative_curvature(np.asarray(lin["load"]))  # (V, S)
    rc = shape.relative_curvature(np.nanmean(lin["load"], 1))
    traj = [shape.relative_curvature(np.nanmean(lin["history"][i], 0))[1:] for i in range(len(rc))]
    first = sum(bool(np.nanmin(t[:-1]) < -TOL) for t in traj)
    parts = [band("small lr: linear", rc_s[0], TOL), beyond("large lr: convex", rc_s[1], TOL, ">"),
             beyond("dropout: convex", rc_s[2], TOL, ">")]
    return parts, f"ĉ {fmt(rc[0], 3)} (small lr), {fmt(rc[1], 3)} (large lr), {fmt(rc[2], 3)} (dropout)", \
        {"rc_small": float(rc[0]), "rc_large": float(rc[1]), "rc_dropout": float(rc[2]),
         "flat0": float(np.nanmax(np.ptp(lin["history"][:, :, 0], axis=-1))), "n_concave_first": first}


@claim("s12.regression", "SM S12", "The regression load is concave for lazy training and convex for noisy training.",
       "lazy concave, noisy convex", "06_other_networks", evidence="every seed of the lazy, dropout and large-lr runs",
       counterfactual=lambda reg: {"reg": {**reg, "load": shaped(two_seeds(reg["load"], 1),
                                                                 np.array([0.3, 0.0, -0.3, -0.3])[:, None]),
                                           "test_rmse": two_seeds(reg["test_rmse"], 1)}})
def _s12(reg):
    keys = ("lazy", "default", "dropout", "large")
    rc_s = shape.relative_curvature(np.asarray(reg["load"]))
    rc, rmse = shape.relative_curvature(np.asarray(reg["load"]).mean(1)), np.asarray(reg["test_rmse"]).mean(1)
    nums = {**{f"rc_{k}": float(v) for k, v in zip(keys, rc)}, **{f"rmse_{k}": float(v) for k, v in zip(keys, rmse)}}
    parts = [beyond("lazy: concave", rc_s[0], -TOL, "<"), beyond("dropout: convex", rc_s[2], TOL, ">"),
             beyond("large lr: convex", rc_s[3], TOL, ">")]
    best = int(np.nanargmin(rmse))
    texts = {"best_run": str(np.asarray(reg["names"])[best]) if "names" in reg else keys[best],
             "best_shape": str(shape.shape_of(rc[best]))}
    return parts, f"ĉ {fmt(rc[0])} (lazy), {fmt(rc[2])} (dropout), {fmt(rc[3])} (large lr)", nums, texts


@claim("beyond.probe", "book", "A torchvision network trained without noise is concave too.", "(beyond the paper)",
       "07_beyond", kind="book", evidence="one network (the probe trains one)",
       counterfactual=lambda pr: {"pr": {**pr, "rc": 0.3}})
def _probe(pr):
    rc = float(pr["rc"])
    return [holds("concave", rc < -TOL, f"ĉ {fmt(rc)}")], f"ĉ = {fmt(rc)}", {"rc": rc, "acc": float(pr["test_acc"])}


@claim("beyond.chain_fit", "book", "A spring chain with synchronous noise, fitted, follows a network's load dynamics; "
       "its effective friction falls as training noise grows.", "(beyond the paper: the paper compares Fig. 4's columns "
       "by eye)", "07_beyond", kind="book", evidence="the fits to the three Fig. 4 settings",
       counterfactual=lambda fits: {"fits": {**fits, "r2": np.asarray(fits["r2"]) * 0 + 0.5,
                                             "mu_eff": np.asarray(fits["mu_eff"])[::-1].copy()}})
def _fit(fits):
    r2, mu = np.asarray(fits["r2"]), np.asarray(fits["mu_eff"])
    from ..plotting.style import symbol

    bounds = "; ".join(f"({n}) " + ", ".join(symbol(p) for p, b in zip(fits["bound_names"], row) if b)
                       for n, row in zip(fits["names"], fits["at_bound"]) if np.any(row)) or "none"
    parts = [holds("every fit R² ≥ 0.9", r2.min() >= 0.9, f"R² {', '.join(f'{v:.3f}' for v in r2)}"),
             holds("μ̄ falls as noise grows", all(a > b for a, b in zip(mu, mu[1:])), f"μ̄ {', '.join(fmt(v, 4) for v in mu)}")]
    return parts, f"R² {', '.join(f'{v:.3f}' for v in r2)}; μ̄ {', '.join(fmt(v, 4) for v in mu)}", \
        {"r2_min": float(r2.min())}, {"r2s": ", ".join(f"{v:.3f}" for v in r2), "mu_effs": ", ".join(fmt(v, 4) for v in mu),
                                      "bounds": bounds}


@claim("beyond.controller", "book", "Steering dropout to a straight load curve matches the best fixed rate of a grid "
       "search (within half a point).", "(beyond the paper)", "07_beyond", kind="book",
       evidence="every seed, paired: the controller against the fixed rate chosen on the validation split",
       counterfactual=lambda ctl: {"ctl": {**ctl, "ctrl_test": two_seeds(ctl["ctrl_test"], 0) - 5.0,
                                           "fixed_test": two_seeds(ctl["fixed_test"], 1)}})
def _controller(ctl):
    fixed = np.asarray(ctl["fixed_test"])
    diff = np.asarray(ctl["ctrl_test"]) - fixed[ctl["best_fixed"]]
    d = float(diff.mean())
    se = float(analysis.sem(diff)) if diff.size >= 2 else float("nan")
    part = within("the controller matches the chosen rate", d, 0.0, 0.5, what="difference (points)",
                  sem=se if np.isfinite(se) else None)
    if not np.isfinite(se):
        part = Part(part.name, INCONCLUSIVE, part.detail + "; one seed: spread unknown")
    fm = fixed.mean(1)
    p = np.asarray(ctl["ctrl_p"]).mean(0)  # the seed-mean rate over training
    late = float(p[-1] - p[(3 * len(p)) // 4])  # its change over the last quarter of training
    trend = "still rising" if late > 0.01 else "still falling" if late < -0.01 else "settled"
    trend = f"{trend} ({fmt(late)} over the last quarter of training)"
    final_rc = float(np.mean(ctl["ctrl_rc"]))
    where = f"{'inside' if abs(final_rc) <= shape.SHAPE_TOL else 'outside'} the band |ĉ| ≤ {shape.SHAPE_TOL:g} it steers toward"
    ours = f"controller − chosen fixed rate: {fmt(d)} points (standard error {se:.2f}; the check uses its 95 % interval)"
    return [part], ours, \
        {"seeds": len(ctl["seeds"]), "acc": float(np.mean(ctl["ctrl_test"])), "best_p": float(ctl["dropouts"][ctl["best_fixed"]]),
         "best_acc": float(fm[ctl["best_fixed"]]), "none_acc": float(fm[0]), "diff": d,
         "diff_sem": se if np.isfinite(se) else 0.0, "oracle_diff": ctl["oracle_diff_mean"],
         "final_rc": final_rc, "best_rc": float(np.mean(ctl["fixed_rc"][ctl["best_fixed"]])),
         "final_p": float(np.mean(np.asarray(ctl["ctrl_p"])[:, -1]))}, {"final_trend": trend, "band": where}
