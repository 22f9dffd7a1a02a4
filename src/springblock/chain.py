"""The spring–block chain simulator (paper Eqs. 4–6, 10–13; spec §3–4), batched over grids.

``L`` unit-mass blocks sit between a wall ``x_0 = 0`` and a target ``x_{L+1} = y``, joined by
``L+1`` springs of stiffness ``k``, and start at rest at 0. The load curve is
``λ_ℓ = y - x_ℓ`` for ``ℓ = 0..L``. Three dynamics share one interface:

``"overdamped"`` (Eqs. 5–6) — the authors' synchronous update, friction acting on the noisy force::

    x ← x + dt · g(k Δ²x + σ ξ),     g(F) = F - clip(F, -μ_l, μ_r)

``"second_order"`` (Eq. 4 / 10–11) — semi-implicit Euler with damping ``γ``; friction sees the
noisy force ``F = k Δ²x + σ ξ``; kinetic friction ``μ_r`` / ``μ_l`` while moving, static friction
(the dead zone ``g``) at rest, and a block whose velocity would change sign within a step sticks
(``v = 0``): dry friction can stop motion but never reverse it.

``"langevin"`` (Eqs. 12–13) — friction from the velocity only and noise on the velocity::

    dv = [k Δ²x - γ v + f(v)] dt + σ e^{-decay·t} dW,    dx = v dt

with ``f = -μ_r`` (v > 0), ``+μ_l`` (v < 0) and static friction against the noiseless elastic
force at rest; the same no-reversal rule is applied to the deterministic part.

Noise normalisation (``sigma``):

* ``overdamped`` and ``second_order``: ``sigma`` is the authors' ``σ̄``, the scale of a *force*
  kick drawn afresh every step, independent of ``dt``. In SDE terms the overdamped displacement
  noise per step is ``dt·σ̄ ξ``, i.e. diffusion ``ε = σ̄ √dt`` (the authors write
  ``σ̄ = ε/√η``). Halving ``dt`` at fixed ``σ̄`` therefore halves the diffusion.
* ``langevin``: ``sigma`` is the diffusion coefficient ``ε`` of the velocity SDE; each step adds
  ``ε e^{-decay·t} √dt ξ``. The authors' S14 run drives all blocks with ``ε Σ_j dW_j``, which is
  ``synchronous=True`` with ``sigma = ε √L``.

``ξ`` is standard Gaussian (``noise="gaussian"``), Gaussian cut at ``±truncate``
(``"truncated"``, so ``|kick| <= truncate·σ``) or uniform on ``[-1, 1]`` (``"uniform"``, so
``sigma`` is the bound ``B``). ``synchronous=True`` uses one draw per step for all blocks of a
chain. ``decay`` multiplies the noise by ``e^{-decay·t}`` for every dynamics.

Every physical parameter (``k, y, mu_r, mu_l, sigma, gamma, decay``) may be an array; they are
broadcast together into a grid, and each grid cell is run ``realisations`` times, so a whole
phase diagram is one array computation. Internally the state is laid out ``(L+2, cells)`` so
each per-step NumPy call works on contiguous rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import theory

DYNAMICS = ("overdamped", "second_order", "langevin")
NOISES = theory.NOISES
DEFAULT_GAMMA = {"second_order": 5.0, "langevin": 1.0}  # spec §4.3 (γ = 5) and §4.2 (γ = 1)
_CHUNK_ELEMENTS = 1 << 16  # noise drawn in chunks of about this many numbers (fits in L2)


@dataclass(frozen=True)
class ChainResult:
    """Final state (and optionally the trajectory) of a batch of chains.

    Shapes: ``grid`` is the broadcast shape of the array parameters, ``R`` the realisations.
    """

    x: np.ndarray  # (*grid, R, L) final positions x_1..x_L
    load: np.ndarray  # (*grid, R, L+1) final load curve λ_0..λ_L
    params: dict[str, Any]  # every argument, array parameters broadcast to the grid shape
    v: np.ndarray | None = None  # (*grid, R, L) final velocities (second_order, langevin)
    trajectory: np.ndarray | None = None  # (*grid, R, T, L+1) loads every `record_every` steps
    times: np.ndarray | None = field(default=None)  # (T,) times of the trajectory rows

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return self.x.shape[:-2]

    @property
    def curvature(self) -> np.ndarray:
        """``c = (λ_0-λ_1) - (λ_{L-1}-λ_L)`` per chain, shape ``(*grid, R)``."""
        return theory.curvature(self.load)

    @property
    def elongations(self) -> np.ndarray:
        """``d_1..d_{L+1}`` per chain, shape ``(*grid, R, L+1)``."""
        return theory.elongations(self.load)

    def mean_load(self) -> np.ndarray:
        """Load curve averaged over realisations, shape ``(*grid, L+1)``."""
        return self.load.mean(axis=-2)


# ------------------------------------------------------------------ validation
def _array(name: str, value, *, positive: bool = False, nonneg: bool = True) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}") from err
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and np.any(a <= 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if nonneg and np.any(a < 0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return a


def _int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def max_stable_dt(L: int, k=1.0, dynamics: str = "overdamped", gamma=None) -> float:
    """Largest time step for which the explicit scheme is linearly stable (strict bound).

    The stiffest mode of the chain has ``ω² = k(2 + 2cos(π/(L+1)))``. Overdamped Euler needs
    ``dt·ω² < 2``; semi-implicit Euler with damping needs ``dt²ω² + 2γ·dt < 4``.
    """
    w2 = float(np.max(k)) * (2 + 2 * np.cos(np.pi / (L + 1)))
    if dynamics == "overdamped":
        return 2.0 / w2
    g = float(np.max(DEFAULT_GAMMA[dynamics] if gamma is None else gamma))
    return (-g + np.sqrt(g * g + 4 * w2)) / w2  # positive root of w2·dt² + 2g·dt - 4 = 0


# ------------------------------------------------------------------ noise
def _gauss(rng: np.random.Generator, n: int, dtype) -> np.ndarray:
    if dtype == np.float64:
        return rng.standard_normal(n)
    # float32: Box–Muller on float32 uniforms uses NumPy's SIMD log/sin/cos and is ~3x faster
    # than the ziggurat here; float32 resolution cuts the tails at ~5.8σ (probability ~1e-8).
    h = (n + 1) // 2
    r = rng.random(h, dtype=np.float32)
    theta = rng.random(h, dtype=np.float32)
    np.subtract(1, r, out=r)  # (0, 1]: the log stays finite
    np.log(r, out=r)
    r *= -2
    np.sqrt(r, out=r)
    theta *= 2 * np.pi
    z = np.empty(2 * h, np.float32)
    np.cos(theta, out=z[:h])
    np.sin(theta, out=z[h:])
    z[:h] *= r
    z[h:] *= r
    return z[:n]


def _standard_noise(rng, kind: str, n: int, dtype, truncate: float) -> np.ndarray:
    """``n`` unit-scale draws of the chosen noise."""
    if kind == "uniform":
        z = rng.random(n, dtype=dtype)
        z *= 2
        z -= 1
        return z
    z = _gauss(rng, n, dtype)
    if kind == "truncated":  # exact truncation by redrawing the few outliers
        bad = np.flatnonzero(np.abs(z) > truncate)
        while bad.size:
            z[bad] = _gauss(rng, bad.size, dtype)
            bad = bad[np.abs(z[bad]) > truncate]
    return z


# ------------------------------------------------------------------ simulator
def simulate(
    L: int = 7,
    k=1.0,
    y=1.0,
    mu_r=0.0,
    mu_l=0.0,
    sigma=0.0,
    dt: float = 0.01,
    steps: int = 10_000,
    realisations: int = 1,
    dynamics: str = "overdamped",
    noise: str = "gaussian",
    synchronous: bool = False,
    gamma=None,
    decay=0.0,
    truncate: float = 2.0,
    seed: int | np.random.Generator | None = None,
    record_every: int | None = None,
    dtype: str = "float64",
) -> ChainResult:
    """Run ``realisations`` chains for every cell of the broadcast parameter grid.

    ``gamma`` defaults to 5 for ``second_order`` and 1 for ``langevin`` (unused when overdamped).
    ``seed`` is an int, ``None`` or a ``numpy.random.Generator``; the same seed and arguments give
    bit-identical results. ``record_every=n`` stores the load curve at steps ``0, n, 2n, ...``.
    ``dtype="float32"`` is about twice as fast and ample for curvature at the 1e-4 level;
    ``float64`` (default) reaches the closed forms to ~1e-14.
    """
    # ---- validate (every message names the parameter)
    L = _int("L", L, 1)
    steps = _int("steps", steps, 0)
    realisations = _int("realisations", realisations, 1)
    if dynamics not in DYNAMICS:
        raise ValueError(f"dynamics must be one of {DYNAMICS}, got {dynamics!r}")
    if noise not in NOISES:
        raise ValueError(f"noise must be one of {NOISES}, got {noise!r}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    if record_every is not None:
        record_every = _int("record_every", record_every, 1)
    dt = float(_array("dt", dt, positive=True))
    truncate = float(_array("truncate", truncate, positive=True))
    arrays = {
        "k": _array("k", k, positive=True),
        "y": _array("y", y, nonneg=False),
        "mu_r": _array("mu_r", mu_r),
        "mu_l": _array("mu_l", mu_l),
        "sigma": _array("sigma", sigma),
        "gamma": _array("gamma", DEFAULT_GAMMA.get(dynamics, 0.0) if gamma is None else gamma),
        "decay": _array("decay", decay),
    }
    limit = max_stable_dt(L, arrays["k"], dynamics, arrays["gamma"])
    if dt >= limit:
        raise ValueError(
            f"dt={dt} makes the explicit {dynamics} scheme unstable for L={L}, k<={arrays['k'].max()}"
            f" (gamma<={arrays['gamma'].max()}): need dt < {limit:.4g}"
        )
    try:
        grid = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError as err:
        shapes = {n: a.shape for n, a in arrays.items()}
        raise ValueError(f"array parameters do not broadcast together: {shapes}") from err
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ftype = np.dtype(dtype).type

    # ---- flatten grid × realisations into N columns; noisy columns first so noise-free cells
    # (σ = 0, e.g. a phase diagram's first column) cost no random numbers
    n_cells = int(np.prod(grid))
    N = n_cells * realisations
    flat = {n: np.repeat(np.broadcast_to(a, grid).ravel(), realisations) for n, a in arrays.items()}
    order = np.argsort(flat["sigma"] == 0, kind="stable")
    flat = {n: a[order] for n, a in flat.items()}
    n_noisy = int(np.count_nonzero(flat["sigma"]))

    def col(a):  # per-column parameter, or a plain scalar when uniform (cheaper broadcasting)
        return ftype(a[0]) if a.size and np.all(a == a[0]) else a.astype(ftype)

    xp = np.zeros((L + 2, N), ftype)  # rows: x_0 = 0, x_1..x_L, x_{L+1} = y
    xp[-1] = flat["y"]
    x = xp[1:-1]
    buf, tmp = np.empty((L, N), ftype), np.empty((L, N), ftype)
    second = dynamics != "overdamped"
    v = np.zeros((L, N), ftype) if second else None
    vnew = np.empty((L, N), ftype) if second else None
    big = ftype(np.finfo(ftype).max / 4)

    # per-step noise amplitude (before decay) in the units each update adds it in
    s = flat["sigma"][:n_noisy]
    amp = {"overdamped": dt * s, "second_order": s, "langevin": s * np.sqrt(dt)}[dynamics].astype(ftype)
    decay_n = flat["decay"][:n_noisy]
    rows = 1 if synchronous else L
    chunk = max(1, min(steps, _CHUNK_ELEMENTS // max(1, rows * n_noisy)))

    if dynamics == "overdamped":  # dt·g(kΔ²x + σξ) = h - clip(h, -dt·μ_l, dt·μ_r), h = dt·kΔ²x + dt·σξ
        a, lo, hi = col(dt * flat["k"]), col(-dt * flat["mu_l"]), col(dt * flat["mu_r"])
    else:
        kk, g = col(flat["k"]), col(flat["gamma"])
        lo, hi, ftdt = col(-flat["mu_l"]), col(flat["mu_r"]), ftype(dt)

    def laplacian(out):
        np.add(xp[:-2], xp[2:], out=out)
        np.subtract(out, x, out=out)
        np.subtract(out, x, out=out)

    def step(eps):
        laplacian(buf)
        if dynamics == "overdamped":
            np.multiply(buf, a, out=buf)
            if eps is not None:
                np.add(buf[:, :n_noisy], eps, out=buf[:, :n_noisy])
            np.clip(buf, lo, hi, out=tmp)
            np.subtract(buf, tmp, out=buf)
            np.add(x, buf, out=x)
            return
        np.multiply(buf, kk, out=buf)  # elastic force
        if dynamics == "second_order" and eps is not None:
            np.add(buf[:, :n_noisy], eps, out=buf[:, :n_noisy])  # friction sees the noisy force
        # friction: ±μ while moving (sign(v)·big saturates the clip), the static dead zone at rest
        np.sign(v, out=tmp)
        np.multiply(tmp, big, out=tmp)
        np.add(tmp, buf, out=tmp)
        np.clip(tmp, lo, hi, out=tmp)
        np.subtract(buf, tmp, out=buf)
        np.multiply(v, g, out=tmp)
        np.subtract(buf, tmp, out=buf)
        np.multiply(buf, ftdt, out=buf)
        np.add(v, buf, out=vnew)
        np.multiply(v, vnew, out=tmp)
        np.copyto(vnew, 0, where=tmp < 0)  # friction stops motion but never reverses it
        if dynamics == "langevin" and eps is not None:
            np.add(vnew[:, :n_noisy], eps, out=vnew[:, :n_noisy])
        np.copyto(v, vnew)
        np.multiply(v, ftdt, out=buf)
        np.add(x, buf, out=x)

    record = []
    if record_every:
        record.append(flat["y"] - xp[:-1])
    for start in range(0, steps, chunk):
        n = min(chunk, steps - start)
        eps = None
        if n_noisy:
            eps = _standard_noise(rng, noise, n * rows * n_noisy, ftype, truncate).reshape(n, rows, n_noisy)
            eps *= amp
            if np.any(decay_n > 0):
                t = (start + np.arange(n)) * dt
                eps *= np.exp(-np.multiply.outer(t, decay_n)).astype(ftype)[:, None, :]
        for i in range(n):
            step(None if eps is None else eps[i])
            if record_every and (start + i + 1) % record_every == 0:
                record.append(flat["y"] - xp[:-1])

    # ---- undo the column permutation and restore (*grid, R, ...)
    def shaped(arr):  # (rows, N) -> (*grid, R, rows)
        out = np.empty_like(arr, dtype=float)
        out[:, order] = arr
        return out.T.reshape(grid + (realisations, arr.shape[0]))

    traj = times = None
    if record_every:
        traj = np.stack([shaped(r) for r in record], axis=-2)
        times = np.arange(len(record)) * record_every * dt
    params = dict(
        L=L, dt=dt, steps=steps, realisations=realisations, dynamics=dynamics, noise=noise,
        synchronous=bool(synchronous), truncate=truncate, record_every=record_every, dtype=dtype,
        **{n: np.broadcast_to(a, grid).copy() for n, a in arrays.items()},
    )
    return ChainResult(
        x=shaped(x), load=shaped(flat["y"] - xp[:-1]), params=params,
        v=shaped(v) if second else None, trajectory=traj, times=times,
    )
