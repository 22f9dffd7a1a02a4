"""Compute missing results elsewhere: local processes or SLURM jobs, through ``submitit``.

:func:`springblock.results.run` computes what is missing in its own process by default. Given an
executor, it hands the missing configurations over instead: :class:`SubmititExecutor` splits them
into ``jobs`` contiguous chunks (neighbouring configurations share a training stack) and submits
one job per chunk with submitit — ``kind="slurm"`` as a SLURM job array, ``kind="local"`` as local
processes (the same jobs, runnable without a scheduler). Each job runs ``results.run`` on its chunk
with the shared cache as root, so every finished result is stored as it finishes, under the same
keys and locks as in-process runs; the caller shows a progress bar over stored results, then reads
them. Rerunning resumes: only what is still missing is submitted. submitit does the submission,
the logs (``folder``) and the requeueing; nothing here schedules.

A job's results are bitwise those of an in-process run on the same kind of device (the engine's
numbers do not depend on which networks share a stack).
"""
from __future__ import annotations

import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import validate

KINDS = ("local", "slurm")


def _job(exp, configs, data, device, dtype, root, label, parent: str | None = None, threads: int | None = None) -> int:
    """One job: compute ``configs`` into the shared cache (runs in the job's own process). Its run-log
    lines name the submitting run (``parent``), whose own line holds the sweep's real wall time.
    ``threads``: torch's CPU threads in this job (its share of the cores)."""
    import torch

    from . import results

    if threads is not None:
        torch.set_num_threads(threads)
    with results.tagged(**({"parent": parent} if parent is not None else {})):
        found = results.run(exp, configs, data=data, device=device, dtype=dtype, root=root, progress=False,
                            label=label)
    return found.computed


