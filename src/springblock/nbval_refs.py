"""The chapters' checked key numbers, stored compactly and put back into notebooks for nbval.

A chapter cell whose first line is :data:`~springblock.notebooks.CHECK_MARK` prints seeded,
rounded key numbers; CI compares what it prints at scale ``quick`` with a stored reference
(``nbval --nbval-lax``). The reference is not a copy of the chapter: ``tests/nbval/<chapter>.json``
holds only the checked cells' sources and outputs, and :func:`reference_notebook` rebuilds the
notebook nbval runs from the chapter as it is now. A prose, caption or unchecked-code edit
therefore needs no new reference; a checked cell whose source changed has none, and is refused by
name until it is re-executed (``python scripts/update_nbval_refs.py NN``).
"""
from __future__ import annotations

import json
from pathlib import Path

from .notebooks import CHECK_MARK

FORMAT = 1  # the reference files' layout version


def checked_cells(nb) -> list:
    """The code cells of ``nb`` whose output is compared (first line :data:`CHECK_MARK`)."""
    return [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(CHECK_MARK)]


def references(nb) -> dict:
    """The compact reference of an executed chapter: each checked cell's source and outputs."""
    cells = []
    for cell in checked_cells(nb):
        if not cell.outputs:
            raise ValueError(f"checked cell {cell.source.splitlines()[1:2]} printed nothing: nothing to compare")
        cells.append({"source": cell.source.strip(), "outputs": [dict(o) for o in cell.outputs]})
    return {"format": FORMAT, "cells": cells}


def write(path: Path, refs: dict) -> None:
    path.write_text(json.dumps(refs, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def read(path: Path) -> dict:
    refs = json.loads(path.read_text(encoding="utf-8"))
    if refs.get("format") != FORMAT:
        raise ValueError(f"{path}: reference format {refs.get('format')!r}, this code reads {FORMAT}")
    return refs


def reference_notebook(chapter: Path, refs: dict, parameters: dict):
    """The notebook nbval runs: ``chapter`` as it is now, with papermill-style ``parameters`` injected
    after its parameters cell and every checked cell carrying its stored outputs. Raises ValueError
    naming the checked cells that have no stored output (new, or whose source changed)."""
    import jupytext
    import nbformat

    nb = jupytext.read(chapter)
    stored = {c["source"]: c["outputs"] for c in refs["cells"]}
    missing = [c.source.splitlines()[1:2] for c in checked_cells(nb) if c.source.strip() not in stored]
    if missing:
        raise ValueError(f"{chapter.name}: no reference output for checked cell(s) {missing} (new, or their "
                         f"source changed): run python scripts/update_nbval_refs.py {chapter.stem[:2]}")
    cells, count = [], 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            count += 1  # nbval refuses outputs on a cell without an execution count ("unrun")
            cell.execution_count = count
            cell.outputs = [nbformat.from_dict(o) for o in stored.get(cell.source.strip(), [])] \
                if cell.source.startswith(CHECK_MARK) else []
        cells.append(cell)
        if "parameters" in cell.metadata.get("tags", []):
            source = "# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items())
            injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
            count += 1
            injected.execution_count = count
            cells.append(injected)
    nb.cells = cells
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb
