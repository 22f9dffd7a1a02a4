"""The interactive chain explorer (ipywidgets, for a running kernel) and its static small multiples.

:func:`explorer` returns an ipywidgets box: sliders for ``μ_r, μ_l, σ, k`` and menus for the
dynamics and noise redraw the chain and its load curve on every change (a few thousand steps, a
fraction of a second). The HTML book has no kernel, so the book shows, besides it, the same picture
precomputed over a grid of slider positions (:func:`static_explorer`) and a plotly slider over the
same grid (:func:`springblock.plotting.interactive.explorer`). No torch here.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import chain, plotting, shape, theory
from .plotting import style


def in_kernel() -> bool:
    """True inside a kernel that a Jupyter front end started (JupyterLab, Notebook: someone can move
    the sliders), False in plain Python and in headless execution — papermill and the book build,
    whose clients have nobody to move them and were seen to hang for an hour waiting on the widget's
    first drawing (2 of 4 builds on this machine). A front end's kernels carry ``JPY_SESSION_NAME``
    (set by jupyter_server for every notebook session); headless clients do not set it."""
    import os

    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None and bool(os.environ.get("JPY_SESSION_NAME"))


def _draw(ax_chain, ax_load, x0, loads, eq7, eq8, *, compact=False):
    """One explorer panel: a chain's positions ``x0`` and the loads (R, L+1) of all realisations."""
    L = len(x0)
    if compact:
        plotting.draw_chain(ax_chain, x0, 1.0, force=False, block=0.2 / (L + 1), lw=0.6, springs=False)
    else:
        plotting.draw_chain(ax_chain, x0, 1.0)
    ell = np.arange(L + 1)
    for load in loads:
        ax_load.plot(ell, load, color="0.75", lw=0.6)
    mean = loads.mean(0)
    ax_load.plot(ell, mean, color=style.LOAD_RED, lw=2, marker="o", ms=0 if compact else 3)
    ax_load.plot(ell, eq7, "k:", lw=1, label="Eq. 7 (no noise)")
    ax_load.plot(ell, eq8, "k--", lw=1, label="Eq. 8 (large noise)")
    ax_load.set_ylim(-0.05, 1.05)
    c = float(theory.curvature(mean))
    if compact:
        ax_load.set_xticks([])
        ax_load.set_yticks([])
        ax_load.text(0.97, 0.93, f"c = {style.number(c, 3, sign=True)}", transform=ax_load.transAxes, ha="right",
                     va="top", fontsize=7.5)
    else:
        ax_load.set_xlabel(r"layer / block $\ell$")
        ax_load.set_ylabel(r"load $\lambda_\ell$")
        ax_load.set_title(f"curvature c = {style.number(c, 3, sign=True)} "
                          f"({shape.shape_of(shape.relative_curvature(mean))})", fontsize=10)
        ax_load.legend(loc="upper right")
    return c


def explorer(L: int = 7, realisations: int = 10, steps: int = 4_000, seed: int = 0):
    """Sliders for ``μ_r, μ_l, σ, k`` (plus dynamics, noise, synchronous) redrawing chain and load.

    Returns the widget box; display it in a notebook. Each redraw simulates ``realisations``
    chains for ``steps`` steps (t = 40 at dt = 0.01: enough to see the shape).
    """
    import ipywidgets as W
    from IPython.display import display

    box = dict(description_width="70px")
    slider = lambda d, v, lo, hi, step: W.FloatSlider(value=v, min=lo, max=hi, step=step, description=d,
                                                      readout_format=".3f", continuous_update=False, style=box)
    controls = dict(mu_r=slider("μ_r", 0.02, 0.0, 0.06, 0.001), mu_l=slider("μ_l", 0.06, 0.0, 0.12, 0.001),
                    sigma=slider("σ", 0.0, 0.0, 0.5, 0.001), k=slider("k", 1.0, 0.2, 3.0, 0.05),
                    dynamics=W.Dropdown(options=list(chain.DYNAMICS), value="overdamped", description="dynamics", style=box),
                    noise=W.Dropdown(options=list(chain.NOISES), value="gaussian", description="noise", style=box),
                    synchronous=W.Checkbox(value=False, description="synchronous noise"))

    def redraw(mu_r, mu_l, sigma, k, dynamics, noise, synchronous):
        dt = min(0.01, 0.5 * chain.max_stable_dt(L, k, dynamics))
        r = chain.simulate(L=L, k=k, mu_r=mu_r, mu_l=mu_l, sigma=sigma, dt=dt, steps=steps, realisations=realisations,
                           dynamics=dynamics, noise=noise, synchronous=synchronous, seed=seed)
        fig, (a, b) = plt.subplots(2, 1, figsize=(6.5, 4.6), gridspec_kw=dict(height_ratios=[1, 2.6]), layout="constrained")
        _draw(a, b, r.x[0], r.load, theory.load_from_positions(theory.equilibrium(L, k, 1.0, mu_r), 1.0),
              theory.large_noise_load(L, k, 1.0, mu_r, mu_l))
        display(fig)
        plt.close(fig)

    out = W.interactive_output(redraw, controls)
    c = list(controls.values())
    return W.VBox([W.HBox([W.VBox(c[:4]), W.VBox(c[4:])]), out])


def static_explorer(grid: dict):
    """The explorer precomputed over a grid of slider positions (``grid`` from
    :func:`springblock.experiments.chain_grids.explorer_grid`): rows μ_r (growing upwards), columns σ.
    Each cell shows the first chain and the loads of all realisations with their mean (red), Eq. 7
    (dotted) and Eq. 8 (dashed). Returns the figure."""
    style.use()
    mu_r, sigma = grid["mu_r"], grid["sigma"]
    rows, cols = len(mu_r), len(sigma)
    fig = plt.figure(figsize=(min(style.WIDTH, 1.45 * cols + 0.8), 1.35 * rows + 0.9), layout="constrained")
    outer = fig.add_gridspec(rows, cols, wspace=0.04, hspace=0.06)
    for i in range(rows):
        for j in range(cols):
            inner = outer[rows - 1 - i, j].subgridspec(2, 1, height_ratios=[1, 2.4], hspace=0.0)
            a, b = fig.add_subplot(inner[0]), fig.add_subplot(inner[1])
            _draw(a, b, grid["x"][i, j, 0], grid["load"][i, j], grid["eq7"][i], grid["eq8"][i], compact=True)
            if j == 0:
                b.set_ylabel(f"μ_r = {mu_r[i]:g}", fontsize=8.5)
            if i == 0:
                b.set_xlabel(f"σ = {sigma[j]:g}", fontsize=8.5)
    R = grid["load"].shape[-2]
    fig.suptitle(f"μ_l = {grid['mu_l']:g}, k = {grid['k']:g}, overdamped, {R} chains per cell — grey: chains; red: mean; "
                 "dotted: Eq. 7; dashed: Eq. 8", fontsize=9)
    return fig
