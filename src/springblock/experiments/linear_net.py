"""Fig. 5(a): a deep linear network trained with full-batch SGD on whitened data, its load curve
recorded during training. One cached result per (variant, seed).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .. import results, shape, validate
from ..loops import seeded, train_module
from ..measure import evaluate_module
from ..networks import LinearNet


def whitened_data(n: int = 100, classes: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Fig. 5(a) data: X a Haar-random orthogonal n×n matrix (row i = sample i, so XᵀX = XXᵀ = I:
    whitened) with random balanced labels in 0..classes−1."""
    n, classes = validate.integer("n", n, 2), validate.integer("classes", classes, 2, n)
    rng = np.random.default_rng(validate.integer("seed", seed, 0))
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q *= np.sign(np.diag(r))  # makes the QR factor Haar-distributed
    return torch.tensor(q, dtype=torch.float32), torch.tensor(rng.permutation(np.arange(n) % classes))


def _linear(c, ctx) -> dict:
    x, y = (t.to(ctx.device) for t in whitened_data(c["n"], c["classes"], seed=c["seed"]))
    with seeded(c["seed"], ctx.device):
        net = LinearNet(c["hidden"], c["n"], c["n"], c["classes"], dropout=c["dropout"]).to(ctx.device)
    every = c["record_every"]
    hist = np.full((c["epochs"] // every + 1, c["hidden"] + 1), np.nan)
    hist[0] = evaluate_module(net, x, y)["load_trace"]

    def record(epoch, model):
        if epoch % every == 0:
            hist[epoch // every] = evaluate_module(model, x, y)["load_trace"]

    losses, _ = train_module(net, x, y, optimizer="sgd", lr=c["lr"], epochs=c["epochs"], seed=c["seed"], on_epoch=record)
    return {"load": evaluate_module(net, x, y)["load_trace"], "history": hist, "loss": losses[-1]}


def _compute(configs, ctx, emit) -> None:
    for j, c in enumerate(configs):
        emit(j, _linear(c, ctx))


EXPERIMENT = results.Experiment("linear", code=("springblock.experiments.linear_net",), compute=_compute)


def linear_orthogonal(*, names: Sequence[str], lrs: Sequence[float], dropouts: Sequence[float], epochs: int, seeds,
                      record_every: int, n: int = 100, classes: int = 2, hidden: int = 7, seed: int = 0,
                      device="cpu", progress: bool = False) -> dict:
    """Fig. 5(a): a linear network (α = 1, no BN, orthogonal weights, zero biases) trained with
    full-batch SGD and cross-entropy on whitened data (:func:`whitened_data`, width = n). Variant i
    uses ``lrs[i]`` and ``dropouts[i]``; every seed draws its own data and initial weights.
    Returns ``load`` (V, S, L+1), ``history`` (V, S, R, L+1) every ``record_every`` epochs (epoch 0
    included; ``history_epochs``), ``loss`` (V, S) and ``rc`` (V,) of the seed-mean curves."""
    if not len(names) == len(lrs) == len(dropouts):
        raise ValueError(f"names, lrs and dropouts must have the same length; got {len(names)}, {len(lrs)}, "
                         f"{len(dropouts)}")
    record_every = validate.integer("record_every", record_every, 1)
    sl = validate.seeds(seeds, seed)
    cfgs = [dict(lr=validate.real("lr", lr, 0, lo_open=True), dropout=validate.real("dropout", p, 0, 1, hi_open=True),
                 epochs=validate.integer("epochs", epochs, 1), n=n, classes=classes, hidden=hidden,
                 record_every=record_every, seed=s) for lr, p in zip(lrs, dropouts) for s in sl]
    found = results.run(EXPERIMENT, cfgs, device=device, progress=progress, label="linear")
    out = results.stack(found, (len(lrs), len(sl)))
    return {**out, "names": np.array(names), "lrs": np.array(lrs, float), "dropouts": np.array(dropouts, float),
            "seeds": np.array(sl), "history_epochs": np.arange(0, epochs + 1, record_every),
            "rc": shape.relative_curvature(np.nanmean(out["load"], 1))}
