"""Single-network protocols, trained with the plain loop (:func:`springblock.loops.train_module`):
the chapter-1 separation demo, the S2 convolutional network, the Fig. 5(a) linear network, the S12
regression MLP and a torchvision model probed with hooks. One cached result per (setting, seed).
"""
from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch

from .. import results, separation, shape, validate
from ..data import load_dataset
from ..loops import seeded, set_dropout, train_module
from ..measure import evaluate_module, features
from ..models import MLP
from ..networks import CNN, LinearNet
from ..train import TrainConfig, init_module, train_networks

KINDS3 = separation.KINDS
CNN_PROTOCOLS = ("resume", "scratch")


def _splits(ctx):
    d = ctx.data
    return tuple(torch.as_tensor(t).to(ctx.device) for t in (d.x_train, d.y_train, d.x_test, d.y_test))


# ------------------------------------------------------------------ chapter 1: separation demo
def _separation_demo(c, ctx) -> dict:
    cfg = TrainConfig(**c["network"])
    xtr, ytr, _, _ = _splits(ctx)
    r = train_networks([cfg], ctx.data, ctx.device, progress=False, keep_models=True)[0]
    out = {"test_acc": r.test_acc}
    for name, net in (("trained", r.model.to(ctx.device)), ("untrained", init_module(cfg, xtr.shape[1], 10).to(ctx.device))):
        feats = [f.double() for f in features(net, xtr)[:-1]]
        for kind in KINDS3:
            out[f"{name}_{kind}"] = separation.load_curve(feats, ytr, kind).cpu().numpy()
        if name == "trained":
            out["projections"] = np.stack([separation.between_class_projection(feats[i], ytr, 2).cpu().numpy()
                                           for i in c["project"]])
            out["last_features"] = feats[-1].cpu().numpy().astype(np.float32)
    return out


def separation_demo(*, alphas: Sequence[float], seeds, epochs: int, project: Sequence[int] = (0, 2, 4, 7),
                    seed: int = 0, device="cpu", progress: bool = False) -> dict:
    """Chapter 1: paper MLPs (one per α and seed) trained full batch; their load curves after training
    and at initialisation in all three metrics, the class-mean projections of layers ``project``
    and the last layer's features. Returns stacked arrays ``{trained,untrained}_{kind}`` (A, S, L+1),
    ``test_acc`` (A, S), ``projections`` (A, S, P, N, 2), ``last_features`` (A, S, N, d), ``labels``."""
    data = load_dataset("mnist")
    sl = validate.seeds(seeds, seed)
    cfgs = [TrainConfig(alpha=a, epochs=epochs, seed=s).asdict() for a in alphas for s in sl]
    found = _run("separation_demo", [{"network": c, "project": list(project)} for c in cfgs], data, device, progress)
    out = _stack(found, (len(alphas), len(sl)))
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
    table = np.array([[separation.data_separation(x @ m.T, torch.as_tensor(labels), kind=k).item() for k in KINDS3]
                      for m in maps.values()])
    return {"maps": list(maps), "kinds": list(KINDS3), "table": table}


# ------------------------------------------------------------------ S2: the CNN
def _cnn_measure(net, xtr, ytr, xte, yte) -> dict:
    tr, te = evaluate_module(net, xtr, ytr), evaluate_module(net, xte, yte)
    return {"load": tr["load_trace"], "load_test": te["load_trace"], "acc": te["acc"]}


