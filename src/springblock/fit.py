"""Fit a spring–block chain to a network's load dynamics (Fig. 4, made quantitative).

Given observed load curves D[t, ℓ] (T epochs × (L+1) layers, e.g. a training history), find an
overdamped chain of L blocks (k = 1, y = 1; spec §4.1) whose mean load trajectory, mapped affinely,
matches::

    D[t, ℓ] ≈ a + b · λ̄_ℓ(τ · (e_t − e_0); μ_r, μ_l, σ)

* λ̄ is the chain's load λ_ℓ = 1 − x_ℓ averaged over ``realisations`` runs with a fixed seed
  (common random numbers), so the objective is a deterministic, continuous function of the
  parameters. The simulator draws noise per chain, so in one batched call each candidate meets
  its own noise and candidates compare up to Monte-Carlo scatter; the polish evaluates one
  candidate per call, where all meet the same noise. The chain starts at rest (λ ≡ 1) at the
  first epoch e_0, standing for the untrained network.
* τ is chain time per epoch. The chain advances ``substeps`` steps of size h = τ·Δ/substeps per
  observation interval Δ (the smallest epoch gap); intermediate epochs are interpolated linearly.
* (a, b) are solved in closed form inside the objective (least squares over all T·(L+1) entries,
  b ≥ 0 so that less load means better separation).
* (μ_r, μ_l, σ, τ) are searched in log space: a Latin-hypercube population, then cross-entropy
  rounds (refit a Gaussian to the best candidates, resample), each round ONE batched
  :func:`springblock.chain.simulate` call over all candidates; finally a Nelder–Mead polish.

Units and identifiability
-------------------------
Stiffness and target are fixed (k = y = 1) because they are not identifiable: rescaling y is
absorbed by (a, b), and the discrete update x ← x + h·g(kΔ²x + σξ) depends on (h, k, μ, σ) only
through h·k, μ/k, σ/k, so k is absorbed by τ. The fitted μ_r, μ_l, σ are therefore the ratios
μ/k, σ/k in units of k·y (y = the chain's total load). σ is the authors' per-step force kick σ̄,
tied to the step h = ``ChainFit.dt``: a block's mean drift F − μ̄(F; σ) does not depend on h, but
the fluctuations (diffusion σ√h) do and feed back on the mean, so a finer step with the same σ
gives a similar, not identical, mean trajectory.

What the data pin down: the shape of the late curves fixes the effective friction
μ̄ = (d_{L+1} − d_1)/L (curvature c = −(L−1)μ̄), and the speed of the approach fixes τ; the map
(a, b) is well determined. How μ̄ splits into (μ_r, μ_l, σ) is only partly determined: at small
noise the curve follows μ_r alone (Eq. 7; μ_l and σ are then free), at large noise only μ_r − μ_l
matters (Eq. 8; σ is known only to be large). Expect long valleys in those three;
``ChainFit.spread`` shows them. (Measured on synthetic chains, T = 31, 8 seeds: τ within 6 %,
μ̄ within 0.002, a and b within 1 %; μ_r within 2 % in the Eq. 7 regime, μ_r − μ_l within 0.01
in the Eq. 8 regime, σ off by up to 50 %.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

from . import chain, theory, validate

__all__ = ["ChainFit", "fit_chain", "PARAMS"]

PARAMS = ("mu_r", "mu_l", "sigma", "tau")
_BASE_DT = 0.01  # the simulator's dt; the chain step is set through k (see _Problem.mean_load)
_MAX_STEP = 0.25  # largest chain step h (k = 1): half the overdamped stability limit ≈ 0.52 at L = 7
_MAX_ELEMENTS = 8_000_000  # trajectory numbers per simulate call (~64 MB in float64)
BOUND_TOL = 0.01  # a parameter within 1 % of its log-range from a box edge "sits at the bound"


@dataclass(frozen=True)
class ChainFit:
    """A chain fitted to load dynamics. Units: k = y = 1; ``tau`` in chain time per epoch.

    ``fitted = a + b·load`` approximates ``observed`` (both (T, L+1)); ``rmse`` and
    ``r2 = 1 − SSE/SST`` (SST about the global mean of D) measure the fit. ``mu_eff`` is the
    effective friction μ̄ = (d_{L+1} − d_1)/L of the fitted chain's last mean curve, the
    combination that sets its curvature c_λ = −(L−1)μ̄ (``curvature`` = b·c_λ in D units).
    ``spread[p] = (min, max)`` of p over the estimate and the ``n_best`` best search candidates
    (which met different noise): a hint of flat directions and Monte-Carlo scatter, not a
    confidence interval.
    """

    mu_r: float
    mu_l: float
    sigma: float
    tau: float
    a: float
    b: float
    mu_eff: float
    curvature: float
    rmse: float
    r2: float
    dt: float  # chain step h = tau·interval/substeps
    epochs: np.ndarray  # (T,)
    observed: np.ndarray  # (T, L+1)
    fitted: np.ndarray  # (T, L+1) a + b·load
    load: np.ndarray  # (T, L+1) mean chain load λ̄
    spread: dict[str, tuple[float, float]]
    evaluations: int
    at_bound: dict[str, bool] = field(default_factory=dict)  # parameter -> ended within 1 % (log) of a box edge
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, float]:
        return {p: getattr(self, p) for p in PARAMS + ("a", "b")}

    def simulate_kwargs(self) -> dict[str, Any]:
        """Arguments of :func:`springblock.chain.simulate` that rerun the fitted chain.

        Its ``.trajectory.mean(-3)`` at ``times / tau + epochs[0]`` is ``load`` (same seed).
        """
        s = self.settings
        interval = s["interval"]
        span = float(self.epochs[-1] - self.epochs[0])
        return dict(
            L=self.observed.shape[1] - 1, k=1.0, y=1.0, mu_r=self.mu_r, mu_l=self.mu_l, sigma=self.sigma,
            dt=self.dt, steps=int(round(span / interval)) * s["substeps"], realisations=s["realisations"],
            dynamics="overdamped", noise=s["noise"], synchronous=s["synchronous"], seed=s["seed"],
            record_every=s["substeps"], dtype=s["dtype"],
        )


# ------------------------------------------------------------------ validation
def _observed(load) -> np.ndarray:
    try:
        d = np.asarray(load, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"load must be a (T, L+1) array of numbers; got {type(load).__name__}") from err
    if d.ndim != 2:
        raise ValueError(f"load must have shape (T, L+1) = (epochs, layers); got shape {d.shape}")
    if d.shape[0] < 3:
        raise ValueError(f"load needs T >= 3 epochs to fit dynamics; got T = {d.shape[0]}")
    if d.shape[1] < 3:
        raise ValueError(f"load needs L+1 >= 3 layers (a chain of L >= 2 blocks); got {d.shape[1]}")
    if not np.isfinite(d).all():
        bad = np.argwhere(~np.isfinite(d))[:3].tolist()
        raise ValueError(f"load contains non-finite values (NaN or inf), e.g. at [t, ℓ] = {bad}")
    if np.ptp(d) == 0:
        raise ValueError("load is constant: there are no dynamics to fit")
    return d


def _epochs(epochs, T: int) -> np.ndarray:
    e = np.arange(T, dtype=float) if epochs is None else np.asarray(epochs, dtype=float)
    if e.shape != (T,):
        raise ValueError(f"epochs must have shape (T,) = ({T},) to match load; got {e.shape}")
    if not np.isfinite(e).all() or np.any(np.diff(e) <= 0):
        raise ValueError("epochs must be finite and strictly increasing")
    return e


def _bounds(bounds, span: float, interval: float, substeps: int) -> np.ndarray:
    """(4, 2) array of log10 bounds for PARAMS; lo == hi fixes a parameter."""
    tau_hi = _MAX_STEP * substeps / interval  # keeps h = τ·Δ/substeps <= _MAX_STEP
    default = {
        "mu_r": (1e-4, 0.5),
        "mu_l": (1e-4, 0.5),
        "sigma": (1e-4, 2.0),
        "tau": (min(0.5 / span, tau_hi), min(1000.0 / span, tau_hi)),  # whole history: t ∈ [0.5, 1000]
    }
    bounds = {} if bounds is None else dict(bounds)
    unknown = set(bounds) - set(PARAMS)
    if unknown:
        raise ValueError(f"bounds keys must be among {PARAMS}; got {sorted(unknown)}")
    out = []
    for p in PARAMS:
        lo, hi = bounds.get(p, default[p])
        if not (0 < lo <= hi < math.inf):
            raise ValueError(f"bounds[{p!r}] must satisfy 0 < lo <= hi < inf; got {(lo, hi)}")
        if p == "tau" and hi > tau_hi * (1 + 1e-12):
            raise ValueError(
                f"bounds['tau'] upper {hi} exceeds {tau_hi:.4g} = {_MAX_STEP}·substeps/interval (the chain "
                "step would be too coarse); raise substeps"
            )
        out.append((math.log10(lo), math.log10(hi)))
    return np.array(out)


# ------------------------------------------------------------------ objective
class _Problem:
    """Batched objective: log10 parameters (P, 4) -> SSE (P,), plus the pieces of the fit."""

    def __init__(self, d, epochs, realisations, substeps, synchronous, noise, seed, dtype):
        self.d = d
        self.T, self.L = d.shape[0], d.shape[1] - 1
        self.interval = float(np.min(np.diff(epochs)))
        pos = (epochs - epochs[0]) / self.interval  # observation positions on the record grid
        self.units = int(math.ceil(pos[-1] - 1e-9))
        pos = np.minimum(pos, self.units)
        self.i0 = np.minimum(np.floor(pos + 1e-9).astype(int), self.units)
        self.i1 = np.minimum(self.i0 + 1, self.units)
        self.w = np.clip(pos - self.i0, 0.0, 1.0)[:, None]
        self.kw = dict(
            L=self.L, dt=_BASE_DT, steps=self.units * substeps, realisations=realisations, dynamics="overdamped",
            noise=noise, synchronous=synchronous, seed=seed, record_every=substeps, dtype=dtype,
        )
        self.substeps, self.realisations = substeps, realisations
        self.dm = d - d.mean()
        self.sst = float((self.dm**2).sum())
        self.evaluations = 0

    def step(self, tau):
        return np.asarray(tau) * self.interval / self.substeps

    def mean_load(self, theta: np.ndarray) -> np.ndarray:
        """(P, T, L+1) mean chain load for log10 parameters theta (P, 4)."""
        mu_r, mu_l, sigma, tau = (10.0**theta).T
        # The step h enters only as h·k (x ← x + h·g(kΔ²x + σξ) = x + dt·g(k'Δ²x + σ'ξ) with
        # k' = h/dt, μ' = μk', σ' = σk'), so one simulate call with a shared dt covers every τ.
        kk = self.step(tau) / _BASE_DT
        per = self.realisations * (self.units + 1) * (self.L + 1)
        chunk = max(1, _MAX_ELEMENTS // per)
        out = []
        for s in range(0, len(theta), chunk):
            sl = slice(s, s + chunk)
            res = chain.simulate(k=kk[sl], mu_r=mu_r[sl] * kk[sl], mu_l=mu_l[sl] * kk[sl],
                                 sigma=sigma[sl] * kk[sl], **self.kw)
            traj = res.trajectory.mean(axis=-3)  # (P, units+1, L+1)
            out.append(traj[:, self.i0] * (1 - self.w) + traj[:, self.i1] * self.w)
        self.evaluations += len(theta)
        return np.concatenate(out)

    def affine(self, lam: np.ndarray):
        """Least-squares a, b (b >= 0) of D ≈ a + b·λ per candidate, and the SSE."""
        lm = lam - lam.mean(axis=(1, 2), keepdims=True)
        var = (lm**2).sum(axis=(1, 2))
        cov = (lm * self.dm).sum(axis=(1, 2))
        b = np.where(var > 1e-300, np.maximum(cov, 0.0) / np.maximum(var, 1e-300), 0.0)
        a = self.d.mean() - b * lam.mean(axis=(1, 2))
        sse = self.sst - 2 * b * cov + b**2 * var  # = Σ (D − a − bλ)²
        return a, b, np.maximum(sse, 0.0)

    def __call__(self, theta):
        lam = self.mean_load(np.atleast_2d(theta))
        a, b, sse = self.affine(lam)
        return sse, a, b, lam


# ------------------------------------------------------------------ search
def _latin(rng, n: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """n Latin-hypercube points in the box [lo, hi] (fixed dimensions where lo == hi)."""
    u = (np.argsort(rng.random((len(lo), n)), axis=1).T + rng.random((n, len(lo)))) / n
    return lo + u * (hi - lo)


def _search(prob: "_Problem", rng, lo, hi, candidates: int, rounds: int, elite: int):
    """Latin-hypercube candidates in log space, then cross-entropy rounds around the elite so far.
    Returns every candidate's log10 parameters, SSE and (a, b, μ̄)."""
    free = hi > lo

    def evaluate(th):
        sse, a, b, lam = prob(th)
        return sse, np.stack([a, b, theory.friction_from_load(lam[:, -1])], 1)

    thetas = _latin(rng, candidates, lo, hi)
    sses, extra = evaluate(thetas)
    for _ in range(rounds if free.any() else 0):
        best = thetas[np.argsort(sses)[:elite]]
        mean = best.mean(0)
        cov = np.cov(best[:, free].T).reshape(free.sum(), free.sum())
        cov += np.diag(np.full(free.sum(), 0.02**2))  # a floor: the search must not collapse before the valley is seen
        new = np.tile(mean, (candidates, 1))
        new[:, free] = rng.multivariate_normal(mean[free], cov, size=candidates, method="eigh")
        new = np.clip(new, lo, hi)
        s_new, x_new = evaluate(new)
        thetas, sses, extra = np.concatenate([thetas, new]), np.concatenate([sses, s_new]), np.concatenate([extra, x_new])
    return thetas, sses, extra


