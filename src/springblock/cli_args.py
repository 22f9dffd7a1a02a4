"""The ``springblock`` command's arguments: value types that refuse bad input by name, the run
parameters every computing command shares, and the submitit executor the job options ask for."""
from __future__ import annotations

import argparse
import os

from . import scales


def add_run_params(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", choices=scales.DEVICES, help="where to compute (default: cpu)")
    p.add_argument("--scale", default="default", choices=scales.SCALES, help="experiment size (default: default)")
    p.add_argument("--seed", type=int, default=0, help=f"base seed, in [0, {scales.MAX_SEED}] (default: 0)")


def _parsed(text: str, convert, what: str):
    try:
        return convert(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def positive(text: str) -> int:
    n = _parsed(text, int, "a whole number >= 1")
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {n}")
    return n


def seconds(text: str) -> float:
    x = _parsed(text, float, "a number of seconds > 0")
    if not 0 < x < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, inf), got {text}")
    return x


def seed_value(text: str) -> int:
    n = _parsed(text, int, "a whole number >= 0")
    if not 0 <= n <= scales.MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be in [0, {scales.MAX_SEED}], got {n}")
    return n


def folder_name(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, got an empty string")
    return text


def add_cache_dir(p: argparse.ArgumentParser, text: str = "result cache root (default: $SPRINGBLOCK_CACHE)") -> None:
    p.add_argument("--cache-dir", default=None, type=folder_name, help=text)


def existing_cache(root):
    """``root`` for commands that read a cache: a folder named with --cache-dir must exist (the
    default cache may not exist yet: it is then empty)."""
    from pathlib import Path

    if root is None:
        return None
    base = Path(root)
    if not base.exists():
        raise ValueError(f"--cache-dir: {base} does not exist (no result cache there)")
    if not base.is_dir():
        raise ValueError(f"--cache-dir: {base} is not a folder")
    return base


JOB_OPTIONS = {"jobs": "--jobs", "partition": "--partition", "time": "--time", "gpus_per_job": "--gpus-per-job",
                "cpus_per_job": "--cpus-per-job", "mem_gb": "--mem-gb", "log_dir": "--log-dir"}


def executor_for(args):
    """The submitit executor the options ask for (None: this process); options that would do
    nothing in that context, or are out of range, are refused by name before any work."""
    given = [flag for opt, flag in JOB_OPTIONS.items() if getattr(args, opt) is not None]
    if args.executor == "process":
        if given:
            raise ValueError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to submitit jobs "
                             "(--executor local or slurm); "
                             "with --executor process everything runs in this process")
        return None
    for opt, lo in (("jobs", 1), ("time", 1), ("gpus_per_job", 0), ("cpus_per_job", 1), ("mem_gb", 1)):
        value = getattr(args, opt)
        if value is not None and value < lo:
            raise ValueError(f"{JOB_OPTIONS[opt]} must be >= {lo}, got {value}")
    if args.log_dir is not None and not args.log_dir.strip():
        raise ValueError("--log-dir must name a folder, got an empty string")
    if args.executor == "local":
        if args.partition is not None:
            raise ValueError("--partition names a SLURM partition; it does nothing with --executor local")
        if args.mem_gb is not None:
            raise ValueError("--mem-gb asks SLURM for memory; it does nothing with --executor local")
        cores = os.cpu_count() or 1
        if args.cpus_per_job is not None and args.cpus_per_job > cores:
            raise ValueError(f"--cpus-per-job must be in [1, {cores}] with --executor local (this machine's cores), "
                             f"got {args.cpus_per_job}")
        if args.gpus_per_job:
            import torch

            if not torch.cuda.is_available():
                raise ValueError(f"--gpus-per-job {args.gpus_per_job}: this machine has no CUDA GPU for local jobs")
    from .executors import SubmititExecutor

    def value(opt, default):
        return default if getattr(args, opt) is None else getattr(args, opt)

    return SubmititExecutor(kind=args.executor, jobs=value("jobs", args.default_jobs), partition=args.partition,
                            time_min=value("time", 60), gpus_per_job=value("gpus_per_job", 0),
                            cpus_per_job=args.cpus_per_job, mem_gb=args.mem_gb, folder=args.log_dir)


def duration(text: str) -> float:
    """``90m``, ``2h``, ``45s`` or plain seconds -> seconds (> 0)."""
    units = {"s": 1, "m": 60, "h": 3600}
    num, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    try:
        value = float(num) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a duration such as 120m, 2h or 300s, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive duration, got {text!r}")
    return value


def add_executor_args(p: argparse.ArgumentParser, executor: str, jobs: int, where: str) -> None:
    g = p.add_argument_group("executors (submitit)")
    g.add_argument("--executor", default=executor, choices=("process", "local", "slurm"), help=where)
    g.add_argument("--jobs", type=int, default=None, help=f"jobs to split the missing results into (default: {jobs})")
    g.add_argument("--partition", default=None, help="SLURM partition (--executor slurm)")
    g.add_argument("--time", type=int, default=None, help="time limit per job in minutes (default: 60)")
    g.add_argument("--gpus-per-job", type=int, default=None, help="GPUs per job (default: 0)")
    g.add_argument("--cpus-per-job", type=int, default=None, help="CPUs per job")
    g.add_argument("--mem-gb", type=int, default=None, help="memory per job in GB")
    g.add_argument("--log-dir", default=None, help="submitit's logs (default: <cache>/submitit)")
    p.set_defaults(default_jobs=jobs)
