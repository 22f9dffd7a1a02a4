"""The shape of a load curve: the authors' curvature and the book's all-layer verdict (NumPy only).

A load curve is ``D_0, ..., D_L`` on the last axis (a network's data separation per layer, or a
spring chain's load ``λ_ℓ``); layer ℓ contributes ``d_ℓ = D_{ℓ-1} - D_ℓ`` (ℓ = 1..L). It is
*concave* when the contributions grow with depth (deep layers do the work), *linear* when they are
equal (equiseparation) and *convex* when they shrink.

Two summaries live here, each defined once:

* **The authors' curvature** ``c = d_1 - d_L = (D_0 - D_1) - (D_{L-1} - D_L)`` and the spread
  ``v = std(d)`` (their ``v_and_c``), and the book's scale-free ``ĉ = c / |D_0 - D_L|``
  (:func:`relative_curvature`), labelled by :func:`shape_of` (linear when ``|ĉ| <= SHAPE_TOL``).
  ``c`` compares only the first and the last contribution.
* **The all-layer verdict** (:func:`verdict`), which uses every contribution: their linear *trend*
  over depth and their *spread* about it. A curve is linear when its contributions are nearly equal
  (the spread of all of them, the authors' ``v``, is small); otherwise concave or convex when a trend
  in depth explains most of their variation, and *uneven* when it does not (a plateau, an S shape,
  a zig-zag). A curve that rises somewhere by more than ``RISE_TOL`` of its total drop is flagged
  non-monotone. The thresholds are matched to ``SHAPE_TOL``: for a curve whose contributions change
  linearly with depth, the verdict and ``shape_of(ĉ)`` agree exactly.

NaN in a curve propagates to its numbers and gives the label ``"nan"``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import validate

SHAPE_TOL = 0.05  # |ĉ| <= 0.05: the curve stays within about 5 % of its height from a straight line
RISE_TOL = 0.02  # a rise by more than 2 % of the total drop makes a curve non-monotone
TREND_R2 = 0.5  # a trend in depth must explain at least half the contributions' variance
SHAPES = ("concave", "linear", "convex", "uneven")


def _curves(load, min_points: int = 3) -> np.ndarray:
    d = validate.numbers("load", load)
    if d.ndim < 1 or d.shape[-1] < min_points:
        raise ValueError(f"load must have >= {min_points} points on its last axis; got shape {d.shape}")
    return d


def contributions(load) -> np.ndarray:
    """``d_ℓ = D_{ℓ-1} - D_ℓ`` for ℓ = 1..L, shape (..., L)."""
    d = _curves(load, 2)
    return d[..., :-1] - d[..., 1:]


def curvature(load) -> np.ndarray:
    """The authors' ``c = (D_0 - D_1) - (D_{L-1} - D_L)``: < 0 concave, > 0 convex."""
    d = _curves(load)
    return (d[..., 0] - d[..., 1]) - (d[..., -2] - d[..., -1])


def spread(load) -> np.ndarray:
    """The authors' ``v``: the population standard deviation of the contributions."""
    return contributions(load).std(-1)


def drop(load) -> np.ndarray:
    """The total drop ``|D_0 - D_L|``."""
    d = _curves(load, 2)
    return np.abs(d[..., 0] - d[..., -1])


def relative_curvature(load) -> np.ndarray:
    """``ĉ = c / |D_0 - D_L|``, the curvature in units of the total drop (scale- and offset-free).

    For a curve whose contributions change linearly, |ĉ| is about the largest gap between the
    curve and its chord in units of the drop at L = 7 (the gap is |ĉ|·L²/(8(L−1)) of it).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return curvature(load) / drop(load)


def shape_of(rc, tol: float = SHAPE_TOL) -> np.ndarray:
    """"concave" / "linear" / "convex" (or "nan") for relative curvatures ``rc``."""
    rc, tol = validate.numbers("rc", rc), validate.real("tol", tol, 0)
    lab = np.where(np.abs(rc) <= tol, "linear", np.where(rc < 0, "concave", "convex"))
    return np.where(np.isfinite(rc), lab, "nan")


def rise(load) -> np.ndarray:
    """The largest rise ``max(D_ℓ - D_{ℓ-1}, 0)`` in units of the total drop (0 = monotone)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.maximum(-contributions(load).min(-1), 0.0) / drop(load)


class Verdict(NamedTuple):
    """The all-layer shape summary of curves (...). Numbers are in units of the total drop."""

    shape: np.ndarray  # "concave" | "linear" | "convex" | "uneven" | "nan"
    trend: np.ndarray  # fitted d_1 − d_L of the contributions' linear trend / drop (= ĉ for a ramp)
    unevenness: np.ndarray  # std of all contributions / mean contribution (the authors' v, scale-free)
    explained: np.ndarray  # R² of the linear trend in depth (1 = the contributions form a ramp)
    monotone: np.ndarray  # False where the curve rises by more than RISE_TOL of its drop

    def label(self) -> np.ndarray:
        """``shape``, with " (non-monotone)" appended where the curve rises."""
        return np.where(self.monotone | (self.shape == "nan"), self.shape,
                        np.char.add(self.shape.astype(str), " (non-monotone)"))


def linear_band(L: int, tol: float = SHAPE_TOL) -> float:
    """The unevenness of contributions that change linearly with ``|ĉ| = tol`` (the linear band's edge)."""
    L, tol = validate.integer("L", L, 2), validate.real("tol", tol, 0)
    return tol * L * np.sqrt((L + 1) / (12 * (L - 1)))


def verdict(load, tol: float = SHAPE_TOL) -> Verdict:
    """Classify load curves (..., L+1), L >= 2, by all their contributions (see the module docstring)."""
    tol = validate.real("tol", tol, 0)
    d = contributions(_curves(load))
    L = d.shape[-1]
    mean = d.mean(-1, keepdims=True)
    depth = np.arange(L) - (L - 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (d * depth).sum(-1) / (depth**2).sum()
        total = np.abs(mean[..., 0]) * L  # = |D_0 − D_L|
        trend = -slope * (L - 1) / total
        unevenness = d.std(-1) / np.abs(mean[..., 0])
        var = ((d - mean) ** 2).sum(-1)
        explained = np.where(var > 0, slope**2 * (depth**2).sum() / var, 1.0)
        monotone = ~(rise(load) > RISE_TOL)
    linear = unevenness <= linear_band(L, tol)
    ramp = explained >= TREND_R2
    shape = np.where(linear, "linear", np.where(~ramp, "uneven", np.where(trend < 0, "concave", "convex")))
    # For contributions that change exactly linearly the verdict *is* the ĉ rule; taking it from ĉ itself
    # keeps the two identical at the band's edge, where two float expressions of one number can differ.
    exact_ramp = explained > 1 - 1e-9
    shape = np.where(exact_ramp & np.isfinite(trend), shape_of(relative_curvature(load), tol), shape)
    shape = np.where(np.isfinite(unevenness) & np.isfinite(trend), shape, "nan")
    return Verdict(np.asarray(shape), trend, unevenness, explained, np.asarray(monotone))


def normalised(load) -> np.ndarray:
    """Min–max normalise each curve: (D − min D) / (max D − min D); a flat curve gives NaN."""
    d = _curves(load, 2)
    lo, hi = np.nanmin(d, -1, keepdims=True), np.nanmax(d, -1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (d - lo) / (hi - lo)
