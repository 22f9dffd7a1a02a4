"""The phase diagram on other MLPs and data: depths and widths (S5, S6), other datasets and an
other optimizer (S7–S9), other separation metrics (S10, S11). Every network goes through the
engine and the per-network cache (:mod:`springblock.experiments.mlp`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .. import results, shape, validate
from ..data import full_batch, load_dataset
from ..train import TrainConfig
from . import mlp

AXES = ("dropout", "lr", "noise")


def _diagram(found, shape_: tuple, kinds=("trace",)) -> dict:
    grid = results.stack(found, shape_, ["test_acc", *(f"load_{s}_{k}" for k in kinds for s in ("train", "test"))],
                         dtype=float)
    out = {"acc": grid["test_acc"]}
    for kind in kinds:
        out[f"load_{kind}"] = grid[f"load_train_{kind}"]
        out[f"load_test_{kind}"] = grid[f"load_test_{kind}"]
    out["load"], out["rc"] = out["load_trace"], shape.relative_curvature(np.nanmean(out["load_trace"], 2))
    return out


def depth_width(*, depths: Sequence[int], widths: Sequence[int], alphas: Sequence[float], dropouts: Sequence[float],
                seeds, epochs: int, base_depth: int = 7, base_width: int = 100, lr: float = 1e-3, seed: int = 0,
                data=None, device="cpu", progress: bool = True, executor=None) -> dict:
    """SM S5/S6: an α × dropout phase diagram for every depth (at ``base_width``) and every width (at
    ``base_depth``). The first layer maps the 100 input pixels to the width, so the width does not
    change the images (in the authors' code a width w meant √w×√w images).

    Returns ``archs`` [(hidden, width), ...] and per architecture ``acc`` (A, P, S), ``load`` (A, P, S,
    L+1), ``rc`` (A, P) of the seed-mean curves, stacked in lists in ``archs`` order."""
    depths = [validate.integer("depths", d, 2) for d in depths]
    widths = [validate.integer("widths", w, 1) for w in widths]
    archs = list(dict.fromkeys([(d, base_width) for d in depths] + [(base_depth, w) for w in widths]))
    sl = validate.seeds(seeds, seed)
    data = data if data is not None else load_dataset("mnist")
    n = full_batch(data)
    cfgs = [TrainConfig(alpha=a, lr=lr, dropout=p, batch_size=n, epochs=epochs, seed=s, hidden=h, width=w)
            for h, w in archs for a in alphas for p in dropouts for s in sl]
    found = mlp.train(cfgs, data, device=device, progress=progress, executor=executor, label="S5/S6 depth and width")
    per = len(alphas) * len(dropouts) * len(sl)
    diagrams = [_diagram(found[i * per:(i + 1) * per], (len(alphas), len(dropouts), len(sl))) for i in range(len(archs))]
    return {"archs": archs, "alphas": np.array(alphas, float), "dropouts": np.array(dropouts, float),
            "seeds": np.array(sl), "diagrams": diagrams}


def dataset_diagram(name: str, *, alphas: Sequence[float], axis: str, values: Sequence[float], seeds, epochs: int,
                    lr: float = 1e-3, optimizer: str = "adam", size: int = 10, grayscale: bool | None = None,
                    source: str = "auto", seed: int = 0, device="cpu", progress: bool = True,
                    executor=None) -> dict:
    """An α × ``axis`` phase diagram on another dataset (S7 Fashion-MNIST, S7(b) with another
    optimizer, S8/S9 CIFAR-10). Raises the loader's FileNotFoundError (saying where it looked and
    how to get the data) when a dataset is not on disk. Returns ``acc`` (A, V, S), ``load``/
    ``load_test_trace`` (A, V, S, L+1), ``rc`` and the ``description`` of the data."""
    validate.choice("axis", axis, AXES)
    data = load_dataset(name, source=source, size=size, grayscale=grayscale)
    sl = validate.seeds(seeds, seed)
    base, n = ({"lr": lr} if axis != "lr" else {}), full_batch(data)
    cfgs = [TrainConfig(alpha=a, batch_size=n, epochs=epochs, seed=s, optimizer=optimizer,
                        **base, **{axis: v}) for a in alphas for v in values for s in sl]
    found = mlp.train(cfgs, data, device=device, progress=progress, executor=executor, label=f"{name} {axis} diagram")
    out = _diagram(found, (len(alphas), len(values), len(sl)))
    return {**out, "alphas": np.array(alphas, float), "values": np.array(values, float), "axis": axis,
            "seeds": np.array(sl), "description": data.description, "in_dim": int(data.x_train.shape[1])}


def metric_comparison(*, alphas: Sequence[float], dropouts: Sequence[float], seeds, epochs: int, seed: int = 0,
                      data=None, device="cpu", progress: bool = True, executor=None) -> dict:
    """SM S10/S11: Eq. 3 ("trace"), Eq. 9 ("pinv") and the inverse variant on ReLU and linear nets.

    Returns ``load_<kind>`` (A, P, S, L+1) on the clean training set, ``rc_<kind>`` (A, P) of the
    seed-mean curves and ``inverse_spread`` (A, P): the inverse curve's range over layers relative to
    the trace curve's. Tr(Σ_b Σ_w⁺) is invariant under every invertible feature map, so for a linear
    network (every layer an invertible affine map in eval mode) it cannot change from layer to layer.
    These networks train and are measured in float64: in float32 the product of seven layers is
    conditioned badly enough for the pseudo-inverse's cut-off to make the inverse curve drift."""
    data = data if data is not None else load_dataset("mnist")
    sl, n = validate.seeds(seeds, seed), full_batch(data)
    cfgs = [TrainConfig(alpha=a, dropout=p, batch_size=n, epochs=epochs, seed=s)
            for a in alphas for p in dropouts for s in sl]
    kinds = ("trace", "pinv", "inverse")
    found = mlp.train(cfgs, data, device=device, dtype=torch.float64, kinds=kinds, progress=progress,
                      executor=executor, label="S10/S11 metrics")
    out = _diagram(found, (len(alphas), len(dropouts), len(sl)), kinds)
    for kind in kinds:
        out[f"rc_{kind}"] = shape.relative_curvature(np.nanmean(out[f"load_{kind}"], 2))
    rng = lambda d: np.nanmax(d, -1) - np.nanmin(d, -1)
    out["inverse_spread"] = np.nanmean(rng(out["load_inverse"]) / rng(out["load_trace"]), 2)
    return {**out, "alphas": np.array(alphas, float), "dropouts": np.array(dropouts, float), "seeds": np.array(sl)}
