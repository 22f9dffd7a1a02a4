"""Train many of the paper's MLPs at once, and measure their load curves.

:func:`train_networks` takes a list of :class:`TrainConfig` (one per network: its own α, learning
rate, dropout rate, noise level p and seed) and trains them together with stacked parameters
(:class:`~springblock.models.StackedMLP`): networks with the same batch size and epoch count share
one loop of batched matmuls. The same code runs on CPU and CUDA.

:func:`train_reference` trains *one* network the plain way (``nn.Module``, autograd,
``torch.optim.Adam``). It consumes exactly the same random numbers as the engine, so the two can be
compared step for step (``tests/test_train.py``) and timed against each other
(``benchmarks/bench_train.py``).

Randomness. Network ``i`` owns one ``torch.Generator`` seeded from its config's seed. Every epoch it
draws its data order (``randperm``); every step it draws, in this order and only where the rate is
> 0: the noisy label positions and new labels, the input noise, the dropout masks
(:func:`draw_step_noise`). Initial weights come from ``torch.manual_seed(seed)`` and ``MLP(...)``,
so all networks with one seed start from the same weights and see the same data order, whatever
their α or noise (common random numbers across a phase diagram), and a network's result never
depends on which other networks share its loop.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from . import separation
from .models import MLP, StackedMLP
from .scales import resolve_device

KINDS = ("trace", "pinv")  # load-curve kinds measured for every network
ENGINE_VERSION = 1  # bump when a change alters results, so cached cells are recomputed
BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam defaults, as in the paper
STOP_LOSS, STOP_DELTA = 1e-4, 1e-10  # spec §5.1 early stop on the epoch-mean training loss
# Networks × batch rows trained in one stacked loop. On a CPU, bigger stacks stop paying off once
# activations leave the cache (and glibc re-maps big buffers); on a GPU, more is better.
ROWS_PER_CHUNK = {"cpu": 2 * 2560, "cuda": 2**20}


@dataclass(frozen=True)
class TrainConfig:
    """One network and how it is trained (defaults: the paper's, spec §5.1)."""

    alpha: float = 0.0  # LeakyReLU negative slope in [0, 1]: 0 = ReLU, 1 = linear network
    lr: float = 1e-3  # Adam learning rate (> 0)
    dropout: float = 0.0  # dropout rate after every hidden activation, in [0, 1)
    noise: float = 0.0  # p in [0, 1]: per step, ⌊pB⌋ labels resampled and x += p·std(X_batch)·N(0, 1)
    batch_size: int = 2560  # minibatch size; 2560 = the full training set
    epochs: int = 100  # passes over the training set (paper: 100; 200 for the learning-rate panel)
    seed: int = 1  # initial weights, data order, noise and dropout draws (paper: seeds 1..10)
    hidden: int = 7  # L hidden layers (8 Linear layers in all)
    width: int = 100  # hidden width
    early_stop: bool = True  # stop (freeze) once the epoch loss is < 1e-4 or changes by < 1e-10

    def __post_init__(self):
        def number(name, lo, hi, lo_open=False, hi_open=False):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            if (v <= lo if lo_open else v < lo) or (v >= hi if hi_open else v > hi):
                rng = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
                raise ValueError(f"{name} must lie in {rng}, got {v!r}")

        number("alpha", 0, 1)
        number("lr", 0, math.inf, lo_open=True, hi_open=True)
        number("dropout", 0, 1, hi_open=True)
        number("noise", 0, 1)
        for name, lo in (("batch_size", 2), ("epochs", 1), ("seed", 0), ("hidden", 1), ("width", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")

    def asdict(self) -> dict:
        return asdict(self)


@dataclass
class RunResult:
    """What one trained network leaves behind (all on the CPU, NumPy)."""

    config: TrainConfig
    test_acc: float  # % of the test set classified correctly (eval mode)
    train_acc: float  # % of the clean training set classified correctly (eval mode)
    load_train: dict  # kind -> (L+1,) load curve D_0..D_L on the clean training set (eval mode)
    load_test: dict  # kind -> (L+1,) the same on the test set
    c: float  # curvature (D_0 − D_1) − (D_{L−1} − D_L) of load_train["trace"]: < 0 concave, > 0 convex
    v: float  # std of the layer contributions D_ℓ − D_{ℓ+1} of that curve
    losses: np.ndarray  # (epochs_run,) epoch-mean training loss (noisy labels, dropout on)
    epochs_run: int  # < config.epochs if early stopping fired
    history: np.ndarray | None = None  # (R, L+1) trace load on the clean training set, if recorded
    history_epochs: np.ndarray | None = None  # (R,) epochs of those rows (0 = initialisation)
    model: MLP | None = field(default=None, repr=False)  # the trained network, if keep_models


# ---------------------------------------------------------------------------------------------
# Randomness shared by the engine and the reference loop
# ---------------------------------------------------------------------------------------------
def init_module(cfg: TrainConfig, in_dim: int, num_classes: int) -> MLP:
    """The network's initial weights: PyTorch defaults under ``torch.manual_seed(cfg.seed)``."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
        torch.manual_seed(cfg.seed)
        return MLP(cfg.alpha, cfg.dropout, cfg.hidden, cfg.width, in_dim, num_classes)


def make_generator(cfg: TrainConfig, device) -> torch.Generator:
    """The network's own stream for data order, noise and dropout (distinct from the init stream)."""
    return torch.Generator(device=device).manual_seed(cfg.seed + 0x5EED0000)


def dropout_bits(gen, n: int, device, out: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` uniform 16-bit integers (int16) for dropout, four from each 64-bit draw.

    A uniform float per unit would cost one Mersenne-Twister call each (the CPU generator),
    which at full batch took longer than the training step itself. ``out``: an int64 buffer of
    at least ⌈n/4⌉ words to draw into.
    """
    words = torch.empty(-(-n // 4), dtype=torch.int64, device=device) if out is None else out
    return words.random_(-2**63, None, generator=gen).view(torch.int16)[:n]


def keep_threshold(p: float) -> int:
    """Keep a unit if its 16-bit draw is below this: P(keep) = 1 − p up to 2⁻¹⁶."""
    return min(round((1 - p) * 65536) - 32768, 32767)


def draw_step_noise(gen, cfg: TrainConfig, b: int, in_dim: int, num_classes: int, device, bits_out=None):
    """One step's random numbers for one network, always drawn in this order.

    Returns ``(label_pos, new_labels, input_noise, bits)``; an entry is None when its rate is 0.
    ``bits`` (hidden, width, b) int16 are the dropout draws (keep where ``bits <
    keep_threshold(p)``); with ``bits_out`` they are drawn into that int64 buffer. Draws do not
    depend on the model's dtype, so float32 and float64 runs see the same noise.
    """
    pos = lab = eps = bits = None
    if cfg.noise > 0:
        k = math.floor(cfg.noise * b)
        pos = torch.randperm(b, generator=gen, device=device)[:k]
        lab = torch.randint(0, num_classes, (k,), generator=gen, device=device)
        eps = torch.randn(b, in_dim, generator=gen, device=device)
    if cfg.dropout > 0:
        bits = dropout_bits(gen, cfg.hidden * cfg.width * b, device, bits_out).view(cfg.hidden, cfg.width, b)
    return pos, lab, eps, bits


def _check(configs, data, device) -> torch.device:
    if not configs:
        raise ValueError("configs must hold at least one TrainConfig")
    for c in configs:
        if not isinstance(c, TrainConfig):
            raise ValueError(f"configs must be TrainConfig instances, got {type(c).__name__}")
    dev = resolve_device(device)
    n, d = data.x_train.shape
    for c in configs:
        if c.batch_size > n:
            raise ValueError(f"batch_size must be <= the training-set size {n}, got {c.batch_size}")
        if n % c.batch_size == 1:  # BatchNorm cannot train on a last batch of one sample
            raise ValueError(f"batch_size {c.batch_size} leaves a last batch of 1 sample (N = {n}); choose another")
    return dev


def _tensors(data, dev, dtype):
    return (torch.as_tensor(data.x_train).to(dev, dtype), torch.as_tensor(data.y_train).to(dev, torch.long),
            torch.as_tensor(data.x_test).to(dev, dtype), torch.as_tensor(data.y_test).to(dev, torch.long))


def _num_classes(data, y_train) -> int:
    return int(getattr(data, "num_classes", None) or int(y_train.max()) + 1)


def _stop(losses: list[float], cfg: TrainConfig) -> bool:
    if not cfg.early_stop:
        return False
    return losses[-1] < STOP_LOSS or (len(losses) > 1 and abs(losses[-1] - losses[-2]) < STOP_DELTA)


# ---------------------------------------------------------------------------------------------
# Measurement (shared by engine and reference)
# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def _loads(feats: list[torch.Tensor], labels, kinds, num_classes) -> dict[str, torch.Tensor]:
    """Load curves (M, L+1) per kind from eval features [x_0..x_L] (M, N, d); NaN where not finite."""
    if len({f.shape for f in feats}) > 1:  # width != input dim: layers cannot be stacked, go one by one
        ok = torch.stack([torch.isfinite(f).flatten(1).all(1) for f in feats]).all(0)
        out = {}
        for kind in kinds:
            load = torch.full((len(ok), len(feats)), math.nan, dtype=feats[0].dtype, device=feats[0].device)
            if ok.any():
                load[ok] = separation.load_curve([f[ok] for f in feats], labels, kind, num_classes)
            out[kind] = load
        return out
    stacked = torch.stack(feats, 1)  # (M, L+1, N, d)
    ok = torch.isfinite(stacked).flatten(1).all(1)
    out = {}
    for kind in kinds:
        load = torch.full(stacked.shape[:2], math.nan, dtype=stacked.dtype, device=stacked.device)
        if ok.any():
            load[ok] = separation.load_curve(stacked[ok], labels, kind, num_classes)
        out[kind] = load
    return out


def _measure(layers: Callable, m: int, tensors, kinds, num_classes, rows: int) -> dict[str, np.ndarray]:
    """Eval-mode taps of ``m`` networks: accuracies and load curves on the train and test sets.

    ``layers(x, sl)`` returns [x_0..x_L, logits] of networks ``sl`` (a slice) on inputs x (N, d).
    Networks are measured a few at a time so the test-set features never exceed ``rows`` rows.
    """
    xtr, ytr, xte, yte = tensors
    per = max(1, rows // max(len(xtr), len(xte)))
    parts = []
    for s in range(0, m, per):
        sl = slice(s, min(m, s + per))
        res = {}
        for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
            out = layers(x, sl)
            res[f"{split}_acc"] = 100.0 * (out[-1].argmax(-1) == y).double().mean(-1)
            for kind, load in _loads(out[:-1], y, kinds, num_classes).items():
                res[f"load_{split}_{kind}"] = load
        parts.append(res)
    return {k: torch.cat([p[k] for p in parts]).cpu().double().numpy() for k in parts[0]}


def _results(cfgs, meas, losses, kinds, history=None, hist_epochs=None, models=None) -> list[RunResult]:
    out = []
    for i, cfg in enumerate(cfgs):
        load = meas["load_train_trace"][i]
        c = v = math.nan
        if np.isfinite(load).all():
            curv = separation.curvature(torch.from_numpy(load))
            c, v = float(curv.c), float(curv.v)
        out.append(RunResult(
            config=cfg, test_acc=float(meas["test_acc"][i]), train_acc=float(meas["train_acc"][i]),
            load_train={k: meas[f"load_train_{k}"][i] for k in kinds},
            load_test={k: meas[f"load_test_{k}"][i] for k in kinds},
            c=c, v=v, losses=np.asarray(losses[i]), epochs_run=len(losses[i]),
            history=None if history is None else history[:, i], history_epochs=hist_epochs,
            model=None if models is None else models[i]))
    return out


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------
class _StackedAdam:
    """Adam (torch.optim.Adam's defaults) on the rows of an (M, P) buffer, each row its own lr.

    Uses torch's fused Adam kernel (one pass over memory; CPU and CUDA) on the rows as a list,
    one call per distinct learning rate. Rows of frozen (early-stopped) networks are left out,
    so they keep their parameters, moments and step count.
    """

    def __init__(self, theta: torch.Tensor, grad: torch.Tensor, lr: Sequence[float]):
        self.m, self.v = torch.zeros_like(theta), torch.zeros_like(theta)
        self.rows = [t.unbind(0) for t in (theta, grad, self.m, self.v)]
        self.steps = [torch.zeros((), dtype=torch.float32, device=theta.device) for _ in lr]
        self.lr = [float(x) for x in lr]
        self.set_running(range(len(lr)))

    def set_running(self, running) -> None:
        by_lr: dict[float, list[int]] = {}
        for i in running:
            by_lr.setdefault(self.lr[i], []).append(i)
        self.groups = [(lr, [[t[i] for i in idx] for t in self.rows], [self.steps[i] for i in idx])
                       for lr, idx in by_lr.items()]

    def step(self) -> None:
        for lr, (p, g, m, v), steps in self.groups:
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(p, g, m, v, [], steps, lr=lr, beta1=BETAS[0], beta2=BETAS[1],
                               weight_decay=0.0, eps=ADAM_EPS, amsgrad=False, maximize=False)


def _train_chunk(cfgs, tensors, dev, dtype, num_classes, record_every, kinds, keep_models, bar, rows):
    xtr, ytr = tensors[0], tensors[1]
    M, (N, in_dim) = len(cfgs), xtr.shape
    B, E, L = cfgs[0].batch_size, cfgs[0].epochs, cfgs[0].hidden
    model = StackedMLP([init_module(c, in_dim, num_classes) for c in cfgs], dev, dtype)
    gens = [make_generator(c, dev) for c in cfgs]
    opt = _StackedAdam(model.theta, model.grad, [c.lr for c in cfgs])
    frozen = None  # (M, 1) bool once some network has stopped early
    minus_one = torch.full((1, 1, 1), -1.0, dtype=dtype, device=dev)
    noisy = [i for i, c in enumerate(cfgs) if c.noise > 0 or c.dropout > 0]
    has_dropout = any(c.dropout > 0 for c in cfgs)
    if has_dropout:  # per network: its 16-bit draws, keep threshold and 1/(1 − p) scale
        thr = torch.tensor([keep_threshold(c.dropout) for c in cfgs], dtype=torch.int16, device=dev).view(M, 1, 1)
        scale = 1 / torch.tensor([1 - c.dropout for c in cfgs], dtype=dtype, device=dev).view(M, 1, 1)
    losses, running, n_active = [[] for _ in cfgs], list(range(M)), M
    hist, hist_epochs = [], []

    def record(epoch):  # stays on the device: no host sync
        hist.append(_loads(model.forward_eval(xtr)[:-1], ytr, ("trace",), num_classes)["trace"])
        hist_epochs.append(epoch)

    if record_every:
        record(0)
    for epoch in range(1, E + 1):
        perms = torch.stack([torch.randperm(N, generator=g, device=dev) for g in gens])
        loss_sum = torch.zeros(M, dtype=dtype, device=dev)
        for start in range(0, N, B):
            idx = perms[:, start:start + B]
            b = idx.shape[1]
            # each network its own batch; layout (M, features, b) for the stacked pass
            x, y = xtr[idx].mT.contiguous(), ytr[idx]
            masks = None
            if has_dropout:  # rows of networks without dropout stay at -32768: always kept
                words = torch.full((M, -(-L * cfgs[0].width * b // 4)), -2**63 + 2**15 + 2**31 + 2**47,
                                   dtype=torch.int64, device=dev)
            for i in noisy:
                cfg = cfgs[i]
                pos, lab, eps, _ = draw_step_noise(gens[i], cfg, b, in_dim, num_classes, dev,
                                                   words[i] if cfg.dropout > 0 else None)
                if pos is not None:
                    y[i, pos] = lab
                    x[i] += cfg.noise * x[i].std() * eps.to(dtype).T
            if has_dropout:
                bits = words.view(torch.int16)[:, :L * cfgs[0].width * b].view(M, L, cfgs[0].width, b)
                masks = [(bits[:, layer] < thr).to(dtype).mul_(scale) for layer in range(L)]
            logits, saved = model.forward_train(x, masks, frozen)
            logp = torch.log_softmax(logits, 1)
            loss_sum -= logp.gather(1, y[:, None]).mean((1, 2))
            glogits = logp.exp_()  # d(mean CE)/d(logits) = (softmax − onehot) / b
            glogits.scatter_add_(1, y[:, None], minus_one.expand(M, 1, b)).div_(b)
            model.backward(saved, glogits)
            opt.step()
        epoch_loss = (loss_sum / math.ceil(N / B)).tolist()  # the one host sync per epoch
        for i in list(running):
            losses[i].append(epoch_loss[i])
            if _stop(losses[i], cfgs[i]):
                running.remove(i)
        if len(running) < n_active:  # freeze the networks that just stopped
            n_active = len(running)
            opt.set_running(running)
            frozen = torch.ones(M, 1, dtype=torch.bool, device=dev)
            frozen[running] = False
        if record_every and (epoch % record_every == 0 or epoch == E or not running):
            record(epoch)
        if bar is not None:
            bar.update(M)
        if not running:
            if bar is not None:
                bar.update(M * (E - epoch))
            break

    meas = _measure(lambda x, sl: model.forward_eval(x, sl), M, tensors, kinds, num_classes, rows)
    history = torch.stack(hist).cpu().double().numpy() if hist else None
    models = [model.module(i) for i in range(M)] if keep_models else None
    return _results(cfgs, meas, losses, kinds, history, np.array(hist_epochs) if hist else None, models)


def train_networks(
    configs: Sequence[TrainConfig],
    data,
    device="cpu",
    record_every: int | None = None,
    progress=True,
    *,
    kinds: Sequence[str] = KINDS,
    dtype: torch.dtype = torch.float32,
    keep_models: bool = False,
    on_result: Callable[[int, RunResult], None] | None = None,
    rows_per_chunk: int | None = None,
) -> list[RunResult]:
    """Train every network in ``configs`` on ``data``; return one :class:`RunResult` each, in order.

    ``data`` has ``x_train`` (N, d), ``y_train``, ``x_test``, ``y_test`` and ``num_classes``
    (e.g. :func:`springblock.data.load_dataset`). Networks with the same batch size, epochs and shape
    are trained in one stacked loop, in chunks of about ``rows_per_chunk`` networks × batch rows.
    ``record_every=k`` also records the trace load curve on the clean training set (eval mode) at
    epoch 0 and every k epochs. ``on_result(i, result)`` is called as soon as network ``i`` is
    done (the sweep stores each cell there). ``progress``: True, False or a tqdm bar to update
    (unit: network-epochs).
    """
    dev = _check(list(configs), data, device)
    if record_every is not None and (isinstance(record_every, bool) or not isinstance(record_every, int)
                                     or record_every < 1):
        raise ValueError(f"record_every must be None or an integer >= 1, got {record_every!r}")
    tensors = _tensors(data, dev, dtype)
    num_classes = _num_classes(data, tensors[1])
    rows = rows_per_chunk or ROWS_PER_CHUNK[dev.type]
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault((c.batch_size, c.epochs, c.hidden, c.width), []).append(i)
    bar = progress
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(c.epochs for c in configs), unit="net-epoch", desc="training")
    results: list[RunResult | None] = [None] * len(configs)
    try:
        # smallest batches first: they are the slowest per network, so the time estimate is honest
        for (b, *_), idx in sorted(groups.items()):
            per = max(1, rows // b)
            for s in range(0, len(idx), per):
                chunk = idx[s:s + per]
                out = _train_chunk([configs[i] for i in chunk], tensors, dev, dtype, num_classes,
                                   record_every, tuple(kinds), keep_models, bar or None, rows)
                for i, r in zip(chunk, out):
                    results[i] = r
                    if on_result is not None:
                        on_result(i, r)
    finally:
        if progress is True:
            bar.close()
    return results


# ---------------------------------------------------------------------------------------------
# The plain reference: one network, nn.Module + autograd + torch.optim.Adam
# ---------------------------------------------------------------------------------------------
def train_reference(cfg: TrainConfig, data, device="cpu", *, kinds: Sequence[str] = KINDS,
                    dtype: torch.dtype = torch.float32, keep_models: bool = False,
                    record_every: int | None = None) -> RunResult:
    """Train one network the ordinary way, consuming the engine's random numbers in the same order."""
    dev = _check([cfg], data, device)
    tensors = _tensors(data, dev, dtype)
    xtr, ytr = tensors[0], tensors[1]
    (N, in_dim), C = xtr.shape, _num_classes(data, tensors[1])
    net = init_module(cfg, in_dim, C).to(dev, dtype)
    gen = make_generator(cfg, dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, foreach=False)
    losses, hist, hist_epochs = [], [], []

    def layers(x, sl=None):
        net.eval()
        with torch.no_grad():
            out = [f[None] for f in net.layers(x)]
        net.train()
        return out

    def record(epoch):
        hist.append(_loads(layers(xtr)[:-1], ytr, ("trace",), C)["trace"][0])
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
            loss = torch.nn.functional.cross_entropy(net(x, masks), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, steps = total + loss.detach(), steps + 1
        losses.append(float(total / steps))
        if record_every and (epoch % record_every == 0 or epoch == cfg.epochs):
            record(epoch)
        if _stop(losses, cfg):
            if record_every and hist_epochs[-1] != epoch:
                record(epoch)
            break
    meas = _measure(layers, 1, tensors, kinds, C, 2**31)
    history = torch.stack(hist)[:, None].cpu().double().numpy() if hist else None
    return _results([cfg], meas, [losses], kinds, history, np.array(hist_epochs) if hist else None,
                    [net.cpu().eval()] if keep_models else None)[0]
