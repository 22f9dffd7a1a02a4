"""Every checkable claim: its parts (:mod:`.criteria`) and its counterfactual, chapter by chapter.

A claim's counterfactual rebuilds the claim's own inputs with what it states broken: curves bent
the other way (the same end points, contributions changing linearly to the relative curvature the
broken pattern needs), accuracies that favour the wrong cells, a closed form off by a step. The
registry's test evaluates each and expects "not reproduced", so a check that cannot fail fails CI.

Cells that hold whatever the code does are left out of the evidence: the noiseless column and the
frictionless row of the chain's diagrams (Eq. 7, or zero), the noiseless cell of Fig. 5(b), the
inverse metric on linear networks (an identity).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import analysis, paper, shape, theory
from . import INCONCLUSIVE, NOT_TESTABLE, Part, claim
from .criteria import band, beyond, beyond_mean, correlated, every, fraction, holds, trend, within

TOL = shape.SHAPE_TOL
CHAIN_TOL = 0.01  # the Langevin chain's curvatures are an order smaller (k = 0.1, decaying noise)


def _f(v, digits: int = 2) -> str:
    from ..plotting.style import number

    return number(v, digits, sign=True)


def _list(values, digits: int = 3) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


# ------------------------------------------------------------------ building counterfactual curves
def shaped(load, rc) -> np.ndarray:
    """Curves with ``load``'s end points whose contributions change linearly with depth so that their
    relative curvature is ``rc`` (broadcast against the curves' leading axes)."""
    load = np.asarray(load, dtype=float)
    L = load.shape[-1] - 1
    d0, total = load[..., 0], load[..., 0] - load[..., -1]
    total = np.where(total == 0, 1.0, total)
    slope = -np.asarray(rc, dtype=float) * np.abs(total) / (L - 1)
    ell = np.arange(1, L + 1) - (L + 1) / 2
    d = total[..., None] / L + slope[..., None] * ell
    return np.concatenate([d0[..., None], d0[..., None] - np.cumsum(d, -1)], -1)


def zigzag(load, amp: float) -> np.ndarray:
    """Curves with ``load``'s end points whose contributions alternate about their mean by ``amp`` of
    it (first and last equal, so ĉ = 0 at odd L): uneven curves, and with ``amp`` > 1 rising ones."""
    load = np.asarray(load, dtype=float)
    L = load.shape[-1] - 1
    total = load[..., 0] - load[..., -1]
    sign = (-1.0) ** np.arange(L)
    sign = sign - sign.mean()
    d = total[..., None] / L * (1 + amp * sign)
    return np.concatenate([load[..., :1], load[..., :1] - np.cumsum(d, -1)], -1)


def two_seeds(a, axis: int):
    """``a`` with at least two seeds on ``axis`` (a single seed repeated): a counterfactual built on a
    one-seed budget must still be decidable, so it carries two identical seeds (zero spread)."""
    a = np.asarray(a)
    return np.repeat(a, 2, axis) if a.shape[axis] < 2 else a


def with_rc(panel, rc):
    """A Fig. 1 panel whose every stored curve (both splits, both metrics, every seed) is
    :func:`shaped` to the relative curvature ``rc`` (A, V) of its cell."""
    rc = np.asarray(rc, dtype=float)[..., None]
    return dataclasses.replace(panel, load={k: shaped(v, rc) for k, v in panel.load.items()})


def _grid(panel, f):
    """``f(a, j)`` on a panel's cell grid, with a ∈ [0, 1] (ReLU → linear) and j ∈ [0, 1] (most → least noise)."""
    A, V = len(panel.alphas), len(panel.values)
    a = np.linspace(0, 1, A)[:, None] if A > 1 else np.zeros((1, 1))
    j = np.linspace(0, 1, V)[None, :] if V > 1 else np.zeros((1, 1))
    return np.broadcast_to(f(a, j), (A, V)).astype(float)


def _seed_rc(panel, split: str = "train", kind: str = "trace") -> np.ndarray:
    """Each seed's own relative curvature (A, V, S)."""
    return shape.relative_curvature(panel.load[f"{split}_{kind}"])


def _quiet(V: int) -> slice:
    return slice(V // 2, V)  # the quieter half of the columns (the figure's right)


def _noisy(V: int) -> slice:
    return slice(0, max(1, V // 2))  # the noisier half (the figure's left)


# =============================================================================================
# Chapter 1
# =============================================================================================
def _demo_cf(demo):
    out = {k: (two_seeds(demo[k], 1) if k.startswith("trained_") else v) for k, v in demo.items()}
    rc = shape.relative_curvature(out["trained_trace"].mean(1))  # (A,)
    out["trained_pinv"] = shaped(out["trained_trace"], (-np.sign(rc) * (np.abs(rc) + 0.3))[:, None])
    inv = np.array(out["trained_inverse"], dtype=float)
    inv[-1] = inv[-1] + np.linspace(0, 1, inv.shape[-1])  # the linear net's inverse metric made to move
    out["trained_inverse"] = inv
    return {"demo": out}


@claim("net.relu_demo_concave", "chapter 1", "The chapter's demonstration network (ReLU, no noise) is concave, "
       "as Fig. 1's quiet ReLU cells are.", "(a demonstration; Fig. 1's claim is tested in chapter 2)", "01_separation",
       kind="book", evidence="the ReLU network of the separation demo, every seed",
       counterfactual=lambda demo: {"demo": {**demo, "trained_trace": shaped(two_seeds(demo["trained_trace"], 1), 0.3)}})
def _relu_demo(demo):
    seeds = shape.relative_curvature(demo["trained_trace"][0])
    rc = float(shape.relative_curvature(demo["trained_trace"][0].mean(0)))
    return [beyond("ReLU net concave", seeds, -TOL, "<")], f"ĉ = {_f(rc)}", {"rc": rc}


@claim("net.metrics_demo", "chapter 1", "On the demonstration networks Eq. 3 and Eq. 9 bend alike for ReLU, and the "
       "inverse variant cannot see a linear network's layers.", "(a demonstration; S10/S11 are tested in chapter 5)",
       "01_separation", kind="book", evidence="the separation demo: its ReLU and its linear network, every seed",
       counterfactual=_demo_cf)
def _metrics_demo(demo):
    tr, pi = (shape.relative_curvature(demo[f"trained_{k}"][0]) for k in ("trace", "pinv"))  # per seed
    mean = {k: demo[f"trained_{k}"].mean(1) for k in ("trace", "pinv", "inverse")}
    rt, rp = (float(shape.relative_curvature(mean[k][0])) for k in ("trace", "pinv"))
    drop = float(mean["trace"][1][0] - mean["trace"][1][-1])
    spread = float(np.ptp(mean["inverse"][1][1:]))
    parts = [beyond("ReLU net: Eq. 9 bends as Eq. 3 does", np.sign(rt) * pi, TOL, ">",
                    what="ĉ(Eq. 9) × sign ĉ(Eq. 3)"),
             holds("linear net: the inverse variant is flat", spread < 0.01 * abs(drop),
                   f"it varies by {spread:.1e}, Eq. 3 drops by {drop:.2f}")]
    return parts, f"ReLU ĉ {_f(rt)} (Eq. 3) vs {_f(rp)} (Eq. 9); linear net: inverse varies {spread:.1e} vs Eq. 3 " \
        f"drop {drop:.2f}", {"rc_trace_relu": rt, "rc_pinv_relu": rp, "drop_trace_linear": drop,
                             "inverse_spread_linear": spread}


# =============================================================================================
# Chapter 2: Fig. 1 and its neighbours
# =============================================================================================
def _panels_cf(f):
    return lambda panels: {"panels": {n: with_rc(r, _grid(r, f)) for n, r in panels.items()}}


def _pooled(panels, rows, cols) -> np.ndarray:
    """Each seed's ĉ in the cells ``rows`` × ``cols(V)`` of every panel, pooled."""
    return np.concatenate([_seed_rc(r)[rows, cols(len(r.values))].ravel() for r in panels.values()])


@claim("fig1.relu_concave", "Fig. 1", "A ReLU network trained with little noise is concave, in every panel.",
       "concave top-right region in (a)–(d)", "02_phase_diagram",
       evidence="the ReLU row's quieter half of the columns in all four panels, every seed",
       counterfactual=_panels_cf(lambda a, j: 0.3 + 0 * a * j))
def _relu_concave(panels):
    rc = {n: float(r.curvature()[0, -1]) for n, r in panels.items()}
    n = sum(v < -TOL for v in rc.values())
    part = beyond("ReLU row, quieter half", _pooled(panels, 0, _quiet), -TOL, "<")
    return [part], f"{part.detail.split(';')[0]}; quietest cell concave in {n}/{len(rc)} panels", {"n": n, **rc}


@claim("fig1.linear_convex", "Fig. 1", "A linear network trained with much noise is convex, in every panel.",
       "convex bottom-left region in (a)–(d)", "02_phase_diagram",
       evidence="the linear row's noisier half of the columns in all four panels, every seed",
       counterfactual=_panels_cf(lambda a, j: -0.3 + 0 * a * j))
def _linear_convex(panels):
    rc = {n: float(r.curvature()[-1, 0]) for n, r in panels.items()}
    n = sum(v > TOL for v in rc.values())
    part = beyond("linear row, noisier half", _pooled(panels, -1, _noisy), TOL, ">")
    return [part], f"{part.detail.split(';')[0]}; noisiest cell convex in {n}/{len(rc)} panels", {"n": n, **rc}


@claim("fig1.noise_raises", "Fig. 1", "Noise (label/data noise, learning rate, dropout, small batches) turns a "
       "nonlinear network's curve from concave to linear and then convex.",
       "concave → linear → convex as noise grows", "02_phase_diagram",
       evidence="every nonlinear row (α < 1) of all four panels; the noisiest column for the last two parts",
       counterfactual=_panels_cf(lambda a, j: 0.3 * (2 * j - 1) + 0 * a))
def _noise_raises(panels):
    rows = [r.curvature()[:-1] for r in panels.values()]  # nonlinear rows; columns: most stochastic first
    y = np.concatenate(rows)
    x = -np.arange(y.shape[1])  # noise rank: column 0 is the noisiest
    relu_noisy = _pooled(panels, 0, lambda V: slice(0, 1))
    nonlin_noisy = _pooled(panels, slice(0, -1), lambda V: slice(0, 1))
    parts = [trend("ĉ rises with noise along each nonlinear row", x, y),
             beyond("ReLU, the most noise: no longer concave", relu_noisy, -TOL, ">"),
             beyond("nonlinear nets, the most noise: convex", nonlin_noisy, TOL, ">")]
    n = sum(float(r.curvature()[0, 0]) > float(r.curvature()[0, -1]) for r in panels.values())
    ranks = [analysis.correlation(-np.arange(len(v)), v)[1] for v in (r.curvature()[0] for r in panels.values())]
    ranks = [v for v in ranks if np.isfinite(v)]
    rank = float(np.mean(ranks)) if ranks else float("nan")
    return parts, f"{parts[0].detail.split(';')[0]}; ReLU noisiest > quietest in {n}/{len(panels)} panels", \
        {"n": n, "rank": rank}


@claim("fig1.alpha_raises", "Fig. 1", "Less nonlinearity (α → 1) moves the curve toward convex at fixed noise.",
       "rows bend from concave (ReLU) to convex (linear)", "02_phase_diagram",
       evidence="every column of all four panels (ĉ against α)",
       counterfactual=_panels_cf(lambda a, j: 0.3 - 0.6 * a + 0 * j))
def _alpha_raises(panels):
    ys = np.concatenate([r.curvature().T for r in panels.values()])  # (columns of all panels, A)
    alphas = next(iter(panels.values())).alphas
    n = sum(float(r.curvature()[-1, -1]) > float(r.curvature()[0, -1]) for r in panels.values())
    part = trend("ĉ rises with α in each column", alphas, ys, against="α")
    return [part], part.detail.split(";")[0] + f"; linear > ReLU in the quietest column in {n}/{len(panels)} panels", \
        {"n": n}


def _outside_small_batch(panels, name, j) -> bool:
    return not (name == "batch" and panels[name].values[j] <= 20)


@claim("fig1.monotone", "Fig. 1", "Load curves fall layer by layer (our reading of the figure: the exception is the "
       "smallest batches).", "(read from the figure) monotone except at B = 10", "02_phase_diagram",
       evidence="every seed-mean curve of the four panels outside B ≤ 20",
       counterfactual=lambda panels: {"panels": {n: dataclasses.replace(r, load={k: zigzag(v, 2.5) for k, v in r.load.items()})
                                                 for n, r in panels.items()}})
def _monotone(panels):
    rising = [(n, ij) for n, r in panels.items() for ij in r.rising()]
    flags = [(n, i, j) in {(m, *ij) for m, ij in rising}
             for n, r in panels.items() for i in range(len(r.alphas)) for j in range(len(r.values))
             if _outside_small_batch(panels, n, j)]
    outside = [(n, ij) for n, ij in rising if _outside_small_batch(panels, n, ij[1])]
    n_cells = sum(r.test_acc[..., 0].size for r in panels.values())
    names = "; ".join(panels[n].cell_name(ij) for n, ij in rising) or "none"
    part = fraction("curves outside B ≤ 20 that rise", flags, 0.05, "<")
    return [part], f"{len(rising)} of {n_cells} curves rise (> 2 % of the drop), {len(outside)} outside B ≤ 20: {names}", \
        {"n_rising": len(rising), "n_cells": n_cells, "outside_small_batch": len(outside)}, {"cells": names}


@claim("fig1.acc_ranges", "Fig. 1", "The test-accuracy ranges of the four panels.",
       "83.4–92.1, 82.1–93.3, 89.1–93.5, 85.5–93.9 %", "02_phase_diagram",
       evidence="the lowest and the highest seed-mean cell of each panel (2 points tolerance)",
       counterfactual=lambda panels: {"panels": {n: dataclasses.replace(r, test_acc=r.test_acc - 10)
                                                 for n, r in panels.items()}})
def _acc_ranges(panels):
    diffs, text, parts = [], [], []
    for n, r in panels.items():
        acc, ref = r.mean_acc(), paper.FIG1_ACC_RANGE[n]
        S = r.test_acc.shape[-1]
        sd = np.nanstd(r.test_acc, -1, ddof=1) / np.sqrt(S) if S >= 2 else np.full(acc.shape, np.nan)
        lo_i, hi_i = np.unravel_index(np.nanargmin(acc), acc.shape), np.unravel_index(np.nanargmax(acc), acc.shape)
        lo, hi = float(acc[lo_i]), float(acc[hi_i])
        diffs += [lo - ref[0], hi - ref[1]]
        text.append(f"{lo:.1f}–{hi:.1f}")
        sem = lambda i: None if not np.isfinite(sd[i]) else float(sd[i])
        ends = [within("lowest", lo, ref[0], 2.0, what="accuracy (%)", digits=2, sem=sem(lo_i)),
                within("highest", hi, ref[1], 2.0, what="accuracy (%)", digits=2, sem=sem(hi_i))]
        parts.append(every(f"({r.panel.letter}) range", ends))
    mad, mx = float(np.mean(np.abs(diffs))), float(np.max(np.abs(diffs)))
    return parts, ", ".join(text) + f" % (mean |difference| {mad:.1f}, largest {mx:.1f} points)", \
        {"mean_abs_diff": mad, "max_abs_diff": mx}


def _resize_cf(resize):
    """The antialiased runs' accuracies moved 20 points away from the paper's ranges."""
    out = dict(resize)
    for (n, aa), r in resize.items():
        if aa:
            plain, ref = resize[(n, False)].test_acc, np.mean(paper.FIG1_ACC_RANGE[n])
            out[(n, aa)] = dataclasses.replace(r, test_acc=plain + (20.0 if np.nanmean(plain) >= ref else -20.0))
    return out


@claim("data.resize", "book", "The antialiased resize reproduces the paper's accuracy ranges better than the plain one.",
       "Resize(10) on tensors; antialias not stated (depends on the torchvision version)", "02_phase_diagram",
       kind="book", evidence="both ends of every panel's accuracy range, with and without antialiasing",
       counterfactual=lambda resize: {"resize": _resize_cf(resize)})
def _resize(resize):
    names = sorted({n for n, _ in resize})
    closer, dist = 0, {True: [], False: []}
    loss, drc = [], []
    for n in names:
        ref = paper.FIG1_ACC_RANGE[n]
        ends = {aa: (np.nanmin(resize[(n, aa)].mean_acc()), np.nanmax(resize[(n, aa)].mean_acc())) for aa in (True, False)}
        for k in range(2):
            d = {aa: abs(ends[aa][k] - ref[k]) for aa in (True, False)}
            closer += d[True] < d[False]
            for aa in (True, False):
                dist[aa].append(d[aa])
        loss.append(np.nanmean(resize[(n, True)].mean_acc() - resize[(n, False)].mean_acc()))
        drc.append(np.nanmean(np.abs(resize[(n, True)].curvature() - resize[(n, False)].curvature())))
    dt, df = float(np.mean(dist[True])), float(np.mean(dist[False]))
    part = holds("antialiased closer to the paper's ranges", dt < df, f"mean distance {dt:.1f} vs {df:.1f} points")
    return [part], f"antialias closer at {closer}/{2 * len(names)} range ends (mean distance {dt:.1f} vs {df:.1f} points)", \
        {"closer": closer, "ends": 2 * len(names), "dist_true": dt, "dist_false": df,
         "acc_loss": float(np.mean(loss)), "rc_change": float(np.mean(drc))}


@claim("shape.measures_agree", "book", "The authors' curvature and the all-layer verdict label Fig. 1's cells alike.",
       "c = (D₀ − D₁) − (D₆ − D₇) for seven layers: the first contribution against the last", "02_phase_diagram", kind="book",
       evidence="every seed-mean cell of the four panels",
       counterfactual=lambda panels: {"panels": {n: dataclasses.replace(r, load={k: zigzag(v, 0.8) for k, v in r.load.items()})
                                                 for n, r in panels.items()}})
def _measures(panels):
    flags = np.concatenate([(shape.shape_of(r.curvature()) == r.verdict().shape).ravel() for r in panels.values()])
    pct = 100.0 * float(flags.mean())
    return [fraction("cells labelled alike", flags, 0.8, ">")], f"same label in {pct:.0f} % of {flags.size} cells", \
        {"n": int(flags.size), "agree_pct": pct}


def _nobn_cf(norms):
    c = norms["c_sigma"]
    flat = dataclasses.replace(c, load={k: np.repeat(v[:, :, :1], v.shape[2], 2) for k, v in c.load.items()})
    return {"norms": {**norms, "c_sigma": with_rc(flat, _grid(c, lambda a, j: 0.3 - 0.6 * a + 0 * j))}}


@claim("s3.no_batchnorm", "SM S3", "With c_σ instead of BatchNorm the phase pattern survives, with more run-to-run "
       "variation.", "similar convex–concave patterns, more fluctuations", "02_phase_diagram",
       evidence="the c_σ network's ReLU row (quieter half) and linear row (noisier half), every seed; the seed "
                "spread of ĉ in every cell against BatchNorm's", counterfactual=_nobn_cf)
def _no_bn(norms):
    b, c = norms["batch"], norms["c_sigma"]
    V = len(c.values)
    rq, ln = float(c.curvature()[0, -1]), float(c.curvature()[-1, 0])
    sb, sc = b.curvature_spread(), c.curvature_spread()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(sc / sb)
    ratio = float(np.nanmean(sc) / np.nanmean(sb)) if np.nanmean(sb) > 0 else float("nan")
    drop = float(np.nanmean(b.mean_acc() - c.mean_acc()))
    parts = [beyond("c_σ, ReLU with little dropout: concave", _seed_rc(c)[0, _quiet(V)], -TOL, "<"),
             beyond("c_σ, linear with much dropout: convex", _seed_rc(c)[-1, _noisy(V)], TOL, ">"),
             beyond("seeds scatter more than with BatchNorm", log_ratio, 0.0, ">", what="log spread ratio")]
    missed = [p.name for p in parts if p.verdict != "reproduced"]
    conclusion = ("the pattern survives, with more fluctuation, as the supplement says" if not missed else
                  "the pattern survives only in part: not established here — " + "; ".join(missed))
    rq_half = float(np.nanmean(_seed_rc(c)[0, _quiet(V)]))  # what the first two parts read
    ln_half = float(np.nanmean(_seed_rc(c)[-1, _noisy(V)]))
    return parts, f"c_σ net: ĉ {_f(rq)} (ReLU, no dropout; {_f(rq_half)} over the quieter half), {_f(ln)} (linear, " \
        f"most dropout; {_f(ln_half)} over the noisier half); seed spread of ĉ {ratio:.1f}× BatchNorm's", \
        {"relu_quiet_csigma": rq, "linear_noisy_csigma": ln, "relu_half": rq_half, "linear_half": ln_half,
         "spread_ratio": ratio, "acc_drop": drop}, \
        {"relu_quiet_shape": str(shape.shape_of(rq)), "linear_noisy_shape": str(shape.shape_of(ln)),
         "conclusion": conclusion}


def _seeds_cf(panels, norms):
    def split(r):  # the first seed bent one way, the others the other: one seed no longer tells the mean
        load = {k: np.concatenate([shaped(v[:, :, :1], 0.6), shaped(v[:, :, 1:], -0.6)], 2) for k, v in r.load.items()}
        return dataclasses.replace(r, load=load)

    return {"panels": {n: split(r) if len(r.seeds) >= 2 else r for n, r in panels.items()},
            "norms": {k: split(r) for k, r in norms.items()}}


@claim("fig1.seed_averaging", "book", "One seed per cell gives the seed mean's label in most cells (at least 80 %).",
       "10 seeds per cell", "02_phase_diagram", kind="book",
       evidence="every cell of the Fig. 1 panels with several seeds, else of the BatchNorm comparison",
       counterfactual=_seeds_cf)
def _seed_averaging(panels, norms):
    many = [r for r in panels.values() if len(r.seeds) >= 2]
    which = "the four Fig. 1 panels" if many else "the dropout panel of the BatchNorm comparison"
    rs = many or [norms["batch"]]
    cmp = [analysis.compare_shapes(r.mean_load(seeds=1), r.mean_load()) for r in rs]
    flags = np.concatenate([shape.shape_of(c["rc_a"]).ravel() == shape.shape_of(c["rc_b"]).ravel() for c in cmp])
    changed, cells = sum(c["n_differ"] for c in cmp), sum(c["n"] for c in cmp)
    rc_diff = sum(c["mean_abs_diff"] * c["n"] for c in cmp) / cells
    acc_sd = float(np.nanmean([np.nanmean(r.acc_spread()) for r in rs]))
    return [fraction("cells where one seed gives the mean's label", flags, 0.8, ">")], \
        f"{changed} of {cells} cells change label; accuracy sd {acc_sd:.2f} points", \
        {"changed": changed, "n_cells": cells, "n_seeds": len(rs[0].seeds), "acc_sd": acc_sd, "rc_diff": rc_diff}, \
        {"which": which}


def _dyn_cf(dyn):
    h = {n: two_seeds(v, 0) for n, v in dyn.history.items()}
    h["b"], h["d"], h["c"] = h["d"], h["b"], shaped(h["c"], 0.4)
    return {"dyn": dataclasses.replace(dyn, history=h)}


@claim("fig4.dynamics_shapes", "Fig. 4", "The three Fig. 4 training settings end concave, linear and convex.",
       "(b) concave, (c) linear, (d) convex", "02_phase_diagram", evidence="the final curve of every seed of each setting",
       counterfactual=_dyn_cf)
def _dynamics(dyn):
    final = {n: shape.relative_curvature(h[:, -1]) for n, h in dyn.history.items()}  # per seed
    rc = {n: float(shape.relative_curvature(h.mean(0)[-1])) for n, h in dyn.history.items()}
    labels = [str(shape.shape_of(v)) for v in rc.values()]
    acc = {f"acc_{n}": float(a.mean()) for n, a in dyn.test_acc.items()}
    parts = [beyond("(b) concave", final["b"], -TOL, "<"), band("(c) linear", final["c"], TOL),
             beyond("(d) convex", final["d"], TOL, ">")]
    return parts, "ĉ " + ", ".join(f"{_f(v)} ({n})" for n, v in rc.items()) + f": {', '.join(labels)}", \
        {**{f"rc_{n}": v for n, v in rc.items()}, **acc}, {"labels": ", ".join(labels)}


# =============================================================================================
# Chapters 3–4: the spring–block chain
# =============================================================================================
@claim("chain.fig2_linear", "Fig. 2", "With symmetric friction and noise the chain's mean load is linear.",
       "the authors' notebook: λ_ℓ = (8 − ℓ)/8", "03_spring_block", evidence="the mean final load over every realisation",
       counterfactual=lambda sim: {"sim": {**sim, "mean_load": np.asarray(sim["mean_load"])
                                           + 0.1 * np.sin(np.pi * np.arange(len(sim["mean_load"])) / 7)}})
def _fig2(sim):
    dev = float(np.abs(sim["mean_load"] - np.asarray(paper.FIG2_NOTEBOOK_LOAD)).max())
    nums = {"max_dev": dev, "chains": int(sim["realisations"])}
    if "mean_trajectory" in sim:  # when the mean load last moves by more than 0.02 from where it ends
        traj, times = np.asarray(sim["mean_trajectory"]), np.asarray(sim["times"])
        off = np.abs(traj - traj[-1]).max(-1) > 0.02
        nums["settle_t"] = float(times[np.nonzero(off)[0][-1] + 1]) if off.any() else float(times[0])
    return [holds("mean load linear", dev < 0.02, f"largest deviation from (8 − ℓ)/8: {dev:.3f} (needs < 0.02)")], \
        f"mean load within {dev:.3f} of (8 − ℓ)/8", nums


@claim("chain.eq7", "Eq. 7", "Without noise the chain freezes with elongations stepping by μ_r/k, whatever μ_l.",
       "successive elongations differ by μ_r/k, independent of μ_l (the formula as the book reconstructs it: the "
       "paper's was lost with its typesetting)", "03_spring_block",
       evidence="every μ_r × μ_l chain of the noiseless grid against the closed form",
       counterfactual=lambda eq7: {"eq7": {**eq7, "load": np.asarray(eq7["load"]) + 1e-3 * np.arange(
           np.shape(eq7["load"])[-1])}})
def _eq7(eq7):
    err = float(np.abs(np.asarray(eq7["load"]) - np.asarray(eq7["predicted"])).max())
    return [holds("simulation = closed form", err < 1e-10, f"largest difference {err:.1e} (needs < 1e-10)")], \
        f"simulation = closed form to {err:.1e}", {"error": err}


@claim("chain.stuck", "book", "Above μ_r = 2ky/(L(L+1)) the first blocks never move (μ_r = 0.06: two blocks).",
       "(derived; the paper states Eq. 7's condition)", "03_spring_block", kind="book",
       evidence="the first noiseless chain beyond the bound",
       counterfactual=lambda eq7: {"eq7": {**eq7, "x": np.asarray(eq7["x"]) + 0.01}})
def _stuck(eq7):
    i = int(np.argmax(~eq7["valid"]))
    mu = float(eq7["mu_r"][i])
    x = np.asarray(eq7["x"])[0, i]
    m = int(theory.stuck_blocks(len(x), 1.0, 1.0, mu))
    closed = theory.equilibrium(len(x), 1.0, 1.0, mu)
    ok = bool(np.allclose(x, closed, atol=1e-8) and int((np.abs(x) < 1e-12).sum()) == m)
    return [holds(f"{m} blocks at the wall, the rest where the closed form puts them", ok, f"μ_r = {mu:g}")], \
        f"μ_r = {mu:g}: {m} blocks stay at the wall", {"mu": mu, "m": m}, {"x": _list(x, 4)}


def _phase_parts(phase, key="c", tol=TOL, cells=None) -> list[Part]:
    """Fig. 3's pattern on a chain diagram (rows μ_r ascending × columns σ ascending), leaving out the
    noiseless column (it follows Eq. 7, or is zero without friction, by construction). ``cells``:
    per-chain curvatures (rows, cols, R) to bootstrap the corners over; without them the cells are the
    values."""
    c = np.asarray(phase[key], dtype=float)[:, 1:]
    per = c[..., None] if cells is None else np.asarray(cells, dtype=float)[:, 1:]
    R = c.shape[0]
    most, least = slice(R // 2, R), slice(0, (R + 1) // 2)  # the more and the less frictional half of the rows
    mu_r, sigma = np.asarray(phase["mu_r"]), np.asarray(phase.get("sigma", phase.get("eps_grid")))[1:]
    return [beyond("friction, little noise: concave", per[most, :2], -tol, "<", what="c"),
            beyond("little friction, much noise: convex", per[least, -2:], tol, ">", what="c"),
            trend("c rises with noise in each row", sigma, c, what="c"),
            trend("c falls with friction in each column", -mu_r, c.T, what="c", against="−μ_r")]


def _field(phase, key="c", amp=0.2, cells=None):
    """The chain diagram reversed: friction makes convex, noise concave (same grid, zero spread)."""
    mu_r = np.asarray(phase["mu_r"], dtype=float)
    sigma = np.asarray(phase.get("sigma", phase.get("eps_grid")), dtype=float)
    c = amp * (mu_r[:, None] / mu_r.max() - sigma[None, :] / sigma.max())
    out = {**phase, key: c}
    if cells is not None:
        out[cells] = np.repeat(c[..., None], np.shape(phase[cells])[-1], -1)
    return out


@claim("chain.phase_diagram", "Fig. 3", "The chain's friction × noise diagram: concave with friction and little "
       "noise, convex with little friction and much noise, a linear band between.",
       "concave top right, linear anti-diagonal, convex bottom left", "03_spring_block",
       evidence="every noisy cell (the noiseless column follows Eq. 7 by construction); the corners (the more or "
                "less frictional half of the rows, the two least or most noisy columns) over every realisation",
       counterfactual=lambda phase: {"phase": _field(phase, cells="curvature")})
def _phase(phase):
    c = np.asarray(phase["c"])
    tr, bl = float(c[-1, 1]), float(c[0, -1])
    n_lin = int((np.abs(c[:, 1:]) <= CHAIN_TOL).sum())
    eq8 = float(theory.predicted_curvature(7, 1.0, theory.zero_drift_force(0.0, 0.04)))
    return _phase_parts(phase, cells=phase["curvature"]), \
        f"c = {_f(tr, 3)} (most friction, least noise), {_f(bl, 3)} (least friction, most noise); {n_lin} linear cells", \
        {"top_right": tr, "bottom_left": bl, "n_linear": n_lin, "n_cells": int(c[:, 1:].size), "eq8": eq8}


@claim("chain.second_order", "SM S13", "With inertia (second-order dynamics) the chain has the same phases.",
       "same behaviour as the overdamped model", "03_spring_block",
       evidence="every noisy cell of the second-order diagram (the noiseless column holds by construction), every "
                "realisation",
       counterfactual=lambda phase, second: {"phase": phase, "second": _field(second, cells="curvature")})
def _second(phase, second):
    c1, c2 = np.asarray(phase["c"]), np.asarray(second["c"])
    diff = np.abs(c2 - c1)[:, 1:]
    j = int(np.argmax(diff.max(0))) + 1
    tr, bl = float(c2[-1, 1]), float(c2[0, -1])
    i = int(np.argmax(diff[:, j - 1]))
    direction = "more concave" if c2[i, j] < c1[i, j] else "more convex"
    return _phase_parts(second, cells=second["curvature"]), f"c = {_f(tr, 3)} (most friction, least noise), " \
        f"{_f(bl, 3)} (least friction, most noise)", {"top_right": tr, "bottom_left": bl, "max_diff": float(diff.max()),
                                                      "sigma_worst": float(phase["sigma"][j])}, {"direction": direction}


def _broken_mu_bar(F, s, mu_r, mu_l):
    return np.full(np.broadcast(F, s).shape, float(mu_r))  # noise-blind: no lubrication at all


@claim("chain.effective_friction", "Eq. 8 (SM)", "Noise lowers the effective friction (acoustic lubrication) from μ_r "
       "to (μ_r − μ_l)/2, with a noise-independent zero-drift force.", "μ̄ → μ_r (σ → 0), → (μ_r − μ_l)/2 (σ → ∞), "
       "decreasing in σ (the limits the text states; the closed form between them is the book's)", "04_noise_friction",
       kind="book",
       evidence="the book's closed form for μ̄(F, σ), at a few forces and noises (a definition's properties)",
       counterfactual=lambda mu_r, mu_l, formula=None: {"mu_r": mu_r, "mu_l": mu_l, "formula": _broken_mu_bar})
def _mu_bar(mu_r, mu_l, formula=None):
    formula = theory.effective_friction if formula is None else formula
    mb = lambda F, s: float(formula(F, s, mu_r, mu_l))
    fs = float(theory.zero_drift_force(mu_r, mu_l))
    nums = {"small": mb(0.1, 1e-3), "mid": mb(0.1, 0.05), "large": mb(0.1, 10.0), "neg_small": mb(-0.06, 0.01),
            "neg_large": mb(-0.06, 1.0), "F_star": fs,
            "zero_drift": max(abs(float(theory.mean_drift(fs, s, mu_r, mu_l))) for s in (0.01, 0.1, 1.0, 10.0))}
    parts = [holds("→ μ_r without noise", abs(nums["small"] - mu_r) < 1e-6, f"μ̄(σ = 0.001) = {nums['small']:.4f}"),
             holds("→ (μ_r − μ_l)/2 with much noise", abs(nums["large"] - fs) < 1e-3, f"μ̄(σ = 10) = {nums['large']:.4f}"),
             holds("decreasing in σ", nums["small"] > nums["mid"] > nums["large"] and nums["neg_small"] < nums["neg_large"],
                   f"{nums['small']:.4f} > {nums['mid']:.4f} > {nums['large']:.4f}"),
             holds("no drift at F*", nums["zero_drift"] < 1e-12, f"largest drift {nums['zero_drift']:.0e}")]
    return parts, f"μ̄(0.1): {nums['small']:.4f} → {nums['mid']:.4f} → {nums['large']:.4f}; zero drift at F* to " \
        f"{nums['zero_drift']:.0e}", nums


def _sweep_cf(sweep, row, value):
    out = dict(sweep)
    c = np.array(sweep["independent_c"], dtype=float)
    c[row, 1:] = value(c[row, 1:])
    out["independent_c"] = c
    return out


@claim("chain.eq8", "Eq. 8", "Large symmetric noise gives elongations stepping by (μ_r − μ_l)/(2k): convex for "
       "μ_r < μ_l.", "successive elongations differ by (μ_r − μ_l)/2k (as the book reconstructs the formula)",
       "04_noise_friction",
       evidence="the noisy levels of the μ_r < μ_l sweep (the noiseless one follows Eq. 7 by construction): the "
                "largest against Eq. 8, the noisiest quarter for the sign",
       counterfactual=lambda sweep: {"sweep": _sweep_cf(sweep, 0, lambda c: -np.abs(c) - 0.05)})
def _eq8(sweep):
    c, s, se = np.asarray(sweep["independent_c"])[0], np.asarray(sweep["sigmas"]), np.asarray(sweep["independent_sem"])[0]
    first = float(s[int(np.argmax(c > 0))]) if (c > 0).any() else float("nan")
    q = max(1, (len(c) - 1) // 4)
    parts = [within("largest noise: Eq. 8's curvature", c[-1], sweep["eq8_c"], 0.02, what="c", sem=float(se[-1])),
             beyond("much noise: convex", c[-q:], TOL, ">", what="c")]
    return parts, f"c = {_f(c[0], 3)} (no noise) → {_f(c[-1], 3)} (σ̄ = {s[-1]:.3g}); Eq. 8: {_f(sweep['eq8_c'], 3)}", \
        {"no_noise": float(c[0]), "max_noise": float(c[-1]), "predicted": float(sweep["eq8_c"]), "first_convex": first,
         "sigma_max": float(s[-1])}


@claim("chain.bounded", "SM VI.2", "Under bounded noise the chain freezes at μ̄ = max(μ_r − B, (μ_r − μ_l)/2); Gaussian "
       "noise drifts on to (μ_r − μ_l)/2.", "bounded noise makes the intermediate shapes stable", "04_noise_friction",
       evidence="every bound, every realisation; the smallest bound for the Gaussian comparison",
       counterfactual=lambda bounded: {"bounded": {**bounded,
                                                   "uniform_final": np.asarray(bounded["uniform_final"]) + 0.05,
                                                   "gaussian_final": np.repeat(np.asarray(bounded["freeze"])[:, None],
                                                                               np.shape(bounded["gaussian_final"])[-1], -1)}})
def _bounded(bounded):
    u = np.asarray(bounded["uniform_final"])
    meas = u.mean(-1)
    sem = u.std(-1, ddof=1) / np.sqrt(u.shape[-1]) if u.shape[-1] >= 2 else np.full(len(meas), np.nan)
    err = float(np.abs(meas - bounded["freeze"]).max())
    per = [within(f"B = {b:g}", m, f, 0.01, what="μ̄", sem=float(e)) for b, m, f, e in
           zip(bounded["bounds"], meas, bounded["freeze"], sem)]
    g = np.asarray(bounded["gaussian_final"])[0]
    parts = [every("uniform noise freezes at the predicted μ̄", per),
             beyond("Gaussian noise moves on past it", g, float(bounded["freeze"][0]), "<", what="μ̄")]
    return parts, f"largest |measured − predicted| {err:.3f}", \
        {"max_err": err, "gauss_small": float(g.mean()), "t_end": float(bounded["times"][-1])}, \
        {"bounds": ", ".join(f"{b:g}" for b in bounded["bounds"]), "measured": _list(meas), "predicted": _list(bounded["freeze"])}


@claim("chain.synchronous", "SM S3", "Synchronous noise (the same kick on every block) gives the same final curvature "
       "as independent noise.", "same phase behaviour with synchronous noise (Fig. 4)", "04_noise_friction",
       evidence="every noisy level of the μ_r < μ_l sweep (both noises give Eq. 7 without noise), 0.02 tolerance",
       counterfactual=lambda sweep: {"sweep": {**sweep, "synchronous_c": np.asarray(sweep["independent_c"]) + 0.1}})
def _sync(sweep):
    s = np.asarray(sweep["sigmas"])
    ci, cs = np.asarray(sweep["independent_c"])[0], np.asarray(sweep["synchronous_c"])[0]
    se = np.hypot(np.asarray(sweep["independent_sem"])[0], np.asarray(sweep["synchronous_sem"])[0])
    d = np.abs(ci - cs)
    j = int(np.argmax(d[1:])) + 1
    i05 = int(np.argmin(np.abs(s - 0.05)))
    ratio = float(d[j] / se[j]) if se[j] > 0 else 0.0
    per = [within(f"σ̄ = {v:.3g}", a - b, 0.0, 0.02, what="difference", sem=float(e))
           for v, a, b, e in zip(s[1:], ci[1:], cs[1:], se[1:])]
    return [every("same curvature at every noise level", per)], f"largest difference {d[j]:.3f} ({ratio:.1f} s.e.)", \
        {"sigma": float(s[i05]), "indep": float(ci[i05]), "sync": float(cs[i05]), "max_diff": float(d[j]), "in_se": ratio}


@claim("chain.load_dynamics", "Fig. 4", "A chain with synchronous noise ends concave, linear or convex depending on "
       "the noise (Fig. 4, right column).", "(b) concave, (c) linear, (d) convex", "04_noise_friction", kind="book",
       evidence="one chain per noise level (the levels were chosen to give the three shapes)",
       counterfactual=lambda dyn: {"dyn": {**dyn, "curvature": np.asarray(dyn["curvature"])[::-1].copy()}})
def _chain_dyn(dyn):
    c = [float(v) for v in dyn["curvature"]]
    parts = [holds("(b) concave", c[0] < -TOL, f"c {_f(c[0], 3)}"), holds("(c) linear", abs(c[1]) <= TOL, f"c {_f(c[1], 3)}"),
             holds("(d) convex", c[2] > TOL, f"c {_f(c[2], 3)}")]
    return parts, "c = " + ", ".join(_f(v, 3) for v in c), dict(zip("bcd", c))


def _mirror(load):
    load = np.asarray(load, dtype=float)
    line = np.linspace(load[..., :1], load[..., -1:], load.shape[-1], axis=-1)[..., 0]
    return 2 * line - load - 0.1 * np.sin(np.pi * np.arange(load.shape[-1]) / (load.shape[-1] - 1))


@claim("chain.langevin_s14", "SM S14", "The standard Langevin chain at the authors' parameters ends nearly linear, "
       "slightly convex.", "the authors' stored run: 1 − x ≈ 0.87, 0.735, 0.61, 0.48, 0.36, 0.235, 0.12", "04_noise_friction",
       evidence="every realisation, in the book's convention; both conventions against the authors' stored run",
       counterfactual=lambda lang: {"lang": {**lang, **{f"s14_load_{c}": _mirror(lang[f"s14_load_{c}"])
                                                         for c in ("langevin", "langevin_sign")},
                                             **{f"s14_c_{c}": theory.curvature(_mirror(lang[f"s14_load_{c}"]))
                                                for c in ("langevin", "langevin_sign")}}})
def _s14(lang):
    stored = np.asarray(paper.S14_STORED_LOAD)
    out, texts = {}, {"stored": _list(stored, 2)}
    for conv, name in (("langevin", "book"), ("langevin_sign", "authors")):
        mean = np.asarray(lang[f"s14_load_{conv}"]).mean(0)
        out[f"c_{name}"] = float(np.mean(lang[f"s14_c_{conv}"]))
        out[f"dev_{name}"] = float(np.abs(mean[1:] - stored).max())
        texts[f"load_{name}"] = _list(mean[1:], 2)
    c = np.asarray(lang["s14_c_langevin"])
    parts = [beyond("slightly convex", c, 0.0, ">", what="c"), beyond("nearly linear", np.abs(c), 0.06, "<", what="|c|"),
             holds("the authors' stored run, both conventions", max(out["dev_book"], out["dev_authors"]) < 0.05,
                   f"largest deviation {max(out['dev_book'], out['dev_authors']):.3f} (needs < 0.05)")]
    return parts, f"c = {_f(out['c_book'], 3)} (book's), {_f(out['c_authors'], 3)} (authors' convention); within " \
        f"{max(out['dev_book'], out['dev_authors']):.3f} of the stored run", out, texts


@claim("chain.langevin_grid", "SM S14", "The Langevin chain's friction × noise diagram has the same phases.",
       "the same convex–concave phases", "04_noise_friction",
       evidence="every noisy cell of the grid, book's convention (the noiseless column holds by construction); the "
                "corners over their cells",
       counterfactual=lambda lang: {"lang": _field(lang, "grid_c_langevin", amp=0.05)})
def _lgrid(lang):
    c, alt = np.asarray(lang["grid_c_langevin"]), np.asarray(lang["grid_c_langevin_sign"])
    d = np.abs(alt - c)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    tr, bl = float(c[-1, 1]), float(c[0, -1])
    where = f"μ_r = {lang['mu_r'][i]:g}, ε = {lang['eps_grid'][j]:g}"
    return _phase_parts(lang, "grid_c_langevin", tol=CHAIN_TOL), f"c = {_f(tr, 3)} (most friction, least noise), " \
        f"{_f(bl, 3)} (least friction, most noise); conventions differ by at most {d.max():.3f}", \
        {"top_right": tr, "bottom_left": bl, "max_diff": float(d.max())}, {"where": where}


@claim("chain.fig5b", "Fig. 5(b)", "A chain with μ_r = 0 is linear without noise and convex with any noise.",
       "linear at σ = 0, convex for every σ > 0", "04_noise_friction",
       evidence="every noisy level of the μ_r = 0 sweep (its noiseless cell is zero by construction)",
       counterfactual=lambda sweep: {"sweep": _sweep_cf(sweep, 1, lambda c: -np.abs(c) - 0.01)})
def _fig5b(sweep):
    c, se = np.asarray(sweep["independent_c"])[1], np.asarray(sweep["independent_sem"])[1]
    n_noisy, n_convex = len(c) - 1, int((c[1:] > 0).sum())
    per = [beyond_mean(f"σ̄ = {v:.3g}", m, e, 0.0, ">") for v, m, e in zip(np.asarray(sweep["sigmas"])[1:], c[1:], se[1:])]
    return [every("convex at every noise level", per)], \
        f"c = {_f(c[0], 4)} at σ̄ = 0; convex at {n_convex}/{n_noisy} noise levels", \
        {"zero": float(c[0]), "first": float(c[1]), "sigma_first": float(sweep["sigmas"][1]),
         "min": float(c[1:].min()), "n_convex": n_convex, "n_noisy": n_noisy}


# =============================================================================================
# Chapter 5: accuracy
# =============================================================================================
def _ends(s) -> tuple[float, float]:
    """ĉ of a diagram's most and least accurate cell (from ``acc_mean`` and ``rc``)."""
    acc, rc = np.asarray(s["acc_mean"], dtype=float).ravel(), np.asarray(s["rc"], dtype=float).ravel()
    ok = np.isfinite(acc) & np.isfinite(rc)
    return float(rc[ok][np.argmax(acc[ok])]), float(rc[ok][np.argmin(acc[ok])])


def _accuracy_parts(stats: list, worst: bool = True) -> list[Part]:
    """The accuracy–linearity claim on phase diagrams: over every cell of every diagram (accuracies
    centred per diagram), straighter curves go with better accuracy; the best cell lies on the linear
    band; (``worst``) the worst cell is convex."""
    acc = np.concatenate([(np.asarray(s["acc_mean"]) - np.nanmean(s["acc_mean"])).ravel() for s in stats])
    straight = np.concatenate([-np.abs(np.asarray(s["rc"])).ravel() for s in stats])
    ends = [_ends(s) for s in stats]
    parts = [correlated("straighter curves, better accuracy", straight, acc, what="r(accuracy, −|ĉ|)"),
             band("the best cell on the linear band", [b for b, _ in ends], TOL)]
    if worst:
        parts.append(beyond("the worst cell convex", [w for _, w in ends], TOL, ">"))
    return parts


def _favour_curved(stats):
    return [{**s, "acc_mean": 90 + 10 * np.abs(np.asarray(s["rc"], dtype=float))} for s in stats]


@claim("acc.linear_best", "Fig. 1", "The best test accuracy lies on the linear band (the most linear curves are the "
       "best networks); the worst in the strongly convex corner.", "brightest cells on the linear band, α ∈ {0.2, 0.4}",
       "05_accuracy", evidence="every cell of the four Fig. 1 panels (seed means); each panel's best and worst cell",
       counterfactual=lambda stats, without: {"stats": dict(zip(stats, _favour_curved(list(stats.values())))),
                                              "without": without})
def _linear_best(stats, without):
    neg = sum(s["pearson_abs_hi"] < 0 for s in stats.values())
    neg_wo = sum(s["pearson_abs"] < 0 for s in without.values())
    wins = sum(s["linear_wins"] for s in stats.values())
    best_lin = sum(abs(s["best_rc"]) <= TOL for s in stats.values())
    gap = max(s["best_acc"] - s["linear_acc"] for s in stats.values())
    ranks = ", ".join(f"{s['linear_rank']}" for s in stats.values()) + f" (of {next(iter(stats.values()))['n_cells']})"
    parts = _accuracy_parts(list(stats.values()))
    return parts, f"{parts[0].detail.split(';')[0]}; most linear cell best in {wins}/4, ranks {ranks}", \
        {"n_negative": neg, "n_negative_without": neg_wo, "n_wins": wins, "n_best_linear": best_lin, "max_gap": gap}, \
        {"ranks": ranks, "best_rcs": ", ".join(_f(s["best_rc"]) for s in stats.values())}


@claim("s4.train_test", "SM S4", "Test-set load curves have the same shapes as training-set ones.",
       "train (solid) and test (dashed) curves alike", "05_accuracy",
       evidence="every seed-mean cell of the four Fig. 1 panels, train against test",
       counterfactual=lambda tt: {"tt": {**tt, "rc_b": -np.asarray(tt["rc_a"]) - 0.3 * np.where(
           np.asarray(tt["rc_a"]) >= 0, 1, -1)}})
def _s4(tt):
    a, b = np.asarray(tt["rc_a"], dtype=float).ravel(), np.asarray(tt["rc_b"], dtype=float).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    same = shape.shape_of(a[ok]) == shape.shape_of(b[ok])
    parts = [fraction("same label", same, 0.7, ">"), beyond("ĉ moves little", np.abs(a[ok] - b[ok]), TOL, "<", what="|Δĉ|")]
    return parts, f"r = {tt['pearson']:.3f}, same label in {100 * same.mean():.0f} % of {int(ok.sum())} cells", \
        {"n": int(ok.sum()), "r": tt["pearson"], "diff": float(np.mean(np.abs(a[ok] - b[ok]))), "same": 100 * float(same.mean()),
         "borderline": 100 * (tt["borderline"] if np.isfinite(tt["borderline"]) else 1.0)}


@claim("s56.depth_width", "SM S5, S6", "For each depth and width the best accuracy sits at the linear curve.",
       "the accuracy–linearity link holds for other depths and widths", "05_accuracy",
       evidence="every cell of every architecture's α × dropout diagram (seed means); each one's best cell",
       counterfactual=lambda dw, stats: {"dw": dw, "stats": _favour_curved(stats)})
def _s56(dw, stats):
    n = len(stats)
    concave = sum(s["rc"][0, -1] < -TOL for s in stats)
    best_lin = sum(abs(s["best_rc"]) <= TOL for s in stats)
    wins = sum(s["linear_wins"] for s in stats)
    neg = sum(s["pearson_abs"] < 0 for s in stats)
    parts = _accuracy_parts(stats, worst=False)
    return parts, f"{n} architectures: best cell linear in {best_lin}, most linear best in {wins}, acc–|ĉ| correlation " \
        f"< 0 in {neg}", {"n": n, "n_concave": concave, "n_best_linear": best_lin, "n_wins": wins, "n_negative": neg}


def _reversed_dropout(stats, dropouts):
    p = np.asarray(dropouts, dtype=float)
    field = 0.3 - 0.6 * p / max(p.max(), 1e-12)
    return [{**s, "rc": np.broadcast_to(field, np.shape(s["rc"])).copy()} for s in stats]


@claim("s56.pattern", "SM S5, S6", "The phase pattern is the same for other depths and widths.",
       "the same concave-to-convex pattern at every depth and width", "05_accuracy",
       evidence="every architecture: its ReLU network without dropout, and every nonlinear row against dropout",
       counterfactual=lambda dw, stats: {"dw": dw, "stats": _reversed_dropout(stats, dw["dropouts"])})
def _s56_pattern(dw, stats):
    n = len(stats)
    p = np.asarray(dw["dropouts"])
    quiet = int(np.argmin(p))
    concave = sum(s["rc"][0, quiet] < -TOL for s in stats)
    raises = sum(s["rc"][0, int(np.argmax(p))] > s["rc"][0, quiet] for s in stats)
    rows = np.concatenate([np.asarray(s["rc"])[:-1] for s in stats])
    parts = [beyond("ReLU without dropout: concave", [s["rc"][0, quiet] for s in stats], -TOL, "<"),
             trend("ĉ rises with dropout in each nonlinear row", p, rows, against="dropout")]
    return parts, f"{n} architectures: ReLU without dropout concave in {concave}, dropout raises its ĉ in {raises}", \
        {"n": n, "n_concave": concave, "n_raises": raises}


def _diagram_numbers(res, prefix=""):
    s = analysis.accuracy_vs_shape(res["acc"], res["load"], n_boot=0)
    rc = s["rc"]
    return s, {f"{prefix}relu_quiet": float(rc[0, -1]), f"{prefix}relu_noisy": float(rc[0, 0]),
               f"{prefix}linear_noisy": float(rc[-1, 0]), f"{prefix}acc_lo": float(np.nanmin(s["acc_mean"])),
               f"{prefix}acc_hi": float(np.nanmax(s["acc_mean"]))}


def _diagram_cf(d):
    """A diagram (rows α, columns by ``values``, the noisiest first) reversed: convex without noise,
    concave with it, and the most curved cells the most accurate."""
    v = np.asarray(d["values"], dtype=float)
    if d.get("axis", "dropout") != "lr":
        noise = v / max(v.max(), 1e-12)
    else:
        noise = np.log(v / v.min()) / max(np.log(v.max() / v.min()), 1e-12)
    field = np.broadcast_to(0.3 - 0.6 * noise, np.shape(d["acc"])[:2])
    load, acc = two_seeds(d["load"], 2), two_seeds(d["acc"], 2)
    return {**d, "load": shaped(load, field[..., None]), "rc": field.copy(),
            "acc": np.broadcast_to((90 + 10 * np.abs(field))[..., None], acc.shape).copy()}


def _pattern_parts(d, label) -> list[Part]:
    rc_seed = shape.relative_curvature(np.asarray(d["load"]))  # (A, V, S)
    rc = shape.relative_curvature(np.nanmean(d["load"], 2))
    v = np.asarray(d["values"], dtype=float)
    quiet = np.argsort(v)[: max(1, len(v) // 2)]  # the least noise
    x = v if d.get("axis", "dropout") != "lr" else np.log(v)
    return [beyond(f"{label}: ReLU with little noise concave", rc_seed[0, quiet], -TOL, "<"),
            trend(f"{label}: ĉ rises with {d.get('axis', 'dropout')} in each nonlinear row", x, rc[:-1],
                  against=d.get("axis", "dropout"))]


@claim("s7.fashion", "SM S7", "On Fashion-MNIST (and with another optimizer) the phase pattern and the "
       "accuracy–linearity link hold.", "same patterns on Fashion-MNIST, (b) with a different optimizer", "05_accuracy",
       evidence="every cell of the Adam and the SGD diagram (seed means); the ReLU row's quieter half, every seed",
       counterfactual=lambda fashion, fashion_sgd: {"fashion": _diagram_cf(fashion), "fashion_sgd": _diagram_cf(fashion_sgd)})
def _s7(fashion, fashion_sgd):
    s, nums = _diagram_numbers(fashion)
    _, sgd = _diagram_numbers(fashion_sgd, "sgd_")
    parts = _pattern_parts(fashion, "Adam") + _accuracy_parts([s], worst=False) + _pattern_parts(fashion_sgd, "SGD")
    return parts, f"Adam: ReLU ĉ {_f(nums['relu_quiet'])} → {_f(nums['relu_noisy'])} with dropout; most linear cell " \
        f"ranks {s['linear_rank']} of {s['n_cells']}; SGD: ĉ {_f(sgd['sgd_relu_quiet'])} (ReLU)", \
        {**nums, **sgd, "best_rc": s["best_rc"], "linear_rank": s["linear_rank"], "n_cells": s["n_cells"]}


def _cifar_cf(cifar):
    if cifar is None:  # no data here: the claim's pattern broken on a diagram of the same layout
        base = np.broadcast_to(np.linspace(1.0, 0.0, 8), (3, 4, 2, 8))
        cifar = {name: {"acc": np.full((3, 4, 2), 50.0), "load": base.copy(), "values": np.array(vals), "axis": axis,
                        "alphas": np.array([0.0, 0.4, 1.0])}
                 for name, vals, axis in (("gen_cifar_dropout", (0.28, 0.16, 0.08, 0.0), "dropout"),
                                          ("gen_cifar_lr", (0.05, 0.01, 0.001, 0.0001), "lr"))}
    return {"cifar": {k: _diagram_cf(d) for k, d in cifar.items()}}


@claim("s89.cifar", "SM S8, S9", "On CIFAR-10 the pattern holds; with the learning rate the best accuracy sits at "
       "slightly concave curves.", "best at slightly concave curves (S9)", "05_accuracy",
       evidence="both CIFAR-10 diagrams, every cell", counterfactual=_cifar_cf)
def _s89(cifar):
    if cifar is None:
        return [Part("CIFAR-10 on this machine", NOT_TESTABLE, "its files cannot be shipped or downloaded here")], \
            "CIFAR-10 cannot be shipped or downloaded on this machine", {}, {"summary": "CIFAR-10 is not on this machine"}
    s9 = analysis.accuracy_vs_shape(cifar["gen_cifar_lr"]["acc"], cifar["gen_cifar_lr"]["load"], n_boot=0)
    s8 = analysis.accuracy_vs_shape(cifar["gen_cifar_dropout"]["acc"], cifar["gen_cifar_dropout"]["load"], n_boot=0)
    parts = _pattern_parts(cifar["gen_cifar_dropout"], "S8") + [
        holds("S9: the best cell slightly concave", -0.3 <= s9["best_rc"] < -TOL, f"best cell ĉ {_f(s9['best_rc'])}")]
    summary = f"S9 best cell ĉ {_f(s9['best_rc'])}; S8 best cell ĉ {_f(s8['best_rc'])}"
    return parts, summary, {"s9_best_rc": s9["best_rc"], "s8_best_rc": s8["best_rc"]}, {"summary": summary}


def _metrics_cf(panels, mc):
    def split(r):
        tr = r.load["train_trace"]
        rc = r.curvature()[0]
        pinv = np.array(tr, dtype=float)
        pinv[0] = shaped(tr[0], (np.where(rc >= 0, -1.0, 1.0) * (np.abs(rc) + 0.3))[:, None])
        return dataclasses.replace(r, load={**r.load, "train_pinv": pinv})

    return {"panels": {n: split(r) for n, r in panels.items()}, "mc": mc}


@claim("s1011.metrics", "SM S10, S11", "Eq. 3 and Eq. 9 give comparable diagrams on ReLU networks and diverge on "
       "linear ones.", "comparable (S10); diverge for linear networks (S11)", "05_accuracy",
       evidence="the ReLU and the linear row of the four Fig. 1 panels (seed means), Eq. 3 against Eq. 9; the inverse "
                "variant's flatness on linear networks is an identity and is not evidence", counterfactual=_metrics_cf)
def _s1011(panels, mc):
    def labels(r, row, kind):
        return shape.shape_of(shape.relative_curvature(r.mean_load("train", kind)[row]))

    same = {row: np.concatenate([labels(r, row, "trace") == labels(r, row, "pinv") for r in panels.values()])
            for row in (0, -1)}
    cmp = {row: analysis.compare_shapes(np.concatenate([r.mean_load("train", "trace")[row] for r in panels.values()]),
                                        np.concatenate([r.mean_load("train", "pinv")[row] for r in panels.values()]))
           for row in (0, -1)}
    parts = [fraction("ReLU nets: the two metrics give the same label", same[0], 0.7, ">"),
             beyond("linear nets: they agree less", same[0].astype(float) - same[-1], 0.0, ">", what="difference in agreement",
                    digits=2)]
    inv_lin = float(np.nanmax(mc["inverse_spread"][-1]))
    lin = [np.asarray(mc[f"load_{k}"])[-1, 0].mean(0) for k in ("trace", "pinv")]
    r_relu, r_lin = float(cmp[0]["pearson"]), float(cmp[-1]["pearson"])
    return parts, f"same label in {100 * same[0].mean():.0f} % (ReLU) vs {100 * same[-1].mean():.0f} % (linear) of the " \
        f"cells; ĉ correlation {r_relu:.2f} vs {r_lin:.2f}", \
        {"r_relu": r_relu, "r_lin": r_lin, "same_relu": 100 * float(same[0].mean()), "same_lin": 100 * float(same[-1].mean()),
         "inv_lin": inv_lin, "inv_relu": float(np.nanmin(mc["inverse_spread"][0])),
         "pinv_drop_lin": float(lin[1][0] - lin[1][-1]), "trace_drop_lin": float(lin[0][0] - lin[0][-1])}


# =============================================================================================
# Chapters 6–7: other networks, beyond the paper
# =============================================================================================
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
    return parts, f"ĉ {_f(pre_rc)} after pre-training; best moderate rate {nums['best_p']:g} at ĉ {_f(nums['best_rc'])}; " \
        f"strongest ĉ {_f(nums['top_rc'])}, {nums['top_acc']:.1f} %", nums, \
        {"pre_shape": pre, "best_shape": str(labels[best]), "top_shape": str(labels[top]), "top_collapsed": collapsed,
         "best_gain_text": _f(acc[best] - acc[0], 1)}


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
    return parts, f"ĉ {_f(rc[0], 3)} (small lr), {_f(rc[1], 3)} (large lr), {_f(rc[2], 3)} (dropout)", \
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
    return parts, f"ĉ {_f(rc[0])} (lazy), {_f(rc[2])} (dropout), {_f(rc[3])} (large lr)", nums, texts


@claim("beyond.probe", "book", "A torchvision network trained without noise is concave too.", "(beyond the paper)",
       "07_beyond", kind="book", evidence="one network (the probe trains one)",
       counterfactual=lambda pr: {"pr": {**pr, "rc": 0.3}})
def _probe(pr):
    rc = float(pr["rc"])
    return [holds("concave", rc < -TOL, f"ĉ {_f(rc)}")], f"ĉ = {_f(rc)}", {"rc": rc, "acc": float(pr["test_acc"])}


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
             holds("μ̄ falls as noise grows", all(a > b for a, b in zip(mu, mu[1:])), f"μ̄ {', '.join(_f(v, 4) for v in mu)}")]
    return parts, f"R² {', '.join(f'{v:.3f}' for v in r2)}; μ̄ {', '.join(_f(v, 4) for v in mu)}", \
        {"r2_min": float(r2.min())}, {"r2s": ", ".join(f"{v:.3f}" for v in r2), "mu_effs": ", ".join(_f(v, 4) for v in mu),
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
    trend = f"{trend} ({_f(late)} over the last quarter of training)"
    ours = f"controller − chosen fixed rate: {_f(d)} points (standard error {se:.2f}; the check uses its 95 % interval)"
    return [part], ours, \
        {"seeds": len(ctl["seeds"]), "acc": float(np.mean(ctl["ctrl_test"])), "best_p": float(ctl["dropouts"][ctl["best_fixed"]]),
         "best_acc": float(fm[ctl["best_fixed"]]), "none_acc": float(fm[0]), "diff": d,
         "diff_sem": se if np.isfinite(se) else 0.0, "oracle_diff": ctl["oracle_diff_mean"],
         "final_rc": float(np.mean(ctl["ctrl_rc"])), "best_rc": float(np.mean(ctl["fixed_rc"][ctl["best_fixed"]])),
         "final_p": float(np.mean(np.asarray(ctl["ctrl_p"])[:, -1]))}, {"final_trend": trend}

