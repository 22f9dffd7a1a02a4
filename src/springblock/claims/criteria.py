"""The tests a claim's parts are made of: a value beyond a threshold, a rank trend, a closeness — each
with its uncertainty, each able to say all of reproduced / not reproduced / inconclusive.

Intervals are 95 % percentile bootstraps of a mean over *replicates* (seeds, or cells where a claim
speaks about a region), with a fixed generator so a page says the same on every build. A part with
fewer than two replicates is inconclusive: its spread is unknown. Quantities without sampling noise
(closed forms, a simulation against its own closed form) are judged ``exact``."""
from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from . import INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Part

N_BOOT = 2000
LEVEL = 0.95
RHO_MIN = 0.3  # a rank trend weaker than this, even at the top of its interval, is not the trend stated


def _fmt(v: float, digits: int = 3) -> str:
    from ..plotting.style import number

    return number(v, digits, sign=True)


def mean_interval(samples, seed: int = 0) -> tuple[float, float, float, int]:
    """(mean, lo, hi, n) of the finite ``samples``: the bootstrap interval of their mean (NaN if n < 2)."""
    x = np.asarray(samples, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(x.mean())
    if n < 2:
        return m, math.nan, math.nan, n
    if np.ptp(x) == 0:
        return m, m, m, n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.bootstrap((x,), np.mean, vectorized=True, axis=-1, n_resamples=N_BOOT, confidence_level=LEVEL,
                              method="percentile", random_state=np.random.default_rng(seed))
    lo, hi = res.confidence_interval
    return m, float(lo), float(hi), n


def beyond(name: str, samples, threshold: float, side: str, *, what: str = "ĉ", exact: bool = False,
           digits: int = 3) -> Part:
    """Is the mean of ``samples`` above (``side=">"``) or below (``"<"``) ``threshold``?

    Reproduced when its whole interval is on that side, not reproduced when the whole interval is on
    the other, inconclusive when it straddles (or n < 2). ``exact``: the samples have no sampling noise;
    their mean is judged as it is."""
    if side not in (">", "<"):
        raise ValueError(f"side must be '>' or '<', got {side!r}")
    if exact:
        x = np.asarray(samples, dtype=float).ravel()
        x = x[np.isfinite(x)]
        m = float(x.mean()) if x.size else math.nan
        lo = hi = m
        n = int(x.size)
        detail = f"{what} {_fmt(m, digits)} (exact)"
    else:
        m, lo, hi, n = mean_interval(samples)
        detail = (f"mean {what} {_fmt(m, digits)}, 95 % interval [{_fmt(lo, digits)}, {_fmt(hi, digits)}], {n} values"
                  if n >= 2 else f"{what} {_fmt(m, digits)} from {n} value{'s' if n != 1 else ''}: spread unknown")
    if n == 0 or not math.isfinite(m) or (not exact and n < 2):
        return Part(name, INCONCLUSIVE, detail)
    if side == ">":
        verdict = REPRODUCED if lo > threshold else (NOT_REPRODUCED if hi <= threshold else INCONCLUSIVE)
    else:
        verdict = REPRODUCED if hi < threshold else (NOT_REPRODUCED if lo >= threshold else INCONCLUSIVE)
    return Part(name, verdict, f"{detail}; needs {side} {_fmt(threshold, digits)}")


def within(name: str, value: float, target: float, tol: float, *, what: str = "value", digits: int = 3,
           sem: float | None = None) -> Part:
    """Is ``value`` within ``tol`` of ``target``? With a standard error ``sem``, its 95 % interval must lie
    inside (reproduced) or outside (not reproduced) the band; otherwise the value is exact."""
    d = abs(float(value) - float(target))
    if not math.isfinite(d):
        return Part(name, INCONCLUSIVE, f"{what} is not finite")
    half = 1.96 * float(sem) if sem is not None and math.isfinite(sem) else 0.0
    detail = f"{what} {_fmt(value, digits)} vs {_fmt(target, digits)}: off by {d:.{digits}g}" + \
        (f" ± {half:.{digits}g}" if half else "") + f"; tolerance {tol:g}"
    verdict = REPRODUCED if d + half <= tol else (NOT_REPRODUCED if d - half > tol else INCONCLUSIVE)
    return Part(name, verdict, detail)


def trend(name: str, x, y, *, what: str = "ĉ", against: str = "noise") -> Part:
    """Does ``y`` rise with ``x``? ``y`` is (R, n): R replicates (rows, seeds, panels) of n points at
    positions ``x`` (n,). Each replicate's Spearman ρ; the claim needs their mean clearly > 0 and not
    weaker than :data:`RHO_MIN` (reproduced); a mean whose interval tops out below ``RHO_MIN`` is not
    the stated trend (not reproduced); else inconclusive."""
    y = np.asarray(y, dtype=float)
    y = y.reshape(-1, y.shape[-1])
    x = np.asarray(x, dtype=float)
    rhos = []
    for row in y:
        ok = np.isfinite(row)
        if ok.sum() >= 3 and np.ptp(row[ok]) > 0:
            rhos.append(stats.spearmanr(x[ok], row[ok]).statistic)
        elif ok.sum() == 2 and row[ok][0] != row[ok][1]:
            rhos.append(float(np.sign((row[ok][1] - row[ok][0]) * (x[ok][1] - x[ok][0]))))
    m, lo, hi, n = mean_interval(rhos)
    if n < 2:
        return Part(name, INCONCLUSIVE, f"rank correlation of {what} with {against} from {n} replicate(s): spread unknown")
    detail = f"mean rank correlation of {what} with {against} {m:+.2f}, 95 % interval [{lo:+.2f}, {hi:+.2f}], " \
             f"{n} replicates"
    if hi < RHO_MIN:
        return Part(name, NOT_REPRODUCED, detail + f"; needs > 0 and ≥ {RHO_MIN}")
    if lo > 0 and m >= RHO_MIN:
        return Part(name, REPRODUCED, detail)
    return Part(name, INCONCLUSIVE, detail + f"; needs > 0 and ≥ {RHO_MIN}")


def holds(name: str, ok: bool, detail: str) -> Part:
    """A part decided by an exact comparison (no sampling noise: closed forms, identities of a run)."""
    return Part(name, REPRODUCED if ok else NOT_REPRODUCED, detail)


def band(name: str, samples, tol: float, *, what: str = "ĉ", exact: bool = False, digits: int = 3) -> Part:
    """Is the mean of ``samples`` inside ``[-tol, tol]`` (a linear curve, a difference that vanishes)?

    Reproduced when its interval lies inside the band, not reproduced when the interval lies wholly
    outside it, inconclusive otherwise (or with fewer than two values, unless ``exact``)."""
    if exact:
        x = np.asarray(samples, dtype=float).ravel()
        x = x[np.isfinite(x)]
        m = float(x.mean()) if x.size else math.nan
        lo, hi, n = m, m, int(x.size)
        detail = f"{what} {_fmt(m, digits)} (exact)"
    else:
        m, lo, hi, n = mean_interval(samples)
        detail = (f"mean {what} {_fmt(m, digits)}, 95 % interval [{_fmt(lo, digits)}, {_fmt(hi, digits)}], {n} values"
                  if n >= 2 else f"{what} {_fmt(m, digits)} from {n} value{'s' if n != 1 else ''}: spread unknown")
    detail += f"; needs |{what}| ≤ {tol:g}"
    if n == 0 or not math.isfinite(m) or (not exact and n < 2):
        return Part(name, INCONCLUSIVE, detail)
    if -tol <= lo and hi <= tol:
        return Part(name, REPRODUCED, detail)
    if hi < -tol or lo > tol:
        return Part(name, NOT_REPRODUCED, detail)
    return Part(name, INCONCLUSIVE, detail)


def fraction(name: str, flags, threshold: float, side: str = ">", *, what: str = "share") -> Part:
    """Is the share of true ``flags`` (one per cell or curve) above (or below) ``threshold``? The
    share's interval is a bootstrap over the flags."""
    flags = np.asarray(flags, dtype=float).ravel()
    return beyond(name, flags, threshold, side, what=what, digits=2)


def correlated(name: str, a, b, *, r_min: float = RHO_MIN, what: str = "r") -> Part:
    """Do ``a`` and ``b`` (paired, one per cell) go together? Pearson r with a bootstrap interval over
    the pairs: reproduced when the interval lies above ``r_min``'s lower edge 0 and r ≥ ``r_min``; not
    reproduced when the whole interval is below ``r_min``; inconclusive otherwise."""
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    n = int(a.size)
    if n < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Part(name, INCONCLUSIVE, f"{what} from {n} pairs: undefined or spread unknown")
    r = float(np.corrcoef(a, b)[0, 1])
    rng = np.random.default_rng(0)
    idx = rng.integers(0, n, size=(N_BOOT, n))
    xa, xb = a[idx], b[idx]
    xa, xb = xa - xa.mean(1, keepdims=True), xb - xb.mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = (xa * xb).sum(1) / np.sqrt((xa ** 2).sum(1) * (xb ** 2).sum(1))
    lo, hi = (float(v) for v in np.nanpercentile(boot, [2.5, 97.5]))
    detail = f"{what} {r:+.2f}, 95 % interval [{lo:+.2f}, {hi:+.2f}], {n} pairs; needs > 0 and ≥ {r_min}"
    if hi < r_min:
        return Part(name, NOT_REPRODUCED, detail)
    if lo > 0 and r >= r_min:
        return Part(name, REPRODUCED, detail)
    return Part(name, INCONCLUSIVE, detail)


def every(name: str, parts) -> Part:
    """One part from several that must all hold (every bound, every noise level): its verdict is
    their :func:`overall`; its detail names how many hold and the worst one."""
    from . import overall

    parts = list(parts)
    v = overall(parts)
    held = sum(p.verdict == REPRODUCED for p in parts)
    worst = next((p for p in parts if p.verdict == v), parts[0])
    return Part(name, v, f"{held} of {len(parts)} hold; {worst.name}: {worst.detail}")


def beyond_mean(name: str, mean: float, sem: float, threshold: float, side: str, *, what: str = "c",
                digits: int = 3) -> Part:
    """:func:`beyond` for a mean given with its standard error (a Monte-Carlo average over
    realisations): the interval is mean ± 1.96 s.e.; a zero or unknown error is judged exactly."""
    if side not in (">", "<"):
        raise ValueError(f"side must be '>' or '<', got {side!r}")
    m = float(mean)
    half = 1.96 * float(sem) if sem is not None and math.isfinite(sem) else 0.0
    lo, hi = m - half, m + half
    detail = f"{what} {_fmt(m, digits)} ± {half:.{digits}g}; needs {side} {_fmt(threshold, digits)}"
    if not math.isfinite(m):
        return Part(name, INCONCLUSIVE, detail)
    if side == ">":
        verdict = REPRODUCED if lo > threshold else (NOT_REPRODUCED if hi <= threshold else INCONCLUSIVE)
    else:
        verdict = REPRODUCED if hi < threshold else (NOT_REPRODUCED if lo >= threshold else INCONCLUSIVE)
    return Part(name, verdict, detail)
