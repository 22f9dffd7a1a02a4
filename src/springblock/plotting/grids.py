"""Phase diagrams as small multiples (the paper's Fig. 1 style) and tables of numbers as colour maps.

They know nothing about where the curves come from, so the networks' phase diagrams and the
spring–block diagrams are drawn by the same code.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors

from .. import shape, validate
from . import style


def phase_panel(fig, curves, shading=None, row_labels=None, col_labels=None, *, xlabel=None, ylabel=None,
                shading_label=None, vmin=None, vmax=None, cmap="gray", letter=None, normalise=True,
                linewidth=2.2, row_ends=None, gap=0.0, bar="bottom"):
    """One phase diagram into ``fig`` (a Figure or SubFigure), drawn like the paper's Fig. 1.

    ``curves`` (rows, cols, n): one load curve per cell, min–max normalised to fill its tile when
    ``normalise`` (only the shape counts); the tiles touch. ``shading`` (rows, cols): each tile's
    grey level, linear from ``vmin`` (black, default the minimum) to ``vmax`` (white), with a
    horizontal colour bar underneath labelled ``shading_label``; None gives a light grey.
    ``row_ends``: optional (top, bottom) words added to the first and last row labels; ``gap``: space
    between tiles as a fraction of a tile (0: they touch, as in the paper). ``bar="top"`` puts the
    colour bar above the tiles with its label beside it, for a figure whose x label is long enough
    to collide with a label under the bar. Returns the (rows, cols) array of axes.
    """
    style.use()
    location = validate.choice("bar", bar, ("bottom", "top"))
    curves = np.asarray(curves, dtype=float)
    rows, cols, n = curves.shape
    gs = fig.add_gridspec(rows, cols, wspace=gap, hspace=gap)
    axes = np.array([[fig.add_subplot(gs[i, j]) for j in range(cols)] for i in range(rows)])
    norm = None
    if shading is not None:
        shading = np.asarray(shading, dtype=float)
        norm = mcolors.Normalize(np.nanmin(shading) if vmin is None else vmin,
                                 np.nanmax(shading) if vmax is None else vmax)
    cm = plt.get_cmap(cmap)
    shown = shape.normalised(curves) if normalise else curves
    # column labels tilt together (all or none), so one long label does not lean alone
    tilt = 45 if col_labels is not None and any(len(str(c)) > 4 for c in col_labels) else 0
    for i in range(rows):
        for j in range(cols):
            ax = axes[i, j]
            c = shown[i, j]
            ax.set_facecolor(cm(norm(shading[i, j])) if norm is not None else "0.92")
            ax.plot(np.arange(n), np.where(np.isfinite(c), c, 0.5), color=style.LOAD_RED, lw=linewidth,
                    solid_capstyle="round")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if normalise:
                ax.set_xlim(-0.35, n - 0.65)
                ax.set_ylim(-0.12, 1.12)
            if row_labels is not None and j == 0:
                label = str(row_labels[i])
                if row_ends is not None and i in (0, rows - 1):
                    label += f"\n{row_ends[0] if i == 0 else row_ends[1]}"
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8.5, labelpad=3)
            if col_labels is not None and i == rows - 1:
                ax.set_xlabel(str(col_labels[j]), fontsize=8, labelpad=2, rotation=tilt)
    if xlabel or letter:
        fig.supxlabel(" ".join(t for t in (f"({letter})" if letter else "", xlabel or "") if t), fontsize=9.5)
    if ylabel:
        fig.supylabel(ylabel, fontsize=9)
    if norm is not None:
        # a bar attached to all tiles (not a grid slot): the layout engine then keeps the tiles evenly spaced
        bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cm), ax=axes.ravel().tolist(),
                           location=location,
                           shrink=0.5, aspect=25, pad=0.02)
        # three significant digits: a shading of small values (an energy of 0.004) must not read "0.0"
        bar.set_ticks([norm.vmin, norm.vmax], labels=[f"{norm.vmin:.3g}", f"{norm.vmax:.3g}"])
        bar.ax.tick_params(labelsize=8, length=2)
        bar.outline.set_visible(False)
        if shading_label:
            if location == "top":
                bar.ax.set_ylabel(shading_label, fontsize=8.5, rotation=0, ha="right", va="center", labelpad=6)
            else:
                bar.set_label(shading_label, fontsize=8.5, labelpad=1)
    return axes


def phase_figure(curves, shading=None, row_labels=None, col_labels=None, *, title=None, cell=0.62, **kwargs):
    """A new figure holding one :func:`phase_panel`; returns ``(fig, axes)``."""
    rows, cols = np.shape(curves)[:2]
    fig = plt.figure(figsize=(min(style.WIDTH, cols * cell + 1.6), rows * cell + 1.3), layout="constrained")
    fig.get_layout_engine().set(w_pad=0, h_pad=0)  # no padding around each tile: the tiles touch
    axes = phase_panel(fig, curves, shading, row_labels, col_labels, **kwargs)
    if title:
        fig.suptitle(title)
    return fig, axes


def value_grid(ax, values, row_labels=None, col_labels=None, *, cmap="RdBu_r", center=0.0, digits=2,
               label=None, fontsize=8, span=None, colorbar=True):
    """A ``(rows, cols)`` table of numbers as a colour map with the values written in the cells.

    The colour scale is symmetric about ``center`` (e.g. the curvature's 0 = linear), ±``span``
    (default: the largest deviation). Row 0 is drawn at the top, as in :func:`phase_panel`.
    ``colorbar=False`` leaves the colour bar to the caller (one bar shared by several grids).
    """
    style.use()
    values = np.asarray(values, float)
    span = span or (np.nanmax(np.abs(values - center)) or 1.0)
    im = ax.imshow(values, cmap=cmap, vmin=center - span, vmax=center + span, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, style.number(v, digits, sign=True), ha="center", va="center", fontsize=fontsize,
                    color="white" if abs(v - center) > 0.6 * span else "black")
    ax.set_xticks(range(values.shape[1]), col_labels if col_labels is not None else range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]), row_labels if row_labels is not None else range(values.shape[0]))
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if colorbar:
        cb = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        cb.outline.set_visible(False)
        if label:
            cb.set_label(label)
    return im
