"""Chapter 1's demonstration: the paper's MLP trained on MNIST, its load curves in the three
separation metrics after training and at initialisation, and what each metric is blind to.
One cached result per (α, seed); the projections and the last layer's features, which only the
chapter's figures read, are kept for the first seed alone (they are most of a result's size).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .. import results, separation, validate
from ..data import load_dataset
from ..measure import features
from ..train import TrainConfig, init_module, train_networks

KINDS = separation.KINDS
_VIEWS = ("projections", "last_features")  # kept for the first seed only


def _separation_demo(c, ctx) -> dict:
    cfg = TrainConfig(**c["network"])
    xtr, ytr = ctx.data.tensors(ctx.device, ("train",))
    r = train_networks([cfg], ctx.data, ctx.device, progress=False, keep_models=True)[0]
    out = {"test_acc": r.test_acc}
    for name, net in (("trained", r.model.to(ctx.device)), ("untrained", init_module(cfg, xtr.shape[1], 10).to(ctx.device))):
        feats = [f.double() for f in features(net, xtr)[:-1]]
        for kind in KINDS:
            out[f"{name}_{kind}"] = separation.load_curve(feats, ytr, kind).cpu().numpy()
        if name == "trained" and c["views"]:
            out["projections"] = np.stack([separation.between_class_projection(feats[i], ytr, 2).cpu().numpy()
                                           for i in c["project"]]).astype(np.float32)
            out["last_features"] = feats[-1].cpu().numpy().astype(np.float32)
    return out


def _compute(configs, ctx, emit) -> None:
    for j, c in enumerate(configs):
        emit(j, _separation_demo(c, ctx))


EXPERIMENT = results.Experiment("separation_demo", code=("springblock.experiments.separation_demo",),
                                compute=_compute)


def separation_demo(*, alphas: Sequence[float], seeds, epochs: int, project: Sequence[int] = (0, 2, 4, 7),
                    seed: int = 0, device="cpu", progress: bool = False) -> dict:
    """Chapter 1: paper MLPs (one per α and seed) trained full batch; their load curves after training
    and at initialisation in all three metrics; for the first seed, the class-mean projections of
    layers ``project`` and the last layer's features. Returns ``{trained,untrained}_{kind}``
    (A, S, L+1), ``test_acc`` (A, S), ``projections`` (A, P, N, 2), ``last_features`` (A, N, d),
    ``labels``."""
    data = load_dataset("mnist")
    sl = validate.seeds(seeds, seed)
    alphas = validate.reals("alphas", alphas, 0, 1)
    cfgs = [{"network": TrainConfig(alpha=a, epochs=epochs, seed=s).asdict(), "project": list(project),
             "views": j == 0} for a in alphas for j, s in enumerate(sl)]
    found = results.run(EXPERIMENT, cfgs, data=data, device=device, progress=progress, label="separation_demo")
    first = [f for f, c in zip(found, cfgs) if c["views"]]
    out = results.stack([{k: v for k, v in f.items() if k not in _VIEWS} for f in found], (len(alphas), len(sl)))
    out.update(results.stack([{k: f[k] for k in _VIEWS} for f in first], (len(alphas),)))
    return {**out, "alphas": np.array(alphas, float), "seeds": np.array(sl), "labels": data.y_train.numpy(),
            "project": np.array(project)}


def metric_invariance(features_, labels, seed: int = 0) -> dict:
    """D of features under four maps — identity, a random rotation, 3 × that rotation and a random
    invertible map — in all three metrics: (4, 3) ``table`` with row ``maps`` and column ``kinds``."""
    x = torch.as_tensor(np.asarray(features_), dtype=torch.float64)
    gen = torch.Generator().manual_seed(validate.integer("seed", seed, 0))
    d = x.shape[1]
    rotation = torch.linalg.qr(torch.randn(d, d, generator=gen, dtype=torch.float64))[0]
    invertible = torch.eye(d, dtype=torch.float64) + 0.5 * torch.randn(d, d, generator=gen, dtype=torch.float64)
    maps = {"identity": torch.eye(d, dtype=torch.float64), "rotation": rotation, "3 × rotation": 3 * rotation,
            "random invertible": invertible}
    table = np.array([[separation.data_separation(x @ m.T, torch.as_tensor(labels), kind=k).item() for k in KINDS]
                      for m in maps.values()])
    return {"maps": list(maps), "kinds": list(KINDS), "table": table}
