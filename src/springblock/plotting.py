"""Figures of the companion, one section per side of the paper.

* **Shared small multiples** — :func:`phase_grid` / :func:`phase_figure` draw one load curve per
  cell over a grey background, in the style of the paper's Fig. 1. They know nothing about where
  the curves come from, so the DNN phase diagrams and the spring–block diagrams use the same code.
* **Spring–block** (chapters 3–4) — the chain itself, the Fig. 2 dictionary, load curves, load
  dynamics, effective friction.
* **DNN** — added in its own section below by the training/sweep modules.

Functions draw into axes they are given (or create a figure when they need a layout of their own)
and return what they drew on; nothing here computes more than a closed form.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors
from matplotlib.patches import FancyArrowPatch, Rectangle

from . import separation

LOAD_RED = "#c0392b"  # the red of the paper's Fig. 1 curves


# ========================================================================================
# Shared: phase-diagram small multiples (Fig. 1 style)
# ========================================================================================
def phase_grid(ax_grid, curves, shading=None, row_labels=None, col_labels=None, *, normalise=True,
               vmin=None, vmax=None, cmap="gray", color=LOAD_RED, linewidth=1.6, markers=False):
    """Draw one load curve per cell of a grid of axes, over a background grey level.

    ``ax_grid``: 2-D array of Axes, shape ``(rows, cols)``. ``curves``: ``(rows, cols, n)``, the
    load curve of each cell (e.g. ``D_0..D_L`` or ``λ_0..λ_L``). ``shading``: optional
    ``(rows, cols)`` values mapped linearly from ``vmin`` (black) to ``vmax`` (white), e.g. test
    accuracy; ``None`` gives a light grey. ``normalise``: min–max scale each curve to fill its cell
    (as in Fig. 1, where only the shape matters). Labels go on the left column and the bottom row.
    """
    ax_grid = np.asarray(ax_grid, dtype=object).reshape(np.shape(curves)[:2])
    curves = np.asarray(curves, dtype=float)
    rows, cols, n = curves.shape
    if shading is not None:
        shading = np.asarray(shading, dtype=float)
        norm = mcolors.Normalize(np.nanmin(shading) if vmin is None else vmin,
                                 np.nanmax(shading) if vmax is None else vmax)
        cmap = plt.get_cmap(cmap)
    for i in range(rows):
        for j in range(cols):
            ax = ax_grid[i, j]
            c = curves[i, j]
            if normalise:
                span = np.nanmax(c) - np.nanmin(c)
                c = (c - np.nanmin(c)) / span if span > 0 else np.full_like(c, 0.5)
            ax.set_facecolor(cmap(norm(shading[i, j])) if shading is not None else "0.92")
            ax.plot(np.arange(n), c, color=color, lw=linewidth, marker="o" if markers else None, ms=2.5)
            ax.set_xticks([])
            ax.set_yticks([])
            if normalise:
                ax.set_xlim(-0.4, n - 0.6)
                ax.set_ylim(-0.12, 1.12)
            if row_labels is not None and j == 0:
                ax.set_ylabel(row_labels[i], rotation=0, ha="right", va="center", fontsize=8)
            if col_labels is not None and i == rows - 1:
                ax.set_xlabel(col_labels[j], fontsize=8)
    return ax_grid


def phase_figure(curves, shading=None, row_labels=None, col_labels=None, *, xlabel=None, ylabel=None,
                 title=None, shading_label=None, cell=0.85, **kwargs):
    """A new figure holding :func:`phase_grid` (and a colour bar when ``shading`` is given).

    Returns ``(fig, axes)``; ``kwargs`` go to :func:`phase_grid`.
    """
    rows, cols = np.shape(curves)[:2]
    extra = 0.9 if shading is not None else 0.0
    fig, axes = plt.subplots(rows, cols, figsize=(cols * cell + 1.4 + extra, rows * cell + 1.0), squeeze=False,
                             gridspec_kw=dict(wspace=0.06, hspace=0.06))
    phase_grid(axes, curves, shading, row_labels, col_labels, **kwargs)
    if xlabel:
        fig.supxlabel(xlabel, fontsize=10)
    if ylabel:
        fig.supylabel(ylabel, fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    if shading is not None:
        s = np.asarray(shading, float)
        vmin, vmax = kwargs.get("vmin"), kwargs.get("vmax")
        norm = mcolors.Normalize(np.nanmin(s) if vmin is None else vmin, np.nanmax(s) if vmax is None else vmax)
        sm = plt.cm.ScalarMappable(norm=norm, cmap=kwargs.get("cmap", "gray"))
        cb = fig.colorbar(sm, ax=axes, fraction=0.03, pad=0.02)
        if shading_label:
            cb.set_label(shading_label, fontsize=9)
    return fig, axes


def value_grid(ax, values, row_labels=None, col_labels=None, *, cmap="RdBu_r", center=0.0, fmt="{:+.2f}",
               label=None, fontsize=7):
    """A ``(rows, cols)`` table of numbers as a colour map with the values written in the cells.

    The colour scale is symmetric about ``center`` (e.g. the curvature's 0 = linear). Row 0 is drawn
    at the top, so pass arrays in the same order as :func:`phase_grid`.
    """
    values = np.asarray(values, float)
    span = np.nanmax(np.abs(values - center)) or 1.0
    im = ax.imshow(values, cmap=cmap, vmin=center - span, vmax=center + span, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=fontsize,
                color="white" if abs(v - center) > 0.6 * span else "black")
    ax.set_xticks(range(values.shape[1]), col_labels if col_labels is not None else range(values.shape[1]), fontsize=8)
    ax.set_yticks(range(values.shape[0]), row_labels if row_labels is not None else range(values.shape[0]), fontsize=8)
    cb = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    if label:
        cb.set_label(label, fontsize=9)
    return im


# ========================================================================================
# Spring–block (chapters 3–4)
# ========================================================================================
def _spring(ax, a, b, y0, *, coils=6, height=0.06, color="k", lw=1.0):
    """A zig-zag spring from x = a to x = b at height y0 (straight lead-ins of 10%)."""
    if b - a <= 1e-9:
        return
    coils = int(np.clip(round((b - a) / 0.015), 1, coils))  # short springs get fewer coils, not a blot
    lead = 0.1 * (b - a)
    xs = np.linspace(a + lead, b - lead, 2 * coils + 1)
    ys = y0 + height * np.r_[0, np.tile([1, -1], coils)[: 2 * coils - 1], 0]
    ax.plot(np.r_[a, xs, b], np.r_[y0, ys, y0], color=color, lw=lw, solid_joinstyle="miter")


def draw_chain(ax, x, y=1.0, *, block=None, force=True, labels=False, color="0.35", spring_color="k", lw=1.0,
               springs=True):
    """Draw the chain: wall, springs, blocks at ``x_1..x_L``, the target ``y`` (paper Fig. 2 top).

    The model's blocks are points; here each gets a width ``block`` (default ``0.3·y/(L+1)``)
    and the picture is stretched by the widths, so every spring is drawn with its true length
    ``d_ℓ`` and blocks stuck at the wall sit side by side; ``springs=False`` draws them as plain
    lines (for thumbnails). Returns the block centres drawn.
    """
    x = np.asarray(x, float).ravel()
    L = x.size
    w = block if block is not None else 0.3 * y / (L + 1)
    h = 0.16
    left = x + w * np.arange(L)  # left edge of block l = x_l + (l-1)·w
    target = y + L * w
    ax.plot([0, 0], [-0.02, 0.32], color="k", lw=4 * lw, solid_capstyle="butt")  # the wall (x_0)
    ax.plot([0, target * 1.1], [-0.02, -0.02], color="k", lw=2 * lw)  # the floor
    starts = np.r_[0.0, left + w]  # spring l runs from the right edge of block l-1 ...
    stops = np.r_[left, target]  # ... to the left edge of block l
    for a, b in zip(starts, stops):
        if springs:
            _spring(ax, a, b, h / 2, color=spring_color, height=0.04, lw=lw)
        else:
            ax.plot([a, b], [h / 2, h / 2], color=spring_color, lw=lw)
    for i in range(L):
        ax.add_patch(Rectangle((left[i], 0), w, h, color=color, zorder=3))
        if labels:
            ax.text(left[i] + w / 2, -0.08, f"$x_{{{i + 1}}}$", ha="center", va="top", fontsize=9)
    ax.plot([target], [h / 2], marker="|", ms=14 * lw, color="navy")
    if force:
        ax.add_patch(FancyArrowPatch((target, h / 2), (target + 0.08 * y, h / 2), arrowstyle="-|>",
                                     mutation_scale=10, color="navy"))
        ax.text(target + 0.09 * y, h / 2, "$F$", color="navy", va="center", fontsize=10)
    ax.set_xlim(-0.04 * y, target + 0.16 * y)
    ax.set_ylim(-0.2 if labels else -0.06, 0.36)
    ax.axis("off")
    return left + w / 2


def fig2_sketch(figsize=(7.5, 3.8)):
    """The DNN ↔ spring–block dictionary (a redrawing of the paper's Fig. 2).

    Top: the chain with elongations ``d_ℓ``, friction and the pull ``F``. Bottom: the network
    ``x_0 → W_1 → σ → x_1 → … → x_L → y`` whose layer ``ℓ`` sits under block ``ℓ``.
    """
    fig, (top, bot) = plt.subplots(2, 1, figsize=figsize, gridspec_kw=dict(height_ratios=[1.1, 1.2]))
    w, names = 0.06, ["x_1", "x_2", "x_3", "x_L"]  # four blocks stand for L
    cx = draw_chain(top, np.array([0.17, 0.31, 0.43, 0.62]), 1.0, block=w)  # block centres
    target = 1.0 + len(cx) * w
    mid = (cx[2] + cx[3]) / 2  # the elided blocks
    top.text(mid, 0.08, r"$\cdots$", ha="center", va="center", fontsize=13, zorder=5,
             bbox=dict(fc="white", ec="none", pad=4))
    for c, name in zip(cx, names):
        top.text(c, -0.07, f"${name}$", ha="center", va="top", fontsize=10)
    for a, b, name in [(0.0, cx[0] - w / 2, "d_1"), (cx[0] + w / 2, cx[1] - w / 2, "d_2")]:
        top.annotate("", (a, 0.27), (b, 0.27), arrowprops=dict(arrowstyle="<->", lw=0.8, color="0.3"))
        top.text((a + b) / 2, 0.29, f"${name}$", ha="center", va="bottom", fontsize=10)
    top.add_patch(FancyArrowPatch((cx[1] + 0.03, 0.2), (cx[1] - 0.06, 0.2), arrowstyle="-|>",
                                  mutation_scale=9, color="#b9770e"))
    top.text(cx[1] + 0.035, 0.2, r"friction $f_2$", color="#b9770e", ha="left", va="center", fontsize=9)

    bot.axis("off")
    bot.set_xlim(top.get_xlim())
    bot.set_ylim(-0.8, 0.3)
    row, nodes = 0.15, -0.35  # heights of the formula row and of the neuron columns
    xs = np.r_[0.0, cx, target]  # input, hidden layers, output
    sizes = [3, 4, 4, 4, 4, 1]
    for i, c in enumerate(cx):
        bot.text(c - 0.09, row, f"$W_{{{names[i][2:]}}}$", ha="center", va="center", fontsize=9,
                 bbox=dict(boxstyle="square,pad=0.25", fc="white", ec="k", lw=0.8))
        bot.text(c, row, r"$\sigma$", ha="center", va="center", fontsize=9, color="#b9770e",
                 bbox=dict(boxstyle="circle,pad=0.2", fc="white", ec="#b9770e", lw=0.8))
        bot.text(c, row - 0.1, f"${names[i]}$", ha="center", va="top", fontsize=10)
    bot.text(0.0, row, "$x$", ha="center", va="center", fontsize=11)
    bot.text(0.0, row - 0.1, "$x_0$", ha="center", va="top", fontsize=10)
    bot.text(target, row, "$y$", ha="center", va="center", fontsize=11, color="navy")
    bot.annotate("", (target - 0.04, row), (cx[-1] + 0.04, row), arrowprops=dict(arrowstyle="-|>", lw=0.8))
    bot.text((cx[2] + cx[3] - 0.09) / 2, row, r"$\cdots$", ha="center", va="center", fontsize=13)
    for i in range(len(xs) - 1):
        if i == 3:
            continue  # the elided middle layers
        ya = nodes - 0.1 * (np.arange(sizes[i]) - (sizes[i] - 1) / 2)
        yb = nodes - 0.1 * (np.arange(sizes[i + 1]) - (sizes[i + 1] - 1) / 2)
        for u in ya:
            for v in yb:
                bot.plot([xs[i], xs[i + 1]], [u, v], color="0.78", lw=0.6, zorder=1)
    for x0, n in zip(xs, sizes):
        ys = nodes - 0.1 * (np.arange(n) - (n - 1) / 2)
        bot.scatter(np.full(n, x0), ys, s=22, facecolor="white", edgecolor="k", zorder=3, lw=0.8)
    bot.text(mid, nodes, r"$\cdots$", ha="center", va="center", fontsize=13)
    bot.text(0.0, -0.75, "data", ha="center", fontsize=8, color="0.3")
    bot.text(target, -0.75, "label", ha="center", fontsize=8, color="0.3")
    bot.text((cx[0] + cx[-1]) / 2, -0.75, r"layer $\ell$ $\leftrightarrow$ block $\ell$;   "
             r"$D_{\ell-1}-D_\ell$ $\leftrightarrow$ elongation $d_\ell$", ha="center", fontsize=8, color="0.3")
    fig.tight_layout()
    return fig


def plot_loads(ax, loads, *, labels=None, theory=None, theory_label="closed form", colors=None, band=None,
               marker="o", **kwargs):
    """Load curves ``λ_0..λ_L`` against layer ``ℓ``; ``theory`` curves are drawn dashed on top.

    ``loads``: ``(n, L+1)`` (or one curve); ``band``: optional ``(n, L+1)`` half-widths shaded.
    """
    loads = np.atleast_2d(np.asarray(loads, float))
    ell = np.arange(loads.shape[-1])
    cmap = plt.get_cmap("viridis")
    colors = colors or [cmap(t) for t in np.linspace(0.05, 0.85, len(loads))]
    for i, load in enumerate(loads):
        ax.plot(ell, load, marker=marker, ms=3.5, color=colors[i], label=None if labels is None else labels[i], **kwargs)
        if band is not None:
            ax.fill_between(ell, load - band[i], load + band[i], color=colors[i], alpha=0.2, lw=0)
    if theory is not None:
        for i, t in enumerate(np.atleast_2d(theory)):
            ax.plot(ell, t, ls="--", color="k", lw=1, alpha=0.8, label=theory_label if i == 0 else None)
    ax.set_xlabel(r"layer / block $\ell$")
    ax.set_ylabel(r"load $\lambda_\ell = y - x_\ell$")
    ax.set_xticks(ell)
    if labels is not None or theory is not None:
        ax.legend(fontsize=8, frameon=False)
    return ax


def plot_trajectory(ax, times, trajectory, *, cmap="viridis", lw=1.0):
    """Load dynamics ``λ_ℓ(t)``, one line per ``ℓ`` (paper Fig. 4, right column).

    ``trajectory``: ``(T, L+1)`` loads over ``times`` (``(T,)``).
    """
    trajectory = np.asarray(trajectory, float)
    n = trajectory.shape[-1]
    cm = plt.get_cmap(cmap)
    for ell in range(n):
        ax.plot(times, trajectory[:, ell], color=cm(ell / max(1, n - 1)), lw=lw, label=rf"$\ell={ell}$")
    ax.set_xlabel("time $t$")
    ax.set_ylabel(r"$\lambda_\ell(t)$")
    return ax


def plot_effective_friction(ax, sigma, forces, mu_r, mu_l, *, noise="gaussian", truncate=2.0):
    """``μ̄(F, σ)`` against ``σ`` for a few frozen forces ``F``, with its two limits."""
    from . import theory

    sigma = np.asarray(sigma, float)
    cm = plt.get_cmap("plasma")
    for i, F in enumerate(forces):
        ax.plot(sigma, theory.effective_friction(F, sigma, mu_r, mu_l, noise, truncate),
                color=cm(i / max(1, len(forces) - 1) * 0.85), label=f"$F = {F:g}$")
    ax.axhline(mu_r, color="k", ls=":", lw=1)
    ax.axhline((mu_r - mu_l) / 2, color="k", ls="--", lw=1)
    ax.text(sigma[0], mu_r, r" $\mu_r$ ($\sigma\to0$)", va="bottom", fontsize=8)
    ax.text(sigma[0], (mu_r - mu_l) / 2, r" $(\mu_r-\mu_l)/2$ ($\sigma\to\infty$)", va="bottom", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(r"noise $\sigma$")
    ax.set_ylabel(r"effective friction $\bar\mu(F,\sigma)$")
    return ax


def plot_curvature_sweep(ax, x, curvature, *, err=None, label=None, prediction=None, **kwargs):
    """Curvature ``c`` against a swept parameter, with error bars and horizontal predictions.

    ``prediction``: ``{label: value}`` drawn as horizontal lines (e.g. Eq. 7 and Eq. 8).
    """
    ax.errorbar(x, curvature, yerr=err, marker="o", ms=3.5, capsize=2, label=label, **kwargs)
    for i, (name, value) in enumerate((prediction or {}).items()):
        ax.axhline(value, color="k", ls=[":", "--", "-."][i % 3], lw=1, label=name)
    ax.axhline(0, color="0.7", lw=0.6, zorder=0)
    ax.set_ylabel(r"curvature $c$  (< 0 concave, > 0 convex)")
    return ax


# ========================================================================================
# DNN — section added by the training / sweep modules
# ========================================================================================
# Everything here reads finished results (sweep.PanelResult / sweep.DynamicsResult); nothing trains.
def _panel_labels(result):
    rows = [f"{a:g}" for a in result.alphas]
    cols = [result.panel.tick(v) for v in result.values]
    return rows, cols


def fig1_panel(fig, result, *, split="train", kind="trace", cell=0.42):
    """One Fig. 1 panel into ``fig`` (a Figure or SubFigure): seed-averaged, min–max normalised
    load curves over grey test-accuracy shading (black = panel minimum, white = maximum)."""
    rows, cols = _panel_labels(result)
    curves, acc = result.mean_load(split, kind), result.mean_acc("test")
    axes = fig.subplots(len(rows), len(cols), squeeze=False, gridspec_kw=dict(wspace=0.05, hspace=0.05))
    phase_grid(axes, curves, acc, rows, cols, linewidth=1.3)
    p = result.panel
    lo, hi = np.nanmin(acc), np.nanmax(acc)
    fig.supxlabel(f"({p.letter}) {p.label}\naccuracy {lo:.1f}–{hi:.1f} % (paper {p.acc_range[0]}–{p.acc_range[1]} %)",
                  fontsize=9)
    fig.supylabel("negative slope α  (0 = ReLU, 1 = linear)", fontsize=8)
    return axes


def fig1_figure(results, *, split="train", kind="trace", ncols=2, cell=0.42, title=None):
    """Fig. 1 redrawn: one :func:`fig1_panel` per PanelResult, ``ncols`` panels per row."""
    n = len(results)
    nrows = -(-n // ncols)
    ncols = min(ncols, n)
    shape = results[0].mean_load(split, kind).shape
    fig = plt.figure(figsize=(ncols * (shape[1] * cell + 1.0), nrows * (shape[0] * cell + 1.1)), layout="constrained")
    subs = np.atleast_1d(fig.subfigures(nrows, ncols, squeeze=False)).ravel()
    for sub, res in zip(subs, results):
        fig1_panel(sub, res, split=split, kind=kind, cell=cell)
    for sub in subs[n:]:
        sub.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def curvature_maps(results, *, split="train", kind="trace", ncols=2):
    """Per panel, the relative curvature c/(D_0 − D_L) of the seed-averaged load curve as a
    red (convex, > 0) / blue (concave, < 0) heat map with the values written in."""
    n = len(results)
    nrows, ncols = -(-n // ncols), min(ncols, n)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 5.2, nrows * 3.1), squeeze=False, layout="constrained")
    for ax, res in zip(axes.ravel(), results):
        rows, cols = _panel_labels(res)
        value_grid(ax, res.curvature(split, kind), rows, cols, label="c / (D₀ − D_L)")
        ax.set_xlabel(f"({res.panel.letter}) {res.panel.label}", fontsize=9)
        ax.set_ylabel("α", fontsize=9)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig


def dynamics_figure(dyn, *, titles=None):
    """Fig. 4 (left column): D_ℓ over epochs for each setting (one line per layer, mean over
    seeds), and below it the final load curve with its curvature."""
    names = list(dyn.history)
    fig, axes = plt.subplots(2, len(names), figsize=(3.4 * len(names), 5.2), squeeze=False,
                             gridspec_kw=dict(height_ratios=(2.2, 1)), layout="constrained")
    for j, name in enumerate(names):
        h = np.nanmean(dyn.history[name], axis=0)  # (R, L+1)
        colors = plt.cm.viridis(np.linspace(0, 0.9, h.shape[1]))
        ax = axes[0, j]
        for layer in range(h.shape[1]):
            ax.plot(dyn.epochs, h[:, layer], color=colors[layer], lw=1.2, label=f"ℓ={layer}")
        s = dyn.settings[name]
        desc = ", ".join(f"{k.replace('batch_size', 'B')}={v:g}" for k, v in s.items())
        ax.set_title((titles or {}).get(name, f"({name}) {desc}"), fontsize=9)
        ax.set_xlabel("epoch")
        if j == 0:
            ax.set_ylabel(r"$D_\ell$ (train, eval mode)")
            ax.legend(fontsize=7, ncol=2)
        final = h[-1]
        c = float(separation.curvature(final).c)
        axes[1, j].plot(np.arange(len(final)), final, "o-", color=LOAD_RED, ms=3)
        axes[1, j].set_xlabel(f"layer ℓ   (c = {c:+.2f}, c/drop = {separation.relative_curvature(final):+.2f})", fontsize=8)
        if j == 0:
            axes[1, j].set_ylabel("final $D_\\ell$")
    return fig


# ========================================================================================
# Generalization (chapter 5) — reads springblock.generalization / springblock.control results
# ========================================================================================
def accuracy_curvature(ax, acc, rc, alphas, *, stats=None, title=None, tol=0.05):
    """Seed-mean test accuracy against relative curvature ĉ of every cell of a panel, one colour
    per α row (``acc``, ``rc``: (A, V)); |ĉ| ≤ ``tol`` ("linear") is shaded. With ``stats`` (from
    ``generalization.accuracy_vs_curvature``) the best cell gets a star, the most linear a ring."""
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(alphas)))
    ax.axvspan(-tol, tol, color="0.9", zorder=0, lw=0)
    for i, a in enumerate(alphas):
        ax.scatter(rc[i], acc[i], color=colors[i], s=16, label=f"α={a:g}", zorder=2)
    if stats is not None:
        b, m = tuple(stats["best"]), tuple(stats["most_linear"])
        ax.scatter(rc[b], acc[b], marker="*", s=140, facecolor="none", edgecolor="k", zorder=3, label="best")
        ax.scatter(rc[m], acc[m], marker="o", s=110, facecolor="none", edgecolor=LOAD_RED, lw=1.5, zorder=3,
                   label="most linear")
    ax.set_xlabel(r"$\hat c = c/|D_0-D_L|$  (< 0 concave, > 0 convex)", fontsize=8)
    ax.set_ylabel("test accuracy (%)", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def load_curves(ax, loads, *, labels=None, colors=None, normalise=False, ls="-", marker="o", ylabel=None,
                legend=True, **kwargs):
    """Load curves (n, L+1) against layer ℓ; NaN-padded rows (shorter networks) just end early.
    ``normalise``: min–max scale each curve (shapes only, as in Fig. 1)."""
    loads = np.atleast_2d(np.asarray(loads, float))
    colors = colors if colors is not None else plt.cm.viridis(np.linspace(0, 0.9, len(loads)))
    for i, d in enumerate(loads):
        if normalise:
            d = (d - np.nanmin(d)) / (np.nanmax(d) - np.nanmin(d))
        ax.plot(np.arange(len(d)), d, ls=ls, marker=marker, ms=3, color=colors[i],
                label=None if labels is None else labels[i], **kwargs)
    ax.set_xlabel(r"layer $\ell$", fontsize=8)
    ax.set_ylabel(ylabel or (r"$D_\ell$ (min–max normalised)" if normalise else r"$D_\ell$"), fontsize=8)
    if legend and labels is not None:
        ax.legend(fontsize=7, frameon=False)
    return ax


def fit_overlay(ax, epochs, observed, fitted, *, title=None):
    """Observed D_ℓ(epoch) (solid) and a fitted chain's a + b·λ_ℓ(t) (dashed), one colour per ℓ."""
    colors = plt.cm.viridis(np.linspace(0, 0.9, observed.shape[1]))
    for ell in range(observed.shape[1]):
        ax.plot(epochs, observed[:, ell], color=colors[ell], lw=1.2, label=rf"$\ell={ell}$")
        ax.plot(epochs, fitted[:, ell], color=colors[ell], lw=1.0, ls="--")
    ax.set_xlabel("epoch", fontsize=8)
    ax.set_ylabel(r"$D_\ell$ (solid) / chain fit (dashed)", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def controller_figure(res):
    """The load-guided controller (``control.compare_with_fixed``): its dropout rate and the
    measured ĉ over training per seed (left), and test accuracy on the scoring half for every
    fixed rate (mean ± s.e.m. over seeds) against the controller's (band) (right)."""
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(11, 3.2), layout="constrained")
    e = res["traj_epochs"]
    for j in range(res["ctrl_p"].shape[0]):
        a1.plot(e, res["ctrl_p"][j], color="C0", alpha=0.7, lw=1.2)
        a2.plot(e, res["ctrl_traj_rc"][j], color="C1", alpha=0.7, lw=1.2)
    a1.set(xlabel="epoch", ylabel="dropout rate set by the controller")
    a2.axhspan(-0.05, 0.05, color="0.9", lw=0)
    a2.set(xlabel="epoch", ylabel=r"measured $\hat c$ (train set)")
    a2.set_ylim(max(-1.0, np.nanmin(res["ctrl_traj_rc"]) - 0.05), max(0.2, np.nanmax(res["ctrl_traj_rc"]) + 0.05))
    acc, ctrl = res["fixed_acc"][..., 1], res["ctrl_acc"][:, 1]
    S = acc.shape[1]
    sem = acc.std(1, ddof=1) / np.sqrt(S) if S > 1 else np.zeros(len(acc))
    a3.errorbar(res["dropouts"], acc.mean(1), yerr=sem, marker="o", capsize=3, color="k", label="fixed rate")
    cm, cs = ctrl.mean(), (ctrl.std(ddof=1) / np.sqrt(S) if S > 1 else 0.0)
    a3.axhspan(cm - cs, cm + cs, color="C0", alpha=0.25, lw=0)
    a3.axhline(cm, color="C0", label="controller (mean ± s.e.m.)")
    a3.set(xlabel="fixed dropout rate", ylabel="test accuracy (%), scoring half")
    a3.legend(fontsize=7, frameon=False)
    for ax in (a1, a2, a3):
        ax.tick_params(labelsize=8)
        ax.xaxis.label.set_size(8)
        ax.yaxis.label.set_size(8)
    return fig
