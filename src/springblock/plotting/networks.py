"""Figures of the networks' results (chapters 1, 2, 5–7). Everything here reads finished results
(:class:`~springblock.experiments.fig1.PanelResult` and the experiments' dicts); nothing trains."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import paper, shape
from . import grids, style
from .curves import load_curves


def _panel_labels(result):
    return [f"{a:g}" for a in result.alphas], [result.panel.tick(v) for v in result.values]


def fig1_figure(results, *, split="train", kind="trace", title=None, ncols=4, titles=None, tile=0.3):
    """Fig. 1 as the paper draws it: contiguous tiles, bold red seed-mean load curves (min–max
    normalised) over each cell's mean test accuracy (black = the panel's worst, white = its best, with
    a colour bar giving the range, next to the paper's). ``ncols`` panels per row: 4 (the paper's single
    row; the book shows it at full page width) or 2 (a 2×2 grid); ``titles``: one heading per panel;
    ``tile``: a cell's size in inches."""
    style.use()
    n = len(results)
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    rows, cols = results[0].mean_load(split, kind).shape[:2]
    # the first column also holds the row labels: a first guess at their width, measured and corrected below
    panel_w, label_w = max(cols * tile + 0.3, 2.2), 0.9
    ratios = [panel_w + label_w] + [panel_w] * (ncols - 1)
    fig = plt.figure(figsize=(sum(ratios), nrows * (rows * tile + 1.5)), layout="constrained")
    fig.get_layout_engine().set(w_pad=0, h_pad=0)  # no padding around each tile: the tiles touch
    gs = fig.add_gridspec(nrows, ncols, wspace=0.1, hspace=0.06, width_ratios=ratios)
    subs = [fig.add_subfigure(gs[k // ncols, k % ncols]) for k in range(nrows * ncols)]
    for k, (sub, res) in enumerate(zip(subs, results)):
        rl, cl = _panel_labels(res)
        first = k % ncols == 0
        ref = paper.FIG1_ACC_RANGE.get(res.panel.name)
        grids.phase_panel(sub, res.mean_load(split, kind), res.mean_acc("test"), rl if first else None, cl,
                          xlabel=res.panel.label, letter=res.panel.letter,
                          shading_label="test accuracy (%)" + (f"\npaper: {ref[0]}–{ref[1]}" if ref else ""),
                          row_ends=("(ReLU)", "(linear)") if first else None, linewidth=1.9)
        if first:
            sub.supylabel("negative slope α", fontsize=9)
        if titles is not None:
            sub.suptitle(titles[k], fontsize=9.5)
    for sub in subs[n:]:
        sub.set_visible(False)
    if title:
        fig.suptitle(title)
    if ncols > 1:
        _match_first_column(fig, gs, subs[:ncols], ratios, cols)
    return fig


def _match_first_column(fig, gs, row, ratios, cols):
    """Lay the figure out once and give the first column exactly the width its row labels take
    beyond the others', so that every panel's tiles are the same size (the labels' width depends on
    the fonts, so it is measured rather than guessed)."""
    fig.canvas.draw()
    width = [np.mean([ax.bbox.width for ax in sub.axes if ax.lines]) for sub in row]
    extra = (width[0] - np.mean(width[1:])) * cols / fig.dpi  # inches of tiles the first panel has too many
    ratios = [ratios[0] - extra] + list(ratios[1:])
    gs.set_width_ratios(ratios)
    fig.set_size_inches(sum(ratios), fig.get_size_inches()[1])


def curvature_maps(results, *, split="train", kind="trace", values=None, label=r"$\hat c$", ncols=2):
    """Per panel, the relative curvature ĉ of the seed-mean load curve (or ``values`` per panel) as
    a red (convex) / blue (concave) heat map with the numbers written in; ``ncols`` panels per row."""
    style.use()
    n = len(results)
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(style.WIDTH, 3.3 * nrows), squeeze=False, layout="constrained")
    span = max(np.nanmax(np.abs(v)) for v in (values or [r.curvature(split, kind) for r in results]))
    flat = axes.ravel()
    for i, (ax, res) in enumerate(zip(flat, results)):
        rows, cols = _panel_labels(res)
        im = grids.value_grid(ax, res.curvature(split, kind) if values is None else values[i], rows, cols,
                              span=span, fontsize=7.5, colorbar=False)
        ax.set_xlabel(f"({res.panel.letter}) {res.panel.label}")
        ax.tick_params(axis="x", labelrotation=60, labelsize=8)
        ax.set_ylabel("α" if i % ncols == 0 else "")
    for ax in flat[n:]:
        ax.set_visible(False)
    fig.colorbar(im, ax=axes, shrink=0.6, label=label).outline.set_visible(False)
    return fig


def dynamics_figure(dyn, *, titles=None):
    """Fig. 4 (left column): D_ℓ over epochs for each setting (one line per layer, mean over seeds),
    and below it the final load curve with its curvature."""
    style.use()
    names = list(dyn.history)
    fig, axes = plt.subplots(2, len(names), figsize=(style.WIDTH, 4.8), squeeze=False,
                             gridspec_kw=dict(height_ratios=(2.2, 1)), layout="constrained")
    for j, name in enumerate(names):
        h = np.nanmean(dyn.history[name], axis=0)  # (R, L+1)
        colors = plt.cm.viridis(np.linspace(0, 0.9, h.shape[1]))
        ax = axes[0, j]
        for layer in range(h.shape[1]):
            ax.plot(dyn.epochs, h[:, layer], color=colors[layer], lw=1.2, label=f"ℓ={layer}")
        parts = [f"{k.replace('batch_size', 'B')}={v:g}" for k, v in dyn.settings[name].items()]
        desc = f"({name}) {parts[0]}" + ("\n" + ", ".join(parts[1:]) if parts[1:] else "")  # two lines: titles never meet
        ax.set_title((titles or {}).get(name, desc), fontsize=9)
        ax.set_xlabel("epoch")
        if j == 0:
            ax.set_ylabel(r"$D_\ell$ (train, eval mode)")
        final = h[-1]
        axes[1, j].plot(np.arange(len(final)), final, "o-", color=style.LOAD_RED, ms=3)
        axes[1, j].set_xlabel(f"layer ℓ   (ĉ = {style.number(shape.relative_curvature(final), 2, sign=True)})")
        if j == 0:
            axes[1, j].set_ylabel(r"final $D_\ell$")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    return fig


def accuracy_curvature(ax, acc, rc, alphas, *, stats=None, title=None, tol=shape.SHAPE_TOL, legend=False,
                       xlabel=r"$\hat c$  (< 0 concave, > 0 convex)"):
    """Seed-mean test accuracy against ĉ of every cell of a panel, one colour per α row (``acc``,
    ``rc``: (A, V)); |ĉ| ≤ ``tol`` ("linear") is shaded. With ``stats`` (from
    :func:`springblock.analysis.accuracy_vs_shape`) the best cell gets a star, the most linear a ring."""
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(alphas)))
    ax.axvspan(-tol, tol, color="0.9", zorder=0, lw=0)
    for i, a in enumerate(alphas):
        ax.scatter(rc[i], acc[i], color=colors[i], s=16, label=f"α={a:g}", zorder=2)
    if stats is not None:
        b, m = tuple(stats["best"]), tuple(stats["most_linear"])
        ax.scatter(rc[b], acc[b], marker="*", s=150, facecolor="none", edgecolor="k", zorder=3, label="best")
        ax.scatter(rc[m], acc[m], marker="o", s=110, facecolor="none", edgecolor=style.LOAD_RED, lw=1.5, zorder=3,
                   label="most linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy (%)")
    if title:
        ax.set_title(title, fontsize=9.5)
    return ax


