"""Closed forms of the spring–block chain (paper §3–4; spec §3).

Conventions (shared with :mod:`springblock.chain`): ``L`` blocks at ``x_1..x_L`` between a wall
``x_0 = 0`` and a target ``x_{L+1} = y``; ``L+1`` springs of stiffness ``k`` with elongations
``d_ℓ = x_ℓ - x_{ℓ-1}``; the **load curve** is ``λ_ℓ = y - x_ℓ`` for ``ℓ = 0..L`` (so
``λ_0 = y`` and ``λ_{ℓ-1} - λ_ℓ = d_ℓ``). Friction ``μ_r`` resists motion towards the target,
``μ_l`` motion back towards the wall. A block at rest under force ``F`` moves with the dead-zone
drive ``g(F) = F - clip(F, -μ_l, μ_r)`` (Eq. 11).

Noise scale ``sigma`` means what it means in the simulator: the standard deviation of a Gaussian
force kick (``"gaussian"``), the parent standard deviation of a Gaussian cut at
``±truncate·sigma`` (``"truncated"``), or the half-width ``B`` of ``U[-B, B]`` (``"uniform"``).

Every function is NumPy/SciPy only and broadcasts over its array arguments; functions taking a
load curve act on its last axis.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr  # standard normal CDF

from . import shape, validate

NOISES = ("gaussian", "truncated", "uniform")


MAX_BLOCKS = 1_000_000  # far past any network's depth; a longer chain is a typo, refused before any work


def _L(L) -> int:
    return validate.integer("L", L, 1, MAX_BLOCKS)


def _load(load, name: str = "load") -> np.ndarray:
    """A load curve ``λ_0..λ_L`` (last axis), L >= 1: numbers (NaN propagates), at least two points."""
    d = validate.numbers(name, load)
    if d.ndim < 1 or d.shape[-1] < 2:
        raise ValueError(f"{name} must have >= 2 points (λ_0..λ_L, L >= 1) on its last axis; got shape {d.shape}")
    return d


def _k(k) -> np.ndarray:
    return validate.array("k", k, 0, lo_open=True)


def _mu(name, mu) -> np.ndarray:
    return validate.array(name, mu, 0)


# ------------------------------------------------------------------ friction law
def drive(F, mu_r=0.0, mu_l=0.0):
    """Net drive ``g(F) = ReLU(F - μ_r) - ReLU(-F - μ_l)`` of a block at rest (Eq. 11)."""
    F = validate.array("F", F)
    return F - np.clip(F, -_mu("mu_l", mu_l), _mu("mu_r", mu_r))


# ------------------------------------------------------------------ noiseless equilibria
def friction_bound(L, k=1.0, y=1.0):
    """Largest ``μ_r`` for which every block moves: ``2ky / (L(L+1))`` (validity of Eq. 7)."""
    L = _L(L)
    return 2.0 * _k(k) * validate.array("y", y) / (L * (L + 1))


def stuck_blocks(L, k=1.0, y=1.0, mu_r=0.0):
    """Number ``m`` of leading blocks that never leave the wall without noise (0 if Eq. 7 holds).

    The ``n = L+1-m`` springs that do stretch form an arithmetic progression with step ``μ_r/k``
    summing to ``y``; ``m`` is the smallest count for which the first of them is not negative.
    """
    L = _L(L)
    k, y, mu_r = np.broadcast_arrays(_k(k), validate.array("y", y), _mu("mu_r", mu_r))
    n = np.arange(L + 1, 0, -1).reshape((-1,) + (1,) * k.ndim)  # moving springs for m = 0..L
    first = y / n - mu_r * (n - 1) / (2 * k)
    return np.argmax(first >= -1e-15, axis=0)  # n = 1 (m = L) always qualifies


def equilibrium(L, k=1.0, y=1.0, mu_r=0.0):
    """Noiseless final positions ``x_1..x_L`` (shape ``(..., L)``), stuck blocks included.

    Without stuck blocks this is Eq. 7: ``d_{ℓ+1} - d_ℓ = μ_r/k``,
    ``d_ℓ = y/(L+1) + (μ_r/k)(ℓ - (L+2)/2)``. It does not depend on ``μ_l``.
    """
    L = _L(L)
    k, y, mu_r = np.broadcast_arrays(_k(k), validate.array("y", y), _mu("mu_r", mu_r))
    m = stuck_blocks(L, k, y, mu_r)[..., None]
    n = L + 1 - m
    first = y[..., None] / n - mu_r[..., None] * (n - 1) / (2 * k[..., None])
    ell = np.arange(1, L + 2)  # spring index 1..L+1
    d = np.where(ell > m, first + (ell - m - 1) * (mu_r / k)[..., None], 0.0)
    return np.cumsum(d, axis=-1)[..., :L]


def load_from_positions(x, y=1.0):
    """Load curve ``λ_0..λ_L = y - (0, x_1..x_L)`` from positions ``x`` (last axis ``L``)."""
    x = validate.numbers("x", x)
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"x must hold the positions x_1..x_L (L >= 1) on its last axis; got shape {x.shape}")
    pad = np.concatenate([np.zeros(x.shape[:-1] + (1,)), x], axis=-1)
    return np.asarray(y, float)[..., None] - pad


def uniform_force_load(L, k=1.0, y=1.0, mu_bar=0.0):
    """Load curve of a chain frozen at uniform force ``μ̄`` on every block (``(..., L+1)``).

    ``λ_ℓ = (L+1-ℓ)[y/(L+1) + μ̄ℓ/(2k)]``: Eq. 7 for ``μ̄ = μ_r``, Eq. 8 for
    ``μ̄ = (μ_r-μ_l)/2``. Concave for ``μ̄ > 0``, linear for 0, convex for ``μ̄ < 0``.
    """
    L = _L(L)
    k, y, mu_bar = (a[..., None] for a in (_k(k), validate.array("y", y), validate.array("mu_bar", mu_bar)))
    ell = np.arange(L + 1)
    return (L + 1 - ell) * (y / (L + 1) + mu_bar * ell / (2 * k))


def large_noise_load(L, k=1.0, y=1.0, mu_r=0.0, mu_l=0.0):
    """Eq. 8: the load curve under large symmetric noise, ``μ̄ = (μ_r - μ_l)/2``."""
    return uniform_force_load(L, k, y, zero_drift_force(mu_r, mu_l))


# ------------------------------------------------------------------ effective friction
def zero_drift_force(mu_r, mu_l):
    """``F* = (μ_r - μ_l)/2``: the mean drift vanishes there for any symmetric noise and σ."""
    return (_mu("mu_r", mu_r) - _mu("mu_l", mu_l)) / 2


def _mean_relu(a, sigma, noise, truncate):
    """``E[max(a + ε, 0)]`` for the noise ``ε`` of scale ``sigma`` (``sigma > 0``)."""
    if noise == "gaussian":
        z = a / sigma
        return a * ndtr(z) + sigma * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    if noise == "uniform":  # ε ~ U[-B, B], B = sigma: linear beyond ±B, quadratic inside
        return np.where(a >= sigma, a, np.where(a <= -sigma, 0.0, (a + sigma) ** 2 / (4 * sigma)))
    if noise == "truncated":  # ε = sigma·Z, Z ~ N(0,1) conditioned on |Z| <= c
        c = truncate
        lo = np.clip(-a / sigma, -c, c)  # the integral runs over Z in [lo, c]
        pdf = lambda t: np.exp(-t * t / 2) / np.sqrt(2 * np.pi)
        mass = ndtr(c) - ndtr(-c)
        return (a * (ndtr(c) - ndtr(lo)) + sigma * (pdf(lo) - pdf(c))) / mass
    raise ValueError(f"noise must be one of {NOISES}, got {noise!r}")


def mean_drift(F, sigma, mu_r=0.0, mu_l=0.0, noise="gaussian", truncate=2.0):
    """``E g(F + ε)``: mean velocity of a block under frozen elastic force ``F`` and noise ``ε``."""
    validate.choice("noise", noise, NOISES)
    truncate = validate.real("truncate", truncate, 0, None, lo_open=True)
    F, sigma, mu_r, mu_l = np.broadcast_arrays(validate.array("F", F), validate.array("sigma", sigma, 0),
                                               _mu("mu_r", mu_r), _mu("mu_l", mu_l))
    s = np.where(sigma > 0, sigma, 1.0)  # placeholder where sigma == 0; replaced below
    noisy = _mean_relu(F - mu_r, s, noise, truncate) - _mean_relu(-F - mu_l, s, noise, truncate)
    return np.where(sigma > 0, noisy, drive(F, mu_r, mu_l))


def effective_friction(F, sigma, mu_r=0.0, mu_l=0.0, noise="gaussian", truncate=2.0):
    """``μ̄(F, σ) = F - E g(F + ε)``, so that ``E[ẋ] = F - μ̄`` (spec §3.5).

    Limits: ``μ_r`` as ``σ → 0`` (for ``F > μ_r``); ``(μ_r - μ_l)/2`` as ``σ → ∞``;
    decreasing in ``σ`` exactly when ``F > (μ_r - μ_l)/2`` (acoustic lubrication).
    """
    return validate.array("F", F) - mean_drift(F, sigma, mu_r, mu_l, noise, truncate)


def freeze_friction(mu_r, mu_l, bound):
    """Force at which a chain under bounded noise ``|ε| <= B`` stops: ``max(μ_r - B, (μ_r-μ_l)/2)``.

    Rightward kicks stop once ``F <= μ_r - B``; if that lies below ``B - μ_l`` there is no dead
    band left and the chain jitters about the zero-drift force instead.
    """
    mu_r, bound = _mu("mu_r", mu_r), validate.array("bound", bound, 0)
    return np.maximum(mu_r - bound, zero_drift_force(mu_r, mu_l))


# ------------------------------------------------------------------ shape and energy of a load curve
def elongations(load):
    """Spring elongations ``d_1..d_{L+1}`` of a load curve ``λ_0..λ_L`` (last axis)."""
    load = _load(load)
    return np.concatenate([-np.diff(load, axis=-1), load[..., -1:]], axis=-1)


# The authors' scalar curvature c = (λ_0-λ_1) - (λ_{L-1}-λ_L) (< 0 concave, > 0 convex): one
# definition for chains and networks alike, so a chain's c and a network's c are the same number.
curvature = shape.curvature


def predicted_curvature(L, k=1.0, mu_bar=0.0):
    """Curvature of :func:`uniform_force_load`: ``c = -(L-1) μ̄ / k``."""
    return -(_L(L) - 1) * validate.array("mu_bar", mu_bar) / _k(k)


def friction_from_load(load, k=1.0):
    """The uniform force ``μ̄`` a load curve is frozen at: ``k·(d_{L+1} - d_1)/L``.

    This is the mean elastic force on the blocks, i.e. ``k`` times the mean elongation increment;
    it inverts :func:`uniform_force_load` exactly.
    """
    d = elongations(load)
    L = d.shape[-1] - 1
    return _k(k) * (d[..., -1] - d[..., 0]) / L


def energy(load, k=1.0):
    """Elastic energy ``U = (k/2) Σ d_ℓ²`` of a load curve."""
    return 0.5 * _k(k) * np.sum(elongations(load) ** 2, axis=-1)


def energy_closed_form(L, k=1.0, y=1.0, mu_bar=0.0):
    """``U = k y²/(2n) + μ̄² n(n²-1)/(24k)`` with ``n = L+1``: minimal only at ``μ̄ = 0``."""
    n = _L(L) + 1
    k, y, mu_bar = _k(k), validate.array("y", y), validate.array("mu_bar", mu_bar)
    return k * y**2 / (2 * n) + mu_bar**2 * n * (n * n - 1) / (24 * k)