def _polish(prob: "_Problem", theta, top, lo, hi) -> np.ndarray:
    """Nelder–Mead from the best candidate. It evaluates one candidate per call, so every evaluation
    meets the same noise (the seed's first chains): a deterministic objective. (In a batched call
    each candidate meets its own chains' noise.)"""
    free = hi > lo

    def objective(z):
        t = theta.copy()
        t[free] = np.clip(z, lo[free], hi[free])
        return float(prob(t[None])[0][0])

    start = objective(theta[free])
    step = np.maximum(top[:, free].std(0), 0.02)
    simplex = np.clip(np.vstack([theta[free], theta[free] + np.diag(step)]), lo[free], hi[free])
    opt = minimize(objective, theta[free], method="Nelder-Mead", bounds=list(zip(lo[free], hi[free])),
                   options=dict(initial_simplex=simplex, maxfev=60 * int(free.sum()), xatol=1e-3, fatol=1e-6 * prob.sst))
    theta = theta.copy()
    if opt.fun < start:
        theta[free] = np.clip(opt.x, lo[free], hi[free])
    return theta


def fit_chain(
    load,
    epochs=None,
    *,
    synchronous: bool = True,
    noise: str = "gaussian",
    realisations: int = 32,
    substeps: int = 20,
    candidates: int = 128,
    rounds: int = 6,
    elite: int = 16,
    polish: bool = True,
    bounds: dict[str, tuple[float, float]] | None = None,
    n_best: int = 10,
    seed: int = 0,
    dtype: str = "float32",
) -> ChainFit:
    """Fit an overdamped chain's mean load trajectory to observed load curves ``load`` (T, L+1).

    ``epochs`` (T,) are the times of the rows (default 0..T−1; the chain starts at rest at
    ``epochs[0]``). ``synchronous=True``: one noise draw per step shared by all blocks (Fig. 4).
    Search: ``candidates`` Latin-hypercube points in log space, then ``rounds`` cross-entropy
    rounds of ``candidates`` samples from a Gaussian fitted to the ``elite`` best so far, then
    (``polish``) Nelder–Mead on the best. ``bounds`` overrides the default box per parameter
    (``{"mu_l": (0.01, 0.1)}``; lo == hi fixes it). Defaults: μ ∈ [1e-4, 0.5], σ ∈ [1e-4, 2], total
    chain time τ·(e_{T−1} − e_0) ∈ [0.5, 1000] with step h <= 0.25.
    """
    d = _observed(load)
    e = _epochs(epochs, d.shape[0])
    for name, v, lo_ in (("realisations", realisations, 1), ("substeps", substeps, 1), ("candidates", candidates, 2),
                         ("rounds", rounds, 0), ("elite", elite, 2), ("n_best", n_best, 1)):
        validate.integer(name, v, lo_)
    if elite > candidates:
        raise ValueError(f"elite ({elite}) must not exceed candidates ({candidates})")
    validate.choice("noise", noise, chain.NOISES)
    validate.integer("seed", seed, 0)
    polish, synchronous = validate.boolean("polish", polish), validate.boolean("synchronous", synchronous)
    prob = _Problem(d, e, realisations, substeps, synchronous, noise, seed, dtype)
    box = _bounds(bounds, float(e[-1] - e[0]), prob.interval, substeps)
    lo, hi = box[:, 0], box[:, 1]
    thetas, sses, extra = _search(prob, np.random.default_rng(seed), lo, hi, candidates, rounds, elite)
    order = np.argsort(sses)
    theta = thetas[order[0]].copy()
    if polish and (hi > lo).any():
        theta = _polish(prob, theta, thetas[order[: max(elite, 2)]], lo, hi)
    return _summary(prob, theta, thetas[order[:n_best]], extra[order[:n_best]], box, d, e,
                    dict(synchronous=bool(synchronous), noise=noise, realisations=realisations, substeps=substeps,
                         interval=prob.interval, seed=seed, dtype=dtype, candidates=candidates, rounds=rounds,
                         elite=elite, polish=polish))


