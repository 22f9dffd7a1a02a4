"""Data-separation metrics on layer features (paper Eqs. 2, 3, 9 and SM S5).

Tensors in, numbers out: nothing here knows about models or training.

Conventions
-----------
* ``features``: shape ``(..., N, d)`` with any leading batch dims (seeds, grid cells, layers, ...),
  real, on any device, float32 or float64. NumPy arrays are converted with ``torch.as_tensor``;
  integer features become float64.
* ``labels``: shape ``(N,)``, integer class ids ``0..C-1``, shared by the whole batch.
  ``C = num_classes`` if given, else ``labels.max() + 1``. Every class needs at least one sample.
* Results are torch tensors on the features' device, in their dtype.

With class sizes n_c, class means μ_c and global mean μ (population statistics, normalised by N)::

    Σ_w = 1/N Σ_c Σ_{i∈c} (x_i − μ_c)(x_i − μ_c)ᵀ       (Eq. 2)
    Σ_b = 1/N Σ_c n_c (μ_c − μ)(μ_c − μ)ᵀ
    "trace"   D = log(Tr Σ_w / Tr Σ_b)      (Eq. 3, the paper's load curve)
    "pinv"    D = log Tr(Σ_w Σ_b⁺)          (Eq. 9, He–Su; ⁺ = Moore–Penrose pseudo-inverse)
    "inverse" D = log Tr(Σ_b Σ_w⁺)          (invariant under every invertible feature map)

A smaller D means better-separated classes. The load curve is (D_0, ..., D_L), and layer ℓ
contributes D_{ℓ-1} − D_ℓ; its shape is summarised in :mod:`springblock.shape`.

Degenerate features get defined values, not 0/0, by one rule judged relative to the features'
own scale (so that round-off never decides it):

* *no between-class spread* — Tr Σ_b ≤ (64 ε)² (Tr Σ_w + Tr Σ_b), ε the dtype's machine epsilon —
  is no separation: D = +∞. Collapsed features count here, whatever their value: features whose
  spread about their mean is at most 64 ε times their magnitude (a constant 0, 1, 0.1 or −0.002
  alike) have no spread at all.
* otherwise *no within-class spread* — Tr Σ_w ≤ (64 ε)² (Tr Σ_w + Tr Σ_b), every class on its own
  point — is perfect separation: D = −∞.

(The inverse variant, which grows with separation, has the opposite signs.) D does not depend on a
global scale of the features, and it is computed after dividing them by their largest centred
magnitude, so float32 features of any scale give finite numbers. A load curve with an infinite
entry is not a curve to take a shape of: the engine flags such a network (``diverged``) and the
figures and claims show or leave it out explicitly.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from . import validate

KINDS = ("trace", "pinv", "inverse")
DEGENERATE = 64  # spreads below DEGENERATE·ε of the features' scale count as none (module docstring)


def _tolerance(x: torch.Tensor) -> float:
    return DEGENERATE * torch.finfo(x.dtype).eps


def _features(features, name: str, check_finite: bool = True) -> torch.Tensor:
    x = torch.as_tensor(features)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (..., N, d); got shape {tuple(x.shape)}")
    if x.is_complex():
        raise ValueError(f"{name} must be real; got dtype {x.dtype}")
    if not x.is_floating_point():
        x = x.to(torch.float64)  # exact for integer inputs
    if check_finite and not torch.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return x


def _classes(labels, n: int, num_classes) -> tuple[torch.Tensor, int]:
    """Check ``labels`` against N samples; return them as int64 and the class count C."""
    y = torch.as_tensor(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"labels must have shape (N,) = ({n},) to match features; got {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise ValueError(f"labels must be integer class ids; got dtype {y.dtype}")
    y = y.long()
    hi = int(y.max()) if n else -1
    if n and int(y.min()) < 0:
        raise ValueError(f"labels must be >= 0; got min {int(y.min())}")
    if num_classes is None:
        c = hi + 1
    else:
        c = validate.integer("num_classes", num_classes, 2)
        if hi >= c:
            raise ValueError(f"labels must lie in 0..num_classes-1 = 0..{c - 1}; got max {hi}")
    if c < 2:
        raise ValueError(f"labels/num_classes: need at least 2 classes; got {c}")
    empty = (torch.bincount(y, minlength=c) == 0).nonzero().flatten().tolist()
    if empty:
        raise ValueError(f"labels: class(es) {empty} of 0..{c - 1} have no sample")
    return y, c


def _factors(features, labels, num_classes, name: str = "features", scaled: bool = False, check_finite: bool = True):
    """Return R (..., N, d) and B (..., C, d) with Σ_w = RᵀR / N and Σ_b = BᵀB.

    R holds the rows x_i − μ_{c(i)}, B the rows √(n_c/N)(μ_c − μ). The traces and pseudo-inverses
    are taken from these factors, so no d×d matrix is needed and the conditioning is not squared.
    ``scaled=True`` divides both by the largest |x − μ| of each batch entry first: every D is
    invariant to a global scale, and this keeps float32 squares of very large or very small
    features from overflowing or underflowing.
    """
    x = _features(features, name, check_finite)
    n = x.shape[-2]
    y, c = _classes(labels, n, num_classes)
    y = y.to(x.device)
    onehot = torch.nn.functional.one_hot(y, c).to(x.dtype)  # (N, C)
    counts = onehot.sum(0)
    centred = x - x.mean(-2, keepdim=True)
    if scaled:
        dims = (-2, -1)
        s = torch.maximum(centred.amax(dims, keepdim=True), -centred.amin(dims, keepdim=True))
        size = torch.maximum(x.amax(dims, keepdim=True), -x.amin(dims, keepdim=True))
        # collapsed features (no spread beyond round-off of their own magnitude) become exactly 0;
        # NaN features (a blown-up network) stay NaN
        spread = ~(s <= _tolerance(x) * size)
        centred = centred * torch.where(spread, 1 / torch.where(spread, s, torch.ones_like(s)), torch.zeros_like(s))
    means = onehot.T @ centred / counts[:, None]  # (..., C, d); one matmul, no loop over classes
    resid = centred - means[..., y, :]
    between = (counts / n).sqrt()[:, None] * means
    return resid, between


def class_statistics(features, labels, num_classes=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Within- and between-class covariances (Eq. 2), each of shape (..., d, d).

    Σ_w = 1/N Σ_c Σ_{i∈c} (x_i − μ_c)(x_i − μ_c)ᵀ,   Σ_b = 1/N Σ_c n_c (μ_c − μ)(μ_c − μ)ᵀ.
    """
    resid, between = _factors(features, labels, num_classes)
    return resid.mT @ resid / resid.shape[-2], between.mT @ between


