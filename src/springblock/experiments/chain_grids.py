"""The spring–block simulations of chapters 3–4, each one cached call of :func:`springblock.chain.simulate`.

Every function takes the chain's parameters explicitly (the chapters pass
``springblock.scales.settings(name, scale)``), runs whole grids of parameters × realisations as one
array computation through :func:`springblock.results.run` (experiment ``"chain"``, torch-free), and
returns plain arrays together with the closed forms they are compared with. Units: k = y = 1
unless a function says otherwise; L = 7 blocks.
"""
from __future__ import annotations

import numpy as np

from .. import chain, results, theory, validate

L, K, Y = 7, 1.0, 1.0  # seven blocks (a network with seven hidden layers), unit stiffness and target

_REDUCE = {  # what a simulation keeps: name -> function of the ChainResult
    "load": lambda r: r.load,
    "mean_load": lambda r: r.mean_load(),
    "curvature": lambda r: r.curvature,
    "x": lambda r: r.x,
    "trajectory": lambda r: r.trajectory,
    "mean_trajectory": lambda r: r.trajectory.mean(-3),
    "times": lambda r: r.times,
    "friction": lambda r: theory.friction_from_load(r.load, np.asarray(r.params["k"])[..., None]),
    "mean_friction_trajectory": lambda r: theory.friction_from_load(
        r.trajectory, np.asarray(r.params["k"])[..., None, None]).mean(-2),
}


def _compute(configs, ctx, emit) -> None:
    for j, c in enumerate(configs):
        r = chain.simulate(**c["simulate"])
        emit(j, {name: _REDUCE[name](r) for name in c["keep"]})


EXPERIMENT = results.Experiment("chain", code=("springblock.experiments.chain_grids",), compute=_compute,
                                torch=False)


def simulate(keep, *, label: str, progress: bool = False, **kwargs) -> dict[str, np.ndarray]:
    """One cached :func:`springblock.chain.simulate` call, keeping the reductions named in ``keep``."""
    for name in keep:
        validate.choice("keep", name, tuple(_REDUCE))
    kwargs = {k: (np.asarray(v).tolist() if isinstance(v, (np.ndarray, list, tuple)) else v) for k, v in kwargs.items()}
    chain.simulate(**{**kwargs, "steps": 0})  # every argument checked before any work
    return results.run(EXPERIMENT, [{"simulate": kwargs, "keep": sorted(keep)}], progress=progress, label=label)[0]


# ------------------------------------------------------------------ chapter 3
def eq7_check(mu_r, mu_l, steps: int, dt: float) -> dict:
    """Noiseless chains at frictions ``mu_r`` (columns) × ``mu_l`` (rows) against Eq. 7 (stuck
    blocks included). Returns ``load`` (mu_l, mu_r, L+1), ``x``, ``predicted`` (mu_r, L+1), ``error``
    (largest |simulated − closed form|) and ``valid`` (mu_r within the bound 2ky/(L(L+1)))."""
    mu_r, mu_l = validate.array("mu_r", mu_r, 0), validate.array("mu_l", mu_l, 0)
    out = simulate(("load", "x"), label="chain eq7", L=L, k=K, y=Y, mu_r=mu_r, mu_l=mu_l[:, None], steps=steps, dt=dt)
    load, x = out["load"][:, :, 0], out["x"][:, :, 0]
    predicted = theory.load_from_positions(theory.equilibrium(L, K, Y, mu_r), Y)
    return {"mu_r": mu_r, "mu_l": mu_l, "load": load, "x": x, "predicted": predicted,
            "error": float(np.abs(load - predicted).max()), "valid": mu_r <= theory.friction_bound(L, K, Y)}


def fig2_simulation(mu: float, sigma: float, eta: float, steps: int, record_every: int, realisations: int,
                    seed: int = 0) -> dict:
    """Fig. 2's simulation panel: λ_ℓ(t) of the overdamped chain with independent noise at the
    authors' notebook parameters (μ_r = μ_l = μ). Returns ``times``, one chain's ``trajectory``
    (T, L+1), the ``mean_trajectory`` over realisations and the final ``mean_load``."""
    out = simulate(("trajectory", "mean_trajectory", "times", "mean_load"), label="chain fig2", L=L, k=K, y=Y,
                   mu_r=mu, mu_l=mu, sigma=sigma, dt=eta, steps=steps, realisations=realisations,
                   record_every=record_every, seed=seed)
    return {"times": out["times"], "trajectory": out["trajectory"][0], "mean_trajectory": out["mean_trajectory"],
            "mean_load": out["mean_load"], "linear": theory.uniform_force_load(L, K, Y, 0.0), "realisations": realisations}


