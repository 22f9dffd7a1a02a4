"""The training engine: many of the paper's MLPs trained at once, and their load curves.

:func:`train_networks` takes a list of :class:`TrainConfig` (one per network: its own α, learning
rate, dropout rate, noise level p and seed) and trains them together with stacked parameters
(:class:`~springblock.models.StackedMLP`): networks with the same batch size, epoch count and shape
share one loop of batched matmuls. The same code runs on CPU and CUDA. The engine knows no grid and
no cache; :mod:`springblock.results` owns both.

What a network's numbers depend on: its own configuration, the data, the dtype, the device type,
the versions of torch and numpy, and the engine's code — and on nothing else. In particular not on
which networks share its stack: each network owns its random streams (below), and on the CPU the
batched matrix products run in MKL's strict reproducibility mode (:mod:`springblock.kernels`), so a
network trained alone, in a stack of 2, 5 or 48, or in a resumed sweep, comes out bitwise the same.
On a GPU, cuBLAS may pick other algorithms for other batch counts: there the numbers of one
network can change in the last bits with its stack-mates.

Randomness. Network ``i`` owns one ``torch.Generator`` seeded from its config's seed. Every epoch
it draws its data order (``randperm``); every step it draws, in this order and only where the rate
is > 0: the noisy label positions and new labels, the input noise, the dropout masks
(:func:`draw_step_noise`). Initial weights come from ``torch.manual_seed(seed)`` and ``MLP(...)``,
so all networks with one seed start from the same weights and see the same data order, whatever
their α or noise (common random numbers across a phase diagram).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from . import kernels, measure, separation, validate
from .data import check_dataset
from .devices import resolve_device
from .models import MLP, NORMS, StackedMLP

MEASURED_KINDS = ("trace", "pinv")  # load-curve kinds measured for every network (of separation.KINDS)
OPTIMIZERS = ("adam", "sgd")
BETAS, ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam defaults, as in the paper
STOP_LOSS, STOP_DELTA = 1e-4, 1e-10  # the authors' early stop on the epoch-mean training loss
# Networks × batch rows trained in one stacked loop. On a CPU, bigger stacks stop paying off once
# activations leave the cache; on a GPU, more is better.
ROWS_PER_CHUNK = {"cpu": 2 * 2560, "cuda": 2**20}
BATCH_MAJOR_MAX = 80  # batches up to this size train batch-major (benchmarks/bench_train.py measured the crossover)


def layout(batch_size: int) -> bool:
    """Whether a stack of networks with this batch size trains batch-major: a function of the batch
    size alone, so every network of a given configuration always takes the same arithmetic path."""
    return batch_size <= BATCH_MAJOR_MAX


@dataclass(frozen=True)
class TrainConfig:
    """One network and how it is trained (defaults: the paper's)."""

    alpha: float = 0.0  # LeakyReLU negative slope in [0, 1]: 0 = ReLU, 1 = linear network
    lr: float = 1e-3  # learning rate (> 0)
    dropout: float = 0.0  # dropout rate after every hidden activation, in [0, 1)
    noise: float = 0.0  # p in [0, 1]: per step, ⌊pB⌋ labels resampled and x += p·std(X_batch)·N(0, 1)
    batch_size: int = 2560  # minibatch size; 2560 = the full training set
    epochs: int = 100  # passes over the training set (paper: 100; 200 for the learning-rate panel)
    seed: int = 1  # initial weights, data order, noise and dropout draws (paper: seeds 1..10)
    hidden: int = 7  # L hidden layers (8 Linear layers in all)
    width: int = 100  # hidden width
    norm: str = "batch"  # "batch" (the paper's experiments) or "c_sigma" (Eq. 1, no BatchNorm)
    optimizer: str = "adam"  # "adam" (the paper) or "sgd" (plain, no momentum)
    early_stop: bool = True  # stop (freeze) once the epoch loss is < 1e-4 or changes by < 1e-10

    def __post_init__(self):
        set_ = lambda name, v: object.__setattr__(self, name, v)  # the dataclass is frozen
        set_("alpha", validate.real("alpha", self.alpha, 0, 1))
        set_("lr", validate.real("lr", self.lr, 0, None, lo_open=True))
        set_("dropout", validate.real("dropout", self.dropout, 0, 1, hi_open=True))
        set_("noise", validate.real("noise", self.noise, 0, 1))
        for name, lo in (("batch_size", 2), ("epochs", 1), ("seed", 0), ("hidden", 1), ("width", 1)):
            set_(name, validate.integer(name, getattr(self, name), lo))
        validate.choice("norm", self.norm, NORMS)
        validate.choice("optimizer", self.optimizer, OPTIMIZERS)
        set_("early_stop", validate.boolean("early_stop", self.early_stop))

    def asdict(self) -> dict:
        return asdict(self)

    def stack_key(self) -> tuple:
        """Networks with equal stack keys can be trained in one stacked loop."""
        return (self.batch_size, self.epochs, self.hidden, self.width, self.norm)


@dataclass
class RunResult:
    """What one trained network leaves behind (all on the CPU, NumPy)."""

    config: TrainConfig
    test_acc: float  # % of the test set classified correctly (eval mode)
    train_acc: float  # % of the clean training set classified correctly (eval mode)
    load_train: dict  # kind -> (L+1,) load curve D_0..D_L on the clean training set (eval mode)
    load_test: dict  # kind -> (L+1,) the same on the test set
    losses: np.ndarray  # (epochs_run,) epoch-mean training loss (noisy labels, dropout on)
    epochs_run: int  # < config.epochs if early stopping fired
    history: np.ndarray | None = None  # (R, L+1) trace load on the clean training set, if recorded
    history_epochs: np.ndarray | None = None  # (R,) epochs of those rows (0 = initialisation)
    model: MLP | None = field(default=None, repr=False)  # the trained network, if keep_models

    @property
    def diverged(self) -> bool:
        """Whether its losses or load curves hold a non-finite number (NaN from a blown-up network,
        ±∞ from collapsed features, :mod:`springblock.separation`): no shape can be read from it."""
        parts = [self.losses, *self.load_train.values(), *self.load_test.values()]
        return not all(np.isfinite(np.asarray(v)).all() for v in parts)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything but the config and the model, as a flat dict of arrays (what is cached)."""
        out = {"test_acc": self.test_acc, "train_acc": self.train_acc, "losses": self.losses,
               "epochs_run": self.epochs_run, "diverged": self.diverged}
        for split in ("train", "test"):
            out.update({f"load_{split}_{k}": v for k, v in getattr(self, f"load_{split}").items()})
        if self.history is not None:
            out.update(history=self.history, history_epochs=self.history_epochs)
        return {k: np.asarray(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
# Randomness shared by the engine and the reference loop
# ---------------------------------------------------------------------------------------------
def init_module(cfg: TrainConfig, in_dim: int, num_classes: int) -> MLP:
    """The network's initial weights: PyTorch defaults under ``torch.manual_seed(cfg.seed)``."""
    with torch.random.fork_rng(devices=[]):  # leave the caller's global RNG untouched
        torch.manual_seed(cfg.seed)
        return MLP(cfg.alpha, cfg.dropout, cfg.hidden, cfg.width, in_dim, num_classes, cfg.norm)


def make_generator(cfg: TrainConfig, device) -> torch.Generator:
    """The network's own stream for data order, noise and dropout (distinct from the init stream)."""
    return torch.Generator(device=device).manual_seed(cfg.seed + 0x5EED0000)


def dropout_bits(gen, n: int, device, out: torch.Tensor | None = None) -> torch.Tensor:
    """``n`` uniform 16-bit integers (int16) for dropout, four from each 64-bit draw.

    A uniform float per unit would cost one Mersenne-Twister call each (the CPU generator), which
    at full batch took longer than the training step itself. ``out``: an int64 buffer of at least
    ⌈n/4⌉ words to draw into.
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


def check_run(configs, data, device) -> tuple[torch.device, int]:
    """Refuse a run before any work: configs, data (:func:`~springblock.data.check_dataset`),
    batch sizes against the data, the device. Returns the device and the class count."""
    configs = list(configs)
    if not configs:
        raise ValueError("configs must hold at least one TrainConfig")
    for c in configs:
        if not isinstance(c, TrainConfig):
            raise ValueError(f"configs must be TrainConfig instances, got {type(c).__name__}")
    num_classes = check_dataset(data)
    dev = resolve_device(device)
    n = data.x_train.shape[0]
    for c in configs:
        if c.batch_size > n:
            raise ValueError(f"batch_size must be <= the training-set size {n}, got {c.batch_size}")
        if n % c.batch_size == 1:  # BatchNorm cannot train on a last batch of one sample
            raise ValueError(f"batch_size {c.batch_size} leaves a last batch of 1 sample (N = {n}); choose another")
    return dev, num_classes


def tensors(data, dev, dtype) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The training and test split on ``dev``: ``{"train": (x, y), "test": (x, y)}``."""
    return {split: (torch.as_tensor(getattr(data, f"x_{split}")).to(dev, dtype),
                    torch.as_tensor(getattr(data, f"y_{split}")).to(dev, torch.long)) for split in ("train", "test")}


def should_stop(losses: list[float], cfg: TrainConfig) -> bool:
    if not cfg.early_stop:
        return False
    return losses[-1] < STOP_LOSS or (len(losses) > 1 and abs(losses[-1] - losses[-2]) < STOP_DELTA)


def result(cfg: TrainConfig, meas: dict, i: int, losses, kinds, history=None, hist_epochs=None, model=None):
    """Row ``i`` of a measurement (:func:`springblock.measure.evaluate`) as a :class:`RunResult`."""
    return RunResult(config=cfg, test_acc=float(meas["test_acc"][i]), train_acc=float(meas["train_acc"][i]),
                     load_train={k: meas[f"load_train_{k}"][i] for k in kinds},
                     load_test={k: meas[f"load_test_{k}"][i] for k in kinds},
                     losses=np.asarray(losses), epochs_run=len(losses), history=history,
                     history_epochs=hist_epochs, model=model)


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------
class _RowsOptimizer:
    """Adam (torch.optim.Adam's defaults) or plain SGD on the rows of an (M, P) buffer, each row its
    own learning rate, one call per distinct rate. Rows of frozen (early-stopped) networks are left
    out, so they keep their parameters, moments and step count."""

    def __init__(self, theta: torch.Tensor, grad: torch.Tensor, cfgs: Sequence[TrainConfig]):
        self.kind = cfgs[0].optimizer
        self.m, self.v = (torch.zeros_like(theta), torch.zeros_like(theta)) if self.kind == "adam" else (theta, theta)
        self.rows = [t.unbind(0) for t in (theta, grad, self.m, self.v)]
        self.steps = [torch.zeros((), dtype=torch.float32, device=theta.device) for _ in cfgs]
        self.lr = [c.lr for c in cfgs]
        self.set_running(range(len(cfgs)))

    def set_running(self, running) -> None:
        by_lr: dict[float, list[int]] = {}
        for i in running:
            by_lr.setdefault(self.lr[i], []).append(i)
        self.groups = [(lr, [[t[i] for i in idx] for t in self.rows], [self.steps[i] for i in idx])
                       for lr, idx in by_lr.items()]

    def step(self) -> None:
        for lr, (p, g, m, v), steps in self.groups:
            if self.kind == "adam":
                kernels.adam_step(p, g, m, v, steps, lr, BETAS, ADAM_EPS)
            else:
                for pi, gi in zip(p, g):
                    pi.add_(gi, alpha=-lr)


class _Stack:
    """One stacked training loop: networks with one stack key, trained epoch by epoch."""

    def __init__(self, cfgs, splits, dev, dtype, num_classes):
        self.cfgs, self.dev, self.dtype, self.C = cfgs, dev, dtype, num_classes
        self.x, self.y = splits["train"]
        first = cfgs[0]
        self.M, self.B, self.L, self.width = len(cfgs), first.batch_size, first.hidden, first.width
        if len({c.optimizer for c in cfgs}) > 1:
            raise ValueError("one stack trains with one optimizer")
        self.batch_major = layout(self.B)
        self.cls = 2 if self.batch_major else 1  # the class axis of the logits
        self.model = StackedMLP([init_module(c, self.x.shape[1], num_classes) for c in cfgs], dev, dtype, self.batch_major)
        self.gens = [make_generator(c, dev) for c in cfgs]
        self.opt = _RowsOptimizer(self.model.theta, self.model.grad, cfgs)
        self.frozen = None  # (M, 1) bool once some network has stopped early
        self.noisy = [i for i, c in enumerate(cfgs) if c.noise > 0 or c.dropout > 0]
        self.dropout = any(c.dropout > 0 for c in cfgs)
        if self.dropout:  # per network: its keep threshold and 1/(1 − p) scale
            col = lambda v, t: torch.tensor(v, dtype=t, device=dev).view(self.M, 1, 1)
            self.thr = col([keep_threshold(c.dropout) for c in cfgs], torch.int16)
            self.keep_scale = 1 / col([1 - c.dropout for c in cfgs], dtype)
        self.minus_one = torch.full((1, 1, 1), -1.0, dtype=dtype, device=dev)
        self.losses = [[] for _ in cfgs]
        self.running = list(range(self.M))

    def _batch(self, idx):
        """Each network's batch — (M, features, b), or (M, b, features) batch-major — with its label
        and input noise and its dropout masks."""
        b = idx.shape[1]
        x, y = self.x[idx], self.y[idx]
        if not self.batch_major:
            x = x.mT.contiguous()
        words = None
        if self.dropout:  # rows of networks without dropout stay at -32768: always kept
            words = torch.full((self.M, -(-self.L * self.width * b // 4)), -2**63 + 2**15 + 2**31 + 2**47,
                               dtype=torch.int64, device=self.dev)
        for i in self.noisy:
            cfg = self.cfgs[i]
            pos, lab, eps, _ = draw_step_noise(self.gens[i], cfg, b, self.x.shape[1], self.C, self.dev,
                                               words[i] if cfg.dropout > 0 else None)
            if pos is not None:
                y[i, pos] = lab
                x[i] += cfg.noise * x[i].std() * (eps.to(self.dtype) if self.batch_major else eps.to(self.dtype).T)
        masks = None
        if self.dropout:
            bits = words.view(torch.int16)[:, :self.L * self.width * b].view(self.M, self.L, self.width, b)
            masks = [(bits[:, layer] < self.thr).to(self.dtype).mul_(self.keep_scale) for layer in range(self.L)]
            if self.batch_major:
                masks = [m.mT.contiguous() for m in masks]
        return x, y, masks

    def _step(self, x, y, masks) -> torch.Tensor:
        """One optimiser step of every network on its batch; returns the batch losses (M,)."""
        logits, saved = self.model.forward_train(x, masks, self.frozen)
        logp = torch.log_softmax(logits, self.cls)
        b = y.shape[1]
        idx = y.unsqueeze(self.cls)  # (M, 1, b) or (M, b, 1)
        loss = -logp.gather(self.cls, idx).mean((1, 2))
        glogits = logp.exp_()  # d(mean CE)/d(logits) = (softmax − onehot) / b
        glogits.scatter_add_(self.cls, idx, self.minus_one.expand(idx.shape)).div_(b)
        self.model.backward(saved, glogits)
        self.opt.step()
        return loss

    def epoch(self) -> None:
        """One pass over the training set; then the early-stopping bookkeeping (one host sync)."""
        N = self.x.shape[0]
        perms = torch.stack([torch.randperm(N, generator=g, device=self.dev) for g in self.gens])
        loss_sum = torch.zeros(self.M, dtype=self.dtype, device=self.dev)
        for start in range(0, N, self.B):
            loss_sum += self._step(*self._batch(perms[:, start:start + self.B]))
        epoch_loss = (loss_sum / math.ceil(N / self.B)).tolist()
        before = len(self.running)
        for i in list(self.running):
            self.losses[i].append(epoch_loss[i])
            if should_stop(self.losses[i], self.cfgs[i]):
                self.running.remove(i)
        if len(self.running) < before:  # freeze the networks that just stopped
            self.opt.set_running(self.running)
            self.frozen = torch.ones(self.M, 1, dtype=torch.bool, device=self.dev)
            self.frozen[self.running] = False

    def load_now(self) -> torch.Tensor:
        """Trace load curves (M, L+1) on the clean training set, eval mode (stays on the device)."""
        return measure.load_curves(self.model.forward_eval(self.x)[:-1], self.y, ("trace",), self.C)["trace"]


def _train_stack(cfgs, splits, dev, dtype, num_classes, opts: dict, bar) -> list[RunResult]:
    stack = _Stack(cfgs, splits, dev, dtype, num_classes)
    every, E = opts["record_every"], cfgs[0].epochs
    hist, hist_epochs = ([stack.load_now()], [0]) if every else ([], [])
    for epoch in range(1, E + 1):
        stack.epoch()
        if every and (epoch % every == 0 or epoch == E or not stack.running):
            hist.append(stack.load_now())
            hist_epochs.append(epoch)
        if bar is not None:
            bar.update(stack.M if stack.running else stack.M * (E - epoch + 1))
        if not stack.running:
            break
    meas = measure.evaluate(lambda x, sl: stack.model.forward_eval(x, sl), stack.M, splits, opts["kinds"],
                            num_classes, opts["rows"])
    history = torch.stack(hist).cpu().double().numpy() if hist else None
    return [result(c, meas, i, stack.losses[i], opts["kinds"],
                   None if history is None else history[:, i], np.array(hist_epochs) if hist else None,
                   stack.model.module(i) if opts["keep_models"] else None) for i, c in enumerate(cfgs)]


def train_networks(configs: Sequence[TrainConfig], data, device="cpu", record_every: int | None = None,
                   progress=True, *, kinds: Sequence[str] = MEASURED_KINDS, dtype: torch.dtype = torch.float32,
                   keep_models: bool = False, on_result: Callable[[int, RunResult], None] | None = None,
                   rows_per_chunk: int | None = None) -> list[RunResult]:
    """Train every network in ``configs`` on ``data``; return one :class:`RunResult` each, in order.

    ``data`` has ``x_train`` (N, d), ``y_train``, ``x_test``, ``y_test`` and ``num_classes``
    (e.g. :func:`springblock.data.load_dataset`); it is checked before any work. Networks with the
    same stack key are trained in one stacked loop, in chunks of about ``rows_per_chunk`` networks ×
    batch rows. ``record_every=k`` also records the trace load curve on the clean training set
    (eval mode) at epoch 0 and every k epochs. ``on_result(i, result)`` is called as soon as
    network ``i`` is done. ``progress``: True, False or a tqdm bar to update (unit: network-epochs).
    """
    configs = list(configs)
    dev, num_classes = check_run(configs, data, device)
    record_every = validate.optional_integer("record_every", record_every, 1)
    for k in kinds:
        validate.choice("kinds", k, separation.KINDS)
    splits = tensors(data, dev, dtype)
    opts = dict(record_every=record_every, kinds=tuple(kinds), keep_models=keep_models,
                rows=rows_per_chunk or ROWS_PER_CHUNK[dev.type])
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault(c.stack_key() + (c.optimizer,), []).append(i)
    bar = progress
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(c.epochs for c in configs), unit="net-epoch", desc="training")
    results: list[RunResult | None] = [None] * len(configs)
    try:
        # smallest batches first: they are the slowest per network, so the time estimate is honest
        for (b, *_), idx in sorted(groups.items()):
            per = max(1, opts["rows"] // b)
            for s in range(0, len(idx), per):
                chunk = idx[s:s + per]
                out = _train_stack([configs[i] for i in chunk], splits, dev, dtype, num_classes, opts, bar or None)
                for i, r in zip(chunk, out):
                    results[i] = r
                    if on_result is not None:
                        on_result(i, r)
    finally:
        if progress is True:
            bar.close()
    return results
