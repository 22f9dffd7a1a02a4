"""Spring–block figures (chapters 3–4): the chain itself, the Fig. 2 dictionary, load curves,
load dynamics, effective friction. Nothing here computes more than a closed form."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, Rectangle

from .. import theory
from . import style
from .curves import load_curves


def _spring(ax, a, b, y0, *, coils=6, height=0.04, color="k", lw=1.0):
    """A zig-zag spring from x = a to x = b at height y0 (straight lead-ins of 10 %)."""
    if b - a <= 1e-9:
        return
    coils = int(np.clip(round((b - a) / 0.015), 1, coils))  # short springs get fewer coils, not a blot
    lead = 0.1 * (b - a)
    xs = np.linspace(a + lead, b - lead, 2 * coils + 1)
    ys = y0 + height * np.r_[0, np.tile([1, -1], coils)[: 2 * coils - 1], 0]
    ax.plot(np.r_[a, xs, b], np.r_[y0, ys, y0], color=color, lw=lw, solid_joinstyle="miter")


def draw_chain(ax, x, y=1.0, *, block=None, force=True, labels=False, color="0.45", spring_color="k", lw=1.0,
               springs=True):
    """Draw the chain: wall, springs, blocks at ``x_1..x_L``, the target ``y`` (the paper's Fig. 2, top).

    The model's blocks are points; here each gets a width ``block`` (default ``0.3·y/(L+1)``) and the
    picture is stretched by the widths, so every spring is drawn with its true length ``d_ℓ`` and
    blocks stuck at the wall sit side by side, separated by a thin gap. ``labels``: write ``x_ℓ``
    under every block (alternating in height where blocks touch, so labels never overlap).
    ``springs=False`` draws plain lines (thumbnails). Returns the block centres drawn.
    """
    x = np.asarray(x, float).ravel()
    L = x.size
    w = block if block is not None else 0.3 * y / (L + 1)
    h = 0.16
    left = x + w * np.arange(L)  # left edge of block l = x_l + (l-1)·w
    target = y + L * w
    ax.plot([0, 0], [-0.02, 0.32], color="k", lw=4 * lw, solid_capstyle="butt")  # the wall (x_0)
    ax.plot([0, target * 1.1], [-0.02, -0.02], color="k", lw=2 * lw)  # the floor
    starts, stops = np.r_[0.0, left + w], np.r_[left, target]  # spring l: block l-1's right edge to block l's left
    for a, b in zip(starts, stops):
        if springs:
            _spring(ax, a, b, h / 2, color=spring_color, lw=lw)
        else:
            ax.plot([a, b], [h / 2, h / 2], color=spring_color, lw=lw)
    touching = np.r_[False, np.diff(left) < 1.6 * w]
    for i in range(L):
        ax.add_patch(Rectangle((left[i], 0), w, h, facecolor=color, edgecolor="white", lw=0.8, zorder=3))
        if labels:
            low = touching[i] and i % 2 == 1
            ax.text(left[i] + w / 2, -0.07 - 0.11 * low, f"$x_{{{i + 1}}}$", ha="center", va="top", fontsize=9)
    ax.plot([target], [h / 2], marker="|", ms=14 * lw, color=style.TARGET)
    if force:
        ax.add_patch(FancyArrowPatch((target, h / 2), (target + 0.08 * y, h / 2), arrowstyle="-|>",
                                     mutation_scale=10, color=style.TARGET))
        ax.text(target + 0.09 * y, h / 2, "$F$", color=style.TARGET, va="center", fontsize=10)
    ax.set_xlim(-0.04 * y, target + 0.16 * y)
    ax.set_ylim(-0.32 if labels else -0.06, 0.36)
    ax.axis("off")
    return left + w / 2


def _arrow(ax, a, b, y, **kw):
    ax.annotate("", (b, y), (a, y), arrowprops=dict(arrowstyle="-|>", lw=0.9, color=kw.get("color", "k"),
                                                     shrinkA=0, shrinkB=0))


def fig2_sketch():
    """The DNN ↔ spring–block dictionary (a redrawing of the paper's Fig. 2).

    Top: the chain with elongations ``d_ℓ``, friction and the pull ``F``. Middle: the network
    ``x → W_1 → σ → W_2 → σ → … → σ → y`` with an arrow for every step, layer ℓ's features ``x_ℓ``
    under the ℓ-th activation, which sits under block ℓ. Bottom: the neurons.
    """
    style.use()
    fig, (top, mid, bot) = plt.subplots(3, 1, figsize=(style.WIDTH, 4.4), gridspec_kw=dict(height_ratios=[1.2, 0.55, 0.8]),
                                        layout="constrained")
    w, names = 0.06, ["x_1", "x_2", "x_3", "x_L"]  # four blocks stand for L
    cx = draw_chain(top, np.array([0.17, 0.31, 0.43, 0.62]), 1.0, block=w)  # block centres
    target = 1.0 + len(cx) * w
    gap = (cx[2] + cx[3]) / 2  # where the elided blocks are
    top.text(gap, 0.08, r"$\cdots$", ha="center", va="center", fontsize=13, zorder=5, bbox=dict(fc="white", ec="none", pad=4))
    for c, name in zip(cx, names):
        top.text(c, -0.07, f"${name}$", ha="center", va="top", fontsize=10)
    for a, b, name in [(0.0, cx[0] - w / 2, "d_1"), (cx[0] + w / 2, cx[1] - w / 2, "d_2")]:
        top.annotate("", (a, 0.27), (b, 0.27), arrowprops=dict(arrowstyle="<->", lw=0.8, color="0.3"))
        top.text((a + b) / 2, 0.29, f"${name}$", ha="center", va="bottom", fontsize=10)
    top.add_patch(FancyArrowPatch((cx[1] + 0.03, 0.2), (cx[1] - 0.06, 0.2), arrowstyle="-|>", mutation_scale=9,
                                  color=style.ACCENT))
    top.text(cx[1] + 0.035, 0.2, r"friction $f_2$", color=style.ACCENT, ha="left", va="center", fontsize=9)

    for ax in (mid, bot):
        ax.axis("off")
        ax.set_xlim(top.get_xlim())
    mid.set_ylim(-0.9, 0.5)
    xs = np.r_[0.0, cx, target]  # input, hidden layers, output
    boxes = [("$x$", 0.0, None)]
    for i, c in enumerate(cx):
        if i < 2:
            boxes.append((f"$W_{{{i + 1}}}$", c - 0.075, "square"))
        boxes.append((r"$\sigma$", c, "circle"))
    boxes.append(("$y$", target, None))
    for label, xpos, kind in boxes:
        kw = dict(ha="center", va="center", fontsize=10 if kind != "circle" else 9)
        if kind == "square":
            kw["bbox"] = dict(boxstyle="square,pad=0.25", fc="white", ec="k", lw=0.8)
        elif kind == "circle":
            kw.update(color=style.ACCENT, bbox=dict(boxstyle="circle,pad=0.2", fc="white", ec=style.ACCENT, lw=0.8))
        else:
            kw["color"] = style.TARGET if label == "$y$" else "k"
        mid.text(xpos, 0.15, label, **kw)
    stops = [p for _, p, _ in boxes]
    for a, b in zip(stops, stops[1:]):
        if a < gap < b:  # the elided middle layers
            _arrow(mid, a + 0.028, gap - 0.03, 0.15)
            mid.text(gap, 0.15, r"$\cdots$", ha="center", va="center", fontsize=13)
            _arrow(mid, gap + 0.03, b - 0.028, 0.15)
        else:
            _arrow(mid, a + 0.028, b - 0.028, 0.15)
    mid.text((cx[1] + cx[2]) / 2 + 0.01, 0.3, "activation", color=style.ACCENT, ha="center", va="bottom", fontsize=8.5)
    for c, name in zip(np.r_[0.0, cx], ["x_0"] + names):
        mid.text(c, -0.2, f"${name}$", ha="center", va="top", fontsize=10)

    bot.set_ylim(-0.75, 0.15)
    sizes = [3, 4, 4, 4, 4, 1]
    for i in range(len(xs) - 1):
        if xs[i] < gap < xs[i + 1]:
            continue  # the elided middle layers
        ya = -0.3 - 0.1 * (np.arange(sizes[i]) - (sizes[i] - 1) / 2)
        yb = -0.3 - 0.1 * (np.arange(sizes[i + 1]) - (sizes[i + 1] - 1) / 2)
        for u in ya:
            for v in yb:
                bot.plot([xs[i], xs[i + 1]], [u, v], color="0.78", lw=0.6, zorder=1)
    for x0, n in zip(xs, sizes):
        bot.scatter(np.full(n, x0), -0.3 - 0.1 * (np.arange(n) - (n - 1) / 2), s=22, facecolor="white", edgecolor="k",
                    zorder=3, lw=0.8)
    bot.text(gap, -0.3, r"$\cdots$", ha="center", va="center", fontsize=13)
    bot.text((cx[0] + cx[-1]) / 2, -0.72, r"layer $\ell$ $\leftrightarrow$ block $\ell$;   "
             r"$D_{\ell-1}-D_\ell$ $\leftrightarrow$ elongation $d_\ell$", ha="center", fontsize=8.5, color="0.3")
    return fig


def plot_trajectory(ax, times, trajectory, *, cmap="viridis", lw=1.0):
    """Load dynamics ``λ_ℓ(t)``, one line per ``ℓ`` (``trajectory``: ``(T, L+1)`` over ``times``)."""
    trajectory = np.asarray(trajectory, float)
    n = trajectory.shape[-1]
    cm = plt.get_cmap(cmap)
    for ell in range(n):
        ax.plot(times, trajectory[:, ell], color=cm(ell / max(1, n - 1)), lw=lw, label=rf"$\ell={ell}$")
    ax.set_xlabel("time $t$")
    ax.set_ylabel(r"$\lambda_\ell(t)$")
    return ax


def fig2_simulation(sim):
    """Fig. 2's simulation panel: λ_ℓ(t) of one chain (thin) and the mean over chains (bold), and the
    final mean load against the linear (equiseparated) curve."""
    style.use()
    fig, (a, b) = plt.subplots(1, 2, figsize=(style.WIDTH, 2.9), gridspec_kw=dict(width_ratios=[1.6, 1]),
                               layout="constrained")
    plot_trajectory(a, sim["times"], sim["trajectory"], lw=0.6)
    cm = plt.get_cmap("viridis")
    n = sim["mean_trajectory"].shape[-1]
    for ell in range(n):
        a.plot(sim["times"], sim["mean_trajectory"][:, ell], color=cm(ell / max(1, n - 1)), lw=2)
    a.set_title("one chain (thin) and the mean (bold)")
    load_curves(b, sim["mean_load"], of="chain", labels=["simulated, mean"], colors=[style.LOAD_RED], theory=sim["linear"],
                theory_label="linear, (L+1−ℓ)/(L+1)")
    b.set_title("final load")
    return fig


def plot_effective_friction(ax, sigma, forces, mu_r, mu_l, *, noise="gaussian", truncate=2.0):
    """``μ̄(F, σ)`` against ``σ`` for a few frozen forces ``F``, with its two limits."""
    sigma = np.asarray(sigma, float)
    cm = plt.get_cmap("plasma")
    for i, F in enumerate(forces):
        ax.plot(sigma, theory.effective_friction(F, sigma, mu_r, mu_l, noise, truncate),
                color=cm(i / max(1, len(forces) - 1) * 0.85), label=f"$F = {F:g}$")
    ax.axhline(mu_r, color="k", ls=":", lw=1)
    ax.axhline((mu_r - mu_l) / 2, color="k", ls="--", lw=1)
    ax.text(sigma[0], mu_r, r" $\mu_r$ ($\sigma\to0$)", va="bottom", fontsize=8.5)
    ax.text(sigma[0], (mu_r - mu_l) / 2, r" $(\mu_r-\mu_l)/2$ ($\sigma\to\infty$)", va="bottom", fontsize=8.5)
    ax.set_xscale("log")
    ax.set_xlabel(r"noise $\sigma$")
    ax.set_ylabel(r"effective friction $\bar\mu(F,\sigma)$")
    return ax


def plot_curvature_sweep(ax, x, curvature, *, err=None, label=None, prediction=None, **kwargs):
    """Curvature ``c`` against a swept parameter, with error bars and horizontal predictions
    (``prediction``: ``{label: value}``, e.g. Eq. 7 and Eq. 8)."""
    ax.errorbar(x, curvature, yerr=err, marker="o", ms=3.5, capsize=2, label=label, **kwargs)
    for i, (name, value) in enumerate((prediction or {}).items()):
        ax.axhline(value, color="k", ls=[":", "--", "-."][i % 3], lw=1, label=name)
    ax.axhline(0, color="0.7", lw=0.6, zorder=0)
    ax.set_ylabel(r"curvature $c$  (< 0 concave, > 0 convex)")
    return ax


def _phase_labels(result):
    """Row and column labels of a chain phase grid drawn in Fig. 1's layout (flipped: μ_r grows
    upwards, noise grows to the left)."""
    return [f"{m:g}" for m in result["mu_r"][::-1]], [f"{s:g}" for s in result["sigma"][::-1]]


def chain_phase_figure(result, title=None):
    """Fig. 3: a chain phase grid (``chain_grids.phase``) as small multiples in Fig. 1's layout —
    each tile the mean load, min–max normalised, over the excess elastic energy of the mean curve
    above equiseparation (white: least). Returns the figure."""
    from .grids import phase_figure

    rows, cols = _phase_labels(result)
    fig, _ = phase_figure(result["mean_load"][::-1, ::-1], result["excess"][::-1, ::-1], rows, cols,
                          xlabel=r"noise $\bar\sigma$ (more noise to the left)", ylabel=r"friction $\mu_r$",
                          shading_label="excess elastic energy", cmap="gray_r", title=title,
                          bar="top")  # under the tiles, its label met the long x label
    return fig


def chain_curvature_grid(result):
    """The mean curvature c of every cell of a chain phase grid, in :func:`chain_phase_figure`'s
    layout, as a table of numbers on a diverging colour map. Returns the figure."""
    from .grids import value_grid

    rows, cols = _phase_labels(result)
    fig, ax = plt.subplots(figsize=(6.2, 3.0))
    value_grid(ax, result["c"][::-1, ::-1], rows, cols, label="mean curvature $c$", digits=3)
    ax.set(xlabel=r"noise $\bar\sigma$", ylabel=r"$\mu_r$")
    return fig
