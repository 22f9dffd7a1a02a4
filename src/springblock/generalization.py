"""Chapter 5: load curves and generalization (spec §5.2–5.3, §7b; SM S2, S4–S12, Fig. 5a).

Every experiment returns plain results (dicts of NumPy arrays, scalars as 0-d arrays). Expensive
ones are cached with :class:`~springblock.cache.ResultCache`, keyed by their full configuration:

* MLP grids (depth/width, other datasets, the metric comparison) go through the stacked engine
  (:func:`~springblock.train.train_networks`) and are cached *per network* (namespace
  ``generalization_mlp``), so experiments that share a network train it once.
* Networks the engine does not cover (the S2 CNN, the Fig. 5a linear network with SGD, the
  regression MLP with an MSE loss, a torchvision model) share one plain single-network loop,
  :func:`train_module`, and are cached per experiment.

Analyses of results that already exist (the Fig. 1 panels of chapter 2) are pure functions:
:func:`accuracy_vs_curvature` and :func:`compare_curves`.

Throughout, the *relative curvature* ĉ = c / |D_0 − D_L| (see :func:`relative_curvature`) is the
shape summary: < 0 concave, > 0 convex, |ĉ| ≤ 0.05 "linear" (``separation.SHAPE_TOL``).
"""
from __future__ import annotations

import contextlib
import copy
import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from . import separation
from .separation import relative_curvature, shape_of  # re-exported: chapter 5 reads them as gen.*
from .cache import ResultCache
from .data import cache_key, load_dataset
from .models import CNN, MLP, LinearNet
from .scales import resolve_device
from .train import ENGINE_VERSION, TrainConfig, train_networks

ALL_KINDS = separation.KINDS  # ("trace", "pinv", "inverse")
VERSION = 1  # bump when a change here alters results, so cached experiments are recomputed
_SHAPES = ("concave", "linear", "convex")


# =============================================================================================
# Small shared pieces
# =============================================================================================
def _int(name, v, lo=1):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {v!r}")
    return int(v)


def _seed_list(seeds, base: int) -> list[int]:
    """A count n → seeds base+1..base+n (the sweep's convention, paper: 1..10)."""
    return [base + 1 + i for i in range(_int("seeds", seeds))]


