"""Phase-diagram sweeps (Fig. 1) and the training-dynamics runs (Fig. 4, left), cached per cell.

A *panel* is one of the paper's four phase diagrams: rows are the LeakyReLU slope α, columns one
stochasticity axis (label+data noise, learning rate, dropout, batch size), and every (α, value,
seed) is one *cell*: one network. :func:`run_panel` looks every cell up in the on-disk cache
(:class:`~springblock.cache.ResultCache`, keyed by the cell's full configuration), trains the
missing ones together with :func:`~springblock.train.train_networks` and stores each as soon as it
is done, so a killed sweep resumes where it stopped. Grids and sizes per scale come from
:data:`springblock.scales.EXPERIMENTS` (``fig1_<panel>``, ``fig4_dynamics``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from . import scales, separation
from .cache import ResultCache
from .data import cache_key
from .train import ENGINE_VERSION, KINDS, TrainConfig, train_networks

ALPHAS = scales.FIG1_ALPHAS  # Fig. 1 rows, top (ReLU) to bottom (linear)
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Panel:
    """One Fig. 1 phase diagram (spec §5.2)."""

    name: str  # "noise" | "lr" | "dropout" | "batch"
    field: str  # the TrainConfig field its columns set
    label: str  # axis label
    values: tuple  # the figure's columns, left to right = most to least stochastic
    epochs: int  # the paper's training length for this panel
    acc_range: tuple  # the paper's test-accuracy colour range (%), for comparison
    letter: str  # (a)..(d) in the paper

    def tick(self, v) -> str:
        if self.field == "lr":
            return f"{v:.0e}".replace("e-0", "e-")
        return f"{v:g}"


def _panel(name, field, label, acc_range, letter) -> Panel:
    grid = scales.settings(f"fig1_{name}", "paper")  # the figure's columns and epochs live there, once
    return Panel(name, field, label, tuple(grid["values"]), grid["epochs"], acc_range, letter)


PANELS = {
    "noise": _panel("noise", "noise", "label + data noise p", (83.4, 92.1), "a"),
    "lr": _panel("lr", "lr", "learning rate", (82.1, 93.3), "b"),
    "dropout": _panel("dropout", "dropout", "dropout rate", (89.1, 93.5), "c"),
    "batch": _panel("batch", "batch_size", "batch size", (85.5, 93.9), "d"),
}

# Fig. 4 (left column, spec §5.3): three training settings whose load curves end concave, linear
# and convex; the rest is the paper's default (ReLU, Adam, 100 epochs).
DYNAMICS = {
    "b": dict(lr=1e-4, batch_size=200),
    "c": dict(lr=1e-3, dropout=0.1, batch_size=100),
    "d": dict(lr=3e-3, dropout=0.2, batch_size=50),
}


@dataclass
class PanelResult:
    """All cells of one panel. Arrays are indexed (alpha, value, seed[, layer])."""

    panel: Panel
    scale: str
    alphas: np.ndarray  # (A,) rows
    values: np.ndarray  # (V,) columns, in the figure's order
    seeds: np.ndarray  # (S,)
    test_acc: np.ndarray  # (A, V, S) %
    train_acc: np.ndarray  # (A, V, S) % on the clean training set
    load: dict = field(repr=False)  # "train_trace", "test_pinv", ... -> (A, V, S, L+1)
    epochs_run: np.ndarray = field(repr=False)  # (A, V, S)
    computed: int = 0  # cells trained in this call (the rest came from the cache)

    def mean_load(self, split: str = "train", kind: str = "trace") -> np.ndarray:
        """Seed-averaged load curves (A, V, L+1) (average D first, then normalise to plot)."""
        return np.nanmean(self.load[f"{split}_{kind}"], axis=2)

    def curvature(self, split: str = "train", kind: str = "trace", relative: bool = True) -> np.ndarray:
        """(A, V) curvature c = (D_0 − D_1) − (D_{L−1} − D_L) of the mean curve (< 0 concave).

        ``relative`` divides by the size of the total drop |D_0 − D_L|, so cells with different
        separation are comparable (|c| / drop ≈ the largest gap to the chord, in units of the drop).
        """
        d = self.mean_load(split, kind)
        if relative:
            return separation.relative_curvature(d)
        return (d[..., 0] - d[..., 1]) - (d[..., -2] - d[..., -1])

    def mean_acc(self, split: str = "test") -> np.ndarray:
        return np.nanmean(self.test_acc if split == "test" else self.train_acc, axis=2)

    def best_cell(self) -> tuple[int, int]:
        """(row, column) of the highest seed-mean test accuracy."""
        acc = self.mean_acc()
        return tuple(int(i) for i in np.unravel_index(np.nanargmax(acc), acc.shape))

    def corners(self) -> dict:
        """The paper's reading of a panel (spec §7b): ĉ at the four corners, the best cell and the
        accuracy range next to the paper's. Rows: ReLU first; columns: most stochastic first."""
        rc, acc, (i, j) = self.curvature(), self.mean_acc(), self.best_cell()
        return {"ĉ ReLU, least noise": rc[0, -1], "ĉ ReLU, most noise": rc[0, 0],
                "ĉ linear, least noise": rc[-1, -1], "ĉ linear, most noise": rc[-1, 0],
                "best cell (α, value)": f"{self.alphas[i]:g}, {self.panel.tick(self.values[j])}",
                "ĉ of best cell": rc[i, j],
                "acc range (%)": f"{np.nanmin(acc):.1f}–{np.nanmax(acc):.1f}",
                "paper's range (%)": f"{self.panel.acc_range[0]}–{self.panel.acc_range[1]}"}

    def rising(self, tol: float = 0.02) -> list[tuple[int, int]]:
        """Cells whose seed-mean load curve rises somewhere by more than ``tol`` × its total drop
        (the paper: load curves are monotone except at the smallest batches of ReLU nets)."""
        d = self.mean_load()
        bump = np.nanmax(np.diff(d, axis=-1), axis=-1) / np.abs(d[..., 0] - d[..., -1])
        return [(int(i), int(j)) for i, j in zip(*np.nonzero(bump > tol))]

    def cell_name(self, ij) -> str:
        return f"({self.panel.letter}) α={self.alphas[ij[0]]:g}, {self.panel.tick(self.values[ij[1]])}"


