"""The ``springblock`` console command: run and plot the paper's figures, execute the book, keep the cache.

Each sub-command is a thin wrapper over the package's functions, so everything it does can also be
done from Python. Errors are printed as one line (exit status 2); an unusable file or folder is
named in that line.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap

from . import cli_args, scales

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
  springblock fill --scale paper --budget 120m           compute missing shipped results for two hours
  springblock shipped status                             what is shipped, what is missing, the time left
  springblock shipped verify --per-experiment 2          recompute shipped results and compare (bitwise, or to 4 float32 ulp)

The result cache is $SPRINGBLOCK_CACHE (default ~/.cache/springblock)."""


FIGURES = {"fig1": tuple(f"fig1_{p}" for p in ("noise", "lr", "dropout", "batch")), "fig4": ("fig4_dynamics",)}


def _context(args, cached_only: bool):
    from .results import RunContext

    scales.check(args.device, args.scale, args.seed)
    return RunContext(root=args.cache_dir, executor=None if cached_only else cli_args.executor_for(args), cached_only=cached_only,
                      device=args.device, seed=args.seed, scale=args.scale, progress=not args.quiet)


def _names(args) -> tuple[str, ...]:
    """The experiments a ``run``/``plot`` names: a registry name, or fig1 (its panels) / fig4."""
    from . import experiments

    if args.panel and len(set(args.panel)) != len(args.panel):
        raise ValueError(f"--panel names each panel once, got {' '.join(args.panel)}")
    if args.figure == "fig1":
        return tuple(f"fig1_{p}" for p in (args.panel or ("noise", "lr", "dropout", "batch")))
    if args.panel:
        raise ValueError(f"--panel chooses Fig. 1 panels; it does nothing for {args.figure!r}")
    if args.figure == "fig4":
        return ("fig4_dynamics",)
    if args.figure not in experiments.names():
        raise ValueError(f"experiment must be fig1, fig4 or one of {', '.join(experiments.names())} "
                         f"(springblock run --list), got {args.figure!r}")
    return (args.figure,)


def _figure(args, cached_only: bool):
    """The named experiments' results through springblock.experiments.compute (cached ones reused)."""
    from . import experiments

    ctx = _context(args, cached_only)
    extra = {"seeds": args.seeds} if args.seeds else {}
    return [experiments.compute(name, ctx, **extra) for name in _names(args)]


def _cmd_run(args) -> int:
    import time

    import numpy as np

    from . import experiments, results, shape

    if args.list:
        if args.figure is not None or args.panel or args.seeds:
            raise ValueError("--list lists the experiments; it takes no experiment, --panel or --seeds")
        for name in experiments.names():
            module, function = scales.EXPERIMENTS[name].feeds.split(":")
            print(f"{name:>20}  {module.removeprefix('springblock.')}.{function}")
        return 0
    if args.figure is None:
        raise ValueError("name an experiment (springblock run --list shows them)")
    names, t0 = _names(args), time.perf_counter()
    with results.recording() as seen:
        res = _figure(args, cached_only=False)
    for name, r in zip(names, res):
        if name == "fig4_dynamics":
            for panel, h in r.history.items():
                rc = float(shape.relative_curvature(h.mean(0)[-1]))
                print(f"fig4 ({panel}): final ĉ {rc:+.3f}, test acc {r.test_acc[panel].mean():.2f} %")
            print(f"fig4: {r.computed} run(s) trained")
        elif hasattr(r, "panel"):
            acc, c = r.mean_acc(), r.curvature()
            print(f"fig1 {r.panel.name}: {r.computed}/{r.test_acc.size} cells trained; test acc "
                  f"{np.nanmin(acc):.1f}-{np.nanmax(acc):.1f} %; ĉ {np.nanmin(c):+.2f}..{np.nanmax(c):+.2f}")
            for i, j, n in r.diverged_cells():
                print(f"  {r.cell_name((i, j))}: {n} network(s) without a finite load curve, left out of its averages")
    print(f"{', '.join(names)}: {len(seen)} result(s) at scale {args.scale} in {time.perf_counter() - t0:.0f} s")
    return 0