def accuracy_panels(panels: dict, stats: dict, ncols: int = 2):
    """:func:`accuracy_curvature` for every Fig. 1 panel (``stats`` per panel from
    :func:`springblock.analysis.accuracy_vs_shape`), ``ncols`` per row, one legend."""
    style.use()
    n = len(panels)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(style.WIDTH, 2.7 * nrows + 0.4), squeeze=False, layout="constrained")
    for k, (ax, (name, res)) in enumerate(zip(axes.ravel(), panels.items())):
        accuracy_curvature(ax, stats[name]["acc_mean"], stats[name]["rc"], res.alphas, stats=stats[name],
                           title=f"({res.panel.letter}) {res.panel.label}", xlabel=r"$\hat c$")
        if k % ncols:
            ax.set_ylabel("")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.supxlabel(r"$\hat c$ of the seed-mean load curve (< 0 concave, > 0 convex)", fontsize=9)
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center", fontsize=8)
    return fig


def fit_overlay(ax, epochs, observed, fitted, *, title=None):
    """Observed D_ℓ(epoch) (solid) and a fitted chain's a + b·λ_ℓ(t) (dashed), one colour per ℓ."""
    colors = plt.cm.viridis(np.linspace(0, 0.9, observed.shape[1]))
    for ell in range(observed.shape[1]):
        ax.plot(epochs, observed[:, ell], color=colors[ell], lw=1.2, label=rf"$\ell={ell}$")
        ax.plot(epochs, fitted[:, ell], color=colors[ell], lw=1.0, ls="--")
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"$D_\ell$ (solid) / chain (dashed)")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def controller_figure(res):
    """The load-guided controller (``experiments.control.compare_with_fixed``): its dropout rate and
    the measured ĉ over training per seed, and the test accuracy of every fixed rate (mean ± s.e.m.
    over seeds) against the controller's (band)."""
    style.use()
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(style.WIDTH, 2.7), layout="constrained")
    e = res["traj_epochs"]
    for j in range(res["ctrl_p"].shape[0]):
        a1.plot(e, res["ctrl_p"][j], color="C0", alpha=0.7, lw=1.2)
        a2.plot(e, res["ctrl_rc_traj"][j], color="C1", alpha=0.7, lw=1.2)
    a1.set(xlabel="epoch", ylabel="dropout rate set")
    a2.axhspan(-shape.SHAPE_TOL, shape.SHAPE_TOL, color="0.9", lw=0)
    a2.set(xlabel="epoch", ylabel=r"measured $\hat c$")
    a2.set_ylim(max(-1.0, np.nanmin(res["ctrl_rc_traj"]) - 0.05), max(0.2, np.nanmax(res["ctrl_rc_traj"]) + 0.05))
    acc, ctrl = res["fixed_test"], res["ctrl_test"]
    S = acc.shape[1]
    sem = acc.std(1, ddof=1) / np.sqrt(S) if S > 1 else np.zeros(len(acc))
    a3.errorbar(res["dropouts"], acc.mean(1), yerr=sem, marker="o", capsize=3, color="k", label="fixed rate")
    cm, cs = ctrl.mean(), (ctrl.std(ddof=1) / np.sqrt(S) if S > 1 else 0.0)
    a3.axhspan(cm - cs, cm + cs, color="C0", alpha=0.25, lw=0)
    a3.axhline(cm, color="C0", label="controller")
    a3.set(xlabel="fixed dropout rate", ylabel="test accuracy (%)")
    a3.legend(loc="lower left", fontsize=8)
    return fig


