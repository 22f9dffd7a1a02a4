"""The interactive chain explorer and its static stand-in for the HTML book.

:func:`explorer` returns an ipywidgets box: sliders for ``μ_r, μ_l, σ, k`` and menus for the
dynamics and noise redraw the chain and its load curve on every change (a few thousand steps,
a fraction of a second). The HTML book has no kernel, so controls there would be dead:
chapters show :func:`static_explorer` — the same picture precomputed over a grid of slider
positions — always, and the live widget only when :func:`in_kernel` says a kernel is listening.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import chain, plotting, theory


def in_kernel() -> bool:
    """True inside a running IPython kernel (Jupyter, papermill), False in plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _draw_cell(ax_chain, ax_load, result, idx, *, y=1.0, compact=False):
    """One explorer panel: the first chain of cell ``idx`` and the loads of all its realisations."""
    p = result.params
    L = p["L"]
    loads = result.load[idx]  # (R, L+1)
    k, mu_r, mu_l = (float(np.asarray(p[n])[idx]) for n in ("k", "mu_r", "mu_l"))
    if compact:
        plotting.draw_chain(ax_chain, result.x[idx][0], y, force=False, block=0.2 * y / (L + 1), lw=0.6, springs=False)
    else:
        plotting.draw_chain(ax_chain, result.x[idx][0], y)
    ell = np.arange(L + 1)
    for load in loads:
        ax_load.plot(ell, load, color="0.75", lw=0.6)
    ax_load.plot(ell, loads.mean(0), color=plotting.LOAD_RED, lw=2, marker="o", ms=3 if not compact else 0)
    ax_load.plot(ell, theory.load_from_positions(theory.equilibrium(L, k, y, mu_r), y), "k:", lw=1,
                 label="Eq. 7 (no noise)")
    ax_load.plot(ell, theory.large_noise_load(L, k, y, mu_r, mu_l), "k--", lw=1, label="Eq. 8 (large noise)")
    ax_load.set_ylim(-0.05 * y, 1.05 * y)
    c = round(float(theory.curvature(loads.mean(0))), 6) + 0.0  # + 0.0: no "-0.000" labels
    if compact:
        ax_load.set_xticks([])
        ax_load.set_yticks([])
        ax_load.text(0.97, 0.93, f"c = {c:+.3f}", transform=ax_load.transAxes, ha="right", va="top", fontsize=7)
    else:
        ax_load.set_xlabel(r"layer / block $\ell$")
        ax_load.set_ylabel(r"load $\lambda_\ell$")
        ax_load.set_title(f"curvature c = {c:+.3f}  ({'concave' if c < -0.01 else 'convex' if c > 0.01 else 'linear'})",
                          fontsize=10)
        ax_load.legend(fontsize=8, frameon=False, loc="upper right")
    return c


def explorer_figure(result, y=1.0):
    """The live explorer's picture for a single-cell :class:`~springblock.chain.ChainResult`."""
    fig, (a, b) = plt.subplots(2, 1, figsize=(6.5, 4.6), gridspec_kw=dict(height_ratios=[1, 2.6]))
    _draw_cell(a, b, result, (), y=y)
    fig.tight_layout()
    return fig


def explorer(L: int = 7, realisations: int = 10, steps: int = 4_000, seed: int = 0):
    """Sliders for ``μ_r, μ_l, σ, k`` (plus dynamics, noise, synchronous) redrawing chain and load.

    Returns the widget box; display it in a notebook. Each redraw simulates ``realisations``
    chains for ``steps`` steps at ``dt = 0.01`` (t = 40 by default: enough to see the shape).
    """
    import ipywidgets as W
    from IPython.display import display

    style = dict(description_width="70px")
    slider = lambda d, v, lo, hi, step: W.FloatSlider(value=v, min=lo, max=hi, step=step, description=d,  # noqa: E731
                                                      readout_format=".3f", continuous_update=False, style=style)
    controls = dict(
        mu_r=slider("μ_r", 0.02, 0.0, 0.06, 0.001),
        mu_l=slider("μ_l", 0.06, 0.0, 0.12, 0.001),
        sigma=slider("σ", 0.0, 0.0, 0.5, 0.001),
        k=slider("k", 1.0, 0.2, 3.0, 0.05),
        dynamics=W.Dropdown(options=list(chain.DYNAMICS), value="overdamped", description="dynamics", style=style),
        noise=W.Dropdown(options=list(chain.NOISES), value="gaussian", description="noise", style=style),
        synchronous=W.Checkbox(value=False, description="synchronous noise"),
    )

    def redraw(mu_r, mu_l, sigma, k, dynamics, noise, synchronous):
        dt = min(0.01, 0.5 * chain.max_stable_dt(L, k, dynamics))
        result = chain.simulate(L=L, k=k, mu_r=mu_r, mu_l=mu_l, sigma=sigma, dt=dt, steps=steps,
                                realisations=realisations, dynamics=dynamics, noise=noise,
                                synchronous=synchronous, seed=seed)
        fig = explorer_figure(result)
        display(fig)
        plt.close(fig)

    out = W.interactive_output(redraw, controls)
    c = list(controls.values())
    return W.VBox([W.HBox([W.VBox(c[:4]), W.VBox(c[4:])]), out])


def static_explorer(mu_r=(0.0, 0.01, 0.02, 0.035), sigma=(0.0, 0.01, 0.03, 0.1, 0.3), *, mu_l=0.06, k=1.0,
                    L: int = 7, realisations: int = 20, steps: int = 10_000, dynamics: str = "overdamped",
                    seed: int = 0, result=None):
    """The explorer precomputed over a grid of slider positions: rows ``μ_r``, columns ``σ``.

    Each cell shows the first chain (top) and the loads of all realisations with their mean
    (red), Eq. 7 (dotted) and Eq. 8 (dashed). Pass ``result`` (a grid-shaped ChainResult, e.g.
    from the cache) to skip the simulation. Returns the figure.
    """
    mu_r, sigma = np.asarray(mu_r, float), np.asarray(sigma, float)
    if result is None:
        result = chain.simulate(L=L, k=k, mu_r=mu_r[:, None], mu_l=mu_l, sigma=sigma, steps=steps,
                                realisations=realisations, dynamics=dynamics, seed=seed, dtype="float32")
    rows, cols = mu_r.size, sigma.size
    fig = plt.figure(figsize=(1.75 * cols + 0.8, 1.55 * rows + 0.8))
    outer = fig.add_gridspec(rows, cols, wspace=0.08, hspace=0.12, left=0.1, right=0.98, top=0.86, bottom=0.07)
    for i in range(rows):
        for j in range(cols):
            inner = outer[rows - 1 - i, j].subgridspec(2, 1, height_ratios=[1, 2.4], hspace=0.0)
            a, b = fig.add_subplot(inner[0]), fig.add_subplot(inner[1])
            _draw_cell(a, b, result, (i, j), compact=True)
            if j == 0:
                b.set_ylabel(f"μ_r = {mu_r[i]:g}", fontsize=8)
            if i == 0:
                b.set_xlabel(f"σ = {sigma[j]:g}", fontsize=8)
    fig.suptitle(f"explorer, precomputed: μ_l = {mu_l:g}, k = {k:g}, {dynamics}, {realisations} chains per cell\n"
                 "grey: chains; red: mean load; dotted: Eq. 7; dashed: Eq. 8", fontsize=9)
    return fig
