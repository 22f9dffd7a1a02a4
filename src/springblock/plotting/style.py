"""One figure style for the whole book, and the small formatting rules every figure follows.

:func:`use` sets matplotlib's parameters once (font sizes legible at the page's width, no frame on
legends, tight layout); :func:`number` writes numbers without negative zeros.
"""
from __future__ import annotations

import matplotlib as mpl

LOAD_RED = "#c0392b"  # the red of the paper's Fig. 1 curves
ACCENT = "#b9770e"  # friction, in the chain drawings
TARGET = "navy"  # the target and its pull
WIDTH = 7.2  # inches: the figure width that fills the book's text column at 100 % zoom

RC = {
    "font.size": 10, "axes.titlesize": 10.5, "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
    "legend.fontsize": 9, "legend.frameon": False, "figure.titlesize": 11, "figure.dpi": 110,
    "savefig.dpi": 150, "savefig.bbox": "tight", "axes.spines.top": False, "axes.spines.right": False,
    "lines.linewidth": 1.6, "figure.constrained_layout.use": True, "image.cmap": "viridis",
}


SYMBOLS = {"mu_r": "μ_r", "mu_l": "μ_l", "sigma": "σ", "tau": "τ", "alpha": "α"}  # parameter names as printed


def symbol(name: str) -> str:
    """The symbol a reader sees for a parameter's name in the code (``"mu_l"`` → ``"μ_l"``)."""
    return SYMBOLS.get(name, name)


def use() -> None:
    """Apply the book's matplotlib style (idempotent; every figure function calls it)."""
    mpl.rcParams.update(RC)


def number(v: float, digits: int = 2, sign: bool = False) -> str:
    """``v`` rounded to ``digits`` decimals, never printed as a negative zero ("-0.00")."""
    r = round(float(v), digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{r:+.{digits}f}" if sign else f"{r:.{digits}f}"


def interval(v: float, lo: float, hi: float, digits: int = 2, sign: bool = True) -> str:
    """An estimate with its interval, "+0.41 [+0.30, +0.52]", each part as :func:`number` prints it."""
    return f"{number(v, digits, sign)} [{number(lo, digits, sign)}, {number(hi, digits, sign)}]"


use()
