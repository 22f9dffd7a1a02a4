"""Spring chains fitted to networks' load dynamics (Fig. 4 made quantitative; :mod:`springblock.fit`)."""
from __future__ import annotations

import numpy as np

from .. import fit, results, shape, validate

PARAMS = ("mu_r", "mu_l", "sigma", "tau", "a", "b")


def _compute(configs, ctx, emit) -> None:
    for j, c in enumerate(configs):
        f = fit.fit_chain(np.asarray(c["history"], float), np.asarray(c["epochs"], float), realisations=c["realisations"],
                          candidates=c["candidates"], rounds=c["rounds"], elite=min(16, c["candidates"]), seed=c["seed"])
        emit(j, {"observed": f.observed, "fitted": f.fitted, "params": np.array([getattr(f, p) for p in PARAMS]),
                 "mu_eff": f.mu_eff, "r2": f.r2, "curvature": f.curvature,
                 "at_bound": np.array([f.at_bound[p] for p in fit.PARAMS])})


EXPERIMENT = results.Experiment("chain_fits", code=("springblock.experiments.chain_fits",), compute=_compute,
                                torch=False)


def chain_fits(history: dict, epochs, *, realisations: int, candidates: int, rounds: int, seed: int = 0) -> dict:
    """Fit an overdamped chain with synchronous noise to each setting's seed-mean load dynamics
    (``history[name]``: (S, R, L+1) D_ℓ at ``epochs`` (R,)).

    Returns per setting (stacked in ``names`` order) ``observed``/``fitted`` (R, L+1), ``params``
    (n, 6) = (μ_r, μ_l, σ, τ, a, b) (units k = y = 1, τ in chain time per epoch, D ≈ a + b·λ),
    ``mu_eff``, ``r2``, the fitted chain's ``curvature`` in D units, ``at_bound`` (n, 4): which of
    (μ_r, μ_l, σ, τ) ended at an edge of the search box, and ``rc_observed`` (n,)."""
    names = list(history)
    cfgs = [dict(history=np.nanmean(np.asarray(history[k], float), 0).round(12).tolist(),
                 epochs=np.asarray(epochs, float).tolist(), realisations=validate.integer("realisations", realisations, 1),
                 candidates=validate.integer("candidates", candidates, 2), rounds=validate.integer("rounds", rounds, 0),
                 seed=validate.integer("seed", seed, 0)) for k in names]
    found = results.run(EXPERIMENT, cfgs, progress=False, label="chain fits")
    out = results.stack(found, (len(names),))
    out.update(names=np.array(names), epochs=np.asarray(epochs, float), param_names=np.array(PARAMS),
               bound_names=np.array(fit.PARAMS), rc_observed=shape.relative_curvature(out["observed"][:, -1]))
    return out