def train_test_figure(panel, tt):
    """Chapter 5's Fig. S4: the first α row of ``panel`` (a Fig. 1 result, the learning-rate panel
    in the book) on the training set (solid) and the test set (dashed), and ĉ on the test set against
    ĉ on the training set for every cell (``tt``, from :func:`springblock.analysis.compare_shapes`)."""
    style.use()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(style.WIDTH, 3.1))
    colors = plt.cm.plasma(np.linspace(0, 0.85, len(panel.values)))
    load_curves(a1, panel.mean_load("train")[0], labels=[f"lr {panel.panel.tick(v)}" for v in panel.values], colors=colors,
                normalise=True, legend=False)
    load_curves(a1, panel.mean_load("test")[0], colors=colors, normalise=True, ls="--", marker=None, legend=False)
    a1.set_title("ReLU row of (b): train (solid), test (dashed)", fontsize=9)
    a1.legend(fontsize=7, ncol=2, loc="upper right")
    a2.scatter(tt["rc_a"], tt["rc_b"], s=9, color="k")
    lim = np.nanmax(np.abs(np.r_[tt["rc_a"], tt["rc_b"]])) * 1.05  # a square view centred on ĉ = 0
    a2.plot([-lim, lim], [-lim, lim], color="0.6", lw=0.8)
    a2.set(xlabel=r"$\hat c$, training set", ylabel=r"$\hat c$, test set", title=f"all {tt['n']} cells of Fig. 1")
    return fig


