"""The run-parameter contract shared by every chapter, the CLI and the tests.

Every chapter has one cell tagged ``parameters`` holding ``device``, ``scale`` and ``seed``; this
module says what they mean.

* ``device`` — ``"cpu"`` or ``"cuda"`` (CUDA must actually be available).
* ``scale`` — how big each experiment is: ``"quick"`` (seconds per chapter; CI's smoke runs, whose
  numbers say nothing about the paper), ``"default"`` (the book on a 2-core CPU, every qualitative
  effect visible), ``"paper"`` (the paper's grids and seeds).
* ``seed`` — the base seed; experiments derive theirs from it (seed + 1 .. seed + n).

Each experiment's settings are stated **once**, as the paper's (:attr:`Entry.paper`: the grids,
seeds, epochs and constants the paper or its authors' code uses, or our reconstruction where the
paper is silent), and a scale only changes the *budget* (grid density, seeds, epochs, realisations;
:attr:`Entry.budgets`). ``settings(name, scale)`` merges the two into the keyword arguments of the
function the entry feeds (:attr:`Entry.feeds`); a test binds every scale's settings to that
function's signature.
"""
from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

from .devices import DEVICES

SCALES = ("quick", "default", "paper")


AUTO = "auto"  # a chapter's scale: "paper" where every experiment it reads is shipped, else "default"

CHAPTERS = {  # the experiments each chapter reads: what its scale "auto" resolves on, and the ledger with it
    "01_separation": ("separation",),
    "02_phase_diagram": ("fig1_noise", "fig1_lr", "fig1_dropout", "fig1_batch", "fig1_resize", "fig1_norm",
                         "fig4_dynamics"),
    "03_spring_block": ("chain_fig2", "chain_eq7", "chain_phase", "chain_second_order", "chain_explorer"),
    "04_noise_friction": ("chain_noise", "chain_bounded", "chain_dynamics", "chain_langevin"),
    "05_accuracy": ("fig1_noise", "fig1_lr", "fig1_dropout", "fig1_batch", "gen_depth_width", "gen_fashion",
                    "gen_fashion_sgd", "gen_metrics"),
    "06_other_networks": ("gen_cnn", "gen_linear", "gen_regression"),
    "07_beyond": ("fig4_dynamics", "gen_probe", "gen_control"),
}


@dataclass(frozen=True)
class RunParams:
    """The validated contents of a chapter's ``parameters`` cell."""

    device: str  # "cpu" or "cuda"
    scale: str  # "quick" | "default" | "paper" (an "auto" request resolved)
    seed: int  # base seed, >= 0
    note: str = field(default="", compare=False)  # what "auto" chose and why (shown on the page)


MAX_SEED = 2**32 - 1  # a base seed; the package adds cell and seed offsets, and torch takes 64-bit seeds


def check(device: str = "cpu", scale: str = "default", seed: int = 0, experiments: tuple[str, ...] = (),
          show: bool = True) -> RunParams:
    """Validate the parameters-cell values; raise ValueError naming the bad one.

    ``scale="auto"`` (what the README's book build uses) resolves to "paper" when every one of
    ``experiments`` — those the chapter reads — is held under the current code's keys by the shipped
    results (or the cache), so the chapter shows the paper's budget without training; otherwise to
    "default", the CPU budget. The choice and its reason are in ``note`` and, with ``show``, on the page.
    """
    from . import validate

    validate.choice("device", device, DEVICES)
    validate.choice("scale", scale, SCALES + (AUTO,))
    seed = validate.integer("seed", seed, 0, MAX_SEED)
    for name in experiments:
        validate.choice("experiments", name, tuple(EXPERIMENTS))
    if device == "cuda":
        from .devices import resolve_device

        resolve_device(device)  # fail fast, before any work
    note = ""
    if scale == AUTO:
        from . import auto

        scale, note = auto.resolve(tuple(experiments))
        if show:
            auto.show(note)
    return RunParams(device, scale, seed, note)


