"""Execute the book's chapters with papermill, with parameters (device, scale, seed).

The chapters are jupytext MyST-markdown files; papermill reads ``.ipynb``, so each chapter is
converted in memory (``jupytext.reads``) and handed to ``papermill.execute_notebook``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Mapping

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
        try:
            papermill.execute_notebook(nb, str(out / f"{path.stem}.ipynb"),
                                       parameters={"device": run.device, "scale": run.scale, "seed": run.seed},
                                       kernel_name=kernel, cwd=str(path.parent), progress_bar=False)
        except papermill.PapermillExecutionError as err:  # one line, naming the chapter and the error
            raise RuntimeError(f"{path.stem} failed in cell [{err.exec_count}]: {err.ename}: "
                               f"{str(err.evalue).splitlines()[0] if err.evalue else ''} "
                               f"(the executed notebook: {out / (path.stem + '.ipynb')})") from None
        times[path.stem] = time.perf_counter() - start
        print(f"{path.stem}: {times[path.stem]:.1f} s", flush=True)
    return times


def plural(n: int, word: str) -> str:
    """``"1 seed"``, ``"10 seeds"``: a count with its noun, for prose and titles."""
    return f"{n:,} {word}" + ("" if n == 1 else "s")


SCALE_NAMES = {"quick": "scale quick (a smoke test)", "default": "scale default (the CPU budget)",
               "paper": "scale paper"}


def model_name(net) -> str:
    """How a page names a probed model: its class, or for a Sequential that only reshapes the input
    in front of one model (the ResNet-18 behind an Unflatten to images), that model's class."""
    from torch import nn

    if isinstance(net, nn.Sequential):
        inner = [m for m in net.children() if any(True for _ in m.parameters())]
        if len(inner) == 1:
            return type(inner[0]).__name__
    return type(net).__name__


def layer_selection(layers) -> str:
    """A probe's ``layers=`` in words: "its ReLU layers" for a type, "the submodules a, b and c"."""
    if isinstance(layers, type):
        return f"its {layers.__name__} layers"
    names = [str(n) for n in layers]
    return "the submodule " + names[0] if len(names) == 1 else \
        "the submodules " + ", ".join(names[:-1]) + " and " + names[-1]


def budget_phrase(name: str, scale: str) -> str:
    """What a figure of experiment ``name`` was drawn at, for its caption: "scale default (the CPU
    budget): seeds 1 (paper 10), columns 4 of 8", or "the full settings of scale paper" when ``scale``
    changes none (the reconstruction page says which of those settings the paper states)."""
    changed = scales.budget(name, scale)
    return "the full settings of scale paper" if changed == "the full settings" else f"{SCALE_NAMES[scale]}: {changed}"


def budgets_phrase(names, scale: str, panels: str) -> str:
    """One caption phrase for a figure whose panels are experiments ``names`` (labelled ``panels``,
    e.g. "(a)–(d)"): "Budget, every panel: ..." when they share one, else each panel's in turn."""
    phrases = [budget_phrase(name, scale) for name in names]
    if len(set(phrases)) == 1:
        return f"Budget, every panel: {phrases[0]}"
    return f"Budgets, panels {panels}: " + "; ".join(phrases)


def columns_phrase(drawn: int, of: int) -> str:
    """"all 8 of their columns" or "4 of their 8 columns": how much of a grid's axis a build draws."""
    return f"all {of} of their columns" if drawn == of else f"{drawn} of their {of} columns"


def glue_budgets(run: scales.RunParams | Mapping[str, scales.RunParams]) -> None:
    """Glue ``budget_<experiment>`` (:func:`budget_phrase`) for every experiment at the chapter's
    scale, so that each figure's caption says the budget it was drawn at. ``run`` may map experiment
    names to their sections' RunParams (:func:`springblock.scales.check_sections`): those are glued
    at their own section's scale."""
    from myst_nb import glue

    per = run if isinstance(run, Mapping) else dict.fromkeys(scales.EXPERIMENTS, run)
    for name, r in per.items():
        glue(f"budget_{name}", budget_phrase(name, r.scale), display=False)


def glue_outcome(prefix: str, outcome, says: dict | None = None) -> None:
    """Glue every number and text of a claim's outcome (:mod:`springblock.claims`) as ``<prefix>_<name>``,
    its verdict as ``<prefix>_verdict`` and its parts, each with its verdict and numbers, as
    ``<prefix>_parts`` (names and verdicts only: ``<prefix>_part_verdicts``). ``says``: the sentence
    the chapter states for each verdict (at least the one the numbers give), glued as
    ``<prefix>_says`` — so that a qualitative sentence is the claim's."""
    from myst_nb import glue

    for name, value in {**outcome.numbers, **outcome.texts}.items():
        glue(f"{prefix}_{name}", value, display=False)
    glue(f"{prefix}_verdict", outcome.verdict, display=False)
    glue(f"{prefix}_parts", "; ".join(f"{p.name}: {p.verdict} ({p.detail})" for p in outcome.parts), display=False)
    glue(f"{prefix}_part_verdicts", "; ".join(f"{p.name}: {p.verdict}" for p in outcome.parts), display=False)
    if says is not None:
        if outcome.verdict not in says:
            raise KeyError(f"claim {outcome.claim.id}: no sentence for its verdict {outcome.verdict!r} "
                           f"(the chapter has one for {sorted(says)})")
        glue(f"{prefix}_says", says[outcome.verdict], display=False)