def split(items: list, parts: int) -> list[list]:
    """``items`` in ``parts`` contiguous chunks of near-equal size (no empty chunk)."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for p in range(parts):
        stop = start + size + (p < extra)
        out.append(items[start:stop])
        start = stop
    return out


@dataclass
class SubmititExecutor:
    """Run missing results as submitit jobs (``kind``: "local" or "slurm").

    ``jobs``: how many jobs to split the missing configurations into. ``folder``: submitit's logs
    and pickles (default ``<cache>/submitit``). SLURM options: ``partition``, ``time_min`` (per job),
    ``gpus_per_job``, ``cpus_per_job``, ``mem_gb``, and ``extra`` (further ``slurm_*`` parameters of
    ``submitit.AutoExecutor.update_parameters``, e.g. ``{"slurm_account": "..."}``). Each job runs
    torch on ``cpus_per_job`` threads; local jobs default to an equal share of this machine's cores,
    since all of them run at once and more threads than cores slow every one of them down.
    """

    kind: str = "local"
    jobs: int = 2
    folder: str | None = None
    partition: str | None = None
    time_min: int = 60
    gpus_per_job: int = 0
    cpus_per_job: int | None = None
    mem_gb: int | None = None
    extra: dict = field(default_factory=dict)
    poll_s: float = 2.0

    def __post_init__(self):
        validate.choice("kind", self.kind, KINDS)
        self.jobs = validate.integer("jobs", self.jobs, 1)
        self.time_min = validate.integer("time_min", self.time_min, 1)
        self.gpus_per_job = validate.integer("gpus_per_job", self.gpus_per_job, 0)
        self.cpus_per_job = validate.optional_integer("cpus_per_job", self.cpus_per_job, 1)

    def executor(self, root: Path):
        import submitit

        folder = Path(self.folder) if self.folder else root / "submitit"
        ex = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=self.kind)
        params = {"timeout_min": self.time_min, "name": "springblock"}
        if self.kind == "slurm":
            params.update(slurm_partition=self.partition, gpus_per_node=self.gpus_per_job or None,
                          cpus_per_task=self.cpus_per_job, mem_gb=self.mem_gb, tasks_per_node=1, **self.extra)
        elif self.gpus_per_job:
            params["gpus_per_node"] = self.gpus_per_job
        ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
        return ex

    def jobs_for(self, exp, configs, *, data, device, dtype, root, label, parent=None) -> list[tuple]:
        """The argument tuples of the jobs that :meth:`compute` submits (one per chunk)."""
        chunks = split(list(configs), self.jobs)
        return [(exp, chunk, data, device, dtype, str(root), label, parent, self.threads(len(chunks))) for chunk in chunks]

    def threads(self, n_jobs: int) -> int | None:
        """torch's threads in each of ``n_jobs`` jobs: ``cpus_per_job``, or for local jobs (all running
        here at once) an equal share of this machine's cores; None leaves torch's default."""
        if self.cpus_per_job is not None or self.kind != "local":
            return self.cpus_per_job
        return max(1, (os.cpu_count() or 1) // n_jobs)

    def compute(self, exp, configs, *, data, device, dtype, root, progress, label) -> tuple[str, int]:
        """Submit the jobs, show stored results as they arrive, and return ``(run id, results the jobs
        computed)`` once every job has ended (a result another writer stored meanwhile is not counted);
        a failed job raises with its log's path. A local job's folder (its pickled arguments, a copy of
        the data, and its logs) is removed once it has succeeded; a failed job's is kept for its log."""
        import uuid

        from . import results
        from .cache import Store

        run_id = uuid.uuid4().hex[:12]
        args = self.jobs_for(exp, configs, data=data, device=device, dtype=dtype, root=root, label=label, parent=run_id)
        ex = self.executor(Path(root))
        jobs = ex.map_array(_job, *zip(*args))
        keys = [k for k, _ in results.keys_for(exp, configs, data=data, device=device, dtype=dtype)]
        store = Store(exp.name, root)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(keys), unit="result", desc=f"{label or exp.name}: {len(jobs)} {self.kind} job(s)")
        try:
            computed = self._wait(jobs, store, keys, bar)
        except BaseException:
            # Stopped (Ctrl-C, SIGTERM, a failed job): local jobs are this machine's processes and stop with
            # the command; SLURM jobs keep filling the shared cache, and a rerun reads what they stored.
            if self.kind == "local":
                _stop_local(jobs)
            raise
        finally:
            if bar is not None:
                bar.close()
        if self.kind == "local":
            for j in jobs:
                shutil.rmtree(j.paths.folder, ignore_errors=True)
            try:  # where submitit staged the array's pickles before the job ids were known
                Path(ex.folder).rmdir()  # the folder pattern itself, ".../%j"
            except OSError:
                pass
        return run_id, computed

    def _wait(self, jobs, store, keys, bar) -> int:
        """Until every job has ended: the progress bar over stored results; a failed job raises.
        Returns how many results the jobs computed (each job's own count)."""
        while not all(j.done() for j in jobs):
            if bar is not None:
                bar.n = sum(store.path(k).exists() for k in keys)
                bar.refresh()
            time.sleep(self.poll_s)
        computed = 0
        for j in jobs:
            try:
                computed += j.result()
            except Exception as err:
                raise RuntimeError(f"{self.kind} job {j.job_id} failed; its log: {j.paths.stderr}") from err
        if bar is not None:
            bar.n = sum(store.path(k).exists() for k in keys)
            bar.refresh()
        return computed


def _stop_local(jobs, grace_s: float = 5.0) -> None:
    """End local jobs with the command that started them, each with its whole process tree: SIGINT to
    the processes that train (they log their stop in their own submitit logs), SIGTERM to submitit's
    controller (which it forwards without a traceback on the terminal, as SIGINT would print), then
    SIGKILL for every process of the tree still running after ``grace_s``. A tree, since killing the
    controller alone orphans the process that trains (seen: jobs training on after their fill was
    stopped; a fill started in the background ignores SIGINT). Every result a job finished is
    already stored."""
    import psutil

    trees = []
    for j in jobs:
        proc = getattr(j, "_process", None)
        if proc is None:  # not started by this process: submitit's own cancel
            j.cancel(check=False)
            continue
        try:
            root = psutil.Process(proc.pid)
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        trees += [root, *children]
        for p, sig in [*((c, signal.SIGINT) for c in children), (root, signal.SIGTERM)]:
            try:
                p.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
    if not trees:
        return
    _, alive = psutil.wait_procs(trees, timeout=grace_s)
    for p in alive:  # still running: it must not run on unsupervised
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace_s)
