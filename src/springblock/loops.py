"""Plain single-network training loops: ``nn.Module`` + autograd + a ``torch.optim`` optimiser.

* :func:`train_reference` trains *one* of the engine's networks the ordinary way, consuming exactly
  the same random numbers as the engine, so the two can be compared step for step (the tests) and
  timed against each other (``benchmarks/bench_train.py``).
* :func:`train_module` is the loop for every network the engine does not cover (the S2 CNN, the
  Fig. 5(a) linear network with SGD, the regression MLP with a squared loss, torchvision models):
  data order and dropout from torch's global generator seeded for the run, so a run is a function
  of its arguments.
"""
from __future__ import annotations

import contextlib
import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import measure, validate
from .devices import resolve_device
from .train import (MEASURED_KINDS, OPTIMIZERS, TrainConfig, check_run, draw_step_noise, init_module, keep_threshold,
                    make_generator, result, should_stop, tensors)

LOSSES = ("ce", "mse")


def train_reference(cfg: TrainConfig, data, device="cpu", *, kinds: Sequence[str] = MEASURED_KINDS,
                    dtype: torch.dtype = torch.float32, keep_models: bool = False,
                    record_every: int | None = None):
    """Train one network the plain way with the engine's random numbers; a :class:`~springblock.train.RunResult`."""
    dev, C = check_run([cfg], data, device)
    splits = tensors(data, dev, dtype)
    xtr, ytr = splits["train"]
    N, in_dim = xtr.shape
    net = init_module(cfg, in_dim, C).to(dev, dtype)
    gen = make_generator(cfg, dev)
    opt = (torch.optim.Adam(net.parameters(), lr=cfg.lr, foreach=False) if cfg.optimizer == "adam"
           else torch.optim.SGD(net.parameters(), lr=cfg.lr, foreach=False))
    losses, hist, hist_epochs = [], [], []

    def layers(x, sl=None):
        return [f[None] for f in measure.features(net, x)]

    def record(epoch):
        hist.append(measure.load_curves(layers(xtr)[:-1], ytr, ("trace",), C)["trace"][0])
        hist_epochs.append(epoch)

    if record_every:
        record(0)
    for epoch in range(1, cfg.epochs + 1):
        perm = torch.randperm(N, generator=gen, device=dev)
        total, steps = 0.0, 0
        for start in range(0, N, cfg.batch_size):
            idx = perm[start:start + cfg.batch_size]
            x, y = xtr[idx], ytr[idx]
            pos, lab, eps, bits = draw_step_noise(gen, cfg, len(idx), in_dim, C, dev)
            if pos is not None:
                y[pos] = lab
                x = x + cfg.noise * x.std() * eps.to(dtype)
            masks = None
            if bits is not None:  # nn.Dropout's rule (keep, scale by 1/(1 − p)) on the shared draws
                masks = (bits < keep_threshold(cfg.dropout)).mT.to(dtype) / (1 - cfg.dropout)
            loss = F.cross_entropy(net(x, masks), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, steps = total + loss.detach(), steps + 1
        losses.append(float(total / steps))
        if record_every and (epoch % record_every == 0 or epoch == cfg.epochs):
            record(epoch)
        if should_stop(losses, cfg):
            if record_every and hist_epochs[-1] != epoch:
                record(epoch)
            break
    meas = measure.evaluate(layers, 1, splits, tuple(kinds), C, 2**31)
    history = torch.stack(hist).cpu().double().numpy() if hist else None
    return result(cfg, meas, 0, losses, tuple(kinds), history, np.array(hist_epochs) if hist else None,
                  net.cpu().eval() if keep_models else None)


# ---------------------------------------------------------------------------------------------
# The loop for every other network
# ---------------------------------------------------------------------------------------------
@contextlib.contextmanager
def seeded(seed: int, device="cpu"):
    """Seed torch's global RNG (init, data order, dropout) without disturbing the caller's stream."""
    dev = resolve_device(device)
    with torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
        torch.manual_seed(validate.integer("seed", seed, 0))
        yield


def set_dropout(model: nn.Module, p: float) -> None:
    """Set the rate of every ``nn.Dropout`` in ``model`` (takes effect at the next forward pass)."""
    p = validate.real("p", p, 0, 1, hi_open=True)
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = p


def dropout_rate(model: nn.Module) -> float:
    """The rate of the first ``nn.Dropout`` in ``model`` (0 if it has none)."""
    return next((m.p for m in model.modules() if isinstance(m, nn.Dropout)), 0.0)


def train_module(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss: str = "ce", optimizer: str = "adam",
                 lr: float = 1e-3, epochs: int = 100, batch_size: int | None = None, seed: int = 0,
                 on_epoch: Callable[[int, nn.Module], None] | None = None,
                 opt_state: dict | None = None) -> tuple[np.ndarray, dict]:
    """Train ``model`` in place on (x, y); return the epoch-mean losses and the optimiser state.

    ``loss``: "ce" (class ids) or "mse" (float targets (N,) or (N, k)). ``optimizer``: "adam"
    (PyTorch defaults, as in the paper) or "sgd" (plain). ``batch_size=None``: full batch.
    ``on_epoch(epoch, model)`` runs after every epoch (it may change the dropout rate:
    :func:`set_dropout`). ``opt_state`` resumes an optimiser from a previous call. A diverged run
    (non-finite loss) stops; its last loss is NaN/inf.
    """
    validate.choice("loss", loss, LOSSES)
    validate.choice("optimizer", optimizer, OPTIMIZERS)
    lr = validate.real("lr", lr, 0, None, lo_open=True)
    epochs = validate.integer("epochs", epochs, 1)
    n = len(x)
    b = n if batch_size is None else validate.integer("batch_size", batch_size, 2, n)
    if n % b == 1:
        raise ValueError(f"batch_size {b} leaves a last batch of 1 sample (N = {n}); choose another")
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(model.parameters(), lr=lr)
    if opt_state is not None:
        opt.load_state_dict(opt_state)

    def objective(out, t):
        if loss == "ce":
            return F.cross_entropy(out, t)
        return F.mse_loss(out.squeeze(-1) if t.ndim == 1 else out, t)

    losses = []
    with seeded(seed, x.device):
        for epoch in range(1, epochs + 1):
            model.train()
            perm = torch.randperm(n, device=x.device)
            total = torch.zeros((), device=x.device)
            for s in range(0, n, b):
                idx = perm[s:s + b]
                value = objective(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                total += value.detach()
            losses.append(float(total) / math.ceil(n / b))
            if not math.isfinite(losses[-1]):
                break  # diverged (too large a step): nothing more to learn from this run
            if on_epoch is not None:
                on_epoch(epoch, model)
    return np.array(losses), opt.state_dict()
