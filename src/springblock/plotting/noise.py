"""Figures of the chain under noise (chapter 4): effective friction, the noise sweep against Eqs. 7
and 8, bounded noise, synchronous noise, load dynamics, the Langevin variant and the μ_r = 0 chain.
Each takes the finished results of ``springblock.experiments`` and returns the figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import theory
from . import style
from .chain import plot_curvature_sweep, plot_effective_friction, plot_trajectory
from .curves import load_curves
from .grids import value_grid


def effective_friction_figure(sigma, forces, mu_r, mu_l):
    """``μ̄(F, σ)`` against ``σ`` for the frozen ``forces``: Gaussian noise (left) and uniform noise
    (right), sharing the vertical axis and one legend."""
    style.use()
    fig, axes = plt.subplots(1, 2, figsize=(style.WIDTH, 3.3), sharey=True)
    names = [r"Gaussian, $\epsilon=\sigma Z$", r"uniform, $\epsilon\sim U[-\sigma,\sigma]$"]
    for ax, noise, name in zip(axes, ["gaussian", "uniform"], names):
        plot_effective_friction(ax, sigma, forces, mu_r, mu_l, noise=noise)
        ax.set_title(f"{name}: $\\mu_r={mu_r:g}$, $\\mu_l={mu_l:g}$", fontsize=9.5)
    axes[1].set_ylabel("")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center")
    return fig


def _picked(sigmas, levels):
    """Indices of the first noise level, the last, and the first at or above each of ``levels``."""
    return sorted({0, len(sigmas) - 1, *(int(np.searchsorted(sigmas, s)) for s in levels)})


def _sigma_labels(sigmas, picked):
    return [f"$\\bar\\sigma={sigmas[i]:.3g}$" for i in picked]


def noise_sweep_figure(sweep, *, L, k, y, mu_r, mu_l):
    """The noise sweep (``chain_noise``) of the chain with ``μ_r < μ_l``: mean load curves at a few
    noise levels against Eqs. 7 and 8 (left), and the mean curvature against the noise (right)."""
    style.use()
    sigmas = sweep["sigmas"]
    show = _picked(sigmas, (0.01, 0.05))
    fig, (a, b) = plt.subplots(1, 2, figsize=(style.WIDTH, 3.4))
    load_curves(a, sweep["independent_load"][0, show], of="chain", labels=_sigma_labels(sigmas, show), legend=False)
    a.plot(np.arange(L + 1), theory.uniform_force_load(L, k, y, mu_r), "k:", lw=1.2, label="Eq. 7")
    a.plot(np.arange(L + 1), theory.large_noise_load(L, k, y, mu_r, mu_l), "k--", lw=1.2, label="Eq. 8")
    a.legend(fontsize=8, loc="lower left")
    a.set_title(f"mean load curves, $\\mu_r={mu_r:g} < \\mu_l={mu_l:g}$", fontsize=9.5)
    plot_curvature_sweep(b, sigmas[1:], sweep["independent_c"][0, 1:], err=sweep["independent_sem"][0, 1:],
                         label="simulated",
                         prediction={"Eq. 7 (no noise)": sweep["eq7_c"], "Eq. 8 (large noise)": sweep["eq8_c"]})
    b.set_xscale("log")
    b.set_xlabel(r"noise $\bar\sigma$ (force kick per step)")
    b.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 0.1))  # the empty corner: above Eq. 7's line
    return fig


def bounded_noise_figure(bounded, *, mu_r, mu_l):
    """Bounded against Gaussian noise (``chain_bounded``): the force the chain ends at against the
    bound with the closed form (left), and the mean force over time for the two smallest bounds (right)."""
    style.use()
    B = bounded["bounds"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(style.WIDTH, 3.4))
    B_axis = np.linspace(0, B.max(), 200)
    a.plot(B_axis, theory.freeze_friction(mu_r, mu_l, B_axis), "k-", lw=1, label="where the chain stops, closed form")
    a.errorbar(B, bounded["uniform_final"].mean(-1), yerr=bounded["uniform_final"].std(-1), fmt="o", color=style.LOAD_RED,
               label="uniform noise")
    a.errorbar(B, bounded["gaussian_final"].mean(-1), yerr=bounded["gaussian_final"].std(-1), fmt="s", mfc="none", color="C0",
               label="Gaussian, same sd")
    a.set(xlabel="noise bound $B$", ylabel=r"final force on the blocks $\bar\mu$")
    a.legend(fontsize=8, loc="upper right")
    t = bounded["times"][1:]
    for i, col in zip([0, 1], ["C1", "C2"]):  # colour: the bound; line style: the noise
        b.plot(t, bounded["uniform_force"][i, 1:], color=col, label=f"$B={B[i]:g}$")
        b.plot(t, bounded["gaussian_force"][i, 1:], color=col, ls="--")
        b.axhline(bounded["freeze"][i], color=col, lw=0.6, ls=":")
    b.axhline(bounded["zero_drift"], color="k", lw=0.8, ls="-.", label=r"$(\mu_r-\mu_l)/2$")
    b.plot([], [], "k-", lw=1, label="uniform")  # legend entries for the line styles alone
    b.plot([], [], "k--", lw=1, label="Gaussian, same sd")
    b.plot([], [], "k:", lw=0.8, label="freeze level")
    b.set(xscale="log", xlabel="time $t$", ylabel="mean force on the blocks")
    b.legend(fontsize=7.5, ncol=2, loc="lower left", bbox_to_anchor=(0.0, 0.07))
    return fig


def synchronous_noise_figure(sweep):
    """Mean curvature against the noise for independent and for synchronous (shared) kicks, from the
    same noise sweep as :func:`noise_sweep_figure`."""
    style.use()
    sigmas = sweep["sigmas"]
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    for kind in ("independent", "synchronous"):
        plot_curvature_sweep(ax, sigmas[1:], sweep[f"{kind}_c"][0, 1:], err=sweep[f"{kind}_sem"][0, 1:],
                             label=f"{kind} noise")
    ax.set(xscale="log", xlabel=r"noise $\bar\sigma$")
    ax.legend(fontsize=8)
    return fig


def noise_dynamics_figure(dyn):
    """Fig. 4 (right column): one chain per noise level (``chain_dynamics``), its loads over time,
    panels (b)–(d) titled with the noise and the final curvature, one legend."""
    style.use()
    fig, axes = plt.subplots(1, 3, figsize=(style.WIDTH, 2.9), sharey=True)
    for ax, s, traj, c_end, name in zip(axes, dyn["sigma"], dyn["trajectory"], dyn["curvature"], "bcd"):
        plot_trajectory(ax, dyn["times"], traj)
        ax.set_title(f"({name}) $\\bar\\sigma={s:g}$: $c={style.number(c_end, 3, sign=True)}$", fontsize=9.5)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center", fontsize=8)
    return fig


def langevin_loads_figure(lang, stored, *, L, k, y):
    """The Langevin chain (``chain_langevin``) in the book's convention (left) and the authors'
    (right): every realisation's load (grey), their mean (red), the linear curve for spring constant
    ``k`` and the authors' ``stored`` run (crosses)."""
    style.use()
    fig, axes = plt.subplots(1, 2, figsize=(style.WIDTH, 3.2), sharey=True)
    for ax, conv, name in zip(axes, ("langevin", "langevin_sign"), ("the book's convention", "the authors' convention")):
        loads = lang[f"s14_load_{conv}"]
        load_curves(ax, loads, of="chain", colors=["0.8"] * len(loads), marker=None, lw=0.7, legend=False)
        load_curves(ax, loads.mean(0), of="chain", labels=["mean"], colors=[style.LOAD_RED],
                    theory=theory.uniform_force_load(L, k, y, 0.0), theory_label="linear", legend=False)
        ax.plot(np.arange(1, L + 1), stored, "kx", label="authors' stored run")
        ax.set_title(name, fontsize=9.5)
    axes[1].set_ylabel("")
    axes[0].legend(fontsize=8, loc="lower left")
    return fig


