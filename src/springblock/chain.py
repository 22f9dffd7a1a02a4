"""The spring–block chain simulator (paper Eqs. 4–6, 10–13), batched over parameter grids.

``L`` unit-mass blocks sit between a wall ``x_0 = 0`` and a target ``x_{L+1} = y``, joined by
``L+1`` springs of stiffness ``k``, and start at rest at 0. The load curve is ``λ_ℓ = y - x_ℓ``
for ``ℓ = 0..L``. The dynamics are schemes in a table (:data:`SCHEMES`), each one small step
function with its stability bound beside it:

``"overdamped"`` (Eqs. 5–6) — the authors' synchronous update, friction acting on the noisy force::

    x ← x + dt · g(k Δ²x + σ ξ),     g(F) = F - clip(F, -μ_l, μ_r)

``"second_order"`` (Eq. 4 / 10–11) — semi-implicit Euler with damping ``γ``; friction sees the
noisy force ``F = k Δ²x + σ ξ``; kinetic friction ``μ_r`` / ``μ_l`` while moving, static friction
(the dead zone ``g``) at rest, and a block whose velocity would change sign within a step sticks
(``v = 0``): dry friction can stop motion but never reverse it.

``"langevin"`` (Eqs. 12–13) — friction from the velocity only, noise on the velocity::

    dv = [k Δ²x - γ v + f(v)] dt + σ e^{-decay·t} dW,    dx = v dt

with ``f = -μ_r`` (v > 0), ``+μ_l`` (v < 0), and at rest static friction against the noiseless
elastic force, with the same no-reversal rule on the deterministic part (stick–slip).
``"langevin_sign"`` is the same equation in the convention of the authors' notebook: ``f = 0`` at
``v = 0`` and no sticking rule (a block's velocity may cross zero within a step).

Noise normalisation (``sigma``):

* ``overdamped`` and ``second_order``: ``sigma`` is the authors' ``σ̄``, the scale of a *force*
  kick drawn afresh every step, independent of ``dt``. In SDE terms the overdamped displacement
  noise per step is ``dt·σ̄ ξ``, i.e. diffusion ``ε = σ̄ √dt`` (the authors write ``σ̄ = ε/√η``).
* ``langevin``: ``sigma`` is the diffusion coefficient ``ε`` of the velocity SDE; each step adds
  ``ε e^{-decay·t} √dt ξ``. The authors' S14 run drives all blocks with ``ε Σ_j dW_j``, which is
  ``synchronous=True`` with ``sigma = ε √L``.

``ξ`` is standard Gaussian (``noise="gaussian"``), Gaussian cut at ``±truncate`` (``"truncated"``,
so ``|kick| <= truncate·σ``; drawn exactly by inverting the CDF) or uniform on ``[-1, 1]``
(``"uniform"``, so ``sigma`` is the bound ``B``). ``synchronous=True`` uses one draw per step for
all blocks of a chain. ``decay`` multiplies the noise by ``e^{-decay·t}`` for every dynamics.

Every physical parameter (``k, y, mu_r, mu_l, sigma, gamma, decay``) may be an array; they are
broadcast together into a grid, and each grid cell is run ``realisations`` times, so a whole phase
diagram is one array computation. The state is laid out ``(L+2, cells)`` so each per-step NumPy
call works on contiguous rows, in buffers allocated once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy.special import ndtr, ndtri

from . import theory, validate

NOISES = theory.NOISES
DTYPES = ("float64", "float32")
_CHUNK_ELEMENTS = 1 << 16  # noise drawn in chunks of about this many numbers (fits in L2)


@dataclass(frozen=True)
class ChainResult:
    """Final state (and optionally the trajectory) of a batch of chains.

    Shapes: ``grid`` is the broadcast shape of the array parameters, ``R`` the realisations.
    """

    x: np.ndarray  # (*grid, R, L) final positions x_1..x_L
    load: np.ndarray  # (*grid, R, L+1) final load curve λ_0..λ_L
    params: dict[str, Any]  # every argument, array parameters broadcast to the grid shape
    v: np.ndarray | None = None  # (*grid, R, L) final velocities (inertial dynamics)
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


# ------------------------------------------------------------------ state and schemes
@dataclass
class _State:
    """Preallocated buffers: positions with both walls (L+2, N), velocities, two scratch arrays."""

    xp: np.ndarray
    v: np.ndarray | None
    vnew: np.ndarray | None
    buf: np.ndarray
    tmp: np.ndarray

    @property
    def x(self) -> np.ndarray:
        return self.xp[1:-1]

    def elastic(self, k) -> np.ndarray:
        """``k Δ²x`` into ``buf`` (the elastic force on every block)."""
        np.add(self.xp[:-2], self.xp[2:], out=self.buf)
        np.subtract(self.buf, self.x, out=self.buf)
        np.subtract(self.buf, self.x, out=self.buf)
        np.multiply(self.buf, k, out=self.buf)
        return self.buf


def _add_noise(arr, eps, n_noisy):
    if eps is not None:
        np.add(arr[:, :n_noisy], eps, out=arr[:, :n_noisy])


def _step_overdamped(s: _State, c: dict, eps, n_noisy) -> None:
    # dt·g(kΔ²x + σξ) = h - clip(h, -dt·μ_l, dt·μ_r) with h = dt·kΔ²x + dt·σξ (c["k"] holds dt·k)
    h = s.elastic(c["k"])
    _add_noise(h, eps, n_noisy)
    np.clip(h, c["lo"], c["hi"], out=s.tmp)
    np.subtract(h, s.tmp, out=h)
    np.add(s.x, h, out=s.x)


def _friction_and_step(s: _State, c: dict, F, *, stick: bool, at_rest: str) -> None:
    """``v ← v + dt·(F − γv + f)`` with dry friction f; then ``x ← x + dt·v`` (after noise on v).

    ``at_rest="static"``: a resting block feels the dead zone (friction cancels |F| up to μ);
    ``"none"``: f = 0 at rest. ``stick``: a velocity that would change sign within a step is 0.
    """
    np.sign(s.v, out=s.tmp)
    if at_rest == "static":  # ±μ while moving (sign(v)·big saturates the clip), the dead zone at rest
        np.multiply(s.tmp, c["big"], out=s.tmp)
        np.add(s.tmp, F, out=s.tmp)
        np.clip(s.tmp, c["lo"], c["hi"], out=s.tmp)
        np.subtract(F, s.tmp, out=F)
    else:  # f = −μ_r·[v > 0] + μ_l·[v < 0], nothing at rest
        np.subtract(F, np.where(s.tmp > 0, c["hi"], np.where(s.tmp < 0, c["lo"], 0)), out=F)
    np.multiply(s.v, c["gamma"], out=s.tmp)
    np.subtract(F, s.tmp, out=F)
    np.multiply(F, c["dt"], out=F)
    np.add(s.v, F, out=s.vnew)
    if stick:
        np.multiply(s.v, s.vnew, out=s.tmp)
        np.copyto(s.vnew, 0, where=s.tmp < 0)


def _step_second_order(s: _State, c: dict, eps, n_noisy) -> None:
    F = s.elastic(c["k"])
    _add_noise(F, eps, n_noisy)  # friction sees the noisy force
    _friction_and_step(s, c, F, stick=True, at_rest="static")
    _move(s, c)


def _step_langevin(s: _State, c: dict, eps, n_noisy, *, stick=True, at_rest="static") -> None:
    F = s.elastic(c["k"])
    _friction_and_step(s, c, F, stick=stick, at_rest=at_rest)
    _add_noise(s.vnew, eps, n_noisy)  # noise enters the velocity, after friction
    _move(s, c)


def _step_langevin_sign(s: _State, c: dict, eps, n_noisy) -> None:
    _step_langevin(s, c, eps, n_noisy, stick=False, at_rest="none")


def _move(s: _State, c: dict) -> None:
    np.copyto(s.v, s.vnew)
    np.multiply(s.v, c["dt"], out=s.buf)
    np.add(s.x, s.buf, out=s.x)


def _stiffest(L: int, k) -> float:
    """ω² of the chain's stiffest mode: ``k(2 + 2cos(π/(L+1)))``."""
    return float(np.max(k)) * (2 + 2 * np.cos(np.pi / (L + 1)))