def check_sections(device: str, scale: str, seed: int, chapter: str) -> dict[str, RunParams]:
    """:func:`check` for each section of ``chapter`` (:data:`springblock.auto.SECTIONS`), each
    resolving "auto" on its own experiments: experiment name -> its section's RunParams. One note on
    the page says which sections are drawn at which scale."""
    from . import auto

    runs = {}
    for group in auto.groups(chapter):
        run = check(device, scale, seed, experiments=group, show=False)
        runs.update(dict.fromkeys(group, run))
    if scale == AUTO:
        auto.show(auto.sections_note(runs))
    runs.update({a: runs[src] for a, src in auto.ANALYSES.items() if src in runs})
    return runs


@dataclass(frozen=True)
class Entry:
    """One experiment's settings: the paper's, once, and what each scale changes."""

    feeds: str  # "module:function" the merged settings are keyword arguments of
    paper: dict  # the paper's settings (its grids, seeds, epochs, constants)
    budgets: dict = field(default_factory=dict)  # scale -> the settings that scale overrides
    args: dict = field(default_factory=dict)  # what names this instance of a shared function (a panel)

    def function(self) -> Callable:
        module, name = self.feeds.split(":")
        return getattr(importlib.import_module(module), name)

    def inputs(self) -> tuple[str, ...]:
        """Arguments the function needs besides its settings: other results (an analysis, not an
        experiment to run by name), e.g. the accuracies and load curves it relates."""
        import inspect

        given = {*self.paper, *self.args}
        return tuple(n for n, p in inspect.signature(self.function()).parameters.items()
                     if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD and n not in given)


FIG1_ALPHAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # Fig. 1 rows, top (ReLU) to bottom (linear)
_FIG1 = "springblock.experiments.fig1:run_panel"
_QUICK_FIG1 = dict(alphas=(0.0, 1.0), seeds=1, epochs=20)
_FIG3_GRID = dict(mu_r=(0.0, 0.007, 0.014, 0.021, 0.028, 0.035), mu_l=0.04,  # rows: "linear DNN" .. "ReLU"
                  sigma=(0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2))  # columns: per-step force noise σ̄
_DROPOUT_GRID = (0.28, 0.24, 0.2, 0.16, 0.12, 0.08, 0.04, 0.0)  # Fig. 1(c) columns
_LR_GRID = (2e-1, 1e-1, 5e-2, 1e-2, 5e-3, 1e-3, 5e-4, 1e-4)  # Fig. 1(b) columns
_NOISE_GRID = (0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)  # Fig. 1(a) columns
_BATCH_GRID = (10, 20, 40, 80, 160, 320, 640, 1280)  # Fig. 1(d) columns
# The default book keeps every row of Fig. 1 but four of its eight columns — both ends of each noise
# axis and two between — which halves its cost and keeps it within the 20-minute CPU build.
_DEFAULT_COLUMNS = (0, 2, 5, 7)


def _default_fig1(values):
    return dict(seeds=1, values=tuple(values[c] for c in _DEFAULT_COLUMNS))


