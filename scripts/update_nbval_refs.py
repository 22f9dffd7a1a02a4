"""Regenerate the nbval reference notebooks in tests/nbval/ after an intended change.

Executes every chapter at scale "quick" with papermill (the same path CI uses), then keeps only
the outputs of cells whose first line is ``# NBVAL_CHECK_OUTPUT``: those seeded, rounded key
numbers are what CI compares against. Everything else is stripped so the files stay small.

    python scripts/update_nbval_refs.py            # all chapters
    python scripts/update_nbval_refs.py 03 04      # only these
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

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
    main(sys.argv[1:])
