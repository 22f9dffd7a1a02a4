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


def _results(args):
    """The requested figure's results via springblock.sweep (cached cells are reused)."""
    from . import sweep

    scales.check(args.device, args.scale, args.seed)
    common = dict(scale=args.scale, device=args.device, seeds=args.seeds, cache_dir=args.cache_dir,
                  progress=not args.quiet, seed=args.seed)
    if args.figure == "fig4":
        return sweep.run_dynamics(**common)
    return [sweep.run_panel(name, **common) for name in (args.panel or sweep.PANELS)]


def _cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    res = _results(args)
    if args.figure == "fig4":
        from .separation import relative_curvature

        for name, h in res.history.items():
            rc = relative_curvature(h.mean(0)[-1])
            print(f"fig4 ({name}): final c/drop {rc:+.3f}, test acc {res.test_acc[name].mean():.2f} %")
        print(f"fig4: {res.computed} run(s) trained")
        return 0
    for r in res:
        acc, c = r.mean_acc(), r.curvature()
        print(f"fig1 {r.panel.name}: {r.computed}/{r.test_acc.size} cells trained; test acc "
              f"{np.nanmin(acc):.1f}-{np.nanmax(acc):.1f} %; c/drop {np.nanmin(c):+.2f}..{np.nanmax(c):+.2f}")
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from . import plotting

    res = _results(args)
    if args.figure == "fig4":
        fig = plotting.dynamics_figure(res)
    else:
        fig = plotting.fig1_figure(res, split=args.split, ncols=min(4, len(res)))
    fig.savefig(args.out, dpi=150)
    print(f"wrote {args.out}")
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
    # --- run / plot: Fig. 1 panels and Fig. 4 (left) dynamics (springblock.sweep) ----------
    for name, func, text in (("run", _cmd_run, "train (or read from the cache) a figure's networks"),
                             ("plot", _cmd_plot, "draw a figure from its cached runs (training what is missing)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("figure", choices=("fig1", "fig4"), help="fig1: phase diagrams; fig4: load dynamics")
        _add_run_params(p)
        p.add_argument("--panel", nargs="*", choices=("noise", "lr", "dropout", "batch"),
                       help="fig1 panels (default: all four)")
        p.add_argument("--seeds", type=int, default=None, help="networks per cell (default: the scale's)")
        p.add_argument("--cache-dir", default=None, help="result cache root (default: $SPRINGBLOCK_CACHE)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        if name == "plot":
            p.add_argument("--out", required=True, help="image file to write (png, pdf, svg)")
            p.add_argument("--split", default="train", choices=("train", "test"), help="load curves of which set")
        p.set_defaults(func=func)
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