EXPERIMENTS: dict[str, Entry] = {
    # --- chapter 1 -----------------------------------------------------------------------
    "separation": Entry("springblock.experiments.separation_demo:separation_demo",  # ReLU and linear nets, our demo
                        dict(alphas=(0.0, 1.0), seeds=10, epochs=100),
                        {"quick": dict(seeds=1, epochs=20), "default": dict(seeds=3)}),
    # --- chapter 2: Fig. 1, the resize, the network without BatchNorm, Fig. 4 (left) -------
    "fig1_noise": Entry(_FIG1, dict(alphas=FIG1_ALPHAS, values=_NOISE_GRID, seeds=10, epochs=100),
                        {"quick": dict(_QUICK_FIG1, values=(0.5, 0.0)), "default": _default_fig1(_NOISE_GRID)},
                        args=dict(panel="noise")),
    "fig1_lr": Entry(_FIG1, dict(alphas=FIG1_ALPHAS, values=_LR_GRID, seeds=10, epochs=200),
                     {"quick": dict(_QUICK_FIG1, values=(5e-2, 1e-3)), "default": _default_fig1(_LR_GRID)},
                     args=dict(panel="lr")),
    "fig1_dropout": Entry(_FIG1, dict(alphas=FIG1_ALPHAS, values=_DROPOUT_GRID, seeds=10, epochs=100),
                          {"quick": dict(_QUICK_FIG1, values=(0.2, 0.0)), "default": _default_fig1(_DROPOUT_GRID)},
                          args=dict(panel="dropout")),
    "fig1_batch": Entry(_FIG1, dict(alphas=FIG1_ALPHAS, values=_BATCH_GRID, seeds=10, epochs=100),
                        {"quick": dict(_QUICK_FIG1, values=(80, 640), epochs=3), "default": _default_fig1(_BATCH_GRID)},
                        args=dict(panel="batch")),
    # the resize measurement: both antialias settings on the same cells (rows `alphas` × the columns at
    # positions `columns` of each panel's grid at that scale)
    "fig1_resize": Entry("springblock.experiments.fig1:resize_comparison",
                         dict(alphas=(0.0, 0.4, 1.0), columns=(0, 2, 5, 7), seeds=10),
                         {"quick": dict(alphas=(0.0,), columns=(0, 1), seeds=1),
                          "default": dict(alphas=(0.0, 1.0), columns=(0, 1, 2, 3), seeds=1)}),
    # SM S3: Eq. 1's c_σ in place of BatchNorm, on the dropout panel, with the seed-to-seed spread
    "fig1_norm": Entry("springblock.experiments.fig1:norm_comparison",
                       dict(panel="dropout", alphas=FIG1_ALPHAS, values=_DROPOUT_GRID, seeds=10, epochs=100),
                       {"quick": dict(alphas=(0.0, 1.0), values=(0.2, 0.0), seeds=2, epochs=20),
                        "default": dict(alphas=(0.0, 1.0), values=(0.28, 0.08, 0.0), seeds=3)}),
    # Fig. 4 (left): the SM's three settings; α and the epoch count are not stated (ReLU, 100 assumed)
    "fig4_dynamics": Entry("springblock.experiments.fig1:run_dynamics",
                           dict(settings={"b": dict(lr=1e-4, batch_size=200), "c": dict(lr=1e-3, dropout=0.1, batch_size=100),
                                          "d": dict(lr=3e-3, dropout=0.2, batch_size=50)},
                                alpha=0.0, seeds=10, epochs=100, record_every=1),
                           {"quick": dict(seeds=1, epochs=4), "default": dict(seeds=2)}),
    # --- chapters 3–4: the spring–block chain --------------------------------------------
    "chain_eq7": Entry("springblock.experiments.chain_grids:eq7_check",  # 0.06 > 2ky/(L(L+1)): blocks stick
                       dict(mu_r=(0.0, 0.01, 0.02, 0.03, 0.06), mu_l=(0.0, 0.5), steps=30_000, dt=0.01)),
    "chain_fig2": Entry("springblock.experiments.chain_grids:fig2_simulation",  # the authors' notebook
                        dict(mu=0.1, sigma=0.1, eta=0.01, steps=10_000, record_every=20, realisations=20),
                        {"quick": dict(realisations=3)}),
    "chain_phase": Entry("springblock.experiments.chain_grids:phase_diagram",  # Fig. 3 (our reconstruction)
                         dict(_FIG3_GRID, realisations=100, steps=10_000, dt=0.01, dtype="float32"),
                         {"quick": dict(realisations=5, steps=5_000), "default": dict(realisations=20)}),
    "chain_second_order": Entry("springblock.experiments.chain_grids:phase_diagram",  # S13: Fig. 3 with inertia
                                dict(_FIG3_GRID, dynamics="second_order", gamma=5.0, realisations=100, steps=20_000,
                                     dt=0.01, dtype="float32"),
                                {"quick": dict(realisations=3), "default": dict(realisations=20)}),
    "chain_explorer": Entry("springblock.experiments.chain_grids:explorer_grid",
                            dict(mu_r=(0.0, 0.01, 0.02, 0.035), sigma=(0.0, 0.01, 0.03, 0.1, 0.3), mu_l=0.06, k=1.0,
                                 realisations=50, steps=10_000),
                            {"quick": dict(mu_r=(0.0, 0.035), sigma=(0.0, 0.2), realisations=3, steps=3_000),
                             "default": dict(realisations=20)}),
    "chain_noise": Entry("springblock.experiments.chain_grids:noise_sweep",  # chapter 4, μ_r < μ_l
                         dict(mu_r=0.02, mu_l=0.06, sigma_min=0.002, sigma_max=1.0, n_sigma=32, realisations=200,
                              steps=10_000, dt=0.01, dtype="float32"),
                         {"quick": dict(n_sigma=8, realisations=5, steps=5_000),
                          "default": dict(n_sigma=16, realisations=40)}),
    "chain_bounded": Entry("springblock.experiments.chain_grids:bounded_vs_gaussian",  # dt 0.1: t = 2000
                           dict(mu_r=0.04, mu_l=0.08, bounds=(0.01, 0.02, 0.04, 0.06, 0.08, 0.12, 0.2),
                                realisations=100, steps=20_000, dt=0.1, record_every=100),
                           {"quick": dict(bounds=(0.01, 0.02, 0.04, 0.08, 0.2), realisations=3, steps=5_000),
                            "default": dict(realisations=20)}),
    "chain_dynamics": Entry("springblock.experiments.chain_grids:load_dynamics",  # Fig. 4 right (ours)
                            dict(mu_r=0.02, mu_l=0.06, sigma=(0.005, 0.014, 0.05), steps=10_000, dt=0.01, record_every=10),
                            {"quick": dict(steps=5_000, record_every=50), "default": dict(record_every=20)}),
    "chain_langevin": Entry("springblock.experiments.chain_grids:langevin",  # S14: the authors' notebook
                            dict(k=0.1, gamma=1.0, decay=0.001, dt=0.05, steps=14_000, eps=0.003, mu_r_s14=0.003,
                                 mu_l=0.004, mu_r=(0.0, 0.0007, 0.0014, 0.0021, 0.0028, 0.0035),
                                 eps_grid=(0.0, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01), realisations=50,
                                 dtype="float32"),
                            {"quick": dict(mu_r=(0.0, 0.0028), eps_grid=(0.0, 0.002, 0.01), realisations=3),
                             "default": dict(realisations=10)}),
    # --- chapters 5–7: generalization --------------------------------------------------------
    "gen_accuracy": Entry("springblock.analysis:accuracy_vs_shape", dict(n_boot=2000), {"quick": dict(n_boot=200)}),
    "gen_depth_width": Entry("springblock.experiments.architectures:depth_width",  # S5/S6: grids not stated
                             dict(depths=(3, 5, 7, 9, 11), widths=(25, 50, 100, 200, 400), alphas=FIG1_ALPHAS,
                                  dropouts=_DROPOUT_GRID, seeds=10, epochs=100),
                             {"quick": dict(depths=(3,), widths=(50,), alphas=(0.0, 1.0), dropouts=(0.2, 0.0), seeds=1,
                                            epochs=10),
                              "default": dict(depths=(3, 11), widths=(50, 200), alphas=(0.0, 0.4, 1.0),
                                              dropouts=(0.28, 0.08, 0.0), seeds=1)}),
    "gen_fashion": Entry("springblock.experiments.architectures:dataset_diagram",  # S7(a): Fig. 1(c) on Fashion
                         dict(name="fashion-mnist", axis="dropout", alphas=FIG1_ALPHAS, values=_DROPOUT_GRID, seeds=10,
                              epochs=100),
                         {"quick": dict(alphas=(0.0, 1.0), values=(0.2, 0.0), seeds=1, epochs=10),
                          "default": dict(alphas=(0.0, 0.4, 1.0), values=(0.28, 0.16, 0.08, 0.0), seeds=1)}),
    "gen_fashion_sgd": Entry("springblock.experiments.architectures:dataset_diagram",  # S7(b): our choice, SGD
                             dict(name="fashion-mnist", axis="dropout", optimizer="sgd", lr=0.1, alphas=FIG1_ALPHAS,
                                  values=_DROPOUT_GRID, seeds=10, epochs=100),
                             {"quick": dict(alphas=(0.0, 1.0), values=(0.2, 0.0), seeds=1, epochs=10),
                              "default": dict(alphas=(0.0, 0.4, 1.0), values=(0.28, 0.16, 0.08, 0.0), seeds=1)}),
    "gen_cifar_dropout": Entry("springblock.experiments.architectures:dataset_diagram",  # S8 (colour, 3×10×10)
                               dict(name="cifar10", axis="dropout", alphas=FIG1_ALPHAS, values=_DROPOUT_GRID, seeds=10,
                                    epochs=100),
                               {"quick": dict(alphas=(0.0, 1.0), values=(0.2, 0.0), seeds=1, epochs=10),
                                "default": dict(alphas=(0.0, 0.4, 1.0), values=(0.28, 0.16, 0.08, 0.0), seeds=1)}),
    "gen_cifar_lr": Entry("springblock.experiments.architectures:dataset_diagram",  # S9
                          dict(name="cifar10", axis="lr", alphas=FIG1_ALPHAS, values=_LR_GRID, seeds=10, epochs=200),
                          {"quick": dict(alphas=(0.0, 1.0), values=(1e-2, 1e-3), seeds=1, epochs=10),
                           "default": dict(alphas=(0.0, 0.4, 1.0), values=(5e-2, 1e-2, 1e-3, 1e-4), seeds=1)}),
    "gen_metrics": Entry("springblock.experiments.architectures:metric_comparison",  # S10/S11
                         dict(alphas=(0.0, 1.0), dropouts=(0.0, 0.08, 0.16), seeds=10, epochs=100),
                         {"quick": dict(dropouts=(0.0,), seeds=1, epochs=10), "default": dict(dropouts=(0.0,), seeds=1)}),
    "gen_cnn": Entry("springblock.experiments.cnn:cnn_dropout",  # S2: the paper's text, the authors' optimiser
                     dict(protocol="resume", dropouts=(0.0, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64), pretrain_epochs=1000,
                          epochs=1000, seeds=10, lr=1e-4, batch_size=None),
                     {"quick": dict(dropouts=(0.0, 0.2), pretrain_epochs=2, epochs=1, seeds=1, lr=1e-3, batch_size=256),
                      "default": dict(dropouts=(0.0, 0.04, 0.16, 0.64), pretrain_epochs=20, epochs=10, seeds=2, lr=1e-3,
                                      batch_size=256)}),
    "gen_linear": Entry("springblock.experiments.linear_net:linear_orthogonal",  # Fig. 5(a): SGD at 1e-3
                        dict(names=("small lr", "large lr", "dropout"), lrs=(1e-3, 1e-1, 1e-3), dropouts=(0.0, 0.0, 0.2),
                             epochs=4000, seeds=10, record_every=50),
                        {"quick": dict(lrs=(1e-2, 1e-1, 1e-2), epochs=200, seeds=1, record_every=20),
                         "default": dict(lrs=(1e-2, 1e-1, 1e-2), epochs=1500, seeds=2)}),
    "gen_regression": Entry("springblock.experiments.regression:regression_load",  # S12: task not stated (ours)
                            dict(names=("lazy", "default", "dropout", "large lr"), lrs=(1e-4, 1e-3, 1e-3, 2e-2),
                                 dropouts=(0.0, 0.0, 0.2, 0.0), epochs=100, seeds=10),
                            {"quick": dict(epochs=10, seeds=1), "default": dict(seeds=3)}),  # 3 seeds: S12 decidable
    "gen_probe": Entry("springblock.experiments.torchvision_probe:torchvision_probe",  # beyond the paper
                       dict(arch="resnet18", epochs=30, batch_size=128),
                       {"quick": dict(arch="mlp", epochs=5, batch_size=None),
                        "default": dict(arch="mlp", epochs=50, batch_size=None)}),
    "gen_chainfit": Entry("springblock.experiments.chain_fits:chain_fits",  # beyond the paper
                          dict(realisations=64, candidates=256, rounds=8),
                          {"quick": dict(realisations=8, candidates=32, rounds=1),
                           "default": dict(realisations=32, candidates=128, rounds=6)}),
    "gen_control": Entry("springblock.experiments.control:compare_with_fixed",  # beyond the paper
                         dict(dropouts=(0.0, 0.02, 0.05, 0.08, 0.12, 0.16, 0.2, 0.28), seeds=10, epochs=100, every=5,
                              start=15, gain_p=0.5, gain_i=0.3),
                         {"quick": dict(dropouts=(0.0, 0.1), seeds=1, epochs=20, start=5),
                          "default": dict(dropouts=(0.0, 0.05, 0.1, 0.2), seeds=2)}),
}