def _dt_overdamped(L, k, gamma) -> float:  # explicit Euler: dt·ω² < 2
    return 2.0 / _stiffest(L, k)


def _dt_inertial(L, k, gamma) -> float:  # semi-implicit Euler with damping: dt²ω² + 2γ·dt < 4
    w2, g = _stiffest(L, k), float(np.max(gamma))
    return (-g + np.sqrt(g * g + 4 * w2)) / w2


@dataclass(frozen=True)
class Scheme:
    """One dynamics: its step, its stability bound, its default damping, how noise is scaled."""

    step: Callable[[_State, dict, Any, int], None]
    max_dt: Callable[[int, Any, Any], float]
    gamma: float | None  # default damping (None: no inertia)
    noise_units: str  # "force·dt" (added to dt·F), "force" (added to F), "velocity·√dt" (added to v)


SCHEMES = {
    "overdamped": Scheme(_step_overdamped, _dt_overdamped, None, "force·dt"),
    "second_order": Scheme(_step_second_order, _dt_inertial, 5.0, "force"),
    "langevin": Scheme(_step_langevin, _dt_inertial, 1.0, "velocity·√dt"),
    "langevin_sign": Scheme(_step_langevin_sign, _dt_inertial, 1.0, "velocity·√dt"),
}
DYNAMICS = tuple(SCHEMES)
DEFAULT_GAMMA = {name: s.gamma for name, s in SCHEMES.items() if s.gamma is not None}


