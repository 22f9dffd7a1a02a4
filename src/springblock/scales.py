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
EXPERIMENTS: dict[str, dict[str, dict[str, Any]]] = {
    # --- chapter 1: separation metrics ------------------------------------------------
    "separation": {
        # epochs: training epochs of the small demo MLP; seeds: independent networks averaged
        "quick": dict(epochs=20, seeds=1),
        "default": dict(epochs=100, seeds=3),
        "paper": dict(epochs=100, seeds=10),
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
