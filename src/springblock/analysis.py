"""Statistics on finished results (NumPy and ``scipy.stats`` only): correlations with bootstrap
intervals, standard errors, and the accuracy-against-shape analysis of a phase diagram."""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from . import shape, validate


def sem(values, axis=-1) -> np.ndarray:
    """Standard error of the mean along ``axis`` (NaN with fewer than two values)."""
    v = np.asarray(values, dtype=float)
    n = np.sum(np.isfinite(v), axis=axis)
    if np.all(n < 2):
        return np.full(np.shape(n), np.nan)[()] if np.ndim(n) else np.float64(np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # fewer than two values somewhere: NaN there
        out = np.nanstd(v, axis=axis, ddof=1) / np.sqrt(n)
    return np.where(n >= 2, out, np.nan)


def correlation(a, b) -> tuple[float, float]:
    """Pearson and Spearman correlation of the finite pairs (NaN if < 3 pairs or no spread)."""
    a, b = np.ravel(validate.numbers("a", a)), np.ravel(validate.numbers("b", b))
    if a.size != b.size:
        raise ValueError(f"a and b must hold as many values, got {a.size} and {b.size}")
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return math.nan, math.nan
    return float(stats.pearsonr(a[ok], b[ok]).statistic), float(stats.spearmanr(a[ok], b[ok]).statistic)


def bootstrap_interval(statistic, n_items: int, n_boot: int, seed: int = 0, level: float = 0.95
                       ) -> tuple[float, float]:
    """Percentile interval of ``statistic(indices)`` over ``n_boot`` resamples of ``n_items`` items
    (``scipy.stats.bootstrap``); (NaN, NaN) when ``n_boot`` is 0 or the statistic is undefined."""
    n_boot = validate.integer("n_boot", n_boot, 0)
    if n_boot == 0 or n_items < 2:
        return math.nan, math.nan
    with warnings.catch_warnings():  # resamples without spread give NaN statistics; the interval says so
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.bootstrap((np.arange(n_items),), lambda idx: statistic(np.asarray(idx, int)), vectorized=False,
                              n_resamples=n_boot, confidence_level=level, method="percentile",
                              random_state=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    return float(lo), float(hi)


def accuracy_vs_shape(acc, load, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """Does the most linear load curve have the best test accuracy? (one phase diagram)

    ``acc`` (A, V, S) test accuracies and ``load`` (A, V, S, L+1) load curves of A×V cells and S
    seeds. Cells are summarised like the figure: seed-mean accuracy and the relative curvature ĉ of
    the seed-mean curve. Returned:

    * ``pearson_abs``, ``spearman_abs``: correlation of accuracy with |ĉ| over cells (the claim
      predicts < 0: the straighter, the better), each with a 95 % bootstrap interval
      (``*_lo``/``*_hi``) that resamples seeds when S ≥ 2 and cells otherwise (``ci_over``);
      ``pearson_signed``: with ĉ itself.
    * ``best`` / ``most_linear``: (row, column) of the most accurate / smallest-|ĉ| cell, their
      accuracies and ĉ; ``linear_rank``: rank of the most linear cell's accuracy (1 = best);
      ``linear_wins``: whether it is the best cell.
    * ``acc_mean`` (A, V), ``rc`` (A, V): the cell summaries.
    """
    acc, load = np.asarray(acc, dtype=float), np.asarray(load, dtype=float)
    if acc.ndim != 3 or load.shape[:3] != acc.shape:
        raise ValueError(f"acc must be (A, V, S) and load (A, V, S, L+1) with the same A, V, S; "
                         f"got {acc.shape} and {load.shape}")
    A, V, S = acc.shape

    def cells(idx):
        return np.nanmean(acc[:, :, idx], 2), shape.relative_curvature(np.nanmean(load[:, :, idx], 2))

    am, rc = cells(np.arange(S))
    out = {"acc_mean": am, "rc": rc, "ci_over": "seeds" if S >= 2 else "cells"}
    (out["pearson_abs"], out["spearman_abs"]), (out["pearson_signed"], _) = correlation(am, np.abs(rc)), correlation(am, rc)
    ok = (np.isfinite(am) & np.isfinite(rc)).ravel()
    for j, name in enumerate(("pearson_abs", "spearman_abs")):
        if S >= 2:  # resample seeds: each resample gives new cell means and curvatures
            stat = lambda idx, j=j: correlation(*(lambda m, r: (m, np.abs(r)))(*cells(idx)))[j]
            n = S
        else:  # resample cells (pairs)
            a_ok, r_ok = am.ravel()[ok], np.abs(rc.ravel()[ok])
            stat = lambda idx, j=j: correlation(a_ok[idx], r_ok[idx])[j]
            n = int(ok.sum())
        out[f"{name}_lo"], out[f"{name}_hi"] = bootstrap_interval(stat, n, n_boot, seed)
    flat = np.where(np.isfinite(am) & np.isfinite(rc), am, -np.inf).ravel()
    best = int(np.argmax(flat))
    lin = int(np.nanargmin(np.where(np.isfinite(am), np.abs(rc), np.nan).ravel()))
    out.update(best=tuple(int(v) for v in np.unravel_index(best, (A, V))),
               most_linear=tuple(int(v) for v in np.unravel_index(lin, (A, V))),
               best_acc=float(am.ravel()[best]), best_rc=float(rc.ravel()[best]),
               linear_acc=float(am.ravel()[lin]), linear_rc=float(rc.ravel()[lin]),
               linear_rank=int((flat > flat[lin]).sum() + 1), n_cells=int(np.isfinite(flat).sum()),
               linear_wins=bool(best == lin))
    return out


def compare_shapes(a, b, tol: float = shape.SHAPE_TOL) -> dict:
    """Do two sets of load curves (..., L+1) have the same shapes, curve by curve?

    Used for train vs test curves (S4) and Eq. 3 vs Eq. 9 (S10/S11). Returns ``rc_a``, ``rc_b``, their
    Pearson and Spearman correlation, ``same_shape`` (fraction with the same ĉ label), ``n``,
    ``n_differ`` (curves whose labels differ),
    ``mean_abs_diff`` and ``borderline`` (fraction of the disagreements within ``tol`` of the
    linear band's edge on one of the two sets)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    ra, rb = shape.relative_curvature(a), shape.relative_curvature(b)
    ok = np.isfinite(ra) & np.isfinite(rb)
    pr, sr = correlation(ra, rb)
    la, lb = shape.shape_of(ra[ok], tol), shape.shape_of(rb[ok], tol)
    differ = la != lb
    edge = np.minimum(np.abs(np.abs(ra[ok]) - tol), np.abs(np.abs(rb[ok]) - tol)) <= tol
    return {"rc_a": ra, "rc_b": rb, "pearson": pr, "spearman": sr, "n": int(ok.sum()),
            "same_shape": float(np.mean(~differ)) if ok.any() else math.nan, "n_differ": int(differ.sum()),
            "mean_abs_diff": float(np.mean(np.abs(ra[ok] - rb[ok]))) if ok.any() else math.nan,
            "borderline": float(edge[differ].mean()) if differ.any() else math.nan}