def class_traces(features, labels, num_classes=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Tr Σ_w and Tr Σ_b, each of shape (...), computed without any d×d matrix.

    Tr Σ_w = 1/N Σ_i ‖x_i − μ_{c(i)}‖²,   Tr Σ_b = Σ_c (n_c/N) ‖μ_c − μ‖².
    """
    resid, between = _factors(features, labels, num_classes)
    return resid.square().sum((-2, -1)) / resid.shape[-2], between.square().sum((-2, -1))


def between_class_projection(features, labels, k: int = 2, num_classes=None) -> torch.Tensor:
    """Centred features projected on the top-``k`` eigenvectors of Σ_b, shape (..., N, k).

    The directions in which the class means spread most: a faithful 2-D picture of what D measures
    (the within-class spread is shown along the same axes, not along its own principal axes).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1; got {k!r}")
    x = _features(features, "features")
    _, between = _factors(x, labels, num_classes)
    if k > min(between.shape[-2:]):
        raise ValueError(f"k must be <= min(C, d) = {min(between.shape[-2:])}; got {k}")
    # right singular vectors of B are the eigenvectors of Σ_b = BᵀB, largest first
    basis = torch.linalg.svd(between, full_matrices=False).Vh[..., :k, :]
    return (x - x.mean(-2, keepdim=True)) @ basis.mT


def _separations(features, labels, kinds, num_classes, name, check_finite=True) -> dict[str, torch.Tensor]:
    """D of every kind in ``kinds`` from one computation of the factors R and B."""
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    resid, between = _factors(features, labels, num_classes, name, scaled=True, check_finite=check_finite)
    n = resid.shape[-2]
    tw, tb = resid.square().sum((-2, -1)) / n, between.square().sum((-2, -1))
    floor = _tolerance(resid) ** 2 * (tw + tb)  # relative to the features' own total spread
    out = {}
    for kind in kinds:
        if kind == "trace":
            t = tw / tb
        elif kind == "pinv":  # Σ_b⁺ = B⁺B⁺ᵀ, so Tr(Σ_w Σ_b⁺) = ‖R B⁺‖²_F / N
            t = (resid @ torch.linalg.pinv(between)).square().sum((-2, -1)) / n
        else:  # Σ_w⁺ = N R⁺R⁺ᵀ, so Tr(Σ_b Σ_w⁺) = N ‖B R⁺‖²_F
            t = (between @ torch.linalg.pinv(resid)).square().sum((-2, -1)) * n
        d = torch.log(t)
        # The degenerate cases, defined rather than left to 0/0: no between-class spread (the class
        # means coincide, constant features included) is no separation; no within-class spread with
        # distinct class means is perfect separation. "inverse" grows with separation: signs flip.
        none, perfect = (math.inf, -math.inf) if kind != "inverse" else (-math.inf, math.inf)
        no_between, no_within = tb <= floor, (tw <= floor) & (tb > floor)
        d = torch.where(no_between, torch.full_like(d, none), d)
        out[kind] = torch.where(no_within, torch.full_like(d, perfect), d)
    return out


def _separation(features, labels, kind, num_classes, name) -> torch.Tensor:
    return _separations(features, labels, (kind,), num_classes, name)[kind]


def data_separation(features, labels, kind: str = "trace", num_classes=None) -> torch.Tensor:
    """Data separation D of shape (...) (natural log).

    ``"trace"``: log(Tr Σ_w / Tr Σ_b) (Eq. 3). ``"pinv"``: log Tr(Σ_w Σ_b⁺) (Eq. 9, He–Su).
    ``"inverse"``: log Tr(Σ_b Σ_w⁺).
    The pseudo-inverses use ``torch.linalg.pinv``'s default cut-off on the singular values of the
    factors B and R (rtol = eps·max(rows, cols)). Σ_b has rank ≤ C − 1, and that cut-off removes its
    round-off null directions. D → −∞ as the classes collapse onto their means, and D → +∞ as the
    class means merge; the limits themselves are defined (module docstring).
    """
    return _separation(features, labels, kind, num_classes, "features")


def _per_layer(fn: Callable[[torch.Tensor, str], torch.Tensor], layer_features) -> torch.Tensor:
    """Apply ``fn(x, name) -> (...)`` to each layer; return a tensor of shape (..., L+1)."""
    if isinstance(layer_features, (list, tuple)):
        if not layer_features:
            raise ValueError("layer_features must hold at least one layer; got an empty sequence")
        return torch.stack([fn(x, f"layer_features[{i}]") for i, x in enumerate(layer_features)], -1)
    x = torch.as_tensor(layer_features)
    if x.ndim < 3:
        raise ValueError(
            "layer_features must be a sequence of (..., N, d) tensors or one (..., L+1, N, d) tensor; "
            f"got shape {tuple(x.shape)}"
        )
    return fn(x, "layer_features")  # the layer axis is just another batch axis


def load_curve(layer_features, labels, kind: str = "trace", num_classes=None) -> torch.Tensor:
    """Load curve (D_0, ..., D_L) of shape (..., L+1); D_ℓ = ``data_separation`` of layer ℓ.

    ``layer_features`` is a sequence of (..., N, d_ℓ) tensors (the widths may differ) or one
    (..., L+1, N, d) tensor.
    """
    return _per_layer(lambda x, name: _separation(x, labels, kind, num_classes, name), layer_features)


def load_curves(layer_features, labels, kinds=KINDS, num_classes=None, *, check_finite: bool = True
                ) -> dict[str, torch.Tensor]:
    """:func:`load_curve` for several kinds at once (the class statistics are computed once).
    ``check_finite=False`` skips the check for NaN/inf, for callers that made it themselves."""
    kinds = tuple(kinds)
    return _per_layer_dict(lambda x, name: _separations(x, labels, kinds, num_classes, name, check_finite),
                           layer_features)


def _per_layer_dict(fn, layer_features) -> dict[str, torch.Tensor]:
    if isinstance(layer_features, (list, tuple)):
        if not layer_features:
            raise ValueError("layer_features must hold at least one layer; got an empty sequence")
        parts = [fn(x, f"layer_features[{i}]") for i, x in enumerate(layer_features)]
        return {k: torch.stack([p[k] for p in parts], -1) for k in parts[0]}
    x = torch.as_tensor(layer_features)
    if x.ndim < 3:
        raise ValueError("layer_features must be a sequence of (..., N, d) tensors or one (..., L+1, N, d) tensor; "
                         f"got shape {tuple(x.shape)}")
    return fn(x, "layer_features")


def regression_load(layer_features, targets, relative: bool = False) -> torch.Tensor:
    """Regression load (SM S5) of shape (..., L+1): the RMSE of the best linear readout with intercept.

    R_ℓ = sqrt(mean_{i,j} (y_ij − β̂ᵀx_ℓ,i − β̂_0j)²) over the N samples and k outputs. Here
    (β̂, β̂_0) is the least-squares fit on the same data, and ``targets`` has shape (N,) or (N, k).
    A fit with an intercept equals a fit on mean-centred x and y, so the data are centred instead of
    appending a column of ones. ``relative=True`` divides by sqrt(mean(y²)) (uncentred), like the
    authors' ``smeasure_sqrtLinR``.
    The solve uses float64 ``torch.linalg.lstsq`` with the SVD driver "gelsd" on the CPU. Layer
    features are often rank-deficient (dead ReLU units), and the only CUDA driver ("gels") assumes
    full rank. Results go back to the features' device and dtype.
    """
    y = torch.as_tensor(targets)
    if y.ndim not in (1, 2) or y.is_complex():
        raise ValueError(f"targets must be real, shape (N,) or (N, k); got {tuple(y.shape)}, {y.dtype}")
    y = y.to("cpu", torch.float64)
    if not torch.isfinite(y).all():
        raise ValueError("targets contains non-finite values (NaN or inf)")
    y = y[:, None] if y.ndim == 1 else y
    scale = y.square().mean().sqrt() if relative else torch.tensor(1.0, dtype=torch.float64)
    if scale == 0:
        raise ValueError("targets are all zero, so relative=True (division by sqrt(mean(y²))) is undefined")
    yc = y - y.mean(0)

    def rmse(features, name):
        x = _features(features, name)
        if x.shape[-2] != y.shape[0]:
            raise ValueError(f"targets must have N = {x.shape[-2]} rows to match {name}; got {y.shape[0]}")
        xc = x.to("cpu", torch.float64)
        xc = xc - xc.mean(-2, keepdim=True)
        b = yc.expand(*xc.shape[:-1], yc.shape[-1])
        sol = torch.linalg.lstsq(xc, b, driver="gelsd").solution
        return ((b - xc @ sol).square().mean((-2, -1)).sqrt() / scale).to(x.device, x.dtype)

    return _per_layer(rmse, layer_features)
