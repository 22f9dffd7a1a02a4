"""Chapter 2's claims: Fig. 1, its resize, the network without BatchNorm, Fig. 4 (left).

Cells that hold whatever the code does are left out of the evidence (see each claim).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import analysis, paper, shape
from . import claim
from .common import TOL, fmt, grid_map, noisy, quiet, seed_rc, shaped, two_seeds, with_rc, zigzag
from .criteria import band, beyond, every, fraction, holds, trend, within


def _panels_cf(f):
    return lambda panels: {"panels": {n: with_rc(r, grid_map(r, f)) for n, r in panels.items()}}


def _pooled(panels, rows, cols) -> np.ndarray:
    """Each seed's ĉ in the cells ``rows`` × ``cols(V)`` of every panel, pooled."""
    return np.concatenate([seed_rc(r)[rows, cols(len(r.values))].ravel() for r in panels.values()])


@claim("fig1.relu_concave", "Fig. 1", "A ReLU network trained with little noise is concave, in every panel.",
       "concave top-right region in (a)–(d)", "02_phase_diagram",
       evidence="the ReLU row's quieter half of the columns in all four panels, every seed",
       counterfactual=_panels_cf(lambda a, j: 0.3 + 0 * a * j))
def _relu_concave(panels):
    rc = {n: float(r.curvature()[0, -1]) for n, r in panels.items()}
    n = sum(v < -TOL for v in rc.values())
    part = beyond("ReLU row, quieter half", _pooled(panels, 0, quiet), -TOL, "<")
    return [part], f"{part.detail.split(';')[0]}; quietest cell concave in {n}/{len(rc)} panels", {"n": n, **rc}


@claim("fig1.linear_convex", "Fig. 1", "A linear network trained with much noise is convex, in every panel.",
       "convex bottom-left region in (a)–(d)", "02_phase_diagram",
       evidence="the linear row's noisier half of the columns in all four panels, every seed",
       counterfactual=_panels_cf(lambda a, j: -0.3 + 0 * a * j))
def _linear_convex(panels):
    rc = {n: float(r.curvature()[-1, 0]) for n, r in panels.items()}
    n = sum(v > TOL for v in rc.values())
    part = beyond("linear row, noisier half", _pooled(panels, -1, noisy), TOL, ">")
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
    return {"norms": {**norms, "c_sigma": with_rc(flat, grid_map(c, lambda a, j: 0.3 - 0.6 * a + 0 * j))}}


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
    parts = [beyond("c_σ, ReLU with little dropout: concave", seed_rc(c)[0, quiet(V)], -TOL, "<"),
             beyond("c_σ, linear with much dropout: convex", seed_rc(c)[-1, noisy(V)], TOL, ">"),
             beyond("seeds scatter more than with BatchNorm", log_ratio, 0.0, ">", what="log spread ratio")]
    missed = [p.name for p in parts if p.verdict != "reproduced"]
    conclusion = ("the pattern survives, with more fluctuation, as the supplement says" if not missed else
                  "the pattern survives only in part: not established here — " + "; ".join(missed))
    rq_half = float(np.nanmean(seed_rc(c)[0, quiet(V)]))  # what the first two parts read
    ln_half = float(np.nanmean(seed_rc(c)[-1, noisy(V)]))
    return parts, f"c_σ net: ĉ {fmt(rq)} (ReLU, no dropout; {fmt(rq_half)} over the quieter half), {fmt(ln)} (linear, " \
        f"most dropout; {fmt(ln_half)} over the noisier half); seed spread of ĉ {ratio:.1f}× BatchNorm's", \
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
    return parts, "ĉ " + ", ".join(f"{fmt(v)} ({n})" for n, v in rc.items()) + f": {', '.join(labels)}", \
        {**{f"rc_{n}": v for n, v in rc.items()}, **acc}, {"labels": ", ".join(labels)}
