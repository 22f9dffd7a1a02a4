"""Fig. 1 phase-diagram panels and the Fig. 4 (left) training dynamics.

A *panel* is one of the paper's four phase diagrams: rows are the LeakyReLU slope α, columns one
stochasticity axis (label+data noise, learning rate, dropout, batch size), and every (α, value,
seed) is one *cell*: one network, trained by the engine and cached on its own
(:mod:`springblock.experiments.mlp`). :func:`run_panel` returns a :class:`PanelResult` with every
cell's accuracies and load curves; the grids and budgets come from ``springblock.scales``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .. import results, shape, validate
from ..data import full_batch, load_dataset
from ..train import MEASURED_KINDS, NORMS, TrainConfig
from . import mlp

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Panel:
    """One Fig. 1 phase diagram: which TrainConfig field its columns set, and how to label it."""

    name: str  # "noise" | "lr" | "dropout" | "batch"
    field: str  # the TrainConfig field its columns set
    label: str  # axis label
    letter: str  # (a)..(d) in the paper
    short: str = ""  # the panel's name in a table, after its letter
    symbol: str = ""  # the column value's name in a cell's label ("p = 0.2")

    def tick(self, v) -> str:
        if self.field == "lr":
            return f"{v:.0e}".replace("e-0", "e-")
        return f"{v:g}"


PANELS = {
    "noise": Panel("noise", "noise", "label + data noise p", "a", "label and data noise", "p"),
    "lr": Panel("lr", "lr", "learning rate", "b", "learning rate", "lr"),
    "dropout": Panel("dropout", "dropout", "dropout rate", "c", "dropout", "p"),
    "batch": Panel("batch", "batch_size", "batch size", "d", "batch size", "B"),
}


@dataclass
class PanelResult:
    """All cells of one panel. Arrays are indexed (alpha, value, seed[, layer])."""

    panel: Panel
    alphas: np.ndarray  # (A,) rows, ReLU first
    values: np.ndarray  # (V,) columns, in the figure's order (most stochastic first)
    seeds: np.ndarray  # (S,)
    test_acc: np.ndarray  # (A, V, S) %
    train_acc: np.ndarray  # (A, V, S) % on the clean training set
    load: dict = field(repr=False)  # "train_trace", "test_pinv", ... -> (A, V, S, L+1)
    epochs_run: np.ndarray = field(repr=False)  # (A, V, S)
    norm: str = "batch"
    computed: int = 0  # cells trained in the call that made this (the rest came from the cache)
    diverged: np.ndarray | None = field(default=None, repr=False)  # (A, V, S) networks left out: no finite load curve

    def diverged_cells(self) -> list[tuple[int, int, int]]:
        """(row, column, number of seeds) of every cell with networks left out of its averages."""
        if self.diverged is None:
            return []
        counts = self.diverged.sum(2)
        return [(int(i), int(j), int(counts[i, j])) for i, j in zip(*np.nonzero(counts))]

    def mean_load(self, split: str = "train", kind: str = "trace", seeds: int | None = None) -> np.ndarray:
        """Seed-averaged load curves (A, V, L+1): D is averaged first, the shape taken after.
        ``seeds=n`` averages only the first n seeds (n = 1: the first seed's own curves)."""
        n = self.seeds.size if seeds is None else validate.integer("seeds", seeds, 1, self.seeds.size)
        return np.nanmean(self._loads(split, kind)[:, :, :n], axis=2)

    def _loads(self, split: str, kind: str) -> np.ndarray:
        """(A, V, S, L+1) per-seed load curves of one split and metric kind, named in the error if absent."""
        validate.choice("split", split, SPLITS)
        validate.choice("kind", kind, MEASURED_KINDS)
        return self.load[f"{split}_{kind}"]

    def curvature(self, split: str = "train", kind: str = "trace") -> np.ndarray:
        """(A, V) relative curvature ĉ of the seed-mean curve (< 0 concave, > 0 convex)."""
        return shape.relative_curvature(self.mean_load(split, kind))

    def verdict(self, split: str = "train", kind: str = "trace") -> shape.Verdict:
        """The all-layer shape verdict of every seed-mean curve (:func:`springblock.shape.verdict`)."""
        return shape.verdict(self.mean_load(split, kind))

    def mean_acc(self, split: str = "test") -> np.ndarray:
        """(A, V) seed-mean accuracy (%) on the test set or the clean training set."""
        validate.choice("split", split, SPLITS)
        return np.nanmean(self.test_acc if split == "test" else self.train_acc, axis=2)

    def acc_spread(self) -> np.ndarray:
        """(A, V) seed-to-seed standard deviation of the test accuracy (NaN with one seed)."""
        return _std(self.test_acc)

    def curvature_spread(self, split: str = "train", kind: str = "trace") -> np.ndarray:
        """(A, V) seed-to-seed standard deviation of each seed's own ĉ (NaN with one seed)."""
        return _std(shape.relative_curvature(self._loads(split, kind)))

    def best_cell(self) -> tuple[int, int]:
        """(row, column) of the highest seed-mean test accuracy."""
        acc = self.mean_acc()
        return tuple(int(i) for i in np.unravel_index(np.nanargmax(acc), acc.shape))

    def rising(self, tol: float = shape.RISE_TOL) -> list[tuple[int, int]]:
        """Cells whose seed-mean curve rises somewhere by more than ``tol`` × its total drop."""
        tol = validate.real("tol", tol, 0)
        return [(int(i), int(j)) for i, j in zip(*np.nonzero(shape.rise(self.mean_load()) > tol))]

    def cell_name(self, ij) -> str:
        """The cell ``ij`` = (row, column) named with its panel: "(c) α = 0.2, p = 0.08"."""
        return f"({self.panel.letter}) {self.cell_label(ij)}"

    def cell_label(self, ij) -> str:
        """The cell ``ij`` = (row, column) within its panel: "α = 0.2, p = 0.08"."""
        i, j = ij
        i = validate.integer("row", i, 0, self.alphas.size - 1)
        j = validate.integer("column", j, 0, self.values.size - 1)
        return f"α = {self.alphas[i]:g}, {self.panel.symbol} = {self.panel.tick(self.values[j])}"

    @property
    def title(self) -> str:
        """The panel's name in a table: "(c) dropout"."""
        return f"({self.panel.letter}) {self.panel.short}"


def _std(a: np.ndarray) -> np.ndarray:
    if a.shape[2] < 2:
        return np.full(a.shape[:2], np.nan)
    return np.nanstd(a, axis=2, ddof=1)


def panel_configs(panel: str, *, alphas: Sequence[float], values: Sequence[float], seeds, epochs: int,
                  seed: int = 0, n_train: int = 2560, norm: str = "batch") -> list[TrainConfig]:
    """The cells of ``panel`` in (α, value, seed) order. Panels other than "batch" train full batch."""
    validate.choice("panel", panel, tuple(PANELS))
    validate.choice("norm", norm, NORMS)
    validate.reals("alphas", alphas)
    validate.reals("values", values)
    p = PANELS[panel]
    return [TrainConfig(alpha=a, epochs=epochs, seed=s, norm=norm, **{"batch_size": n_train, p.field: v})
            for a in alphas for v in values for s in validate.seeds(seeds, seed)]


def run_panel(panel: str, *, alphas: Sequence[float], values: Sequence[float], seeds, epochs: int,
              seed: int = 0, norm: str = "batch", data=None, device="cpu", progress: bool = True,
              executor=None, root=None, cached_only: bool = False, label: str | None = None) -> PanelResult:
    """Every cell of one Fig. 1 panel, from the cache or trained now.

    ``seeds``: a count n (seeds seed+1..seed+n, the paper's 1..10 for n = 10) or explicit seeds.
    ``data``: a dataset (default: the paper's MNIST split, :func:`springblock.data.load_dataset`).
    Cells are keyed by their own configuration, the data, the engine's code and the device type,
    never by the scale, so scales share whatever cells they have in common. ``label``: how the run
    log names the run (default "fig1 <panel>", with the normalisation if it is not BatchNorm).
    """
    n_train = full_batch(data) if data is not None else 2560
    cfgs = panel_configs(panel, alphas=alphas, values=values, seeds=seeds, epochs=epochs, seed=seed,
                         n_train=n_train, norm=norm)  # validated before any data is loaded
    data = data if data is not None else load_dataset("mnist")
    seed_list = validate.seeds(seeds, seed)
    found = mlp.train(cfgs, data, device=device, progress=progress, executor=executor, root=root,
                      label=label or f"fig1 {panel}" + ("" if norm == "batch" else f" ({norm})"), cached_only=cached_only)
    shape_ = (len(alphas), len(values), len(seed_list))
    loads = {f"{split}_{kind}": f"load_{split}_{kind}" for split in SPLITS for kind in MEASURED_KINDS}
    grid = results.stack(found, shape_, ["test_acc", "train_acc", "epochs_run", *loads.values()], dtype=float)
    load = {name: grid[field] for name, field in loads.items()}
    # a network whose load curve is not finite (blown up, or collapsed features) has no shape: it is
    # left out of every seed average, and counted (PanelResult.diverged), never averaged in silently
    diverged = np.zeros(shape_, bool)
    for v in load.values():
        diverged |= ~np.isfinite(v).all(-1)
    for v in load.values():
        v[diverged] = np.nan
    return PanelResult(PANELS[panel], np.array(alphas, float), np.array(values, float), np.array(seed_list),
                       grid["test_acc"], grid["train_acc"], load, grid["epochs_run"], norm, found.computed,
                       diverged)


# ---------------------------------------------------------------------------------------------
# Fig. 4 (left): the load curve during training
# ---------------------------------------------------------------------------------------------
@dataclass
class DynamicsResult:
    """Fig. 4 (left): trace load curves on the clean training set during training."""

    settings: dict  # name -> the TrainConfig overrides of that run
    seeds: np.ndarray  # (S,)
    epochs: np.ndarray  # (R,) recorded epochs (0 = initialisation)
    history: dict  # name -> (S, R, L+1)
    test_acc: dict  # name -> (S,)
    computed: int = 0


def run_dynamics(*, settings: dict, alpha: float, seeds, epochs: int, record_every: int, seed: int = 0,
                 data=None, device="cpu", progress: bool = True, executor=None, root=None,
                 cached_only: bool = False) -> DynamicsResult:
    """The Fig. 4 (left) runs: D_ℓ every ``record_every`` epochs for each named setting
    (``settings``: name -> TrainConfig overrides, e.g. the paper's (b), (c), (d))."""
    seed_list = validate.seeds(seeds, seed)
    cfgs = [TrainConfig(alpha=alpha, epochs=epochs, seed=s, **over) for over in settings.values() for s in seed_list]
    data = data if data is not None else load_dataset("mnist")
    found = mlp.train(cfgs, data, device=device, record_every=record_every, progress=progress, executor=executor,
                      root=root, label="fig4 dynamics", cached_only=cached_only)
    S, R = len(seed_list), max(len(f["history_epochs"]) for f in found)
    # a run that stopped early keeps its last curve (it is frozen) up to the longest run's length
    pad = [np.concatenate([f["history"], np.repeat(f["history"][-1:], R - len(f["history"]), 0)]) for f in found]
    epochs_rec = next(f["history_epochs"] for f in found if len(f["history_epochs"]) == R)
    names = list(settings)
    history = {n: np.stack(pad[i * S:(i + 1) * S]) for i, n in enumerate(names)}
    acc = {n: np.array([float(found[i * S + j]["test_acc"]) for j in range(S)]) for i, n in enumerate(names)}
    return DynamicsResult(dict(settings), np.array(seed_list), np.asarray(epochs_rec), history, acc, found.computed)


# ---------------------------------------------------------------------------------------------
# The resize and the normalisation, measured on Fig. 1 cells
# ---------------------------------------------------------------------------------------------
def resize_comparison(panels: dict | None = None, *, alphas: Sequence[float], columns: Sequence[int], seeds,
                      seed: int = 0, scale: str = "default", device="cpu", progress: bool = True, executor=None) -> dict:
    """The same cells of every panel on data resized with and without antialiasing.

    ``panels``: name -> that panel's settings (``values``, ``epochs``; default: the four Fig. 1
    panels at ``scale``); the cells are rows ``alphas`` × the panel's columns at positions
    ``columns``. Returns ``{(name, antialias): PanelResult}``. Cells of the default resize are shared
    with the full panels through the cache."""
    if panels is None:
        from .. import scales

        panels = {name: scales.settings(f"fig1_{name}", scale) for name in PANELS}
    for name, s in panels.items():  # before any training
        for c in columns:
            validate.integer(f"columns (positions in the {name} panel)", c, 0, len(s["values"]) - 1)
    out = {}
    for antialias in (True, False):
        data = load_dataset("mnist", antialias=antialias)
        for name, s in panels.items():
            values = [s["values"][c] for c in columns]
            out[(name, antialias)] = run_panel(name, alphas=alphas, values=values, seeds=seeds, epochs=s["epochs"],
                                               seed=seed, data=data, device=device, progress=progress,
                                               executor=executor,
                                               label=None if antialias else f"fig1 {name} (resized without antialiasing)")
    return out


def norm_comparison(*, panel: str, alphas: Sequence[float], values: Sequence[float], seeds, epochs: int,
                    seed: int = 0, device="cpu", progress: bool = True, executor=None) -> dict:
    """One panel with BatchNorm (the paper's experiments) and with Eq. 1's c_σ instead (SM S3):
    ``{"batch": PanelResult, "c_sigma": PanelResult}`` on the same cells and seeds."""
    return {norm: run_panel(panel, alphas=alphas, values=values, seeds=seeds, epochs=epochs, seed=seed, norm=norm,
                            device=device, progress=progress, executor=executor) for norm in NORMS}
