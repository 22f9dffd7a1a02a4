"""SM S2: the convolutional network at several dropout rates, under the paper's protocol (train to
near convergence, then add dropout and resume) or the authors' script's (from scratch at every rate).

One cached result per seed and rate, and, for the paper's protocol, one per seed for the pre-training
it resumes from (the trained weights and the optimiser's state, as arrays): at the paper's budget a
seed is 1,000 + 8 × 1,000 full-batch epochs (about two CPU-hours), more than a slice of the fill can
finish, while a stage of 1,000 epochs takes about 13 minutes.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

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


def _net(c, ctx, p: float = 0.0) -> CNN:
    with seeded(c["seed"], ctx.device):
        return CNN(c["channels"], c["hidden"], dropout=p).to(ctx.device)


def _checkpoint(net, opt_state) -> dict[str, np.ndarray]:
    """The weights (``w:``) and Adam's per-parameter state (``m:``, ``v:``, ``step:``) as arrays,
    bitwise, so that a later stage resumes exactly where this one stopped."""
    out = {f"w:{k}": v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    for i, (name, _) in enumerate(net.named_parameters()):
        st = opt_state["state"][i]
        out.update({f"m:{name}": st["exp_avg"].cpu().numpy().copy(), f"v:{name}": st["exp_avg_sq"].cpu().numpy().copy(),
                    f"step:{name}": st["step"].cpu().numpy().copy()})
    return out


def _resume(net, arrays, lr: float) -> dict:
    """Load a :func:`_checkpoint` into ``net``; return the optimiser state to resume with."""
    dev = next(net.parameters()).device
    net.load_state_dict({k[2:]: torch.from_numpy(np.array(v)).to(dev) for k, v in arrays.items() if k.startswith("w:")})
    state = torch.optim.Adam(net.parameters(), lr=lr).state_dict()  # its param_groups, as train_module builds them
    state["state"] = {i: {"step": torch.from_numpy(np.array(arrays[f"step:{n}"])),
                          "exp_avg": torch.from_numpy(np.array(arrays[f"m:{n}"])).to(dev),
                          "exp_avg_sq": torch.from_numpy(np.array(arrays[f"v:{n}"])).to(dev)}
                      for i, (n, _) in enumerate(net.named_parameters())}
    return state


def _compute_pretrain(configs, ctx, emit) -> None:
    xtr, ytr, xte, yte = ctx.data.tensors(ctx.device)
    for j, c in enumerate(configs):
        net = _net(c, ctx)
        _, opt_state = train_module(net, xtr, ytr, epochs=c["epochs"], seed=c["seed"], lr=c["lr"],
                                    batch_size=c["batch_size"])
        pre = _measure(net, xtr, ytr, xte, yte)
        emit(j, {"pre_load": pre["load"], "pre_acc": pre["acc"], **_checkpoint(net, opt_state)})


def _compute(configs, ctx, emit) -> None:
    xtr, ytr, xte, yte = ctx.data.tensors(ctx.device)
    for j, c in enumerate(configs):
        s, kw = c["seed"], dict(lr=c["lr"], batch_size=c["batch_size"])
        if c["start"] is None:  # the authors' script: from scratch at this rate
            net = _net(c, ctx, c["dropout"])
            train_module(net, xtr, ytr, epochs=c["epochs"], seed=s, **kw)
        else:  # the paper's text: resume the converged network with dropout switched on
            (start,) = results.run(PRETRAIN, [c["start"]], data=ctx.data, device=ctx.device.type, root=ctx.root,
                                   progress=False, label="cnn pre-training")
            net = _net(c, ctx)
            opt_state = _resume(net, start, c["lr"])
            set_dropout(net, c["dropout"])
            # every rate sees the same data order (seed s + 1): the branches differ only in dropout
            train_module(net, xtr, ytr, epochs=c["epochs"], seed=s + 1, opt_state=opt_state, **kw)
        emit(j, _measure(net, xtr, ytr, xte, yte))


PRETRAIN = results.Experiment("cnn_pretrain", code=("springblock.experiments.cnn",), compute=_compute_pretrain)
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
    rates = list(validate.reals("dropouts", dropouts, 0, 1, hi_open=True))
    epochs = validate.integer("epochs", epochs, 1)
    lr = validate.real("lr", lr, 0, lo_open=True)
    pretrain_epochs = validate.integer("pretrain_epochs", pretrain_epochs, 1 if protocol == "resume" else 0)
    data = load_dataset("mnist")
    net = dict(lr=lr, batch_size=batch_size, channels=channels, hidden=hidden)
    starts = [dict(net, epochs=pretrain_epochs, seed=s) for s in sl] if protocol == "resume" else [None] * len(sl)
    out = {}
    if protocol == "resume":  # first stage: the network every rate of a seed resumes from
        pre = results.run(PRETRAIN, starts, data=data, device=device, progress=progress, label="cnn pre-training")
        out = {k: v for k, v in results.stack(pre, (len(sl),)).items() if k.startswith("pre_")}
        out["pre_rc"] = shape.relative_curvature(out["pre_load"].mean(0))
    cfgs = [dict(net, dropout=p, epochs=epochs, seed=s, start=st) for s, st in zip(sl, starts) for p in rates]
    found = results.run(EXPERIMENT, cfgs, data=data, device=device, progress=progress, label="cnn")
    grid = results.stack(found, (len(sl), len(rates)))
    out.update({k: np.moveaxis(grid[k], 0, 1) for k in _PER_RATE})  # (P, S, ...)
    out.update(dropouts=np.array(dropouts, float), seeds=np.array(sl), rc=shape.relative_curvature(out["load"].mean(1)))
    return out
