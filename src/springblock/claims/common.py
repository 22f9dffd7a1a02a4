"""What the chapters' claims share: number formatting for their texts, the builders of
counterfactual curves, and the shape tolerances.

A claim's counterfactual rebuilds the claim's own inputs with what it states broken: curves bent
the other way (the same end points, contributions changing linearly to the relative curvature the
broken pattern needs), accuracies that favour the wrong cells, a closed form off by a step. The
registry's test evaluates each and expects "not reproduced", so a check that cannot fail fails CI.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import shape

TOL = shape.SHAPE_TOL
CHAIN_TOL = 0.01  # the Langevin chain's curvatures are an order smaller (k = 0.1, decaying noise)


def fmt(v, digits: int = 2) -> str:
    from ..plotting.style import number

    return number(v, digits, sign=True)


def fmt_list(values, digits: int = 3) -> str:
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


def grid_map(panel, f):
    """``f(a, j)`` on a panel's cell grid, with a ∈ [0, 1] (ReLU → linear) and j ∈ [0, 1] (most → least noise)."""
    A, V = len(panel.alphas), len(panel.values)
    a = np.linspace(0, 1, A)[:, None] if A > 1 else np.zeros((1, 1))
    j = np.linspace(0, 1, V)[None, :] if V > 1 else np.zeros((1, 1))
    return np.broadcast_to(f(a, j), (A, V)).astype(float)


def seed_rc(panel, split: str = "train", kind: str = "trace") -> np.ndarray:
    """Each seed's own relative curvature (A, V, S)."""
    return shape.relative_curvature(panel.load[f"{split}_{kind}"])


def quiet(V: int) -> slice:
    return slice(V // 2, V)  # the quieter half of the columns (the figure's right)


def noisy(V: int) -> slice:
    return slice(0, max(1, V // 2))  # the noisier half (the figure's left)


