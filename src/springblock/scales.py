"""The run-parameter contract shared by every chapter, the CLI and the tests.

Every chapter has one cell tagged ``parameters`` holding ``device``, ``scale`` and ``seed``.
This module is the single place that says what those mean:

* ``device`` — ``"cpu"`` or ``"cuda"`` (CUDA must actually be available).
* ``scale`` — how big each experiment is:

  - ``"quick"``: seconds per chapter; used by CI (papermill + nbval). Numbers are
    reproducible but too small to show the paper's effects reliably.
  - ``"default"``: what the book is built with on a 2-core CPU (whole book ≤ 20 min cold).
    Big enough to show every qualitative effect.
  - ``"paper"``: the paper's full grids and seeds; meant for a GPU.

* ``seed`` — base seed; experiments derive their own seeds from it deterministically.

Per-experiment sizes live in :data:`EXPERIMENTS`, one entry per experiment, keyed by scale.
``settings(name, scale)`` returns the entry for one scale as a read-only mapping.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

SCALES = ("quick", "default", "paper")
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class RunParams:
    """The validated contents of a chapter's ``parameters`` cell."""

    device: str  # "cpu" or "cuda"
    scale: str  # "quick" | "default" | "paper"
    seed: int  # base seed, >= 0


def check(device: str = "cpu", scale: str = "default", seed: int = 0) -> RunParams:
    """Validate the parameters-cell values; raise ValueError naming the bad one."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if device == "cuda":
        resolve_device(device)  # fail fast, before any work
    return RunParams(device, scale, seed)


def resolve_device(device) -> "torch.device":  # noqa: F821  (torch imported lazily)
    """Map ``"cpu"``/``"cuda"``/``"cuda:N"``/``torch.device`` to a usable torch.device.

    Raises ValueError for an unknown device and RuntimeError when CUDA is requested on a
    machine that has none, instead of failing later inside a kernel.
    """
    import torch  # lazy: the spring-block chapters never need torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}") from err
    if dev.type not in DEVICES:
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={device!r} requested but torch.cuda.is_available() is False on this machine; "
                "use device='cpu'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device index {dev.index} out of range: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    return dev


# ----------------------------------------------------------------------------------------
# Per-experiment sizes. One entry per experiment; each maps scale -> settings dict.
# Keep a comment per field. Modules own their own section; edit only yours.
# ----------------------------------------------------------------------------------------
FIG1_ALPHAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # Fig. 1 rows, top (ReLU) to bottom (linear)


def _fig1(values, epochs, *, quick_values, quick_epochs):
    """One Fig. 1 panel's scales: paper = the figure's grid × 10 seeds, default = the same grid × 1
    seed, quick = two rows × two columns for CI. ``values`` are the figure's columns, left to right."""
    return {"quick": dict(alphas=(0.0, 1.0), values=quick_values, seeds=1, epochs=quick_epochs),
            "default": dict(alphas=FIG1_ALPHAS, values=values, seeds=1, epochs=epochs),
            "paper": dict(alphas=FIG1_ALPHAS, values=values, seeds=10, epochs=epochs)}