def _seeds(seeds, base: int) -> list[int]:
    """An int n → seeds base+1..base+n (the paper's 1..10 for base 0); a sequence is used as is."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return [base + 1 + i for i in range(int(seeds))]
    out = [int(s) for s in seeds]
    if not out or min(out) < 0:
        raise ValueError(f"seeds must be a positive count or a non-empty list of seeds >= 0, got {seeds!r}")
    return out


def _cell_key(kind: str, cfg: TrainConfig, data, device_type: str, extra=None) -> dict:
    # device type is part of the key: dropout/noise draws come from device generators, so CPU and
    # CUDA runs are different (equally valid) random realisations
    return {"experiment": kind, "engine": ENGINE_VERSION, "config": cfg.asdict(), "data": cache_key(data),
            "rng_device": device_type, **(extra or {})}


def _run_cells(namespace, cfgs, keys, data, device, progress, cache_dir, record_every=None):
    """Load cached cells; train the missing ones (each stored as soon as it is done)."""
    dev = scales.resolve_device(device)
    store = ResultCache(namespace, cache_dir)
    found = [store.load(k) for k in keys]
    todo = [i for i, r in enumerate(found) if r is None]
    if todo:
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=sum(cfgs[i].epochs for i in todo), unit="net-epoch",
                       desc=f"{namespace}: {len(cfgs) - len(todo)}/{len(cfgs)} cells cached")
        done = 0
        start = time.perf_counter()

        def save(j, r):
            nonlocal done
            i = todo[j]
            arrays = {"test_acc": r.test_acc, "train_acc": r.train_acc, "c": r.c, "v": r.v,
                      "losses": r.losses, "epochs_run": r.epochs_run}
            for split in SPLITS:
                for kind, load in getattr(r, f"load_{split}").items():
                    arrays[f"load_{split}_{kind}"] = load
            if r.history is not None:
                arrays["history"], arrays["history_epochs"] = r.history, r.history_epochs
            store.save(keys[i], arrays, wall_time=time.perf_counter() - start, device=str(dev))
            found[i] = {k: np.asarray(v) for k, v in arrays.items()}
            done += 1
            if bar is not None:
                bar.set_postfix_str(f"{done}/{len(todo)} new cells", refresh=False)

        try:
            train_networks([cfgs[i] for i in todo], data, dev, record_every=record_every,
                           progress=bar if bar is not None else False, on_result=save)
        finally:
            if bar is not None:
                bar.close()
    return found, len(todo)


def _data(data):
    if data is None:
        from .data import load_dataset

        data = load_dataset("mnist")
    return data


def panel_configs(panel: str, scale: str = "default", seeds=None, seed: int = 0, n_train: int = 2560):
    """The grid of ``panel`` at ``scale``: (alphas, values, seeds, configs in (α, value, seed) order).

    Panels other than "batch" train full batch: ``batch_size = n_train``.
    """
    if panel not in PANELS:
        raise ValueError(f"panel must be one of {tuple(PANELS)}, got {panel!r}")
    p, s = PANELS[panel], scales.settings(f"fig1_{panel}", scale)
    alphas, values = tuple(s["alphas"]), tuple(s["values"])
    seed_list = _seeds(s["seeds"] if seeds is None else seeds, seed)
    cfgs = [TrainConfig(alpha=a, epochs=s["epochs"], seed=sd, **{"batch_size": n_train, p.field: v})
            for a in alphas for v in values for sd in seed_list]
    return alphas, values, seed_list, cfgs


def run_panel(panel: str, scale: str = "default", device="cpu", seeds=None, cache_dir=None, progress=True,
              *, seed: int = 0, data=None) -> PanelResult:
    """Every cell of one Fig. 1 panel at ``scale``, from the cache or trained now.

    ``seeds``: None (the scale's count), a count n (seeds seed+1..seed+n) or explicit seeds.
    ``data``: a dataset (default ``load_dataset("mnist")``). ``cache_dir``: cache root (default
    ``$SPRINGBLOCK_CACHE``). Cells are keyed by their full configuration, the dataset, the engine
    version and the device type, never by the scale, so scales share whatever cells they have in common.
    """
    panel_configs(panel, scale, seeds, seed)  # validate before loading any data
    data = _data(data)
    alphas, values, seed_list, cfgs = panel_configs(panel, scale, seeds, seed, len(data.x_train))
    dev_type = scales.resolve_device(device).type
    keys = [_cell_key("fig1", c, data, dev_type) for c in cfgs]
    found, computed = _run_cells("fig1", cfgs, keys, data, device, progress, cache_dir)
    shape = (len(alphas), len(values), len(seed_list))

    def grid(name):
        arr = np.stack([np.asarray(f[name], dtype=float) for f in found])
        return arr.reshape(*shape, *arr.shape[1:])

    load = {f"{split}_{kind}": grid(f"load_{split}_{kind}") for split in SPLITS for kind in KINDS}
    return PanelResult(PANELS[panel], scale, np.array(alphas), np.array(values), np.array(seed_list),
                       grid("test_acc"), grid("train_acc"), load, grid("epochs_run"), computed)


@dataclass
class DynamicsResult:
    """Fig. 4 (left): trace load curves on the clean training set during training."""

    settings: dict  # name -> the TrainConfig overrides of that run
    seeds: np.ndarray  # (S,)
    epochs: np.ndarray  # (R,) recorded epochs (0 = initialisation)
    history: dict  # name -> (S, R, L+1)
    test_acc: dict  # name -> (S,)
    computed: int = 0


def run_dynamics(scale: str = "default", device="cpu", seeds=None, cache_dir=None, progress=True,
                 *, seed: int = 0, data=None, settings: Sequence[str] = tuple(DYNAMICS)) -> DynamicsResult:
    """The Fig. 4 (left) runs: D_ℓ after every ``record_every`` epochs for the spec's settings."""
    s = scales.settings("fig4_dynamics", scale)
    seed_list = _seeds(s["seeds"] if seeds is None else seeds, seed)
    for name in settings:
        if name not in DYNAMICS:
            raise ValueError(f"settings must be drawn from {tuple(DYNAMICS)}, got {name!r}")
    data = _data(data)
    dev_type = scales.resolve_device(device).type
    cfgs = [TrainConfig(alpha=s["alpha"], epochs=s["epochs"], seed=sd, **DYNAMICS[n])
            for n in settings for sd in seed_list]
    extra = {"record_every": s["record_every"]}
    keys = [_cell_key("fig4", c, data, dev_type, extra) for c in cfgs]
    found, computed = _run_cells("fig4", cfgs, keys, data, device, progress, cache_dir, s["record_every"])
    S, R = len(seed_list), max(len(f["history_epochs"]) for f in found)
    # a run that stopped early keeps its last curve (it is frozen) up to the longest run's length
    pad = [np.concatenate([f["history"], np.repeat(f["history"][-1:], R - len(f["history"]), 0)]) for f in found]
    epochs = next(f["history_epochs"] for f in found if len(f["history_epochs"]) == R)
    history = {n: np.stack(pad[i * S:(i + 1) * S]) for i, n in enumerate(settings)}
    acc = {n: np.array([float(found[i * S + j]["test_acc"]) for j in range(S)]) for i, n in enumerate(settings)}
    return DynamicsResult({n: DYNAMICS[n] for n in settings}, np.array(seed_list), np.asarray(epochs),
                          history, acc, computed)

