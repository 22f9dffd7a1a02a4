"""Execute the book's chapters with papermill, with parameters (device, scale, seed).

The chapters are jupytext MyST-markdown files; papermill reads ``.ipynb``, so each chapter is
converted in memory (``jupytext.reads``) and handed to ``papermill.execute_notebook``.
"""
from __future__ import annotations

import time
from pathlib import Path

from . import scales

# First line of a cell whose printed output CI compares with tests/nbval/ (nbval --nbval-lax).
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def book_dir() -> Path:
    """The ``book/`` folder of this checkout (the package is installed editable from ``src/``)."""
    here = Path(__file__).resolve().parents[2] / "book"
    if not here.is_dir():
        raise FileNotFoundError(f"book folder not found at {here}; run from a clone of the repository")
    return here


def chapters(folder: Path | None = None) -> list[Path]:
    """Chapter notebooks in reading order (every ``NN_*.md`` file of the book)."""
    folder = folder or book_dir()
    return sorted(p for p in folder.glob("[0-9][0-9]_*.md"))


def execute_chapters(
    out: str | Path,
    device: str = "cpu",
    scale: str = "default",
    seed: int = 0,
    only: list[str] | None = None,
    kernel: str = "python3",
) -> dict[str, float]:
    """Execute chapters into ``out/<name>.ipynb``; return wall seconds per chapter."""
    import jupytext
    import papermill

    run = scales.check(device, scale, seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = chapters()
    if only:
        todo = [p for p in todo if any(p.stem.startswith(o) or p.stem == o for o in only)]
        if not todo:
            raise ValueError(f"only={only!r} matches no chapter; chapters: {[p.stem for p in chapters()]}")
    times = {}
    for path in todo:
        nb = jupytext.read(path)
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
        start = time.perf_counter()
        papermill.execute_notebook(
            nb,
            str(out / f"{path.stem}.ipynb"),
            parameters={"device": run.device, "scale": run.scale, "seed": run.seed},
            kernel_name=kernel,
            cwd=str(path.parent),
            progress_bar=False,
        )
        times[path.stem] = time.perf_counter() - start
        print(f"{path.stem}: {times[path.stem]:.1f} s", flush=True)
    return times


def environment() -> dict[str, str]:
    """Versions and hardware this book was executed with (for the reproducibility page)."""
    import os
    import platform

    import numpy as np

    from . import __version__

    env = {
        "springblock": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu cores": str(os.cpu_count()),
    }
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch threads"] = str(torch.get_num_threads())
        env["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"
    except ImportError:
        env["torch"] = "not installed"
    return env
