"""Regenerate the nbval reference notebooks in tests/nbval/ after an intended change.

Executes every chapter at scale "quick" with papermill (the same path CI uses), then keeps only
the outputs of cells whose first line is ``# NBVAL_CHECK_OUTPUT``: those seeded, rounded key
numbers are what CI compares against. Everything else is stripped so the files stay small.

    python scripts/update_nbval_refs.py            # all chapters
    python scripts/update_nbval_refs.py 03 04      # only these
    python scripts/update_nbval_refs.py --sources  # no execution: take the chapters' code and prose,
                                                   # keep the stored checked outputs (refused when a
                                                   # checked cell's own source changed)
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat

from springblock.notebooks import CHECK_MARK, chapters, execute_chapters

REFS = Path(__file__).resolve().parents[1] / "tests" / "nbval"


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type != "code":
            continue
        if not cell.source.startswith(CHECK_MARK):
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)  # progress bars' widget state: whatever was computed, not checked
    return nb


def sync_sources(only: list[str]) -> None:
    """Rewrite references from the chapters without executing them: for edits that cannot change a
    checked number (captions, prose, an unchecked cell's code). Each checked cell keeps its stored
    outputs, matched by its source; a checked cell whose source changed must be re-executed. Cells
    keep their ids where their source is unchanged, and papermill's injected parameters stay."""
    for path in chapters():
        if only and path.stem[:2] not in only:
            continue
        ref_path = REFS / f"{path.stem}.ipynb"
        old = nbformat.read(ref_path, as_version=4)
        ids = {(c.cell_type, c.source.strip()): c.get("id") for c in old.cells}
        # nbval refuses a reference cell with outputs but no execution count ("unrun"), so both stay
        stored = {c.source.strip(): (c.outputs, c.execution_count) for c in old.cells
                  if c.cell_type == "code" and c.source.startswith(CHECK_MARK)}
        injected = [c for c in old.cells if "injected-parameters" in c.metadata.get("tags", [])]
        nb = strip(jupytext.read(path))
        cells = []
        for cell in nb.cells:
            if (cell.cell_type, cell.source.strip()) in ids:
                cell.id = ids[(cell.cell_type, cell.source.strip())]
            if cell.cell_type == "code" and cell.source.startswith(CHECK_MARK):
                if cell.source.strip() not in stored:
                    raise SystemExit(f"{path.name}: a checked cell's source changed; re-execute it: "
                                     f"python scripts/update_nbval_refs.py {path.stem[:2]}")
                cell.outputs, cell.execution_count = stored[cell.source.strip()]
            cells.append(cell)
            if "parameters" in cell.metadata.get("tags", []):
                cells += injected
        nb.cells = cells
        nb.metadata = old.metadata
        nbformat.write(nb, ref_path)
        print(f"wrote {ref_path} (sources only)")


def main(only: list[str]) -> None:
    REFS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        execute_chapters(tmp, scale="quick", only=only or None)
        for path in sorted(Path(tmp).glob("*.ipynb")):
            nb = strip(nbformat.read(path, as_version=4))
            nbformat.write(nb, REFS / path.name)
            print(f"wrote {REFS / path.name}")
    if not only:  # a reference whose chapter is gone would make nbval test a chapter that no longer exists
        names = {p.stem for p in chapters()}
        for ref in REFS.glob("*.ipynb"):
            if ref.stem not in names:
                ref.unlink()
                print(f"removed {ref} (no such chapter)")


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--sources" in args:
        sync_sources([a for a in args if a != "--sources"])
    else:
        main(args)
