"""The ``springblock`` console command: run and plot the paper's figures, execute the book, keep the cache.

Each sub-command is a thin wrapper over the package's functions, so everything it does can also be
done from Python. Errors are printed as one line (exit status 2); an unusable file or folder is
named in that line.
"""
from __future__ import annotations

import argparse
import signal
import sys
import textwrap

from . import scales

EXAMPLES = """\
examples:
  springblock run fig1 --panel noise --scale default     train (or read) one Fig. 1 panel
  springblock run fig1 --scale paper --device cuda       all four panels, 10 seeds per cell
  springblock run fig1 --scale paper --executor slurm --partition gpu --gpus-per-job 1 --jobs 8
  springblock plot fig1 --scale default --out fig1.png   draw it from the cache (trains nothing)
  springblock book --scale quick --out executed/         execute every chapter with papermill
  springblock cache ls                                   what the result cache holds
  springblock cache export results.tar.gz                move results to another machine ...
  springblock cache import results.tar.gz                ... and read them in there

The result cache is $SPRINGBLOCK_CACHE (default ~/.cache/springblock)."""


def _add_run_params(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", choices=scales.DEVICES, help="where to compute (default: cpu)")
    p.add_argument("--scale", default="default", choices=scales.SCALES, help="experiment size (default: default)")
    p.add_argument("--seed", type=int, default=0, help="base seed, >= 0 (default: 0)")


def _seeds(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of seeds >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def _executor(args):
    if args.executor == "process":
        return None
    from .executors import SubmititExecutor

    return SubmititExecutor(kind=args.executor, jobs=args.jobs, partition=args.partition, time_min=args.time,
                            gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job, mem_gb=args.mem_gb,
                            folder=args.log_dir)


def _figure(args, cached_only: bool):
    """The figure's results through springblock.experiments.fig1 (cached cells are reused)."""
    import os

    from .experiments import fig1

    scales.check(args.device, args.scale, args.seed)
    if args.cache_dir:
        os.environ["SPRINGBLOCK_CACHE"] = args.cache_dir
    common = dict(device=args.device, progress=not args.quiet, seed=args.seed, cached_only=cached_only,
                  executor=None if cached_only else _executor(args))
    if args.figure == "fig4":
        s = dict(scales.settings("fig4_dynamics", args.scale))
        if args.seeds:
            s["seeds"] = args.seeds
        return fig1.run_dynamics(**s, **common)
    out = []
    for name in args.panel or fig1.PANELS:
        s = dict(scales.settings(f"fig1_{name}", args.scale))
        if args.seeds:
            s["seeds"] = args.seeds
        out.append(fig1.run_panel(name, **s, **common))
    return out


def _cmd_run(args) -> int:
    import numpy as np

    from . import shape

    res = _figure(args, cached_only=False)
    if args.figure == "fig4":
        for name, h in res.history.items():
            rc = float(shape.relative_curvature(h.mean(0)[-1]))
            print(f"fig4 ({name}): final ĉ {rc:+.3f}, test acc {res.test_acc[name].mean():.2f} %")
        print(f"fig4: {res.computed} run(s) trained")
        return 0
    for r in res:
        acc, c = r.mean_acc(), r.curvature()
        print(f"fig1 {r.panel.name}: {r.computed}/{r.test_acc.size} cells trained; test acc "
              f"{np.nanmin(acc):.1f}-{np.nanmax(acc):.1f} %; ĉ {np.nanmin(c):+.2f}..{np.nanmax(c):+.2f}")
    return 0


def _cmd_plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from . import plotting

    res = _figure(args, cached_only=True)
    fig = plotting.dynamics_figure(res) if args.figure == "fig4" else plotting.fig1_figure(res, split=args.split)
    fig.savefig(args.out, dpi=150)
    print(f"wrote {args.out}")
    return 0


def _cmd_book(args) -> int:
    from .notebooks import execute_chapters

    times = execute_chapters(args.out, args.device, args.scale, args.seed, only=args.only)
    print(f"executed {len(times)} chapter(s) in {sum(times.values()):.1f} s -> {args.out}")
    return 0


def _cmd_cache(args) -> int:
    from . import inventory

    root = args.cache_dir
    if args.action == "ls":
        rows = inventory.listing(root)
        if not rows:
            print("the cache is empty")
        for r in rows:
            print(f"{r['experiment']:>12}: {r['results']} results ({r['current']} current), "
                  f"{r['bytes'] / 1e6:.1f} MB, devices {r['devices']}, newest {r['newest']}\n"
                  f"{'':>14}{textwrap.shorten(r['labels'], 100)}")
    elif args.action == "verify":
        rows = inventory.verify(args.sample, root, seed=args.seed)
        for r in rows:
            print(f"{r['experiment']:>12} {r['key']} ({r['label']}): {r['status']}")
        return 1 if any(r["status"] == "DIFFERENT" for r in rows) else 0
    elif args.action == "prune":
        out = inventory.prune(root, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        print(f"{verb}: {len(out['stale'])} stale, {len(out['unreadable'])} unreadable, "
              f"{len(out['orphans'])} orphan temporary, {len(out['locks'])} lock file(s)")
    elif args.action == "export":
        print(f"exported {inventory.export(args.path, root)} result(s) to {args.path}")
    elif args.action == "import":
        out = inventory.import_(args.path, root)
        print(f"imported {len(out['accepted'])}, already present {len(out['present'])}, refused {len(out['refused'])}")
        for name, why in out["refused"][:20]:
            print(f"  refused {name}: {why}")
        return 1 if out["refused"] else 0
    return 0


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="springblock", formatter_class=fmt, epilog=EXAMPLES,
                                     description="Regenerate the figures of the spring-block theory of feature "
                                                 "learning (Shi, Pan, Dokmanic, PRL 2025).")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, func, text in (("run", _cmd_run, "train (or read from the cache) a figure's networks"),
                             ("plot", _cmd_plot, "draw a figure from the cache; trains nothing")):
        p = sub.add_parser(name, help=text, description=text, formatter_class=fmt, epilog=EXAMPLES)
        p.add_argument("figure", choices=("fig1", "fig4"), help="fig1: phase diagrams; fig4: load dynamics")
        _add_run_params(p)
        p.add_argument("--panel", nargs="+", choices=("noise", "lr", "dropout", "batch"),
                       help="fig1 panels (default: all four)")
        p.add_argument("--seeds", type=_seeds, default=None, help="networks per cell (default: the scale's)")
        p.add_argument("--cache-dir", default=None, help="result cache root (default: $SPRINGBLOCK_CACHE)")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        if name == "run":
            g = p.add_argument_group("executors (submitit)")
            g.add_argument("--executor", default="process", choices=("process", "local", "slurm"),
                           help="where missing cells train: this process (default), local processes or SLURM jobs")
            g.add_argument("--jobs", type=int, default=4, help="jobs to split the missing cells into (default: 4)")
            g.add_argument("--partition", default=None, help="SLURM partition")
            g.add_argument("--time", type=int, default=60, help="time limit per job in minutes (default: 60)")
            g.add_argument("--gpus-per-job", type=int, default=0, help="GPUs per job (default: 0)")
            g.add_argument("--cpus-per-job", type=int, default=None, help="CPUs per job")
            g.add_argument("--mem-gb", type=int, default=None, help="memory per job in GB")
            g.add_argument("--log-dir", default=None, help="submitit's logs (default: <cache>/submitit)")
        else:
            p.add_argument("--out", required=True, help="image file to write (png, pdf, svg)")
            p.add_argument("--split", default="train", choices=("train", "test"), help="load curves of which set")
        p.set_defaults(func=func)

    book = sub.add_parser("book", help="execute the book's chapters with papermill", formatter_class=fmt,
                          epilog=EXAMPLES)
    _add_run_params(book)
    book.add_argument("--out", default="executed", help="output folder for executed .ipynb files (created)")
    book.add_argument("--only", nargs="+", help="chapter name prefixes, e.g. 01 03_spring_block")
    book.set_defaults(func=_cmd_book)

    cache = sub.add_parser("cache", help="list, verify, prune, export or import cached results", formatter_class=fmt,
                           epilog=EXAMPLES)
    cache.add_argument("--cache-dir", default=None, help="result cache root (default: $SPRINGBLOCK_CACHE)")
    acts = cache.add_subparsers(dest="action", required=True)
    acts.add_parser("ls", help="what is cached, by experiment, with provenance")
    v = acts.add_parser("verify", help="recompute a random sample of results and compare")
    v.add_argument("--sample", type=int, default=5, help="how many results (default: 5)")
    v.add_argument("--seed", type=int, default=0, help="which sample (default: 0)")
    pr = acts.add_parser("prune", help="remove results no current key can reach")
    pr.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    for name, text in (("export", "write current results to a .tar.gz"), ("import", "read an exported .tar.gz")):
        a = acts.add_parser(name, help=text)
        a.add_argument("path", help="the archive")
    cache.set_defaults(func=_cmd_cache)
    return parser


def stop_on_sigterm() -> None:
    """Make SIGTERM (``kill``'s default, a scheduler's pre-emption) end the process the way Ctrl-C
    does, by an exception: finished results are already stored, and the run log then also keeps the
    time spent on them."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .results import MissingResults

    if args.command in ("run", "book"):
        stop_on_sigterm()

    try:
        return args.func(args)
    except OSError as err:  # one line naming the path
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        print(f"springblock {args.command}: error:{where} {err.strerror or err}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, MissingResults) as err:
        print(f"springblock {args.command}: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