def max_stable_dt(L: int, k=1.0, dynamics: str = "overdamped", gamma=None) -> float:
    """Largest time step for which the explicit scheme is linearly stable (strict bound)."""
    scheme = SCHEMES[validate.choice("dynamics", dynamics, DYNAMICS)]
    k = validate.array("k", k, 0, lo_open=True)
    gamma = scheme.gamma if gamma is None else validate.array("gamma", gamma, 0, lo_open=True)
    return scheme.max_dt(validate.integer("L", L, 1, theory.MAX_BLOCKS), k, gamma)


MAX_STATE_BYTES = 8 * 2**30  # the chain state a run may hold (this machine has 24 GiB)


def _check_memory(L: int, N: int, itemsize: int, inertial: bool) -> None:
    """Refuse, before anything is allocated, a run whose state alone would not fit in memory."""
    rows = (L + 2) + L * (4 if inertial else 2)  # positions with both walls, two scratch arrays, two of velocities
    need = rows * N * itemsize + 8 * N * 8  # and each chain's eight float64 parameters
    if need > MAX_STATE_BYTES:
        raise ValueError(f"L={L} blocks × {N:,} chains (grid cells × realisations) would hold "
                         f"{need / 2**30:,.1f} GiB of chain state; at most {MAX_STATE_BYTES / 2**30:.0f} GiB: "
                         "reduce L, realisations or the parameter grid")


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
    if kind == "truncated":  # inverse CDF on [Φ(−c), Φ(c)]: exact for any c > 0, no rejection loop
        lo, hi = ndtr(-truncate), ndtr(truncate)
        return np.clip(ndtri(lo + rng.random(n) * (hi - lo)), -truncate, truncate).astype(dtype)
    return _gauss(rng, n, dtype)


# ------------------------------------------------------------------ simulator
def _arrays(dynamics, k, y, mu_r, mu_l, sigma, gamma, decay) -> dict[str, np.ndarray]:
    default = SCHEMES[dynamics].gamma
    return {"k": validate.array("k", k, 0, lo_open=True), "y": validate.array("y", y),
            "mu_r": validate.array("mu_r", mu_r, 0), "mu_l": validate.array("mu_l", mu_l, 0),
            "sigma": validate.array("sigma", sigma, 0),
            "gamma": validate.array("gamma", (default or 0.0) if gamma is None else gamma, 0),
            "decay": validate.array("decay", decay, 0)}


def _coefficients(dynamics: str, flat: dict, dt: float, ftype) -> dict:
    """Per-column step coefficients (a plain scalar where a parameter is uniform: cheaper)."""
    def col(a):
        return ftype(a[0]) if a.size and np.all(a == a[0]) else a.astype(ftype)

    if dynamics == "overdamped":
        return {"k": col(dt * flat["k"]), "lo": col(-dt * flat["mu_l"]), "hi": col(dt * flat["mu_r"])}
    return {"k": col(flat["k"]), "gamma": col(flat["gamma"]), "lo": col(-flat["mu_l"]), "hi": col(flat["mu_r"]),
            "dt": ftype(dt), "big": ftype(np.finfo(ftype).max / 4)}


def _noise_amplitude(units: str, sigma: np.ndarray, dt: float) -> np.ndarray:
    return {"force·dt": dt * sigma, "force": sigma, "velocity·√dt": sigma * np.sqrt(dt)}[units]


