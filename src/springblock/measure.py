"""What is measured on a trained network, the same way for every network of the book.

After training, a network is put in evaluation mode (BatchNorm uses its running statistics, dropout
is off) and its layer features ``x_0 .. x_L`` are taken on the *clean* inputs (no label or input
noise). From them come the test and training accuracy and one load curve ``D_0 .. D_L`` per
separation ``kind`` (:mod:`springblock.separation`), on the training and on the test set. A network
whose features are not finite (a diverged run) gets NaN curves instead of an error.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from . import separation


@torch.no_grad()
def features(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Eval-mode ``model.layers(x)`` = [x_0, ..., x_L, output]; the module's mode is restored."""
    was = model.training
    model.eval()
    try:
        return model.layers(x)
    finally:
        model.train(was)


@torch.no_grad()
def load_curves(feats: Sequence[torch.Tensor], labels, kinds: Sequence[str], num_classes: int | None = None
                ) -> dict[str, torch.Tensor]:
    """Load curves (M, L+1) per kind from layer features [x_0..x_L], each (M, N, d_ℓ); NaN rows where
    a network's features are not finite."""
    if len({f.shape for f in feats}) == 1:  # one width: all layers in one batched call
        stacked = torch.stack(list(feats), 1)  # (M, L+1, N, d)
        ok = torch.isfinite(stacked).flatten(1).all(1)
        layers = stacked[ok]
    else:
        ok = torch.stack([torch.isfinite(f).flatten(1).all(1) for f in feats]).all(0)
        layers = [f[ok] for f in feats]
    out = {}
    curves = separation.load_curves(layers, labels, kinds, num_classes, check_finite=False) if ok.any() else {}
    for kind in kinds:
        load = torch.full((len(ok), len(feats)), math.nan, dtype=feats[0].dtype, device=feats[0].device)
        if ok.any():
            load[ok] = curves[kind]
        out[kind] = load
    return out


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-network accuracy in % of (..., N, C) logits (correct / total)."""
    return 100.0 * (logits.argmax(-1) == labels).double().mean(-1)


def evaluate(layers: Callable, m: int, splits: dict, kinds: Sequence[str], num_classes: int,
             rows: int) -> dict[str, np.ndarray]:
    """Accuracies and load curves of ``m`` networks on each split (``{"train": (x, y), "test": ...}``).

    ``layers(x, sl)`` returns [x_0..x_L, logits] of networks ``sl`` (a slice) on inputs x (N, d).
    Networks are measured a few at a time so that no split's features exceed ``rows`` rows.
    Returns ``{split}_acc`` (m,) and ``load_{split}_{kind}`` (m, L+1) as float64 arrays.
    """
    per = max(1, rows // max(len(x) for x, _ in splits.values()))
    parts = []
    for s in range(0, m, per):
        sl = slice(s, min(m, s + per))
        res = {}
        for split, (x, y) in splits.items():
            out = layers(x, sl)
            res[f"{split}_acc"] = accuracy(out[-1], y)
            for kind, load in load_curves(out[:-1], y, kinds, num_classes).items():
                res[f"load_{split}_{kind}"] = load
        parts.append(res)
    return {k: torch.cat([p[k] for p in parts]).cpu().double().numpy() for k in parts[0]}


def evaluate_module(model: nn.Module, x, y, kinds: Sequence[str] = ("trace",), num_classes: int | None = None
                    ) -> dict[str, np.ndarray]:
    """Accuracy (%) and load curves of one ``nn.Module`` with ``layers()``, in eval mode.

    Returns ``acc`` (a float) and ``load_{kind}`` (L+1,) per kind.
    """
    out = [f[None] for f in features(model, x)]
    res = {"acc": float(accuracy(out[-1], y)[0])}
    for kind, load in load_curves(out[:-1], y, kinds, num_classes).items():
        res[f"load_{kind}"] = load[0].double().cpu().numpy()
    return res