def langevin_maps_figure(lang):
    """The Langevin phase diagram's mean curvature per cell (top, the book's convention) and the
    authors' convention minus the book's (bottom), in the flipped layout of Fig. 1."""
    style.use()
    rows = [f"{m:g}" for m in lang["mu_r"][::-1]]
    cols = [f"{e:g}" for e in lang["eps_grid"][::-1]]
    fig, axes = plt.subplots(2, 1, figsize=(style.WIDTH, 5.8), layout="constrained")  # stacked: room for the digits
    value_grid(axes[0], lang["grid_c_langevin"][::-1, ::-1], rows, cols, label="mean $c$", digits=3)
    axes[0].set(title="mean curvature (book's convention)", xlabel=r"noise $\epsilon$", ylabel=r"$\mu_r$")
    value_grid(axes[1], (lang["grid_c_langevin_sign"] - lang["grid_c_langevin"])[::-1, ::-1], rows, cols,
               label=r"$\Delta c$", digits=3)
    axes[1].set(title="authors' minus book's convention", xlabel=r"noise $\epsilon$", ylabel=r"$\mu_r$")
    return fig


def frictionless_chain_figure(sweep, *, L, k, y, mu_l):
    """Fig. 5(b): the ``μ_r = 0`` row of the noise sweep, its mean load curves against Eq. 8 (left)
    and its mean curvature against the noise, the noiseless chain drawn at the left edge (right)."""
    style.use()
    sigmas = sweep["sigmas"]
    c0, e0 = sweep["independent_c"][1], sweep["independent_sem"][1]
    fig, (a, b) = plt.subplots(1, 2, figsize=(style.WIDTH, 3.3))
    pick = sorted({0, 1, *_picked(sigmas, (0.02,))})
    load_curves(a, sweep["independent_load"][1, pick], of="chain", labels=_sigma_labels(sigmas, pick),
                theory=theory.large_noise_load(L, k, y, 0.0, mu_l), theory_label="Eq. 8")
    a.set_title(rf"$\mu_r=0$, $\mu_l={mu_l:g}$", fontsize=9.5)
    plot_curvature_sweep(b, sigmas[1:], c0[1:], err=e0[1:], label=r"$\mu_r=0$", prediction={"Eq. 8": sweep["eq8_c_free"]})
    b.plot([sigmas[1] / 2], [c0[0]], "D", color="k", label=r"$\bar\sigma=0$ (drawn at left)")  # a log axis has no 0
    b.set(xscale="log", xlabel=r"noise $\bar\sigma$")
    b.legend(fontsize=8, loc="center right")
    return fig
