"""Beyond the paper: a torchvision network trained on the paper's MNIST split and probed with
forward hooks (:mod:`springblock.probe`), nothing model-specific. One cached result per setting.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import results, shape, validate
from ..data import load_dataset
from ..loops import seeded, train_module

ARCHS = ("mlp", "resnet18")


def torchvision_model(arch: str = "mlp", *, hidden: int = 7, width: int = 100, size: int = 10,
                      num_classes: int = 10, dropout: float = 0.0):
    """A torchvision network for flat (N, size²) inputs and the ``layers=`` selection to probe.

    "mlp": ``torchvision.ops.MLP`` (Linear → BatchNorm → ReLU → Dropout blocks), probed at its ReLUs.
    "resnet18": ``torchvision.models.resnet18`` with a 3×3 stride-1 one-channel stem and no max-pool
    (10×10 inputs), probed after the stem and each of the four stages.
    """
    from torch import nn

    from .._vision import import_torchvision

    validate.choice("arch", arch, ARCHS)
    tv = import_torchvision()
    if arch == "mlp":
        net = tv.ops.MLP(size * size, [width] * hidden + [num_classes], norm_layer=nn.BatchNorm1d, dropout=dropout)
        return net, nn.ReLU
    res = tv.models.resnet18(num_classes=num_classes)
    res.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
    res.maxpool = nn.Identity()
    return nn.Sequential(nn.Unflatten(1, (1, size, size)), res), ["1.relu", "1.layer1", "1.layer2", "1.layer3",
                                                                     "1.layer4"]


def accuracy(net, x, y) -> float:
    """Test accuracy (%) of any classifier ``net`` in eval mode (its mode is restored)."""
    was = net.training
    net.eval()
    with torch.no_grad():
        acc = 100.0 * float((net(x).argmax(-1) == y).double().mean())
    net.train(was)
    return acc


def _probe(c, ctx) -> dict:
    from .. import probe

    xtr, ytr, xte, yte = ctx.data.tensors(ctx.device)
    with seeded(c["seed"], ctx.device):
        net, layers = torchvision_model(c["arch"], dropout=c["dropout"])
    net = net.to(ctx.device)
    train_module(net, xtr, ytr, lr=c["lr"], epochs=c["epochs"], batch_size=c["batch_size"], seed=c["seed"])
    out = {}
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        for kind in ("trace", "pinv"):
            res = probe.load_curve(net, x, y, layers=layers, kind=kind, batch_size=1024)
            out[f"load_{split}_{kind}"] = res.load.double().cpu().numpy()
    out["test_acc"] = accuracy(net, xte, yte)
    return {**out, "names": np.array(res.names), "dims": np.array(res.dims)}


def _compute(configs, ctx, emit) -> None:
    for j, c in enumerate(configs):
        emit(j, _probe(c, ctx))


EXPERIMENT = results.Experiment("probe", code=("springblock.experiments.torchvision_probe",), compute=_compute)


def torchvision_probe(*, arch: str, epochs: int, batch_size: int | None, lr: float = 1e-3, dropout: float = 0.0,
                      seed: int = 1, device="cpu", progress: bool = False) -> dict:
    """A torchvision model (:func:`torchvision_model`) trained on the paper's MNIST split and probed
    with ``springblock.probe.load_curve`` (forward hooks, nothing model-specific). Returns ``names``
    and ``dims`` of the probed layers (input first), ``load_{train,test}_{kind}``, ``test_acc``, ``rc``."""
    cfg = dict(arch=validate.choice("arch", arch, ARCHS), epochs=validate.integer("epochs", epochs, 1),
               batch_size=batch_size, lr=validate.real("lr", lr, 0, lo_open=True),
               dropout=validate.real("dropout", dropout, 0, 1, hi_open=True), seed=validate.integer("seed", seed, 0))
    out = dict(results.run(EXPERIMENT, [cfg], data=load_dataset("mnist"), device=device, progress=progress,
                           label="probe")[0])
    out["rc"] = shape.relative_curvature(out["load_train_trace"])
    return out