def _cnn(c, ctx) -> dict:
    xtr, ytr, xte, yte = _splits(ctx)
    s, kw = c["seed"], dict(lr=c["lr"], batch_size=c["batch_size"])
    make = lambda p: CNN(c["channels"], c["hidden"], dropout=p).to(ctx.device)
    if c["protocol"] == "scratch":  # the authors' script: from scratch at every rate
        out = {k: [] for k in ("load", "load_test", "acc")}
        for p in c["dropouts"]:
            with seeded(s, ctx.device):
                net = make(p)
            train_module(net, xtr, ytr, epochs=c["epochs"], seed=s, **kw)
            for k, v in _cnn_measure(net, xtr, ytr, xte, yte).items():
                out[k].append(v)
        return {k: np.array(v) for k, v in out.items()}
    with seeded(s, ctx.device):  # the paper's text: train to near convergence, then add dropout and resume
        net = make(0.0)
    _, opt_state = train_module(net, xtr, ytr, epochs=c["pretrain_epochs"], seed=s, **kw)
    pre = _cnn_measure(net, xtr, ytr, xte, yte)
    start = copy.deepcopy(net.state_dict())
    out = {"pre_load": pre["load"], "pre_acc": pre["acc"], "load": [], "load_test": [], "acc": []}
    for p in c["dropouts"]:
        net.load_state_dict(start)
        set_dropout(net, p)
        # every branch sees the same data order (seed s + 1): they differ only in dropout
        train_module(net, xtr, ytr, epochs=c["epochs"], seed=s + 1, opt_state=copy.deepcopy(opt_state), **kw)
        for k, v in _cnn_measure(net, xtr, ytr, xte, yte).items():
            out[k].append(v)
    return {k: np.array(v) for k, v in out.items()}


def cnn_dropout(*, protocol: str, dropouts: Sequence[float], epochs: int, seeds, lr: float, batch_size: int | None,
                pretrain_epochs: int = 0, channels: int = 16, hidden: int = 7, seed: int = 0, device="cpu",
                progress: bool = False) -> dict:
    """SM S2: the CNN at several dropout rates. ``protocol="resume"`` (the paper's text): train
    without dropout for ``pretrain_epochs``, then add dropout p and resume for ``epochs`` (same
    weights and Adam state; p = 0 is the "just keep training" control). ``"scratch"`` (the authors'
    script): train from scratch for ``epochs`` at every rate. ``batch_size=None``: full batch.

    Returns ``load``/``load_test`` (P, S, L+1) of the pooled maps, ``acc`` (P, S), ``rc`` (P,) of the
    seed-mean curves and, for "resume", ``pre_load`` (S, L+1), ``pre_acc`` (S,), ``pre_rc``."""
    validate.choice("protocol", protocol, CNN_PROTOCOLS)
    sl = validate.seeds(seeds, seed)
    data = load_dataset("mnist")
    cfgs = [dict(protocol=protocol, dropouts=list(validate.reals("dropouts", dropouts, 0, 1, hi_open=True)),
                 epochs=validate.integer("epochs", epochs, 1), lr=validate.real("lr", lr, 0, lo_open=True),
                 batch_size=batch_size, pretrain_epochs=validate.integer("pretrain_epochs", pretrain_epochs, 0),
                 channels=channels, hidden=hidden, seed=s) for s in sl]
    found = _run("cnn", cfgs, data, device, progress)
    out = _stack(found, (len(sl),))
    out = {k: (np.moveaxis(v, 0, 1) if k in ("load", "load_test", "acc") else v) for k, v in out.items()}  # (P, S, ...)
    out.update(dropouts=np.array(dropouts, float), seeds=np.array(sl), rc=shape.relative_curvature(out["load"].mean(1)))
    if protocol == "resume":
        out["pre_rc"] = shape.relative_curvature(out["pre_load"].mean(0))
    return out


# ------------------------------------------------------------------ Fig. 5(a): the linear network
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
    out = _stack(_run("linear", cfgs, None, device, progress), (len(lrs), len(sl)))
    return {**out, "names": np.array(names), "lrs": np.array(lrs, float), "dropouts": np.array(dropouts, float),
            "seeds": np.array(sl), "history_epochs": np.arange(0, epochs + 1, record_every),
            "rc": shape.relative_curvature(np.nanmean(out["load"], 1))}


# ------------------------------------------------------------------ S12: regression
def _regression(c, ctx) -> dict:
    xtr, ytr, xte, yte = _splits(ctx)
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


