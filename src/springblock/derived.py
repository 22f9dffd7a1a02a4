"""Analyses derived from finished results that a chapter shows and the ledger checks: one function
each, so the two always read the same numbers (nothing here trains or is cached)."""
from __future__ import annotations

import numpy as np

from . import analysis, scales
from .plotting.style import interval, number


def fig1_accuracy(panels: dict, scale: str, seed: int = 0) -> dict:
    """Per Fig. 1 panel, test accuracy against load-curve shape (:func:`analysis.accuracy_vs_shape`),
    with the bootstrap of the scale's ``gen_accuracy`` settings."""
    boot = scales.settings("gen_accuracy", scale)
    return {n: analysis.accuracy_vs_shape(r.test_acc, r.load["train_trace"], seed=seed, **boot) for n, r in panels.items()}


def fig1_accuracy_without_linear(panels: dict) -> dict:
    """The same per panel without the linear row (α = 1), which is where the curved cells are worst."""
    return {n: analysis.accuracy_vs_shape(r.test_acc[:-1], r.load["train_trace"][:-1], n_boot=0)
            for n, r in panels.items()}


def train_test_shapes(panels: dict) -> dict:
    """Training- against test-set load curves, every cell of every panel pooled
    (:func:`analysis.compare_shapes`)."""
    L1 = next(iter(panels.values())).load["train_trace"].shape[-1]
    pooled = {sp: np.concatenate([r.mean_load(sp).reshape(-1, L1) for r in panels.values()]) for sp in ("train", "test")}
    return analysis.compare_shapes(pooled["train"], pooled["test"])


def depth_width_stats(dw: dict) -> list[dict]:
    """Accuracy against shape for each architecture's dropout diagram (S5, S6)."""
    return [analysis.accuracy_vs_shape(d["acc"], d["load"], n_boot=0) for d in dw["diagrams"]]


def metric_comparison(panels: dict) -> list[dict]:
    """Per row of α over every Fig. 1 cell, Eq. 3 (trace) against Eq. 9 (pinv): the correlation of
    their ĉ, how often they give the same shape label and their mean difference."""
    alphas = next(iter(panels.values())).alphas
    out = []
    for i, a in enumerate(alphas):
        tr = np.concatenate([r.mean_load("train", "trace")[i] for r in panels.values()])
        pi = np.concatenate([r.mean_load("train", "pinv")[i] for r in panels.values()])
        m = analysis.compare_shapes(tr, pi)
        out.append({"alpha": float(a), "pearson": m["pearson"], "same_shape": m["same_shape"],
                    "mean_abs_diff": m["mean_abs_diff"]})
    return out


def accuracy_rows(panels: dict, stats: dict, without: dict) -> list[dict]:
    """The table of chapter 5: per panel, the accuracy–straightness correlation, its rank version,
    the same without the linear row, the best cell and where the most linear cell ranks."""
    rows = []
    for name, res in panels.items():
        s = stats[name]
        rows.append({"panel": res.title,
                     "r(acc, |ĉ|) [95 %]": interval(s["pearson_abs"], s["pearson_abs_lo"], s["pearson_abs_hi"]),
                     "ρ(acc, |ĉ|)": number(s["spearman_abs"], 2, sign=True),
                     "r without α = 1": number(without[name]["pearson_abs"], 2, sign=True),
                     "best cell": f"{res.cell_label(s['best'])}: {s['best_acc']:.1f} %, ĉ = "
                                  f"{number(s['best_rc'], 2, sign=True)}",
                     "most linear cell, rank": f"{res.cell_label(s['most_linear'])}: {s['linear_acc']:.1f} %, "
                                               f"{s['linear_rank']} of {s['n_cells']}"})
    return rows


def depth_width_rows(dw: dict, stats: list[dict]) -> list[dict]:
    """The S5/S6 table: per architecture, its accuracy range, the ReLU network's ĉ without dropout,
    the best cell, where the most linear cell ranks and the accuracy–straightness correlation."""
    rows = []
    for (h, w), s in zip(dw["archs"], stats):
        best_alpha, best_dropout = dw["alphas"][s["best"][0]], dw["dropouts"][s["best"][1]]
        rows.append({"architecture": f"L = {h}, width {w}",
                     "accuracy range (%)": f"{np.nanmin(s['acc_mean']):.1f} – {np.nanmax(s['acc_mean']):.1f}",
                     "ReLU, no dropout: ĉ": number(s["rc"][0, -1], 2, sign=True),
                     "best cell: α, dropout, ĉ": f"{best_alpha:g}, {best_dropout:g}, {number(s['best_rc'], 2, sign=True)}",
                     "most linear cell's rank": f"{s['linear_rank']} of {s['n_cells']}",
                     "r(acc, |ĉ|)": number(s["pearson_abs"], 2, sign=True)})
    return rows