def data_assets() -> list[dict]:
    """The shipped datasets: file, size, sha256 of the file, and the content hash of what
    ``load_dataset`` makes of it by default (the hash in every result's key)."""
    import hashlib

    from . import data

    rows = []
    for name in data.SHIPPED:
        path = data.asset_path(name)
        ds = data.load_dataset(name)
        rows.append({"dataset": name, "file": path.name, "bytes": path.stat().st_size,
                     "sha256 (file)": hashlib.sha256(path.read_bytes()).hexdigest(),
                     "content hash (default preprocessing)": data.content_hash(ds)[:24],
                     "train / val / test": f"{len(ds.x_train)} / {len(ds.x_val)} / {len(ds.x_test)}"})
    return rows


def environment() -> dict[str, str]:
    """Versions and hardware this book was executed with (for the reproducibility page)."""
    import os
    import platform

    import numpy as np

    from . import __version__
    from .devices import cpu_model

    env = {"springblock": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "platform": platform.platform(), "processor": cpu_model(), "cpu cores": str(os.cpu_count())}
    try:
        import torch

        from . import kernels

        env["torch"] = torch.__version__
        env["torch threads"] = str(torch.get_num_threads())
        env["engine kernels"] = kernels.BACKEND
        env["MKL strict reproducibility"] = str(kernels.blas_reproducible())
        env["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "not available"
    except ImportError:
        env["torch"] = "not installed"
    return env


def submitted(entries: list[dict]) -> list[dict]:
    """The runs someone started: run-log entries without the lines of executor jobs (``parent``),
    whose results and time the line of the run that submitted them already counts."""
    return [e for e in entries if not e.get("parent")]


def run_table(entries: list[dict]):
    """The run log (:func:`springblock.results.run_log`, or a recorded copy of it) as a table: per
    scale and experiment label, results computed, wall time, runs, executor jobs, hardware and date.
    Executor jobs are counted in the run that submitted them, never added to its time."""
    import pandas as pd

    jobs: dict[str, int] = {}
    for e in entries:
        if e.get("parent"):
            jobs[e["parent"]] = jobs.get(e["parent"], 0) + 1
    log = pd.DataFrame(submitted(entries))
    if log.empty:
        return pd.DataFrame({"": ["nothing was computed: every result came from the cache"]})
    direct = "none (a direct call)"  # runs outside a chapter or the CLI's scales: tests, scripts
    log["scale"] = log["scale"].fillna(direct) if "scale" in log else direct
    log["jobs"] = [jobs.get(r, 0) for r in log["run_id"]] if "run_id" in log else 0
    table = log.groupby(["scale", "label"], sort=False).agg(
        results=("computed", "sum"), wall_min=("wall_s", lambda s: round(s.sum() / 60, 1)),
        runs=("computed", "size"), jobs=("jobs", "sum"),
        hardware=("device_name", lambda d: ", ".join(sorted(set(map(str, d))))),
        finished=("finished", lambda f: str(max(f)).replace("T", " ")[:16]))
    table.index.names = ["scale", "experiment"]
    return table.rename(columns=RUN_COLUMNS)


# the run table's columns as a reader reads them
RUN_COLUMNS = {"results": "results computed", "wall_min": "wall time (min)", "runs": "runs",
               "jobs": "submitit jobs", "hardware": "hardware", "finished": "last finished"}


def recorded_runs(folder: Path | None = None) -> dict[str, list[dict]]:
    """The run logs recorded by ``scripts/record_runs.py`` (``book/_records/<name>.jsonl``): name ->
    entries, in name order; each entry is a run-log entry plus the recording machine's processor and
    core count. An empty dict when nothing was recorded."""
    import json

    folder = Path(folder) if folder is not None else book_dir() / "_records"
    out = {}
    for path in sorted(folder.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        try:
            out[path.stem] = [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not a run record ({err})") from None
    return out


def table(rows, formats: dict | None = None, digits: int = 2):
    """Rows (a list of dicts, or a DataFrame) as the table a reader sees: no index column, floats to
    ``digits`` decimals (never a negative zero), ``formats``: a format string or function per column."""
    import pandas as pd

    from .plotting.style import number

    df = pd.DataFrame(rows)
    if not isinstance(df.index, pd.RangeIndex):  # a labelled index becomes the first column(s)
        df = df.reset_index()
    fmt = {c: (lambda v: number(v, digits)) for c in df.columns if df[c].dtype.kind == "f"}
    fmt.update(formats or {})
    return df.style.hide(axis="index").format(fmt, na_rep="–")
