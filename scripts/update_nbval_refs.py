"""The chapters' nbval references: regenerate them, or assemble the notebooks nbval runs.

    python scripts/update_nbval_refs.py              # execute every chapter at scale quick (papermill,
                                                     # the path CI uses) and store its checked outputs
    python scripts/update_nbval_refs.py 03 04        # only these chapters
    python scripts/update_nbval_refs.py --assemble DIR   # write the notebooks nbval runs into DIR

A reference (``tests/nbval/<chapter>.json``) holds only the outputs of the cells whose first line is
``# NBVAL_CHECK_OUTPUT`` (:mod:`springblock.nbval_refs`), so an edit to prose, captions or unchecked
code needs no regeneration; only a checked cell's own source, or an intended change of its numbers,
does. ``--assemble`` refuses, by name, a checked cell that has no stored output.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat

from springblock import nbval_refs
from springblock.notebooks import chapters, execute_chapters

REFS = Path(__file__).resolve().parents[1] / "tests" / "nbval"
PARAMETERS = {"device": "cpu", "scale": "quick", "seed": 0}  # what CI executes the chapters with


def regenerate(only: list[str]) -> None:
    REFS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        execute_chapters(tmp, **PARAMETERS, only=only or None)
        for path in sorted(Path(tmp).glob("*.ipynb")):
            target = REFS / f"{path.stem}.json"
            nbval_refs.write(target, nbval_refs.references(nbformat.read(path, as_version=4)))
            print(f"wrote {target}")
    if not only:  # a reference whose chapter is gone would test a chapter that no longer exists
        names = {p.stem for p in chapters()}
        for ref in REFS.glob("*.json"):
            if ref.stem not in names:
                ref.unlink()
                print(f"removed {ref} (no such chapter)")


def assemble(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.ipynb"):
        old.unlink()
    for chapter in chapters():
        ref = REFS / f"{chapter.stem}.json"
        if not ref.exists():
            raise SystemExit(f"missing {ref}: run python scripts/update_nbval_refs.py {chapter.stem[:2]}")
        try:
            nb = nbval_refs.reference_notebook(chapter, nbval_refs.read(ref), PARAMETERS)
        except ValueError as err:
            raise SystemExit(str(err)) from None
        nbformat.write(nb, out / f"{chapter.stem}.ipynb")
    print(f"assembled {len(chapters())} notebooks for nbval in {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--assemble"]:
        if len(args) != 2:
            raise SystemExit("usage: update_nbval_refs.py --assemble DIR")
        assemble(Path(args[1]))
    else:
        regenerate(args)
