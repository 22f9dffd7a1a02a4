"""SM S12: the paper's MLP trained for regression (a digit's value from its image) and its
regression load R_ℓ layer by layer. One cached result per (variant, seed).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import results, separation, shape, validate
from ..data import load_dataset
from ..loops import seeded, train_module
from ..measure import features
from ..models import MLP


def _regression(c, ctx) -> dict:
    xtr, ytr, xte, yte = ctx.data.tensors(ctx.device)
    mu, sd = ytr.double().mean(), ytr.double().std()
    ttr, tte = ((ytr.double() - mu) / sd).float(), ((yte.double() - mu) / sd).float()
    with seeded(c["seed"], ctx.device):
        net = MLP(c["alpha"], c["dropout"], c["hidden"], c["width"], xtr.shape[1], 1).to(ctx.device)
    train_module(net, xtr, ttr, loss="mse", lr=c["lr"], epochs=c["epochs"], seed=c["seed"])
    out = {}
    for key, x, t in (("load", xtr, ttr), ("load_test", xte, tte)):
        f = features(net, x)
        out[key] = separation.regression_load(f[:-1], t, relative=True).double().cpu().numpy()
    out["test_rmse"] = float((f[-1].squeeze(-1) - tte).square().mean().sqrt())  # f: the test set's
    return out


def _compute(configs, ctx, emit) -> None:
    for j, c in enumerate(configs):
        emit(j, _regression(c, ctx))


EXPERIMENT = results.Experiment("regression", code=("springblock.experiments.regression",), compute=_compute)


def regression_load(*, names: Sequence[str], lrs: Sequence[float], dropouts: Sequence[float], epochs: int, seeds,
                    alpha: float = 0.0, hidden: int = 7, width: int = 100, seed: int = 0, device="cpu",
                    progress: bool = False) -> dict:
    """SM S12: the regression load R_ℓ (relative RMSE of the best linear read-out of layer ℓ) of the
    paper's MLP with one output trained with squared error, full batch, Adam, to predict a digit's
    value 0..9 (standardised) from its 10×10 image. Returns ``load``/``load_test`` (V, S, L+1),
    ``test_rmse`` (V, S) in target standard deviations, and ``rc`` (V,)."""
    if not len(names) == len(lrs) == len(dropouts):
        raise ValueError(f"names, lrs and dropouts must have the same length; got {len(names)}, {len(lrs)}, "
                         f"{len(dropouts)}")
    sl = validate.seeds(seeds, seed)
    cfgs = [dict(lr=validate.real("lr", lr, 0, lo_open=True), dropout=validate.real("dropout", p, 0, 1, hi_open=True),
                 epochs=validate.integer("epochs", epochs, 1), alpha=validate.real("alpha", alpha, 0, 1),
                 hidden=hidden, width=width, seed=s) for lr, p in zip(lrs, dropouts) for s in sl]
    found = results.run(EXPERIMENT, cfgs, data=load_dataset("mnist"), device=device, progress=progress,
                        label="regression")
    out = results.stack(found, (len(lrs), len(sl)))
    return {**out, "names": np.array(names), "lrs": np.array(lrs, float), "dropouts": np.array(dropouts, float),
            "seeds": np.array(sl), "rc": shape.relative_curvature(out["load"].mean(1))}