TITLES: dict[str, str] = {  # each experiment as a reader names it (ledger rows, the reconstruction page)
    "separation": "chapter 1's demonstration networks", "fig1_noise": "Fig. 1(a) noise", "fig1_lr": "Fig. 1(b) learning rate",
    "fig1_dropout": "Fig. 1(c) dropout", "fig1_batch": "Fig. 1(d) batch size", "fig1_resize": "the image-resize comparison",
    "fig1_norm": "Fig. 1 without BatchNorm (S3)", "fig4_dynamics": "Fig. 4 (left) training dynamics",
    "chain_eq7": "the Eq. 7 chain check", "chain_fig2": "Fig. 2 chain simulation", "chain_phase": "Fig. 3 chain phase diagram",
    "chain_second_order": "the second-order chain (S13)", "chain_explorer": "the chain explorer's grid",
    "chain_noise": "the chain's noise sweep", "chain_bounded": "the bounded-noise chains",
    "chain_dynamics": "Fig. 4 (right) chain dynamics", "chain_langevin": "the Langevin chain (S14)",
    "gen_accuracy": "the accuracy bootstrap", "gen_depth_width": "depths and widths (S5, S6)",
    "gen_fashion": "Fashion-MNIST with Adam (S7)", "gen_fashion_sgd": "Fashion-MNIST with SGD (S7b)",
    "gen_cifar_dropout": "CIFAR-10 dropout (S8)", "gen_cifar_lr": "CIFAR-10 learning rate (S9)",
    "gen_metrics": "the float64 metric networks (S10, S11)", "gen_cnn": "the CNN (S2)",
    "gen_linear": "the linear network (Fig. 5a)", "gen_regression": "regression (S12)", "gen_probe": "the torchvision probe",
    "gen_chainfit": "the chain fits", "gen_control": "the dropout controller",
}