def phase_diagram(mu_r, mu_l: float, sigma, realisations: int, steps: int, dt: float, dtype: str,
                  dynamics: str = "overdamped", gamma=None, seed: int = 0) -> dict:
    """Fig. 3 (overdamped) or S13 (``second_order``): rows ``mu_r`` × columns ``sigma``, each cell
    ``realisations`` chains with independent Gaussian noise. Returns the ``mean_load`` (rows, cols,
    L+1), per-chain ``curvature`` (rows, cols, R), its mean ``c`` and the ``excess`` elastic energy of
    the mean curve over equiseparation; ``eq7`` is the noiseless prediction per row."""
    mu_r, sigma = validate.array("mu_r", mu_r, 0), validate.array("sigma", sigma, 0)
    out = simulate(("mean_load", "curvature"), label=f"chain phase ({dynamics})", L=L, k=K, y=Y, mu_r=mu_r[:, None],
                   mu_l=mu_l, sigma=sigma, dynamics=dynamics, gamma=gamma, realisations=realisations, steps=steps,
                   dt=dt, dtype=dtype, seed=seed)
    return {"mu_r": mu_r, "sigma": sigma, "mean_load": out["mean_load"], "curvature": out["curvature"],
            "c": out["curvature"].mean(-1), "eq7": theory.predicted_curvature(L, K, mu_r),
            "excess": theory.energy(out["mean_load"], K) - theory.energy_closed_form(L, K, Y, 0.0)}


def explorer_grid(mu_r, sigma, mu_l: float, k: float, realisations: int, steps: int, seed: int = 0) -> dict:
    """The chain explorer precomputed over a grid of slider positions (rows ``mu_r`` × columns
    ``sigma``): the first chain's positions ``x`` and every realisation's ``load``, with Eq. 7 and
    Eq. 8 per row."""
    mu_r, sigma = validate.array("mu_r", mu_r, 0), validate.array("sigma", sigma, 0)
    out = simulate(("x", "load"), label="chain explorer", L=L, k=k, y=Y, mu_r=mu_r[:, None], mu_l=mu_l, sigma=sigma,
                   realisations=realisations, steps=steps, seed=seed, dtype="float32")
    return {"mu_r": mu_r, "sigma": sigma, "mu_l": mu_l, "k": k, "x": out["x"], "load": out["load"],
            "eq7": theory.load_from_positions(theory.equilibrium(L, k, Y, mu_r), Y),
            "eq8": theory.large_noise_load(L, k, Y, mu_r, mu_l)}


