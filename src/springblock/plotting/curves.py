"""Load curves against layer or block: the one plotter of the networks' curves (D_ℓ) and of the
chain's loads (λ_ℓ), which differ only in their axis names and defaults (:data:`STYLES`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .. import shape

# what differs between a network's load curve and a chain's: axis names, marker size, integer
# ticks (a chain has few blocks, drawn one tick each), default colours, legend size
STYLES = {
    "network": {"xlabel": r"layer $\ell$", "ylabel": r"$D_\ell$", "ms": 3, "ticks": False, "legend": {"fontsize": 8}},
    "chain": {"xlabel": r"layer / block $\ell$", "ylabel": r"load $\lambda_\ell = y - x_\ell$", "ms": 3.5, "ticks": True,
              "legend": {}},
}


def sequence_colors(n: int) -> list:
    """``n`` colours for an ordered parameter (one per curve), dark to light: a chain's default, so
    that a second panel of the same curves can use the same colours."""
    return [plt.get_cmap("viridis")(t) for t in np.linspace(0.05, 0.85, n)]


def load_curves(ax, loads, *, of: str = "network", labels=None, colors=None, normalise=False, theory=None,
                theory_label="closed form", band=None, ls="-", marker="o", ylabel=None, legend=True, **kwargs):
    """Load curves ``(n, L+1)`` (or one curve) against layer ``ℓ``, of a network (``of="network"``:
    ``D_ℓ``) or a chain (``"chain"``: the loads ``λ_ℓ``). NaN-padded rows (shorter networks) end
    early; ``normalise`` min–max scales each curve (shapes only, as in Fig. 1); ``theory`` curves
    are drawn dashed in black on top; ``band``: ``(n, L+1)`` half-widths, shaded."""
    if of not in STYLES:
        raise ValueError(f"of must be one of {sorted(STYLES)}, got {of!r}")
    st = STYLES[of]
    loads = np.atleast_2d(np.asarray(loads, float))
    ell = np.arange(loads.shape[-1])
    if colors is None:
        colors = sequence_colors(len(loads)) if of == "chain" else plt.cm.viridis(np.linspace(0, 0.9, len(loads)))
    shown = shape.normalised(loads) if normalise else loads
    for i, d in enumerate(shown):
        ax.plot(ell, d, ls=ls, marker=marker, ms=st["ms"], color=colors[i], label=None if labels is None else labels[i],
                **kwargs)
        if band is not None:
            ax.fill_between(ell, d - band[i], d + band[i], color=colors[i], alpha=0.2, lw=0)
    if theory is not None:
        for i, t in enumerate(np.atleast_2d(theory)):
            ax.plot(ell, t, ls="--", color="k", lw=1, alpha=0.8, label=theory_label if i == 0 else None)
    ax.set_xlabel(st["xlabel"])
    ax.set_ylabel(ylabel or (r"$D_\ell$ (min–max normalised)" if normalise else st["ylabel"]))
    if st["ticks"]:
        ax.set_xticks(ell)
    if legend and (labels is not None or theory is not None):
        ax.legend(loc="best", **st["legend"])
    return ax