# Where each experiment's "paper" settings come from: the paper's text (its supplement included), the
# authors' code, or the book's own choice where neither says. The ledger and the reconstruction page
# read this; it is the one place the provenance is written.
PAPER_TEXT, AUTHORS_CODE, BOOK_GUESS = "the paper's text", "the authors' code", "the book's choice"
SOURCES: dict[str, str] = {
    "separation": f"{BOOK_GUESS} (a demonstration)",
    "fig1_noise": f"{PAPER_TEXT} (grid, 10 seeds, 100 epochs)",
    "fig1_lr": f"{PAPER_TEXT} (grid, 10 seeds); 200 epochs from {AUTHORS_CODE} (the supplement says 100)",
    "fig1_dropout": f"{PAPER_TEXT} (grid, 10 seeds, 100 epochs)",
    "fig1_batch": f"{PAPER_TEXT} (grid, 10 seeds, 100 epochs)",
    "fig1_resize": f"{BOOK_GUESS} (antialiasing is not stated)",
    "fig1_norm": f"{PAPER_TEXT} (c_σ in place of BatchNorm); the grid is {BOOK_GUESS}",
    "fig4_dynamics": f"{PAPER_TEXT} (the three settings); α and the epochs are {BOOK_GUESS}",
    "chain_eq7": f"{BOOK_GUESS} (a check of Eq. 7)",
    "chain_fig2": f"{AUTHORS_CODE} (their notebook; the figure's own parameters are not stated)",
    "chain_phase": f"{BOOK_GUESS} (Fig. 3's grid is not stated)",
    "chain_second_order": f"{BOOK_GUESS} (S13's parameters are not stated)",
    "chain_explorer": f"{BOOK_GUESS}",
    "chain_noise": f"{BOOK_GUESS}",
    "chain_bounded": f"{BOOK_GUESS}",
    "chain_dynamics": f"{BOOK_GUESS} (noise levels chosen to show the three shapes)",
    "chain_langevin": f"{AUTHORS_CODE} (their S14 notebook); the grid is {BOOK_GUESS}",
    "gen_accuracy": f"{BOOK_GUESS}",
    "gen_depth_width": f"{BOOK_GUESS} (S5/S6's depths, widths and grids are not stated)",
    "gen_fashion": f"{PAPER_TEXT} (Fig. 1(c) on Fashion-MNIST)",
    "gen_fashion_sgd": f"{BOOK_GUESS} (S7(b)'s optimizer is not named)",
    "gen_cifar_dropout": f"{PAPER_TEXT} (Fig. 1(c) on CIFAR-10); the resolution is {BOOK_GUESS}",
    "gen_cifar_lr": f"{PAPER_TEXT} (Fig. 1(b) on CIFAR-10); the resolution is {BOOK_GUESS}",
    "gen_metrics": f"{BOOK_GUESS} (S10/S11's grids are not stated)",
    "gen_cnn": f"{PAPER_TEXT} (dropout after convergence); rates and epochs are {BOOK_GUESS}, the optimizer {AUTHORS_CODE}",
    "gen_linear": f"{PAPER_TEXT} (Fig. 5(a)'s setting, after its ref. [41]); the steps are {BOOK_GUESS}",
    "gen_regression": f"{BOOK_GUESS} (S12's task is not stated)",
    "gen_probe": f"{BOOK_GUESS} (beyond the paper)",
    "gen_chainfit": f"{BOOK_GUESS} (beyond the paper)",
    "gen_control": f"{BOOK_GUESS} (beyond the paper)",
}
# the settings a row's budget names, when a scale changes them
_BUDGET_KEYS = {  # the settings a budget may change, in the order (and the words) a budget phrase names them
    "seeds": "seeds", "epochs": "epochs", "realisations": "realisations", "values": "columns", "alphas": "α rows",
    "dropouts": "dropout rates", "depths": "depths", "widths": "widths", "columns": "columns", "steps": "steps",
    "n_sigma": "noise levels", "mu_r": "friction rows", "sigma": "noise columns", "eps_grid": "noise columns",
    "bounds": "noise bounds", "pretrain_epochs": "pre-training epochs", "lrs": "learning rates",
    "batch_size": "batch size", "lr": "learning rate"}


