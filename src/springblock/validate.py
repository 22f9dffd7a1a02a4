"""One set of argument checks for every public function: each error names the parameter and the
allowed range, and is raised before any work is done.

Numbers are accepted as any real (``numbers.Real``: int, float, NumPy scalars such as
``np.float32(1e-3)``) but never ``bool``; integers as any ``numbers.Integral``. Values are returned
converted to plain Python types, so callers can store them in configurations and cache keys.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np


def _range(lo, hi, lo_open, hi_open) -> str:
    left = "(" if lo_open or lo is None else "["  # an infinite end is never included
    right = ")" if hi_open or hi is None else "]"
    return f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"


def real(name: str, value: Any, lo: float | None = None, hi: float | None = None, *,
         lo_open: bool = False, hi_open: bool = False) -> float:
    """A finite real number in the given range (open or closed at each end) as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number in {_range(lo, hi, lo_open, hi_open)}, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and (v >= hi if hi_open else v > hi)):
        raise ValueError(f"{name} must lie in {_range(lo, hi, lo_open, hi_open)}, got {value!r}")
    return v


def integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """An integer in [lo, hi] as an int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer in {_range(lo, hi, False, False)}, got {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ValueError(f"{name} must be an integer in {_range(lo, hi, False, False)}, got {value!r}")
    return v


def optional_integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int | None:
    return None if value is None else integer(name, value, lo, hi)


def boolean(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(name: str, value: Any, options: Sequence) -> Any:
    """One of ``options`` (compared by equality)."""
    if isinstance(value, (list, dict, set, np.ndarray)) or value not in tuple(options):
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def array(name: str, value: Any, lo: float | None = None, *, lo_open: bool = False) -> np.ndarray:
    """A float64 array (or scalar) of finite numbers, each >= lo (> lo if ``lo_open``)."""
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}")
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from err
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and np.any(a <= lo if lo_open else a < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo} everywhere, got {value!r}")
    return a


def numbers(name: str, value: Any) -> np.ndarray:
    """A float64 array of numbers; NaN and infinities pass (they propagate), strings and objects do not."""
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be numbers, got {value!r}")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be numbers, got {value!r}") from err


def reals(name: str, values: Any, lo: float | None = None, hi: float | None = None, *,
          lo_open: bool = False, hi_open: bool = False, min_len: int = 1) -> tuple[float, ...]:
    """A non-empty sequence of numbers in range, as a tuple of floats."""
    if isinstance(values, (str, bytes, Real)) or not isinstance(values, (Sequence, np.ndarray)):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}")
    out = tuple(real(f"{name}[{i}]", v, lo, hi, lo_open=lo_open, hi_open=hi_open) for i, v in enumerate(values))
    if len(out) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} value(s), got {values!r}")
    return out


def seeds(value: Any, base: int = 0) -> tuple[int, ...]:
    """The one seed rule: a count n → seeds base+1..base+n (the paper's 1..10 for base 0);
    a non-empty sequence of integers >= 0 is used as given (duplicates refused)."""
    base = integer("seed", base, 0)
    if isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)):
        n = integer("seeds", value, 1)
        return tuple(base + 1 + i for i in range(n))
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) == 0:
        raise ValueError(f"seeds must be a count >= 1 or a non-empty sequence of integers >= 0, got {value!r}")
    out = tuple(integer(f"seeds[{i}]", s, 0) for i, s in enumerate(value))
    if len(set(out)) != len(out):
        raise ValueError(f"seeds must not repeat, got {value!r}")
    return out