@contextlib.contextmanager
def seeded(seed: int, device="cpu"):
    """Seed torch's global RNG (init, data order, dropout) without disturbing the caller's stream."""
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[dev.index or 0] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def set_dropout(model: nn.Module, p: float) -> None:
    """Set the rate of every ``nn.Dropout`` in ``model`` (takes effect at the next forward pass)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ValueError(f"p must be a number in [0, 1); got {p!r}")
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = float(p)


# =============================================================================================
# One plain training loop for every single network of the chapter
# =============================================================================================
LOSSES = ("ce", "mse")
OPTIMIZERS = ("adam", "sgd")


def train_module(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, loss: str = "ce",
                 optimizer: str = "adam", lr: float = 1e-3, epochs: int = 100, batch_size: int | None = None,
                 seed: int = 0, on_epoch: Callable[[int, nn.Module], None] | None = None,
                 opt_state: dict | None = None) -> tuple[np.ndarray, dict]:
    """Train ``model`` in place on (x, y); return the epoch-mean losses and the optimiser state.

    ``loss``: "ce" (class ids) or "mse" (float targets (N,) or (N, k)). ``optimizer``: "adam"
    (PyTorch defaults, as in the paper) or "sgd" (plain). ``batch_size=None``: full batch.
    Data order and dropout masks come from torch's global RNG seeded with ``seed`` (restored
    afterwards), so a run is a function of its arguments. ``on_epoch(epoch, model)`` runs after
    every epoch (it may change the dropout rate: :func:`set_dropout`). ``opt_state`` resumes an
    optimiser from a previous call. A diverged run (non-finite loss) stops; its last loss is NaN/inf.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}; got {loss!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {optimizer!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
        raise ValueError(f"lr must be a finite number > 0; got {lr!r}")
    _int("epochs", epochs)
    n = len(x)
    b = n if batch_size is None else _int("batch_size", batch_size, 2)
    if b > n or n % b == 1:
        raise ValueError(f"batch_size must be <= N = {n} and must not leave a last batch of 1; got {b}")
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


@torch.no_grad()
def features(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Eval-mode ``model.layers(x)`` = [x_0, ..., x_L, output]; the module's mode is restored."""
    was = model.training
    model.eval()
    try:
        return model.layers(x)
    finally:
        model.train(was)


def evaluate(model: nn.Module, x, y, kinds: Sequence[str] = ("trace",)) -> dict[str, np.ndarray]:
    """Accuracy (%) and load curves (one per kind, NaN if the features are not finite), eval mode."""
    out = features(model, x)
    res = {"acc": 100.0 * float((out[-1].argmax(-1) == y).double().mean())}
    finite = all(bool(torch.isfinite(f).all()) for f in out[:-1])
    for kind in kinds:
        res[f"load_{kind}"] = (separation.load_curve(out[:-1], y, kind).double().cpu().numpy() if finite
                               else np.full(len(out) - 1, np.nan))
    return res


# =============================================================================================
# MLPs through the stacked engine, cached per network
# =============================================================================================
def engine_runs(configs: Sequence[TrainConfig], data, device="cpu", *, kinds: Sequence[str] = ALL_KINDS,
                record_every: int | None = None, dtype: torch.dtype = torch.float32) -> list[dict[str, np.ndarray]]:
    """Results of ``configs`` on ``data`` (one dict per network), from the cache or trained now.

    Each dict holds test_acc, train_acc, load_{train,test}_{kind} (L+1,), and history (R, L+1) /
    history_epochs when ``record_every`` is set.
    """
    dev = resolve_device(device)
    cache = ResultCache("generalization_mlp")
    keys = [{"engine": ENGINE_VERSION, "config": c.asdict(), "data": cache_key(data), "kinds": list(kinds),
             "record_every": record_every, "rng_device": dev.type, "dtype": str(dtype)} for c in configs]
    found = [cache.load(k) for k in keys]
    todo = [i for i, f in enumerate(found) if f is None]

    def save(j, r):
        i = todo[j]
        arrays = {"test_acc": r.test_acc, "train_acc": r.train_acc}
        for split in ("train", "test"):
            arrays.update({f"load_{split}_{k}": v for k, v in getattr(r, f"load_{split}").items()})
        if r.history is not None:
            arrays.update(history=r.history, history_epochs=r.history_epochs)
        cache.save(keys[i], arrays, device=str(dev))
        found[i] = {k: np.asarray(v) for k, v in arrays.items()}

    if todo:
        train_networks([configs[i] for i in todo], data, dev, record_every=record_every, progress=False,
                       kinds=tuple(kinds), on_result=save, dtype=dtype)
    return found


def _stack(runs, key, shape, pad_to=None) -> np.ndarray:
    """Stack one field of ``runs`` into ``shape`` (+ its own shape); NaN-pad curves to ``pad_to``."""
    arrs = [np.asarray(r[key], dtype=float) for r in runs]
    if pad_to is not None:
        arrs = [np.pad(a, (0, pad_to - len(a)), constant_values=np.nan) for a in arrs]
    out = np.stack(arrs)
    return out.reshape(*shape, *out.shape[1:])


# =============================================================================================
# Analyses of the Fig. 1 cells (pure; the cells come from sweep.run_panel)
# =============================================================================================
def _pearson_rows(a, b) -> np.ndarray:
    """Pearson correlation along the last axis of (..., n) arrays; NaN where a row has a NaN or no spread."""
    a, b = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (a * b).sum(-1) / np.sqrt((a * a).sum(-1) * (b * b).sum(-1))


def _corr_rows(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Pearson and Spearman (Pearson of ranks) correlations of (..., n) rows, vectorised."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return _pearson_rows(a, b), _pearson_rows(stats.rankdata(a, axis=-1), stats.rankdata(b, axis=-1))


def _corr(a, b) -> tuple[float, float]:
    """Pearson and Spearman correlation of the finite pairs (NaN if < 3 pairs or no spread)."""
    a, b = np.ravel(a), np.ravel(b)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return math.nan, math.nan
    return tuple(float(v) for v in _corr_rows(a[ok], b[ok]))


def accuracy_vs_curvature(acc, load, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """Does the most linear load curve have the best test accuracy? (one Fig. 1 panel)

    ``acc`` (A, V, S) test accuracies and ``load`` (A, V, S, L+1) load curves of A×V cells and S
    seeds. Cells are summarised like the figure: seed-mean accuracy and the relative curvature ĉ
    of the seed-mean curve. Returned (floats unless noted):

    * ``pearson_abs``, ``spearman_abs``: correlation of accuracy with |ĉ| over cells (the claim
      predicts < 0: the straighter, the better); ``pearson_signed``, ``spearman_signed``: with ĉ.
    * ``*_lo``, ``*_hi``: 95 % bootstrap interval of each, resampling seeds when S ≥ 2 (the
      uncertainty over seeds), else resampling cells (``ci_over`` says which).
    * ``per_seed_pearson_abs`` (S,): the correlation within each seed alone.
    * ``best`` / ``most_linear``: (row, column) of the most accurate / smallest-|ĉ| cell, their
      accuracies and ĉ; ``linear_rank``: rank of the most linear cell's accuracy (1 = best);
      ``linear_wins``: whether it is the most accurate cell; ``best_shape``: shape of the best cell.
    * ``acc_mean`` (A, V), ``rc`` (A, V): the cell summaries.
    """
    acc, load = np.asarray(acc, dtype=float), np.asarray(load, dtype=float)
    if acc.ndim != 3 or load.shape[:3] != acc.shape:
        raise ValueError(f"acc must be (A, V, S) and load (A, V, S, L+1) with the same A, V, S; "
                         f"got {acc.shape} and {load.shape}")
    _int("n_boot", n_boot, 0)
    A, V, S = acc.shape

    def summary(idx):
        am, rc = np.nanmean(acc[:, :, idx], 2), relative_curvature(np.nanmean(load[:, :, idx], 2))
        return am, rc, (*_corr(am, np.abs(rc)), *_corr(am, rc))

    am, rc, point = summary(np.arange(S))
    rng = np.random.default_rng(seed)
    over_seeds = S >= 2
    ok = (np.isfinite(am) & np.isfinite(rc)).ravel()  # cells that enter the correlations
    if over_seeds:  # resample seeds: every resample gives new cell means and curvatures
        draws = rng.integers(0, S, (n_boot, S))
        ba = np.stack([np.nanmean(acc[:, :, d], 2).ravel()[ok] for d in draws]) if n_boot else np.zeros((0, ok.sum()))
        br = (np.stack([relative_curvature(np.nanmean(load[:, :, d], 2)).ravel()[ok] for d in draws]) if n_boot
              else np.zeros((0, ok.sum())))
    else:  # resample cells (pairs)
        cells = rng.integers(0, ok.sum(), (n_boot, ok.sum()))
        ba, br = am.ravel()[ok][cells], rc.ravel()[ok][cells]
    boots = np.stack([*_corr_rows(ba, np.abs(br)), *_corr_rows(ba, br)], 1) if n_boot else np.zeros((0, 4))
    names = ("pearson_abs", "spearman_abs", "pearson_signed", "spearman_signed")
    out = {"acc_mean": am, "rc": rc, "ci_over": "seeds" if over_seeds else "cells"}
    for i, name in enumerate(names):
        out[name] = point[i]
        lo, hi = (np.nanpercentile(boots[:, i], [2.5, 97.5]) if n_boot and np.isfinite(boots[:, i]).any()
                  else (math.nan, math.nan))
        out[f"{name}_lo"], out[f"{name}_hi"] = float(lo), float(hi)
    out["per_seed_pearson_abs"] = np.array([_corr(acc[:, :, s], np.abs(relative_curvature(load[:, :, s])))[0]
                                            for s in range(S)])
    flat_acc = np.where(np.isfinite(am) & np.isfinite(rc), am, -np.inf).ravel()
    best = int(np.argmax(flat_acc))
    lin = int(np.nanargmin(np.where(np.isfinite(am), np.abs(rc), np.nan).ravel()))
    out.update(best=np.unravel_index(best, (A, V)), most_linear=np.unravel_index(lin, (A, V)),
               best_acc=float(am.ravel()[best]), best_rc=float(rc.ravel()[best]),
               linear_acc=float(am.ravel()[lin]), linear_rc=float(rc.ravel()[lin]),
               linear_rank=int((flat_acc > flat_acc[lin]).sum() + 1), n_cells=int(np.isfinite(flat_acc).sum()),
               linear_wins=bool(best == lin), best_shape=str(shape_of(rc.ravel()[best])))
    return out


def compare_curves(a, b, tol: float = separation.SHAPE_TOL) -> dict:
    """Do two sets of load curves (..., L+1) have the same shapes, cell by cell?

    Used for train vs test curves (S4) and for Eq. 3 vs Eq. 9 (S10/S11). Returns the relative
    curvatures ``rc_a``, ``rc_b`` (...), their Pearson and Spearman correlation, the fraction of
    cells with the same shape label (concave / linear / convex at ``tol``), and the mean |ĉ_a − ĉ_b|.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    ra, rb = relative_curvature(a), relative_curvature(b)
    ok = np.isfinite(ra) & np.isfinite(rb)
    pr, sr = _corr(ra, rb)
    return {"rc_a": ra, "rc_b": rb, "pearson": pr, "spearman": sr, "n": int(ok.sum()),
            "same_shape": float(np.mean(shape_of(ra[ok], tol) == shape_of(rb[ok], tol))) if ok.any() else math.nan,
            "mean_abs_diff": float(np.mean(np.abs(ra[ok] - rb[ok]))) if ok.any() else math.nan}


# =============================================================================================
# MLP experiments through the engine
# =============================================================================================
def depth_width(depths=(3, 5, 7, 11), widths=(25, 50, 100, 200), dropouts=(0.0, 0.1), seeds: int = 1,
                epochs: int = 100, *, alpha: float = 0.0, lr: float = 1e-3, base_depth: int = 7,
                base_width: int = 100, data=None, device="cpu", seed: int = 0) -> dict:
    """SM S5/S6: other depths (at ``base_width``) and widths (at ``base_depth``), per dropout rate.

    The MLP's first layer maps the 100 input pixels to ``width``, so the width is decoupled from the
    image resolution (the authors' code ties them: width w means √w×√w images).
    Returns ``depth_load`` (P, D, S, max(depths)+1) NaN-padded, ``width_load`` (P, W, S, base_depth+1),
    accuracies ``depth_acc``/``width_acc`` (P, ·, S) and relative curvatures of the seed-mean curves
    ``depth_rc``/``width_rc`` (P, ·).
    """
    data = data if data is not None else load_dataset("mnist")
    sl = _seed_list(seeds, seed)
    archs = [(d, base_width) for d in depths] + [(base_depth, w) for w in widths]
    n = len(data.x_train)  # full batch, as in the paper
    cfgs = [TrainConfig(alpha=alpha, lr=lr, dropout=p, batch_size=n, epochs=epochs, seed=s, hidden=h, width=w)
            for p in dropouts for h, w in archs for s in sl]
    runs = engine_runs(cfgs, data, device)
    P, D, W, S = len(dropouts), len(depths), len(widths), len(sl)
    load = _stack(runs, "load_train_trace", (P, D + W, S), pad_to=max(max(depths), base_depth) + 1)
    acc = _stack(runs, "test_acc", (P, D + W, S))
    depth_load, width_load = load[:, :D], load[:, D:, :, :base_depth + 1]
    rc_depth = np.array([[relative_curvature(np.nanmean(depth_load[p, i, :, :d + 1], 0)) for i, d in enumerate(depths)]
                         for p in range(P)])
    return {"depths": np.array(depths), "widths": np.array(widths), "dropouts": np.array(dropouts),
            "seeds": np.array(sl), "in_dim": int(data.x_train.shape[1]),
            "depth_load": depth_load, "width_load": width_load, "depth_acc": acc[:, :D], "width_acc": acc[:, D:],
            "depth_rc": rc_depth, "width_rc": relative_curvature(np.nanmean(width_load, 2))}


AXES = ("dropout", "lr", "noise")


def dataset_diagram(name: str = "fashion-mnist", alphas=(0.0, 1.0), axis: str = "dropout",
                    values=(0.2, 0.1, 0.0), seeds: int = 1, epochs: int = 100, *, n_train: int = 2560,
                    size: int = 10, source: str = "auto", device="cpu", seed: int = 0) -> dict:
    """A small α × ``axis`` phase diagram on another dataset (S7 Fashion-MNIST; S8/S9 CIFAR-10).

    CIFAR-10 is converted to grayscale and resized to ``size``×``size`` so it fits the same MLP.
    Raises the data loader's FileNotFoundError (saying where it looked and how to get the data)
    when the dataset is not on disk. Returns ``acc`` (A, V, S), ``load``/``load_test``
    (A, V, S, L+1) and the description of the data used.
    """
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}; got {axis!r}")
    data = load_dataset(name, source=source, n_train=n_train, size=size)
    sl = _seed_list(seeds, seed)
    cfgs = [TrainConfig(alpha=a, batch_size=len(data.x_train), epochs=epochs, seed=s, **{axis: v})
            for a in alphas for v in values for s in sl]
    runs = engine_runs(cfgs, data, device)
    shape = (len(alphas), len(values), len(sl))
    load = _stack(runs, "load_train_trace", shape)
    return {"alphas": np.array(alphas), "values": np.array(values), "axis": axis, "seeds": np.array(sl),
            "acc": _stack(runs, "test_acc", shape), "load": load, "load_test": _stack(runs, "load_test_trace", shape),
            "rc": relative_curvature(np.nanmean(load, 2)), "description": data.description}


def metric_comparison_linear(alphas=(0.0, 1.0), dropouts=(0.0, 0.1), seeds: int = 1, epochs: int = 100, *,
                             data=None, device="cpu", seed: int = 0) -> dict:
    """SM S10/S11: Eq. 3 ("trace"), Eq. 9 ("pinv") and the inverse variant on ReLU and linear nets.

    Returns ``load_<kind>`` (A, P, S, L+1) on the clean training set and ``rc_<kind>`` (A, P) of the
    seed-mean curves. ``inverse_spread`` (A, P): max − min over layers of the inverse curve, relative
    to the trace curve's: Tr(Σ_b Σ_w⁺) is invariant under every invertible feature map, so for a
    linear network (α = 1, every layer an invertible affine map in eval mode) it cannot change
    from layer to layer and its spread is ~0. These networks are trained and measured in float64:
    in float32 the product of seven layers is conditioned badly enough for the pseudo-inverse's
    cut-off to make the inverse curve drift by a few percent.
    """
    data = data if data is not None else load_dataset("mnist")
    sl = _seed_list(seeds, seed)
    cfgs = [TrainConfig(alpha=a, dropout=p, batch_size=len(data.x_train), epochs=epochs, seed=s)
            for a in alphas for p in dropouts for s in sl]
    runs = engine_runs(cfgs, data, device, dtype=torch.float64)
    shape = (len(alphas), len(dropouts), len(sl))
    out = {"alphas": np.array(alphas), "dropouts": np.array(dropouts), "seeds": np.array(sl),
           "acc": _stack(runs, "test_acc", shape)}
    for kind in ALL_KINDS:
        out[f"load_{kind}"] = _stack(runs, f"load_train_{kind}", shape)
        out[f"rc_{kind}"] = relative_curvature(np.nanmean(out[f"load_{kind}"], 2))
    spread = lambda d: np.nanmax(d, -1) - np.nanmin(d, -1)  # noqa: E731
    out["inverse_spread"] = np.nanmean(spread(out["load_inverse"]) / spread(out["load_trace"]), 2)
    return out


# =============================================================================================
# Single-network experiments (plain loop), cached per experiment
# =============================================================================================
def _mnist(n_train: int, dev) -> tuple:
    data = load_dataset("mnist", n_train=n_train)
    return data, *(t.to(dev) for t in (data.x_train, data.y_train, data.x_test, data.y_test))


def cnn_dropout_protocol(dropouts=(0.0, 0.1, 0.3), pretrain_epochs: int = 30, resume_epochs: int = 15,
                         seeds: int = 1, *, channels: int = 16, hidden: int = 7, lr: float = 1e-3,
                         batch_size: int = 256, n_train: int = 2560, device="cpu", seed: int = 0) -> dict:
    """SM S2 as the paper describes it: train the CNN without dropout to near convergence, then add
    dropout p and resume (same weights and Adam state; p = 0 is the "just keep training" control).

    Returns ``pre_load`` (S, L+1), ``pre_acc`` (S,) after the first phase and, per p,
    ``load``/``load_test`` (P, S, L+1), ``acc`` (P, S), ``rc`` (P,) of the seed-mean curves.
    """
    dev = resolve_device(device)
    data = load_dataset("mnist", n_train=n_train)
    sl = _seed_list(seeds, seed)
    config = dict(version=VERSION, dropouts=list(dropouts), pretrain_epochs=pretrain_epochs,
                  resume_epochs=resume_epochs, seeds=sl, channels=channels, hidden=hidden, lr=lr,
                  batch_size=batch_size, data=cache_key(data), rng_device=dev.type)

    def compute():

        _, xtr, ytr, xte, yte = _mnist(n_train, dev)
        P, S, L1 = len(dropouts), len(sl), hidden + 1
        out = {"pre_load": np.zeros((S, L1)), "pre_acc": np.zeros(S), "load": np.zeros((P, S, L1)),
               "load_test": np.zeros((P, S, L1)), "acc": np.zeros((P, S))}
        for j, s in enumerate(sl):
            with seeded(s, dev):
                net = CNN(channels, hidden).to(dev)
            _, opt_state = train_module(net, xtr, ytr, lr=lr, epochs=pretrain_epochs, batch_size=batch_size, seed=s)
            start, start_opt = copy.deepcopy(net.state_dict()), copy.deepcopy(opt_state)
            out["pre_load"][j] = evaluate(net, xtr, ytr)["load_trace"]
            out["pre_acc"][j] = evaluate(net, xte, yte)["acc"]
            for i, p in enumerate(dropouts):
                net.load_state_dict(start)
                set_dropout(net, p)
                # every branch sees the same data order (seed s + 1): they differ only in dropout
                train_module(net, xtr, ytr, lr=lr, epochs=resume_epochs, batch_size=batch_size, seed=s + 1,
                             opt_state=copy.deepcopy(start_opt))
                te = evaluate(net, xte, yte)
                out["load"][i, j] = evaluate(net, xtr, ytr)["load_trace"]
                out["load_test"][i, j], out["acc"][i, j] = te["load_trace"], te["acc"]
        return out

    out = ResultCache("generalization_cnn").get_or_compute(config, compute, device=str(dev))
    out.update(dropouts=np.array(dropouts), seeds=np.array(sl), rc=relative_curvature(out["load"].mean(1)),
               pre_rc=relative_curvature(out["pre_load"].mean(0)))
    return out


def whitened_data(n: int = 100, classes: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Fig. 5(a) data: X a Haar-random orthogonal n×n matrix (row i = sample i, so XᵀX = XXᵀ = I:
    whitened) with random balanced labels in 0..classes−1."""
    _int("n", n, 2)
    _int("classes", classes, 2)
    if classes > n:
        raise ValueError(f"classes must be <= n = {n}; got {classes}")
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q *= np.sign(np.diag(r))  # makes the QR factor Haar-distributed
    return torch.tensor(q, dtype=torch.float32), torch.tensor(rng.permutation(np.arange(n) % classes))


def linear_orthogonal(names=("small lr", "large lr", "dropout"), lrs=(1e-2, 1e-1, 1e-2), dropouts=(0.0, 0.0, 0.2),
                      epochs: int = 2000, seeds: int = 1, *, n: int = 100, classes: int = 2, hidden: int = 7,
                      record_every: int = 50, device="cpu", seed: int = 0) -> dict:
    """Fig. 5(a): a linear network (α = 1, no BN, orthogonal weights, zero biases) trained with
    full-batch SGD and cross-entropy on whitened data (:func:`whitened_data`, width = n).

    Variant i uses ``lrs[i]`` and ``dropouts[i]``. Every seed draws its own data and initial weights.
    Returns ``load`` (V, S, L+1) at the end, ``history`` (V, S, R, L+1) every ``record_every``
    epochs (epoch 0 included, ``history_epochs`` (R,)), ``loss`` (V, S) final training loss and
    ``rc`` (V,) of the seed-mean curves.
    """
    if not len(names) == len(lrs) == len(dropouts):
        raise ValueError(f"names, lrs and dropouts must have the same length; got {len(names)}, {len(lrs)}, "
                         f"{len(dropouts)}")
    _int("record_every", record_every)
    dev = resolve_device(device)
    sl = _seed_list(seeds, seed)
    config = dict(version=VERSION, lrs=list(lrs), dropouts=list(dropouts), epochs=epochs, seeds=sl, n=n,
                  classes=classes, hidden=hidden, record_every=record_every, rng_device=dev.type)

    def compute():
        V, S, R = len(lrs), len(sl), epochs // record_every + 1
        out = {"load": np.full((V, S, hidden + 1), np.nan), "history": np.full((V, S, R, hidden + 1), np.nan),
               "loss": np.full((V, S), np.nan)}
        for j, s in enumerate(sl):
            x, y = (t.to(dev) for t in whitened_data(n, classes, seed=s))
            for i, (lr, p) in enumerate(zip(lrs, dropouts)):
                with seeded(s, dev):
                    net = LinearNet(hidden, n, n, classes, dropout=p).to(dev)
                hist = out["history"][i, j]
                hist[0] = evaluate(net, x, y)["load_trace"]

                def record(epoch, model, hist=hist):
                    if epoch % record_every == 0:
                        hist[epoch // record_every] = evaluate(model, x, y)["load_trace"]

                losses, _ = train_module(net, x, y, optimizer="sgd", lr=lr, epochs=epochs, seed=s, on_epoch=record)
                out["load"][i, j], out["loss"][i, j] = evaluate(net, x, y)["load_trace"], losses[-1]
        return out

    out = ResultCache("generalization_linear").get_or_compute(config, compute, device=str(dev))
    out.update(names=np.array(names), lrs=np.array(lrs), dropouts=np.array(dropouts), seeds=np.array(sl),
               history_epochs=np.arange(0, epochs + 1, record_every), rc=relative_curvature(np.nanmean(out["load"], 1)))
    return out


def regression_load_experiment(names=("lazy", "default", "dropout", "large lr"), lrs=(1e-4, 1e-3, 1e-3, 2e-2),
                               dropouts=(0.0, 0.0, 0.2, 0.0), epochs: int = 100, seeds: int = 1, *,
                               alpha: float = 0.0, hidden: int = 7, width: int = 100, n_train: int = 2560,
                               device="cpu", seed: int = 0) -> dict:
    """SM S12: the regression load R_ℓ (relative RMSE of the best linear read-out of layer ℓ,
    ``separation.regression_load``) of an MLP trained with MSE, full batch, Adam.

    The task: predict the digit's value 0..9 (standardised on the training set) from the 10×10
    MNIST image — a scalar target that is far from linear in the pixels (R_0 ≈ 0.6). The network is
    the paper's MLP with one output. Returns ``load``/``load_test`` (V, S, L+1), ``test_rmse`` (V, S)
    of the network's own output (in target standard deviations) and ``rc`` (V,).
    """
    if not len(names) == len(lrs) == len(dropouts):
        raise ValueError(f"names, lrs and dropouts must have the same length; got {len(names)}, {len(lrs)}, "
                         f"{len(dropouts)}")
    dev = resolve_device(device)
    data = load_dataset("mnist", n_train=n_train)
    sl = _seed_list(seeds, seed)
    config = dict(version=VERSION, lrs=list(lrs), dropouts=list(dropouts), epochs=epochs, seeds=sl, alpha=alpha,
                  hidden=hidden, width=width, data=cache_key(data), rng_device=dev.type)

    def compute():
        _, xtr, ytr, xte, yte = _mnist(n_train, dev)
        mu, sd = ytr.double().mean(), ytr.double().std()
        ttr, tte = ((ytr.double() - mu) / sd).float(), ((yte.double() - mu) / sd).float()
        V, S = len(lrs), len(sl)
        out = {"load": np.zeros((V, S, hidden + 1)), "load_test": np.zeros((V, S, hidden + 1)),
               "test_rmse": np.zeros((V, S))}
        for i, (lr, p) in enumerate(zip(lrs, dropouts)):
            for j, s in enumerate(sl):
                with seeded(s, dev):
                    net = MLP(alpha, p, hidden, width, xtr.shape[1], 1).to(dev)
                train_module(net, xtr, ttr, loss="mse", lr=lr, epochs=epochs, seed=s)
                for key, x, t in (("load", xtr, ttr), ("load_test", xte, tte)):
                    f = features(net, x)
                    out[key][i, j] = separation.regression_load(f[:-1], t, relative=True).double().cpu().numpy()
                out["test_rmse"][i, j] = float((f[-1].squeeze(-1) - tte).square().mean().sqrt())  # f: test set
        return out

    out = ResultCache("generalization_regression").get_or_compute(config, compute, device=str(dev))
    out.update(names=np.array(names), lrs=np.array(lrs), dropouts=np.array(dropouts), seeds=np.array(sl),
               rc=relative_curvature(out["load"].mean(1)))
    return out


ARCHS = ("mlp", "resnet18")


def torchvision_model(arch: str = "mlp", *, hidden: int = 7, width: int = 100, size: int = 10,
                      num_classes: int = 10, dropout: float = 0.0) -> tuple[nn.Module, object]:
    """A torchvision network for flat (N, size²) inputs, and the ``layers=`` selection to probe.

    "mlp": ``torchvision.ops.MLP`` (Linear → BatchNorm → ReLU → Dropout blocks), probed at its
    ReLUs. "resnet18": ``torchvision.models.resnet18`` with a 3×3 stride-1 one-channel stem and no
    max-pool (10×10 inputs), probed after the stem and each of the four stages.
    """
    from ._vision import import_torchvision

    tv = import_torchvision()
    if arch == "mlp":
        net = tv.ops.MLP(size * size, [width] * hidden + [num_classes], norm_layer=nn.BatchNorm1d, dropout=dropout)
        return net, nn.ReLU
    if arch == "resnet18":
        res = tv.models.resnet18(num_classes=num_classes)
        res.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
        res.maxpool = nn.Identity()
        return nn.Sequential(nn.Unflatten(1, (1, size, size)), res), ["1.relu", "1.layer1", "1.layer2", "1.layer3",
                                                                         "1.layer4"]
    raise ValueError(f"arch must be one of {ARCHS}; got {arch!r}")


def torchvision_probe(arch: str = "mlp", epochs: int = 50, *, lr: float = 1e-3, batch_size: int | None = None,
                      dropout: float = 0.0, n_train: int = 2560, device="cpu", seed: int = 1) -> dict:
    """Train a torchvision model (:func:`torchvision_model`) on 10×10 MNIST with :func:`train_module`
    and measure its load curve with ``springblock.probe.load_curve`` (forward hooks, nothing
    model-specific). Returns ``names`` and ``dims`` of the probed layers (input first), the train and
    test ``load`` curves (trace and pinv) and the test accuracy.
    """
    from . import probe

    dev = resolve_device(device)
    data = load_dataset("mnist", n_train=n_train)
    config = dict(version=VERSION, arch=arch, epochs=epochs, lr=lr, batch_size=batch_size, dropout=dropout,
                  seed=seed, data=cache_key(data), rng_device=dev.type)

    def compute():
        _, xtr, ytr, xte, yte = _mnist(n_train, dev)
        with seeded(seed, dev):
            net, layers = torchvision_model(arch, dropout=dropout)
        net = net.to(dev)
        train_module(net, xtr, ytr, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed)
        out = {}
        for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
            for kind in ("trace", "pinv"):
                res = probe.load_curve(net, x, y, layers=layers, kind=kind, batch_size=1024)
                out[f"load_{split}_{kind}"] = res.load.double().cpu().numpy()
        net.eval()
        with torch.no_grad():
            out["test_acc"] = 100.0 * float((net(xte).argmax(-1) == yte).double().mean())
        return {**out, "names": np.array(res.names), "dims": np.array(res.dims)}

    out = ResultCache("generalization_probe").get_or_compute(config, compute, device=str(dev))
    out["rc"] = relative_curvature(out["load_train_trace"])
    return out


def chain_fits(history: dict, epochs, *, realisations: int = 32, candidates: int = 128, rounds: int = 6,
               seed: int = 0) -> dict:
    """Fit a spring chain (``springblock.fit.fit_chain``, synchronous noise) to Fig. 4-style load
    dynamics: ``history[name]`` (S, R, L+1) D_ℓ over ``epochs`` (R,) per seed; the seed mean is fitted.

    Returns per setting (stacked in ``names`` order): ``observed``/``fitted`` (R, L+1), the chain
    parameters ``params`` (n, 6) = (μ_r, μ_l, σ, τ, a, b) (units k = y = 1, τ in chain time per
    epoch, D ≈ a + b·λ), ``mu_eff``, ``r2`` and the fitted chain's curvature in D units.
    """
    from . import fit

    names = list(history)
    config = dict(version=VERSION, history={k: np.asarray(v, float).round(10).tolist() for k, v in history.items()},
                  epochs=np.asarray(epochs, float).tolist(), realisations=realisations, candidates=candidates,
                  rounds=rounds, seed=seed)

    def compute():
        fits = [fit.fit_chain(np.nanmean(np.asarray(history[k], float), 0), np.asarray(epochs, float),
                              realisations=realisations, candidates=candidates, rounds=rounds,
                              elite=min(16, candidates), seed=seed)
                for k in names]
        return {"observed": np.stack([f.observed for f in fits]), "fitted": np.stack([f.fitted for f in fits]),
                "params": np.array([[f.mu_r, f.mu_l, f.sigma, f.tau, f.a, f.b] for f in fits]),
                "mu_eff": np.array([f.mu_eff for f in fits]), "r2": np.array([f.r2 for f in fits]),
                "curvature": np.array([f.curvature for f in fits])}

    out = ResultCache("generalization_chainfit").get_or_compute(config, compute)
    out.update(names=np.array(names), epochs=np.asarray(epochs, float),
               param_names=np.array(["mu_r", "mu_l", "sigma", "tau", "a", "b"]))
    return out