def _size(v) -> str:
    if v is None:  # batch_size None: the whole training set in one batch
        return "full"
    return str(len(v)) if isinstance(v, (tuple, list)) else f"{v:g}" if isinstance(v, float) else str(v)


def budget(name: str, scale: str) -> str:
    """What ``scale`` changes in experiment ``name`` against the paper's settings, in a phrase
    ("seeds 1 (paper 10), columns 4 of 8"), or "the full settings" when it changes none."""
    here, full = settings(name, scale), settings(name, "paper")
    out = []
    for k, words in _BUDGET_KEYS.items():
        if k in full and here.get(k) != full[k]:
            a, b = here.get(k), full[k]
            if isinstance(b, (tuple, list)):
                out.append(f"{words} {len(a)} of {len(b)}" if isinstance(a, (tuple, list)) and len(a) != len(b)
                           else f"{words} {', '.join(map(str, a))} (paper: {', '.join(map(str, b))})" if len(b) <= 4
                           else f"other {words}")
            else:
                out.append(f"{words} {_size(a)} (paper {_size(b)})")
    return ", ".join(out) or "the full settings"


def _value(v) -> str:
    if isinstance(v, Mapping):  # Fig. 4's per-panel settings
        return " | ".join(f"({k}) " + ", ".join(f"{kk} {_value(vv)}" for kk, vv in sub.items()) if isinstance(sub, Mapping)
                          else f"{k} {_value(sub)}" for k, sub in v.items())
    if isinstance(v, (tuple, list)):
        if len(v) <= 4 or not all(isinstance(x, (int, float)) for x in v):
            return ", ".join(_value(x) for x in v)
        return f"{len(v)} from {_value(v[0])} to {_value(v[-1])}"
    return _size(v)  # a scalar: the budget's own formatting


def describe(name: str, scale: str = "paper") -> str:
    """Experiment ``name``'s settings at ``scale`` in a phrase ("alphas 6 from 0 to 1; seeds 10; ..."),
    for the reconstruction page's table: the numbers are the ones the code runs."""
    return "; ".join(f"{k} {_value(v)}" for k, v in settings(name, scale).items())


def settings(name: str, scale: str) -> Mapping[str, Any]:
    """Read-only settings of experiment ``name`` at ``scale``: the paper's, with the scale's budget.

    Nested values (Fig. 4's ``settings`` dict) are copies, so a caller editing them cannot change
    :data:`EXPERIMENTS`."""
    from . import validate

    validate.choice("name", name, tuple(EXPERIMENTS))
    validate.choice("scale", scale, SCALES)
    entry = EXPERIMENTS[name]
    return MappingProxyType(copy.deepcopy({**entry.paper, **entry.budgets.get(scale, {})}))
