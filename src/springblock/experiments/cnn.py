"""SM S2: the convolutional network at several dropout rates, under the paper's protocol (train to
near convergence, then add dropout and resume) or the authors' script's (from scratch at every rate).
One cached result per seed, holding every rate.
"""
from __future__ import annotations

import copy
from typing import Sequence

import numpy as np

from .. import results, shape, validate
from ..data import load_dataset
from ..loops import seeded, set_dropout, train_module
from ..measure import evaluate_module
from ..networks import CNN

PROTOCOLS = ("resume", "scratch")
_PER_RATE = ("load", "load_test", "acc")  # fields with one entry per dropout rate


def _measure(net, xtr, ytr, xte, yte) -> dict:
    tr, te = evaluate_module(net, xtr, ytr), evaluate_module(net, xte, yte)
    return {"load": tr["load_trace"], "load_test": te["load_trace"], "acc": te["acc"]}


def _cnn(c, ctx) -> dict:
    xtr, ytr, xte, yte = ctx.data.tensors(ctx.device)
    s, kw = c["seed"], dict(lr=c["lr"], batch_size=c["batch_size"])
    make = lambda p: CNN(c["channels"], c["hidden"], dropout=p).to(ctx.device)
    out = {k: [] for k in _PER_RATE}
    if c["protocol"] == "scratch":  # the authors' script: from scratch at every rate
        for p in c["dropouts"]:
            with seeded(s, ctx.device):
                net = make(p)
            train_module(net, xtr, ytr, epochs=c["epochs"], seed=s, **kw)
            for k, v in _measure(net, xtr, ytr, xte, yte).items():
                out[k].append(v)
        return {k: np.array(v) for k, v in out.items()}
    with seeded(s, ctx.device):  # the paper's text: train to near convergence, then add dropout and resume
        net = make(0.0)
    _, opt_state = train_module(net, xtr, ytr, epochs=c["pretrain_epochs"], seed=s, **kw)
    pre = _measure(net, xtr, ytr, xte, yte)
    start = copy.deepcopy(net.state_dict())
    for p in c["dropouts"]:
        net.load_state_dict(start)
        set_dropout(net, p)
        # every branch sees the same data order (seed s + 1): they differ only in dropout
        train_module(net, xtr, ytr, epochs=c["epochs"], seed=s + 1, opt_state=copy.deepcopy(opt_state), **kw)
        for k, v in _measure(net, xtr, ytr, xte, yte).items():
            out[k].append(v)
    return {"pre_load": pre["load"], "pre_acc": pre["acc"], **{k: np.array(v) for k, v in out.items()}}


def _compute(configs, ctx, emit) -> None:
    for j, c in enumerate(configs):
        emit(j, _cnn(c, ctx))


EXPERIMENT = results.Experiment("cnn", code=("springblock.experiments.cnn",), compute=_compute)


def cnn_dropout(*, protocol: str, dropouts: Sequence[float], epochs: int, seeds, lr: float, batch_size: int | None,
                pretrain_epochs: int = 0, channels: int = 16, hidden: int = 7, seed: int = 0, device="cpu",
                progress: bool = False) -> dict:
    """SM S2: the CNN at several dropout rates. ``protocol="resume"`` (the paper's text): train
    without dropout for ``pretrain_epochs``, then add dropout p and resume for ``epochs`` (same
    weights and Adam state; p = 0 is the "just keep training" control). ``"scratch"`` (the authors'
    script): train from scratch for ``epochs`` at every rate. ``batch_size=None``: full batch.

    Returns ``load``/``load_test`` (P, S, L+1) of the pooled maps, ``acc`` (P, S), ``rc`` (P,) of the
    seed-mean curves and, for "resume", ``pre_load`` (S, L+1), ``pre_acc`` (S,), ``pre_rc``."""
    validate.choice("protocol", protocol, PROTOCOLS)
    sl = validate.seeds(seeds, seed)
    data = load_dataset("mnist")
    cfgs = [dict(protocol=protocol, dropouts=list(validate.reals("dropouts", dropouts, 0, 1, hi_open=True)),
                 epochs=validate.integer("epochs", epochs, 1), lr=validate.real("lr", lr, 0, lo_open=True),
                 batch_size=batch_size, pretrain_epochs=validate.integer("pretrain_epochs", pretrain_epochs, 0),
                 channels=channels, hidden=hidden, seed=s) for s in sl]
    found = results.run(EXPERIMENT, cfgs, data=data, device=device, progress=progress, label="cnn")
    out = results.stack(found, (len(sl),))
    out = {k: (np.moveaxis(v, 0, 1) if k in _PER_RATE else v) for k, v in out.items()}  # (P, S, ...)
    out.update(dropouts=np.array(dropouts, float), seeds=np.array(sl), rc=shape.relative_curvature(out["load"].mean(1)))
    if protocol == "resume":
        out["pre_rc"] = shape.relative_curvature(out["pre_load"].mean(0))
    return out