# ------------------------------------------------------------------ chapter 4
def log_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` log-spaced values from ``lo`` to ``hi``, each rounded to 12 significant digits.

    The grid is part of every result's key, and ``np.geomspace``'s last bit differs between CPUs
    (their SIMD ``exp``/``log`` differ): rounded, every machine asks for the same results."""
    return np.array([float(f"{v:.12g}") for v in np.geomspace(lo, hi, n)])


def noise_sweep(mu_r: float, mu_l: float, sigma_min: float, sigma_max: float, n_sigma: int, realisations: int,
                steps: int, dt: float, dtype: str, seed: int = 0) -> dict:
    """Curvature against noise at ``mu_r < mu_l`` (row 0) and at ``mu_r = 0`` (row 1, Fig. 5b), with
    independent and with synchronous noise. ``sigmas`` starts at 0 and is log-spaced after it.
    Returns per noise kind ``{kind}_c`` (2, S) mean curvature, ``{kind}_sem`` its standard error and
    ``{kind}_load`` (2, S, L+1) mean loads, plus the Eq. 7 / Eq. 8 curvatures."""
    sigmas = np.r_[0.0, log_grid(sigma_min, sigma_max, validate.integer("n_sigma", n_sigma, 2))]
    rows = np.array([mu_r, 0.0])
    out = {"sigmas": sigmas, "rows": rows}
    for kind, sync in (("independent", False), ("synchronous", True)):
        r = simulate(("mean_load", "curvature"), label=f"chain noise sweep ({kind})", L=L, k=K, y=Y,
                     mu_r=rows[:, None], mu_l=mu_l, sigma=sigmas, synchronous=sync, realisations=realisations,
                     steps=steps, dt=dt, dtype=dtype, seed=seed)
        out[f"{kind}_c"] = r["curvature"].mean(-1)
        out[f"{kind}_sem"] = r["curvature"].std(-1) / np.sqrt(realisations)
        out[f"{kind}_load"] = r["mean_load"]
    out["eq7_c"] = float(theory.predicted_curvature(L, K, mu_r))
    out["eq8_c"] = float(theory.predicted_curvature(L, K, theory.zero_drift_force(mu_r, mu_l)))
    out["eq8_c_free"] = float(theory.predicted_curvature(L, K, theory.zero_drift_force(0.0, mu_l)))
    return out


def bounded_vs_gaussian(mu_r: float, mu_l: float, bounds, realisations: int, steps: int, dt: float,
                        record_every: int, seed: int = 0) -> dict:
    """The force a chain freezes at under uniform noise of half-width B against Gaussian noise of the
    same standard deviation (B/√3). Returns per noise ``{noise}_final`` (B, R) and the mean force
    over time ``{noise}_force`` (B, T) at ``times``, and the predicted ``freeze`` force."""
    B = validate.array("bounds", bounds, 0, lo_open=True)
    out = {"bounds": B, "freeze": theory.freeze_friction(mu_r, mu_l, B), "zero_drift": theory.zero_drift_force(mu_r, mu_l)}
    for noise, scale in (("uniform", B), ("gaussian", B / np.sqrt(3))):
        r = simulate(("friction", "mean_friction_trajectory", "times"), label=f"chain bounded ({noise})", L=L, k=K,
                     y=Y, mu_r=mu_r, mu_l=mu_l, sigma=scale, noise=noise, realisations=realisations, steps=steps,
                     dt=dt, record_every=record_every, seed=seed)
        out[f"{noise}_final"], out[f"{noise}_force"], out["times"] = r["friction"], r["mean_friction_trajectory"], r["times"]
    return out


def load_dynamics(mu_r: float, mu_l: float, sigma, steps: int, dt: float, record_every: int, seed: int = 0) -> dict:
    """Fig. 4 (right column): one chain per noise level with synchronous noise, its load over time.
    Returns ``trajectory`` (n_sigma, T, L+1), ``times`` and the final ``curvature`` (n_sigma,)."""
    sigma = validate.array("sigma", sigma, 0)
    r = simulate(("trajectory", "times", "curvature"), label="chain dynamics", L=L, k=K, y=Y, mu_r=mu_r, mu_l=mu_l,
                 sigma=sigma, synchronous=True, steps=steps, dt=dt, record_every=record_every, seed=seed)
    return {"sigma": sigma, "trajectory": r["trajectory"][:, 0], "times": r["times"], "curvature": r["curvature"][:, 0]}


def langevin(k: float, gamma: float, decay: float, dt: float, steps: int, eps: float, mu_r_s14: float, mu_l: float,
             mu_r, eps_grid, realisations: int, dtype: str, seed: int = 0) -> dict:
    """Fig. S14: the Langevin chain at the authors' parameters (noise shared by all blocks, scale
    ε√L, decaying) in both conventions — ``"langevin"`` (static friction at rest, no reversal; the
    book's) and ``"langevin_sign"`` (the authors' notebook) — and the book's convention over a grid
    of frictions ``mu_r`` × noises ``eps_grid``, the authors' convention on the same grid.

    Returns ``s14_load_<conv>`` (R, L+1) and ``s14_c_<conv>`` (R,) per convention, the grids
    ``grid_c_<conv>`` (rows, cols) and ``grid_load_<conv>`` (rows, cols, L+1), and Eq. 8's curvature."""
    common = dict(L=L, k=k, y=Y, mu_l=mu_l, synchronous=True, decay=decay, gamma=gamma, dt=dt, steps=steps,
                  realisations=realisations, dtype=dtype, seed=seed)
    mu_r, eps_grid = validate.array("mu_r", mu_r, 0), validate.array("eps_grid", eps_grid, 0)
    out = {"mu_r": mu_r, "eps_grid": eps_grid,
           "eq8_c": float(theory.predicted_curvature(L, k, theory.zero_drift_force(mu_r_s14, mu_l)))}
    for conv in ("langevin", "langevin_sign"):
        s14 = simulate(("load",), label=f"chain S14 ({conv})", dynamics=conv, mu_r=mu_r_s14, sigma=eps * np.sqrt(L),
                       **common)
        out[f"s14_load_{conv}"], out[f"s14_c_{conv}"] = s14["load"], theory.curvature(s14["load"])
        grid = simulate(("mean_load", "curvature"), label=f"chain S14 grid ({conv})", dynamics=conv,
                        mu_r=mu_r[:, None], sigma=eps_grid * np.sqrt(L), **common)
        out[f"grid_c_{conv}"], out[f"grid_load_{conv}"] = grid["curvature"].mean(-1), grid["mean_load"]
    return out