def simulate(L: int = 7, k=1.0, y=1.0, mu_r=0.0, mu_l=0.0, sigma=0.0, dt: float = 0.01, steps: int = 10_000,
             realisations: int = 1, dynamics: str = "overdamped", noise: str = "gaussian",
             synchronous: bool = False, gamma=None, decay=0.0, truncate: float = 2.0,
             seed: int | np.random.Generator | None = None, record_every: int | None = None,
             dtype: str = "float64") -> ChainResult:
    """Run ``realisations`` chains for every cell of the broadcast parameter grid. ``gamma``: the
    scheme's (5 second-order, 1 Langevin). ``seed`` (int >= 0, None or a Generator) fixes it bitwise.
    ``record_every=n`` stores the load curve at steps ``0, n, 2n, ...``. ``dtype="float32"`` is
    twice as fast and ample for curvature at 1e-4; ``float64`` reaches the closed forms to ~1e-14.
    """
    L, steps = validate.integer("L", L, 1, theory.MAX_BLOCKS), validate.integer("steps", steps, 0)
    realisations = validate.integer("realisations", realisations, 1)
    scheme = SCHEMES[validate.choice("dynamics", dynamics, DYNAMICS)]
    validate.choice("noise", noise, NOISES)
    validate.choice("dtype", dtype, DTYPES)
    synchronous = validate.boolean("synchronous", synchronous)
    record_every = validate.optional_integer("record_every", record_every, 1)
    dt = validate.real("dt", dt, 0, None, lo_open=True)
    truncate = validate.real("truncate", truncate, 0, None, lo_open=True)
    if not (seed is None or isinstance(seed, np.random.Generator)):
        seed = validate.integer("seed", seed, 0)
    arrays = _arrays(dynamics, k, y, mu_r, mu_l, sigma, gamma, decay)
    limit = scheme.max_dt(L, arrays["k"], arrays["gamma"])
    if dt >= limit:
        raise ValueError(f"dt={dt} makes the explicit {dynamics} scheme unstable for L={L}, k<={arrays['k'].max()}"
                         f" (gamma<={arrays['gamma'].max()}): need dt < {limit:.4g}")
    try:
        grid = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError as err:
        raise ValueError(f"array parameters do not broadcast together: "
                         f"{ {n: a.shape for n, a in arrays.items()} }") from err
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ftype = np.dtype(dtype).type

    # grid × realisations flattened into N columns; noisy columns first, so noise-free cells (σ = 0,
    # e.g. a phase diagram's first column) cost no random numbers
    N = int(np.prod(grid)) * realisations
    _check_memory(L, N, np.dtype(dtype).itemsize, inertial=scheme.gamma is not None)
    flat = {n: np.repeat(np.broadcast_to(a, grid).ravel(), realisations) for n, a in arrays.items()}
    order = np.argsort(flat["sigma"] == 0, kind="stable")
    flat = {n: a[order] for n, a in flat.items()}
    n_noisy = int(np.count_nonzero(flat["sigma"]))
    inertial = scheme.gamma is not None
    state = _State(np.zeros((L + 2, N), ftype), *(np.zeros((L, N), ftype) if inertial else None for _ in range(2)),
                   np.empty((L, N), ftype), np.empty((L, N), ftype))
    state.xp[-1] = flat["y"]
    coeffs = _coefficients(dynamics, flat, dt, ftype)
    amp = _noise_amplitude(scheme.noise_units, flat["sigma"][:n_noisy], dt).astype(ftype)
    decay_n = flat["decay"][:n_noisy]
    rows = 1 if synchronous else L
    chunk = max(1, min(steps, _CHUNK_ELEMENTS // max(1, rows * n_noisy)))

    record = [flat["y"] - state.xp[:-1]] if record_every else []
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
            scheme.step(state, coeffs, None if eps is None else eps[i], n_noisy)
            if record_every and (start + i + 1) % record_every == 0:
                record.append(flat["y"] - state.xp[:-1])

    def shaped(arr):  # (rows, N) in column order -> (*grid, R, rows)
        out = np.empty_like(arr, dtype=float)
        out[:, order] = arr
        return out.T.reshape(grid + (realisations, arr.shape[0]))

    traj = np.stack([shaped(r) for r in record], axis=-2) if record_every else None
    params = dict(L=L, dt=dt, steps=steps, realisations=realisations, dynamics=dynamics, noise=noise,
                  synchronous=synchronous, truncate=truncate, record_every=record_every, dtype=dtype,
                  **{n: np.broadcast_to(a, grid).copy() for n, a in arrays.items()})
    return ChainResult(x=shaped(state.x), load=shaped(flat["y"] - state.xp[:-1]), params=params,
                       v=shaped(state.v) if inertial else None, trajectory=traj,
                       times=np.arange(len(record)) * record_every * dt if record_every else None)