EXPERIMENTS: dict[str, dict[str, dict[str, Any]]] = {
    # --- chapter 1: separation metrics ------------------------------------------------
    "separation": {
        # epochs: training epochs of the small demo MLP; seeds: independent networks averaged
        "quick": dict(epochs=20, seeds=1),
        "default": dict(epochs=100, seeds=3),
        "paper": dict(epochs=100, seeds=10),
    },
    # --- chapters 3–4: spring–block chain (springblock.chain) -----------------------------
    # Common fields: realisations = chains per grid cell, averaged; steps = time steps per run;
    # dt = time step; dtype = "float32" for big grids (2x faster), "float64" where exactness matters.
    # The chain is cheap: even "paper" runs in seconds on a CPU, so it differs by realisations only.
    "chain_eq7": {
        # mu_r: frictions compared with Eq. 7; 0.06 exceeds 2ky/(L(L+1)) = 0.0357, so blocks stick
        # steps, dt: noiseless overdamped runs long enough to reach Eq. 7 to ~1e-14
        "quick": dict(mu_r=(0.0, 0.01, 0.02, 0.03, 0.06), steps=30_000, dt=0.01),
        "default": dict(mu_r=(0.0, 0.01, 0.02, 0.03, 0.06), steps=30_000, dt=0.01),
        "paper": dict(mu_r=(0.0, 0.01, 0.02, 0.03, 0.06), steps=30_000, dt=0.01),
    },
    "chain_phase": {
        # Fig. 3 grid (spec §4.4). mu_r: rows, bottom "linear DNN" (0) to top "ReLU";
        # mu_l: left friction, fixed; sigma: columns, per-step force noise sigma-bar
        "quick": dict(mu_r=(0.0, 0.007, 0.014, 0.021, 0.028, 0.035), mu_l=0.04,
                      sigma=(0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2), realisations=5, steps=5_000, dt=0.01, dtype="float32"),
        "default": dict(mu_r=(0.0, 0.007, 0.014, 0.021, 0.028, 0.035), mu_l=0.04,
                        sigma=(0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2), realisations=20, steps=10_000, dt=0.01, dtype="float32"),
        "paper": dict(mu_r=(0.0, 0.007, 0.014, 0.021, 0.028, 0.035), mu_l=0.04,
                      sigma=(0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2), realisations=100, steps=10_000, dt=0.01, dtype="float32"),
    },
    "chain_second_order": {
        # Fig. S13: the chain_phase grid with inertia. gamma: damping; dt, steps: spec §4.3 (t = 200)
        "quick": dict(gamma=5.0, realisations=3, steps=20_000, dt=0.01, dtype="float32"),
        "default": dict(gamma=5.0, realisations=20, steps=20_000, dt=0.01, dtype="float32"),
        "paper": dict(gamma=5.0, realisations=100, steps=20_000, dt=0.01, dtype="float32"),
    },
    "chain_noise": {
        # Chapter 4 sweeps at mu_r < mu_l. mu_r, mu_l: frictions; sigma: noise levels swept
        # (log-spaced, plus 0); synchronous runs are compared with independent ones on the same sweep
        "quick": dict(mu_r=0.02, mu_l=0.06, sigma_min=0.002, sigma_max=1.0, n_sigma=8,
                      realisations=5, steps=5_000, dt=0.01, dtype="float32"),
        "default": dict(mu_r=0.02, mu_l=0.06, sigma_min=0.002, sigma_max=1.0, n_sigma=16,
                        realisations=40, steps=10_000, dt=0.01, dtype="float32"),
        "paper": dict(mu_r=0.02, mu_l=0.06, sigma_min=0.002, sigma_max=1.0, n_sigma=32,
                      realisations=200, steps=10_000, dt=0.01, dtype="float32"),
    },
    "chain_bounded": {
        # Bounded (uniform) vs Gaussian noise. bounds: half-widths B; dt = 0.1 (stable) so that
        # steps reach t = 2000, where the algebraic approach to the freeze point has settled;
        # record_every: steps between stored load curves (for the drift-in-time panel)
        "quick": dict(mu_r=0.04, mu_l=0.08, bounds=(0.01, 0.02, 0.04, 0.08, 0.2), realisations=3,
                      steps=5_000, dt=0.1, record_every=100),
        "default": dict(mu_r=0.04, mu_l=0.08, bounds=(0.01, 0.02, 0.04, 0.06, 0.08, 0.12, 0.2), realisations=20,
                        steps=20_000, dt=0.1, record_every=100),
        "paper": dict(mu_r=0.04, mu_l=0.08, bounds=(0.01, 0.02, 0.04, 0.06, 0.08, 0.12, 0.2), realisations=100,
                      steps=20_000, dt=0.1, record_every=100),
    },
    "chain_dynamics": {
        # Fig. 4 right column: synchronous noise, one chain per panel like the DNN runs.
        # sigma: noise of the concave / linear / convex panels at mu_r, mu_l; record_every: frame spacing
        "quick": dict(mu_r=0.02, mu_l=0.06, sigma=(0.005, 0.014, 0.05), steps=5_000, dt=0.01, record_every=50),
        "default": dict(mu_r=0.02, mu_l=0.06, sigma=(0.005, 0.014, 0.05), steps=10_000, dt=0.01, record_every=20),
        "paper": dict(mu_r=0.02, mu_l=0.06, sigma=(0.005, 0.014, 0.05), steps=10_000, dt=0.01, record_every=10),
    },
    "chain_langevin": {
        # Fig. S14 (spec §4.2): k, gamma, decay, dt, steps are the authors'; eps: the authors' noise
        # (shared by all blocks, scale eps*sqrt(L)); the diagram sweeps mu_r (rows, mu_l fixed) x eps
        "quick": dict(k=0.1, gamma=1.0, decay=0.001, dt=0.05, steps=14_000, eps=0.003, mu_r_s14=0.003, mu_l=0.004,
                      mu_r=(0.0, 0.0014, 0.0028), eps_grid=(0.0, 0.0005, 0.002, 0.01), realisations=3, dtype="float32"),
        "default": dict(k=0.1, gamma=1.0, decay=0.001, dt=0.05, steps=14_000, eps=0.003, mu_r_s14=0.003, mu_l=0.004,
                        mu_r=(0.0, 0.0007, 0.0014, 0.0021, 0.0028, 0.0035),
                        eps_grid=(0.0, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01), realisations=10, dtype="float32"),
        "paper": dict(k=0.1, gamma=1.0, decay=0.001, dt=0.05, steps=14_000, eps=0.003, mu_r_s14=0.003, mu_l=0.004,
                      mu_r=(0.0, 0.0007, 0.0014, 0.0021, 0.0028, 0.0035),
                      eps_grid=(0.0, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01), realisations=50, dtype="float32"),
    },
    "chain_explorer": {
        # static rendering of the interactive explorer: mu_r x sigma small multiples at mu_l, k;
        # realisations, steps: per cell (the live widget uses its own, smaller budget)
        "quick": dict(mu_r=(0.0, 0.02, 0.035), sigma=(0.0, 0.02, 0.2), mu_l=0.06, k=1.0, realisations=3, steps=3_000),
        "default": dict(mu_r=(0.0, 0.01, 0.02, 0.035), sigma=(0.0, 0.01, 0.03, 0.1, 0.3), mu_l=0.06, k=1.0,
                        realisations=20, steps=10_000),
        "paper": dict(mu_r=(0.0, 0.01, 0.02, 0.035), sigma=(0.0, 0.01, 0.03, 0.1, 0.3), mu_l=0.06, k=1.0,
                      realisations=50, steps=10_000),
    },
    # --- chapter 2: DNN phase diagrams (springblock.sweep; Fig. 1 and Fig. 4 left) ---------
    # alphas: LeakyReLU slopes (rows, ReLU on top); values: the panel's columns, left = most
    # stochastic (paper: the figure's 8 columns); seeds: networks per cell, averaged (paper: 10);
    # epochs: training length (paper: 100, 200 for the learning-rate panel). default is the paper's grid
    # with one seed instead of ten (192 networks, ~6 min on a 2-core CPU)
    "fig1_noise": _fig1((0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0), 100, quick_values=(0.5, 0.0), quick_epochs=20),
    "fig1_lr": _fig1((2e-1, 1e-1, 5e-2, 1e-2, 5e-3, 1e-3, 5e-4, 1e-4), 200, quick_values=(5e-2, 1e-3), quick_epochs=20),
    "fig1_dropout": _fig1((0.28, 0.24, 0.2, 0.16, 0.12, 0.08, 0.04, 0.0), 100, quick_values=(0.2, 0.0),
                          quick_epochs=20),
    "fig1_batch": _fig1((10, 20, 40, 80, 160, 320, 640, 1280), 100, quick_values=(80, 640), quick_epochs=3),
    "fig4_dynamics": {
        # the three Fig. 4 settings (sweep.DYNAMICS) at slope alpha (paper: unstated, ReLU assumed);
        # seeds: runs per setting (curves averaged); record_every: epochs between recorded D_l
        "quick": dict(alpha=0.0, seeds=1, epochs=4, record_every=1),
        "default": dict(alpha=0.0, seeds=2, epochs=100, record_every=1),
        "paper": dict(alpha=0.0, seeds=10, epochs=100, record_every=1),
    },
    # --- chapter 5: load curves and generalization (springblock.generalization, .control) ---
    # Common fields: seeds = networks per setting (seeds seed+1..seed+n); epochs = training length.
    # The Fig. 1 cells (accuracy vs curvature, S4, S10) come from fig1_* above via the cache.
    "gen_accuracy": {
        # n_boot: bootstrap resamples for the correlation intervals
        "quick": dict(n_boot=200), "default": dict(n_boot=2000), "paper": dict(n_boot=2000),
    },
    "gen_depth_width": {
        # S5/S6: depths at width 100 and widths at depth 7, each at every dropout rate (input stays 10x10)
        "quick": dict(depths=(3, 7), widths=(50, 100), dropouts=(0.0, 0.2), seeds=1, epochs=10),
        "default": dict(depths=(3, 7, 11), widths=(50, 100, 200), dropouts=(0.0, 0.15), seeds=1, epochs=100),
        "paper": dict(depths=(3, 5, 7, 9, 11, 15), widths=(25, 50, 100, 200, 400), dropouts=(0.0, 0.08, 0.16, 0.28),
                      seeds=10, epochs=100),
    },
    "gen_fashion": {
        # S7: alpha x dropout diagram on Fashion-MNIST (Debian files or torchvision); values: dropout rates
        "quick": dict(alphas=(0.0, 1.0), values=(0.2, 0.0), seeds=1, epochs=10),
        "default": dict(alphas=(0.0, 1.0), values=(0.2, 0.1, 0.0), seeds=1, epochs=100),
        "paper": dict(alphas=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), values=(0.28, 0.24, 0.2, 0.16, 0.12, 0.08, 0.04, 0.0),
                      seeds=10, epochs=100),
    },
    "gen_cifar": {
        # S8/S9: alpha x learning-rate diagram on CIFAR-10 (grayscale 10x10) when its files are on disk
        "quick": dict(alphas=(0.0, 1.0), values=(1e-2, 1e-3), seeds=1, epochs=10),
        "default": dict(alphas=(0.0, 0.4, 1.0), values=(5e-2, 1e-2, 1e-3, 1e-4), seeds=1, epochs=200),
        "paper": dict(alphas=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0), values=(2e-1, 1e-1, 5e-2, 1e-2, 5e-3, 1e-3, 5e-4, 1e-4),
                      seeds=10, epochs=200),
    },
    "gen_metrics": {
        # S10/S11: trace vs pinv vs inverse load curves of ReLU (alpha 0) and linear (alpha 1) nets
        "quick": dict(alphas=(0.0, 1.0), dropouts=(0.0,), seeds=1, epochs=10),
        "default": dict(alphas=(0.0, 1.0), dropouts=(0.0,), seeds=1, epochs=100),
        "paper": dict(alphas=(0.0, 1.0), dropouts=(0.0, 0.08, 0.16), seeds=10, epochs=100),
    },
    "gen_cnn": {
        # S2: pretrain_epochs without dropout, then resume_epochs per dropout rate (0 = control);
        # batch_size: Adam minibatch; n_train: training images
        "quick": dict(dropouts=(0.0, 0.2), pretrain_epochs=2, resume_epochs=1, seeds=1, batch_size=256, n_train=512),
        "default": dict(dropouts=(0.0, 0.05, 0.15, 0.4), pretrain_epochs=20, resume_epochs=10, seeds=1,
                        batch_size=256, n_train=2560),
        "paper": dict(dropouts=(0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4), pretrain_epochs=100, resume_epochs=50,
                      seeds=10, batch_size=256, n_train=2560),
    },
    "gen_linear": {
        # Fig. 5a: full-batch SGD epochs (= steps) per variant; record_every: epochs between stored curves
        "quick": dict(epochs=200, seeds=1, record_every=20),
        "default": dict(epochs=1500, seeds=2, record_every=50),
        "paper": dict(epochs=4000, seeds=10, record_every=50),
    },
    "gen_regression": {
        # S12: full-batch Adam epochs per variant (lazy / default / dropout / large lr)
        "quick": dict(epochs=10, seeds=1), "default": dict(epochs=100, seeds=1), "paper": dict(epochs=100, seeds=10),
    },
    "gen_probe": {
        # a torchvision model probed with springblock.probe; arch: "mlp" (torchvision.ops.MLP) or "resnet18"
        "quick": dict(arch="mlp", epochs=5, batch_size=None),
        "default": dict(arch="mlp", epochs=50, batch_size=None),
        "paper": dict(arch="resnet18", epochs=30, batch_size=128),
    },
    "gen_chainfit": {
        # spring-chain fits (springblock.fit) to the fig4_dynamics histories: search budget
        "quick": dict(realisations=8, candidates=32, rounds=1),
        "default": dict(realisations=32, candidates=128, rounds=6),
        "paper": dict(realisations=64, candidates=256, rounds=8),
    },
    "gen_control": {
        # control.compare_with_fixed: fixed dropout grid vs the PI controller (gains, every/start epochs)
        "quick": dict(dropouts=(0.0, 0.1), seeds=1, epochs=20, every=5, start=5, gain_p=0.5, gain_i=0.3),
        "default": dict(dropouts=(0.0, 0.05, 0.1, 0.2), seeds=3, epochs=100, every=5, start=15, gain_p=0.5,
                        gain_i=0.3),
        "paper": dict(dropouts=(0.0, 0.02, 0.05, 0.08, 0.12, 0.16, 0.2, 0.28), seeds=10, epochs=100, every=5,
                      start=15, gain_p=0.5, gain_i=0.3),
    },
    # --- sections below are filled in by the chain / training / generalization modules ---
}


def settings(name: str, scale: str) -> Mapping[str, Any]:
    """Read-only settings of experiment ``name`` at ``scale``."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known: {sorted(EXPERIMENTS)}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return MappingProxyType(dict(EXPERIMENTS[name][scale]))