def depth_width_figure(dw):
    """Chapter 5's Figs. S5–S6: one α × dropout phase diagram per architecture of ``dw``
    (``gen_depth_width``), tiles over the seed-mean test accuracy, three diagrams a row."""
    style.use()
    n_arch = len(dw["archs"])
    ncol = min(3, n_arch)  # at most three diagrams a row, so that their text stays legible
    nrow = -(-n_arch // ncol)
    fig = plt.figure(figsize=(style.WIDTH, 2.75 * nrow), layout="constrained")
    subs = np.atleast_1d(fig.subfigures(nrow, ncol, wspace=0.03, hspace=0.04)).ravel()
    for k, (sub, (h, w), d) in enumerate(zip(subs, dw["archs"], dw["diagrams"])):
        grids.phase_panel(sub, np.nanmean(d["load"], 2), np.nanmean(d["acc"], 2),
                          [f"{a:g}" for a in dw["alphas"]] if k % ncol == 0 else None,  # row labels once a row
                          [f"{p:g}" for p in dw["dropouts"]], xlabel=f"L = {h}, width {w}: dropout",
                          shading_label="accuracy (%)", linewidth=1.8)
    return fig


def dataset_diagrams(results, xlabels, *, linewidth=2.2):
    """Phase diagrams on other datasets (``architectures.dataset_diagram`` results) side by side, each
    over its seed-mean test accuracy, with ``xlabels`` under them; learning rates are ticked as
    ``1e-03``, other axes as plain numbers."""
    style.use()
    fig = plt.figure(figsize=(style.WIDTH, 3.0), layout="constrained")
    subs = fig.subfigures(1, len(results), wspace=0.05)
    for sub, res, xlabel in zip(subs, results, xlabels):
        fmt = (lambda v: f"{v:.0e}") if res["axis"] == "lr" else (lambda v: f"{v:g}")
        grids.phase_panel(sub, np.nanmean(res["load"], 2), np.nanmean(res["acc"], 2), [f"{a:g}" for a in res["alphas"]],
                          [fmt(v) for v in res["values"]], xlabel=xlabel, shading_label="accuracy (%)", linewidth=linewidth)
    return fig


def metrics_figure(mc):
    """Chapter 5's Figs. S10–S11: per α (no dropout) of ``mc`` (``gen_metrics``), the seed-mean load
    curve under the trace ratio, the He–Su metric and the inverse variant, each shifted to start at 0."""
    style.use()
    fig, axes = plt.subplots(1, len(mc["alphas"]), figsize=(style.WIDTH, 2.9), squeeze=False)
    for i, a in enumerate(mc["alphas"]):
        curves = [mc[f"load_{k}"][i, 0].mean(0) for k in ("trace", "pinv", "inverse")]
        curves = [c - c[0] for c in curves]
        curves[2] = -curves[2]  # the inverse variant grows with separation: flipped so that all fall
        load_curves(axes[0, i], np.array(curves), labels=["Eq. 3 (trace)", "Eq. 9 (He–Su)", "inverse, negated"],
                    colors=["C3", "C0", "k"], ylabel=r"$D_\ell - D_0$", legend=i == 0)
        axes[0, i].set_title(f"α = {a:g}, no dropout: {mc['acc'][i, 0].mean():.1f} %", fontsize=9)
    return fig