def _summary(prob, theta, top, top_extra, box, d, e, settings) -> ChainFit:
    """The fit at ``theta``, with the spread of the best candidates (a hint of flat directions and
    Monte-Carlo scatter, not a confidence interval) and which parameters sit at a bound."""
    sse, a, b, lam = prob(theta[None])
    sse, a, b, lam = float(sse[0]), float(a[0]), float(b[0]), lam[0]
    mu_r, mu_l, sigma, tau = (10.0**theta).tolist()
    mu_eff = float(theory.friction_from_load(lam[-1]))
    vals = dict(zip(PARAMS, (10.0**top).T))
    vals.update(zip(("a", "b", "mu_eff"), top_extra.T))
    final = dict(mu_r=mu_r, mu_l=mu_l, sigma=sigma, tau=tau, a=a, b=b, mu_eff=mu_eff)
    spread = {p: (float(min(np.min(v), final[p])), float(max(np.max(v), final[p]))) for p, v in vals.items()}
    width = box[:, 1] - box[:, 0]
    at_bound = {p: bool(width[i] > 0 and min(theta[i] - box[i, 0], box[i, 1] - theta[i]) <= BOUND_TOL * width[i])
                for i, p in enumerate(PARAMS)}
    return ChainFit(
        mu_r=mu_r, mu_l=mu_l, sigma=sigma, tau=tau, a=a, b=b, mu_eff=mu_eff,
        curvature=float(theory.curvature(lam[-1])) * b, rmse=math.sqrt(sse / d.size), r2=1.0 - sse / prob.sst,
        dt=float(prob.step(tau)), epochs=e, observed=d, fitted=a + b * lam, load=lam, spread=spread,
        evaluations=prob.evaluations, at_bound=at_bound,
        settings={**settings, "bounds": {p: tuple(float(v) for v in 10.0**box[i]) for i, p in enumerate(PARAMS)}},
    )