def regression_load(*, names: Sequence[str], lrs: Sequence[float], dropouts: Sequence[float], epochs: int, seeds,
                    alpha: float = 0.0, hidden: int = 7, width: int = 100, seed: int = 0, device="cpu",
                    progress: bool = False) -> dict:
    """SM S12: the regression load R_ℓ (relative RMSE of the best linear read-out of layer ℓ) of the
    paper's MLP with one output trained with squared error, full batch, Adam, to predict a digit's
    value 0..9 (standardised) from its 10×10 image. Returns ``load``/``load_test`` (V, S, L+1),
    ``test_rmse`` (V, S) in target standard deviations, and ``rc`` (V,)."""
    if not len(names) == len(lrs) == len(dropouts):
        raise ValueError("names, lrs and dropouts must have the same length")
    sl = validate.seeds(seeds, seed)
    cfgs = [dict(lr=validate.real("lr", lr, 0, lo_open=True), dropout=validate.real("dropout", p, 0, 1, hi_open=True),
                 epochs=validate.integer("epochs", epochs, 1), alpha=validate.real("alpha", alpha, 0, 1),
                 hidden=hidden, width=width, seed=s) for lr, p in zip(lrs, dropouts) for s in sl]
    out = _stack(_run("regression", cfgs, load_dataset("mnist"), device, progress), (len(lrs), len(sl)))
    return {**out, "names": np.array(names), "lrs": np.array(lrs, float), "dropouts": np.array(dropouts, float),
            "seeds": np.array(sl), "rc": shape.relative_curvature(out["load"].mean(1))}


# ------------------------------------------------------------------ a torchvision model, probed
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


def _probe(c, ctx) -> dict:
    from .. import probe

    xtr, ytr, xte, yte = _splits(ctx)
    with seeded(c["seed"], ctx.device):
        net, layers = torchvision_model(c["arch"], dropout=c["dropout"])
    net = net.to(ctx.device)
    train_module(net, xtr, ytr, lr=c["lr"], epochs=c["epochs"], batch_size=c["batch_size"], seed=c["seed"])
    out = {}
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        for kind in ("trace", "pinv"):
            res = probe.load_curve(net, x, y, layers=layers, kind=kind, batch_size=1024)
            out[f"load_{split}_{kind}"] = res.load.double().cpu().numpy()
    out["test_acc"] = evaluate_module_output(net, xte, yte)
    return {**out, "names": np.array(res.names), "dims": np.array(res.dims)}


def evaluate_module_output(net, x, y) -> float:
    """Test accuracy (%) of any classifier ``net`` in eval mode."""
    was = net.training
    net.eval()
    with torch.no_grad():
        acc = 100.0 * float((net(x).argmax(-1) == y).double().mean())
    net.train(was)
    return acc


def torchvision_probe(*, arch: str, epochs: int, batch_size: int | None, lr: float = 1e-3, dropout: float = 0.0,
                      seed: int = 1, device="cpu", progress: bool = False) -> dict:
    """A torchvision model (:func:`torchvision_model`) trained on the paper's MNIST split and probed
    with ``springblock.probe.load_curve`` (forward hooks, nothing model-specific). Returns ``names``
    and ``dims`` of the probed layers (input first), ``load_{train,test}_{kind}``, ``test_acc``, ``rc``."""
    cfg = dict(arch=validate.choice("arch", arch, ARCHS), epochs=validate.integer("epochs", epochs, 1),
               batch_size=batch_size, lr=validate.real("lr", lr, 0, lo_open=True),
               dropout=validate.real("dropout", dropout, 0, 1, hi_open=True), seed=validate.integer("seed", seed, 0))
    out = dict(_run("probe", [cfg], load_dataset("mnist"), device, progress)[0])
    out["rc"] = shape.relative_curvature(out["load_train_trace"])
    return out


# ------------------------------------------------------------------ the experiment
PROTOCOLS = {"separation_demo": _separation_demo, "cnn": _cnn, "linear": _linear, "regression": _regression,
             "probe": _probe}


def _compute(configs, ctx, emit) -> None:
    for j, c in enumerate(configs):
        emit(j, PROTOCOLS[c["protocol_name"]](c, ctx))


EXPERIMENT = results.Experiment("protocols", code=("springblock.experiments.protocols",), compute=_compute)


def _run(name, configs, data, device, progress):
    return results.run(EXPERIMENT, [{**c, "protocol_name": name} for c in configs], data=data, device=device,
                       progress=progress, label=name)


def _stack(found, shape_: tuple) -> dict:
    """Stack each field of per-result dicts into ``shape_`` + the field's own shape."""
    return {k: np.stack([np.asarray(f[k]) for f in found]).reshape(*shape_, *np.asarray(found[0][k]).shape)
            for k in found[0]}