def _cmd_plot(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from . import plotting

    from pathlib import Path

    if args.figure not in FIGURES:
        raise ValueError(f"plot draws fig1 or fig4, got {args.figure!r}")
    out = Path(args.out)
    if out.is_dir() or args.out.endswith(("/", "\\")):
        raise ValueError(f"--out {args.out} is a folder; name an image file (.png, .pdf or .svg)")
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--out must end in .png, .pdf or .svg, got {args.out!r}")
    if not out.parent.is_dir():
        what = "is a file, not a folder" if out.parent.exists() else "does not exist"
        raise ValueError(f"--out: {out.parent} {what}")
    cli_args.existing_cache(args.cache_dir)  # plot reads results only: a cache named with --cache-dir must be there
    res = _figure(args, cached_only=True)
    fig = plotting.dynamics_figure(res[0]) if args.figure == "fig4" else plotting.fig1_figure(res, split=args.split)
    fig.savefig(out, dpi=150)
    print(f"wrote {out}")
    return 0


def _cmd_book(args) -> int:
    from .notebooks import execute_chapters

    times = execute_chapters(args.out, args.device, args.scale, args.seed, only=args.only)
    print(f"executed {len(times)} chapter(s) in {sum(times.values()):.1f} s -> {args.out}")
    return 0


def _cmd_cache(args) -> int:
    from . import inventory

    root = cli_args.existing_cache(args.cache_dir) if args.action in ("ls", "verify", "prune", "export") else args.cache_dir
    if args.action == "ls":
        rows = inventory.listing(root)
        if not rows:
            print("the cache is empty")
        for r in rows:
            print(f"{r['experiment']:>12}: {r['results']} results ({r['current']} current), "
                  f"{r['bytes'] / 1e6:.1f} MB, devices {r['devices']}, newest {r['newest']}\n"
                  f"{'':>14}{textwrap.shorten(r['labels'], 100)}")
    elif args.action == "verify":
        import secrets

        seed = secrets.randbelow(2**31) if args.seed is None else args.seed
        if args.all and args.sample is not None:
            raise ValueError("--all checks every current result; it takes no --sample")
        args.sample = 5 if args.sample is None else args.sample
        count = "every" if args.all else f"{args.sample} randomly chosen"
        print(f"springblock cache: recomputing {count} current result(s), sample seed {seed} (replay: --seed {seed})")
        rows = inventory.verify(None if args.all else args.sample, root, seed=seed)
        if not rows:
            print("no current results to verify")
        elif not args.all and len(rows) < args.sample:
            print(f"the cache holds only {len(rows)} current result(s): all of them are checked")
        for r in rows:
            print(f"{r['experiment']:>12} {r['key']} ({r['label']}): {r['status']}")
        return 1 if any(not r.get("agrees", True) for r in rows) else 0
    elif args.action == "prune":
        out = inventory.prune(root, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        print(f"{verb}: {len(out['stale'])} stale, {len(out['unreadable'])} unreadable, "
              f"{len(out['orphans'])} orphan temporary, {len(out['locks'])} lock file(s), "
              f"{len(out['jobs'])} ended local job folder(s)"
              + (f"; kept {len(out['held'])} lock(s) that running processes hold" if out["held"] else ""))
    elif args.action == "export":
        if not args.path.strip() or not args.path.endswith((".tar.gz", ".tgz")):
            raise ValueError(f"the archive must be a file name ending in .tar.gz or .tgz, got {args.path!r}")
        print(f"exported {inventory.export(args.path, root)} result(s) to {args.path}")
    elif args.action == "import":
        if not args.path.strip():
            raise ValueError("the archive to import must be a file name (an exported .tar.gz), got ''")
        out = inventory.import_(args.path, root)
        print(f"imported {len(out['accepted'])}, already present {len(out['present'])}, refused {len(out['refused'])}")
        for name, why in out["refused"][:20]:
            print(f"  refused {name}: {why}")
        return 1 if out["refused"] else 0
    return 0


def _cmd_fill(args) -> int:
    from . import fill

    if args.scale != "paper" and os.environ.get("SPRINGBLOCK_SHIPPED") is None:
        # the package's own folder holds paper-scale results only; another scale would be read as theirs
        raise ValueError(f"--scale {args.scale}: fill writes the package's shipped paper-scale results, so the "
                         "scale must be paper (set SPRINGBLOCK_SHIPPED to another folder to fill it at another scale)")
    if args.seed != 0:
        raise ValueError(f"--seed {args.seed}: the shipped results are made at base seed 0 (the seeds the paper's "
                         "settings name), so fill takes no other")
    scales.check(args.device, args.scale, args.seed)
    executor = cli_args.executor_for(args)
    written = fill.fill(args.scale, budget_s=args.budget, executor=executor, root=args.cache_dir,
                        names=tuple(args.only) if args.only else fill.ORDER, progress=not args.quiet)
    print(f"fill: {len(written)} experiment archive(s) written to {_shipped_folder()}")
    return 0


def _span(seconds: float) -> str:
    if seconds <= 0:
        return "no time"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{max(1, round(seconds / 60))} min"


def _shipped_folder():
    from . import shipped

    return shipped.folder()


def _cmd_shipped(args) -> int:
    from . import fill, reproduce, shipped

    if args.action == "status":
        rows = fill.status(args.scale, root=cli_args.existing_cache(args.cache_dir))
        mans = shipped.manifests()
        total_cpu = sum(float(m.get("wall_s") or 0) * float(m.get("cores") or 1) for m in mans.values())
        print(f"shipped results in {shipped.folder()}: {len(mans)} experiment(s), "
              f"{sum(m['bytes'] for m in mans.values()) / 1e6:.1f} MB, {_span(total_cpu)} of CPU time to make")
        for r in rows:
            est = "" if r.estimate_s is None else f", at least {_span(r.estimate_s)} of CPU time left"
            counts = "" if r.found is None else f" {r.found} found" + ("" if not r.missing else f", {r.missing} missing")
            print(f"{r.experiment:>20}: {r.state}{counts}{est}" + (f"  [{r.note}]" if r.note and r.missing is None else ""))
        return 0
    if args.cache_dir is not None:
        raise ValueError("--cache-dir: shipped verify recomputes shipped results in a temporary cache and reads no "
                         "other; drop the option (springblock cache --cache-dir DIR verify checks a cache)")
    rows = shipped.verify(args.per_experiment, seed=args.seed, experiments=args.only, max_seconds=args.max_seconds)
    checked = [r for r in rows if "agrees" in r]
    different = [r for r in checked if not r["agrees"]]
    close = sum(r["agrees"] and r["status"].startswith("equal to") for r in checked)
    transient = sum(bool(r.get("transient")) for r in checked)
    unrecorded = sum(bool(r.get("unrecorded_cpu")) for r in rows)
    costly = sorted({r["experiment"] for r in rows if r.get("too_costly")})
    print(f"verified {len(checked) - len(different)} shipped result(s) ({close} of them equal to within "
          f"{reproduce.ULP_TOLERANCE} float32 ulp, the rest bitwise"
          + (f"; {transient} only on a second recompute" if transient else "")
          + f"), {len(different)} different, {len(rows) - len(checked)} skipped"
          + (f" ({unrecorded} after recomputing: a stable difference, on a result whose record does not name its "
             "CPU's instruction set)" if unrecorded else "")
          + (f"; not recomputed, over --max-seconds: {', '.join(costly)}" if costly else ""))
    return 1 if different else 0


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="springblock", formatter_class=fmt, epilog=EXAMPLES,
                                     description="Regenerate the figures of the spring-block theory of feature "
                                                 "learning (Shi, Pan, Dokmanic, PRL 2025).")
    sub = parser.add_subparsers(dest="command", required=True)

    for name, func, text in (("run", _cmd_run, "train (or read from the cache) a figure's networks"),
                             ("plot", _cmd_plot, "draw a figure from the cache; trains nothing")):
        p = sub.add_parser(name, help=text, description=text, formatter_class=fmt, epilog=EXAMPLES)
        if name == "run":
            p.add_argument("figure", nargs="?", metavar="experiment",
                           help="fig1 (its panels), fig4, or any experiment of `springblock run --list`")
        else:
            p.add_argument("figure", choices=tuple(FIGURES), help="fig1: phase diagrams; fig4: load dynamics")
        cli_args.add_run_params(p)
        p.add_argument("--panel", nargs="+", choices=("noise", "lr", "dropout", "batch"),
                       help="fig1 panels (default: all four)")
        p.add_argument("--seeds", type=cli_args.positive, default=None, help="networks per cell (default: the scale's)")
        cli_args.add_cache_dir(p)
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        if name == "run":
            p.add_argument("--list", action="store_true", help="list the experiments that can be run by name")
            cli_args.add_executor_args(p, "process", 4, "where missing cells train: this process (default), local "
                                                "processes or SLURM jobs")
        else:
            p.add_argument("--out", required=True, help="image file to write (png, pdf, svg)")
            p.add_argument("--split", default="train", choices=("train", "test"), help="load curves of which set")
        p.set_defaults(func=func)

    _add_store_parsers(sub, fmt)
    return parser


def _add_store_parsers(sub, fmt) -> None:
    """The commands that fill, check and move stored results: fill, shipped, cache (and book)."""
    fl = sub.add_parser("fill", formatter_class=fmt, epilog=EXAMPLES,
                        help="compute the shipped paper-scale results that are missing, within a time budget",
                        description="Compute the experiments not yet shipped (in springblock.fill.ORDER), store each "
                                    "result as it finishes and export what was done into the package's shipped results.")
    cli_args.add_run_params(fl)
    fl.set_defaults(scale="paper")
    fl.add_argument("--budget", type=cli_args.duration, default=None, help="stop cleanly after this long (120m, 2h, 300s)")
    fl.add_argument("--only", nargs="+", help="these experiments (default: all, in the fill's order)")
    cli_args.add_cache_dir(fl)
    fl.add_argument("--quiet", action="store_true", help="no progress bar")
    cli_args.add_executor_args(fl, "local", 2, "where missing results train (default: local processes)")
    fl.set_defaults(func=_cmd_fill)

    sh = sub.add_parser("shipped", formatter_class=fmt, epilog=EXAMPLES,
                        help="what the shipped paper-scale results hold; recompute a sample")
    cli_args.add_cache_dir(sh, "result cache root also counted (default: $SPRINGBLOCK_CACHE)")
    sacts = sh.add_subparsers(dest="action", required=True)
    st = sacts.add_parser("status", help="per experiment: shipped, partial, stale or missing, and the time left")
    st.add_argument("--scale", default="paper", choices=scales.SCALES, help="at which scale (default: paper)")
    ver = sacts.add_parser("verify", help="recompute randomly chosen shipped results and compare them "
                                          "(bitwise, float arrays to 4 float32 ulp)")
    ver.add_argument("--per-experiment", type=cli_args.positive, default=2, help="results per experiment (default: 2)")
    ver.add_argument("--seed", type=cli_args.seed_value, default=None, help="the sample's seed (default: a fresh one, printed)")
    ver.add_argument("--only", nargs="+", help="these shipped experiments (default: all)")
    ver.add_argument("--max-seconds", type=cli_args.seconds, default=None,
                     help="skip, by name, experiments whose results took more CPU-seconds each than this to make "
                          "(by their manifests; default: no limit)")
    sh.set_defaults(func=_cmd_shipped)

    book = sub.add_parser("book", help="execute the book's chapters with papermill", formatter_class=fmt,
                          epilog=EXAMPLES)
    cli_args.add_run_params(book)
    book.add_argument("--out", default="executed", type=cli_args.folder_name,
                      help="output folder for executed .ipynb files (created)")
    book.add_argument("--only", nargs="+", help="chapter name prefixes, e.g. 01 03_spring_block")
    book.set_defaults(func=_cmd_book)

    cache = sub.add_parser("cache", help="list, verify, prune, export or import cached results", formatter_class=fmt,
                           epilog=EXAMPLES)
    cli_args.add_cache_dir(cache)
    acts = cache.add_subparsers(dest="action", required=True)
    acts.add_parser("ls", help="what is cached, by experiment, with provenance")
    v = acts.add_parser("verify", help="recompute a random sample of results and compare")
    v.add_argument("--sample", type=cli_args.positive, default=None, help="how many results, >= 1 (default: 5)")
    v.add_argument("--all", action="store_true", help="every current result")
    v.add_argument("--seed", type=cli_args.seed_value, default=None, help="the sample's seed (default: a fresh one, printed)")
    pr = acts.add_parser("prune", help="remove results no current key can reach")
    pr.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    for name, text in (("export", "write current results to a .tar.gz"), ("import", "read an exported .tar.gz")):
        a = acts.add_parser(name, help=text)
        a.add_argument("path", help="the archive")
    cache.set_defaults(func=_cmd_cache)


def stop_on_sigterm() -> None:
    """Make SIGTERM (``kill``'s default, a scheduler's pre-emption) end the process the way Ctrl-C
    does, by an exception: finished results are already stored, and the run log then also keeps the
    time spent on them."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(Stopped(128 + signum)))


class Stopped(int):
    """The exit status SIGTERM's handler exits with, so that :func:`main` can say it was stopped."""


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .results import MissingResults

    if args.command in ("run", "book", "fill"):
        stop_on_sigterm()

    try:
        return args.func(args)
    except (KeyboardInterrupt, SystemExit) as err:  # Ctrl-C or SIGTERM: one line, not a traceback
        code = 130 if isinstance(err, KeyboardInterrupt) else err.code
        if isinstance(err, KeyboardInterrupt) or isinstance(code, Stopped):
            print(f"springblock {args.command}: stopped; every result finished so far is stored", file=sys.stderr)
            return int(code)
        raise
    except OSError as err:  # one line naming the path
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        print(f"springblock {args.command}: error:{where} {err.strerror or err}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, MissingResults) as err:
        print(f"springblock {args.command}: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
