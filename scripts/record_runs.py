"""Copy the run log's entries of one scale into the book, so the reproducibility page can show how
long that scale took on a machine other than the one building the book.

    python scripts/record_runs.py paper                      # -> book/_records/paper-scale-cpu.jsonl
    python scripts/record_runs.py paper --name paper-scale-h200 --cache /path/to/cache

Each entry is one run of an experiment (results computed, wall time, hardware, dates) exactly as
:func:`springblock.results.run_log` recorded it, plus the machine's processor and core count; the
lines of the executor jobs a run submitted come with it.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from springblock import devices, results, scales

RECORDS = Path(__file__).resolve().parents[1] / "book" / "_records"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scale", choices=scales.SCALES)
    ap.add_argument("--name", default=None, help="file name without .jsonl (default: <scale>-scale-cpu)")
    ap.add_argument("--cache", default=None, help="result cache root (default: $SPRINGBLOCK_CACHE)")
    args = ap.parse_args()
    log = results.run_log(args.cache)
    ids = {e["run_id"] for e in log if e.get("scale") == args.scale and e.get("run_id")}
    # the lines of executor jobs carry no scale: they belong to the run that submitted them
    entries = [e for e in log if e.get("scale") == args.scale or e.get("parent") in ids]
    if not entries:
        raise SystemExit(f"no runs at scale {args.scale!r} in the run log")
    machine = {"processor": devices.cpu_model(), "cores": os.cpu_count()}
    RECORDS.mkdir(exist_ok=True)
    out = RECORDS / f"{args.name or args.scale + '-scale-cpu'}.jsonl"
    out.write_text("".join(json.dumps({**e, **machine}, sort_keys=True) + "\n" for e in entries), encoding="utf-8")
    print(f"wrote {len(entries)} run(s) to {out}")


if __name__ == "__main__":
    main()
