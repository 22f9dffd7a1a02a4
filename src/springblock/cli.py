"""The ``springblock`` console command.

    springblock book --out executed --device cuda --scale paper   # every chapter via papermill

Sub-commands register themselves in :func:`build_parser`; each one is a thin wrapper over the
package's functions so everything the command does can also be done from Python.
"""
from __future__ import annotations

import argparse
import sys

from . import scales


def _add_run_params(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", choices=scales.DEVICES, help="where to compute")
    p.add_argument("--scale", default="default", choices=scales.SCALES, help="experiment size")
    p.add_argument("--seed", type=int, default=0, help="base seed (>= 0)")


def _cmd_book(args: argparse.Namespace) -> int:
    from .notebooks import execute_chapters

    times = execute_chapters(args.out, args.device, args.scale, args.seed, only=args.only)
    print(f"executed {len(times)} chapter(s) in {sum(times.values()):.1f} s -> {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="springblock", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    book = sub.add_parser("book", help="execute the book's chapters with papermill")
    _add_run_params(book)
    book.add_argument("--out", default="executed", help="output folder for executed .ipynb files")
    book.add_argument("--only", nargs="*", help="chapter name prefixes, e.g. 01 03_spring_block")
    book.set_defaults(func=_cmd_book)

    # --- further sub-commands (sweeps: run / plot) are added below ---------------------
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, RuntimeError, FileNotFoundError) as err:
        print(f"springblock {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
