"""Configurations in, cached results out: the one key function and the one orchestrator.

Every expensive result of the package — a Fig. 1 cell, a chapter-5 protocol, a chain grid — is an
:class:`Experiment` (a name, the code it depends on, and a function that computes a batch of
configurations) applied to a list of configurations by :func:`run`, which

1. checks the data and the cache folder before any work;
2. keys every configuration (:func:`key`) by its full configuration, a content hash of the data, a
   fingerprint of the source code the experiment depends on (:func:`springblock.fingerprint.code_fingerprint`, computed
   from the modules and everything of ``springblock`` they import — no counter to bump by hand),
   the versions of the libraries that code uses, the dtype and the device type;
3. loads what is stored, takes a lock on each missing key, computes the missing configurations and
   stores each result as soon as it is finished (so an interrupted run loses nothing and resumes);
   keys locked by another process are waited for and then read, never computed twice;
4. appends one line per run that computed something to ``<root>/runs.jsonl`` (experiment, label,
   how many results, wall time, device, date): the book's reproducibility page reads it. Jobs of an
   executor log their own lines, tagged with the submitting run's id (``parent``); the submitting run's
   line holds the sweep's real wall time.

An ``executor`` (:mod:`springblock.executors`) can compute the missing configurations elsewhere —
local processes, SLURM jobs — which store into the same cache; ``run`` then waits and reads.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from filelock import Timeout

from . import __version__, fingerprint
from .cache import Store, check_writable, clean_orphans, wait_for
from .devices import cpu_type, device_name, torch_threads
from .paths import cache_dir

# ---------------------------------------------------------------------------------------------
# The key
# ---------------------------------------------------------------------------------------------
def canonical(obj: Any) -> Any:
    """JSON-able, order-independent form of a configuration (tuples → lists, NumPy → Python)."""
    if isinstance(obj, Mapping):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return canonical(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"configuration value {obj!r} of type {type(obj).__name__} is not JSON-able")


def key(experiment: str, config: Mapping[str, Any], *, code: Sequence[str], data_hash: str | None = None,
        dtype: str | None = None, device_type: str | None = None) -> tuple[str, dict]:
    """The cache key of one result and the record it is computed from.

    The record holds the experiment's name, the full configuration, the data's content hash, the
    code fingerprint (with the modules it covers), the versions of the libraries that code uses,
    the dtype and the device type. The key is a hash of all of it, so a change to any of them —
    an edited engine, other digits, a torch upgrade — gives a new key and a fresh computation.
    """
    digest, covered, libs = fingerprint.code_fingerprint(code)
    record = {"experiment": experiment, "config": canonical(config), "data": data_hash, "code": digest,
              "modules": list(covered), "versions": fingerprint.library_versions(libs), "dtype": dtype, "device": device_type}
    return record_key(record), record


KEY_FIELDS = ("experiment", "config", "data", "code", "versions", "dtype", "device")  # what a key hashes


def record_key(record: Mapping[str, Any]) -> str:
    """The key a record (or a stored result's provenance, which holds it) hashes to."""
    blob = json.dumps({k: record.get(k) for k in KEY_FIELDS}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# Experiments and the orchestrator
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    """What a compute function is given besides its configurations."""

    data: Any  # the dataset (or None for data-free experiments)
    device: Any  # torch.device, or None for torch-free experiments
    dtype: str | None
    progress: bool  # show progress (compute functions with reports_progress=True draw their own bar)
    label: str
    root: Path | None = None  # the cache root the results go to (where an earlier stage's results are read)


@dataclass(frozen=True)
class Experiment:
    """A family of results: a cache namespace, the code they depend on, and how to compute them.

    ``compute(configs, ctx, emit)`` computes the given configurations and calls ``emit(position,
    arrays)`` for each as soon as it is finished (positions index ``configs``; ``arrays`` is a flat
    dict of NumPy arrays). ``code`` names the modules whose source the results depend on (their
    ``springblock`` imports are followed). ``torch``: whether ``device`` and ``dtype`` matter.
    ``reports_progress``: the compute function shows its own progress bar when ``ctx.progress``.
    """

    name: str
    code: tuple[str, ...]
    compute: Callable[[list[dict], "Context", Callable[[int, dict], None]], None]
    torch: bool = True
    reports_progress: bool = False

    def __post_init__(self):
        REGISTRY[self.name] = self


REGISTRY: dict[str, "Experiment"] = {}  # every Experiment by name (for the cache commands)


class Results(list):
    """The results of a :func:`run`, in order; ``computed`` says how many were computed in it."""

    computed: int = 0


# What every run-log line written inside a :func:`tagged` block carries (the scale an experiment was
# computed at; a job's submitting run): scoped to the block, never a module-wide setting.
_TAGS: contextvars.ContextVar[dict] = contextvars.ContextVar("springblock_run_tags", default={})  # noqa: B039 - never mutated


@contextlib.contextmanager
def tagged(**tags: str):
    """Every run-log line written in this block carries ``tags`` (inner blocks add to outer ones)."""
    token = _TAGS.set({**_TAGS.get(), **tags})
    try:
        yield
    finally:
        _TAGS.reset(token)


def _log_run(root: Path, entry: dict) -> None:
    entry = {**_TAGS.get(), **entry}
    path = root / "runs.jsonl"
    with Store("runs", root).lock("runs-log"):  # one writer at a time
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")


def run_log(root: str | Path | None = None) -> list[dict]:
    """Every run recorded under ``root`` (oldest first); unreadable lines are skipped."""
    path = (Path(root) if root is not None else cache_dir()) / "runs.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


def device_type(device) -> str:
    """The device *type* a result is keyed by ("cpu"/"cuda"); needs no CUDA to be present."""
    name = str(device)
    kind = name.split(":")[0]
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    return kind


def _dtype(dtype) -> str:
    from . import validate

    return validate.choice("dtype", str(dtype).removeprefix("torch."), ("float32", "float64"))


def keys_for(exp: Experiment, configs: Sequence[Mapping], *, data=None, device="cpu", dtype="float32"):
    """The keys (and records) ``run`` would use for ``configs``."""
    data_hash = None
    if data is not None:
        from .data import content_hash

        data_hash = content_hash(data)
    dev, dt = (device_type(device), _dtype(dtype)) if exp.torch else (None, None)
    return [key(exp.name, c, code=exp.code, data_hash=data_hash, dtype=dt, device_type=dev) for c in configs]


class MissingResults(LookupError):
    """Raised by ``run(..., cached_only=True)`` when some results are not in the cache."""


@dataclass(frozen=True)
class RunContext:
    """How results are obtained, given once to :func:`springblock.experiments.compute` and seen by
    every :func:`run` inside it (arguments a call passes itself still win).

    ``root``: the cache root (None: ``$SPRINGBLOCK_CACHE``). ``executor``: where missing results
    are computed (None: this process). ``cached_only``: read only, raise :class:`MissingResults`.
    ``device``, ``seed`` and ``scale``: what :func:`springblock.experiments.compute` passes on.
    """

    root: str | Path | None = None
    executor: Any = None
    cached_only: bool = False
    device: str = "cpu"
    seed: int = 0
    scale: str = "default"
    progress: bool = True

    def __post_init__(self):  # refused here, by field, before any experiment runs
        from . import validate
        from .devices import DEVICES

        for name in ("cached_only", "progress"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"RunContext.{name} must be True or False, got {getattr(self, name)!r}")
        if self.executor is not None and not callable(getattr(self.executor, "compute", None)):
            raise ValueError(f"RunContext.executor must be None (compute in this process) or an executor such as "
                             f"springblock.executors.Executor('local'), got {self.executor!r}")
        if self.root is not None and not (isinstance(self.root, (str, Path)) and str(self.root).strip()):
            raise ValueError(f"RunContext.root must be a folder (a str or Path) or None, got {self.root!r}")
        validate.choice("RunContext.device", self.device, DEVICES)
        validate.integer("RunContext.seed", self.seed, 0)


_CONTEXT: contextvars.ContextVar[RunContext] = contextvars.ContextVar("springblock_run_context", default=RunContext())  # noqa: B039 - frozen
_RECORDERS: contextvars.ContextVar[tuple] = contextvars.ContextVar("springblock_recorders", default=())


@contextlib.contextmanager
def using(ctx: RunContext):
    """Every :func:`run` in this block takes its root, executor and cached-only from ``ctx``."""
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)


@contextlib.contextmanager
def recording():
    """Collect ``(namespace, key)`` of every result :func:`run` returns in this block, in order
    (what an experiment consists of: the shipped-results export packs exactly these)."""
    seen: dict[tuple[str, str], None] = {}
    token = _RECORDERS.set(_RECORDERS.get() + (seen,))
    try:
        yield seen
    finally:
        _RECORDERS.reset(token)


def stack(found: Sequence[Mapping], shape: tuple, fields: Sequence[str] | None = None, dtype=None) -> dict:
    """Each field of the per-result dicts ``found`` (in grid order) stacked into ``shape`` + the
    field's own shape: how a grid of results becomes one array per field. ``fields``: only these
    (default: every field of the first result); ``dtype``: cast to it (default: kept)."""
    if len(found) != int(np.prod(shape, dtype=int)):
        raise ValueError(f"stack: {len(found)} results cannot fill a grid of shape {tuple(shape)}")
    fields = list(found[0]) if fields is None else list(fields)
    missing = [k for k in fields if k not in found[0]]
    if missing:
        raise KeyError(f"stack: the results have no field(s) {missing}; they have {sorted(found[0])}")
    out = {}
    for k in fields:
        arr = np.stack([np.asarray(f[k], dtype=dtype) for f in found])
        out[k] = arr.reshape(*shape, *arr.shape[1:])
    return out


def run(exp: Experiment, configs: Sequence[Mapping], *, data=None, device="cpu", dtype="float32",
        progress: bool = True, root: str | Path | None = None, label: str | None = None,
        executor=None, cached_only: bool = False) -> Results:
    """The results of ``configs`` under ``exp``, in order: stored ones read, missing ones computed.

    ``data``: the dataset the experiment computes on (checked first, and content-hashed into every
    key). ``device``/``dtype``: where and in what precision (torch experiments); results are keyed
    by the device *type*, so a CUDA machine's results are found on any machine asked for "cuda",
    while computing there needs CUDA. ``root``: the cache root (default ``$SPRINGBLOCK_CACHE``).
    ``label``: how the run is named in the run log. ``executor``: None (compute here) or an
    executor from :mod:`springblock.executors`. ``cached_only``: raise :class:`MissingResults`
    instead of computing. ``root`` and ``executor`` left unset come from the :class:`RunContext` in
    force (:func:`using`); a cached-only context forbids computing in every call inside it.
    """
    ctx = _CONTEXT.get()
    root = ctx.root if root is None else root
    executor = ctx.executor if executor is None else executor
    cached_only = cached_only or ctx.cached_only
    configs = [dict(c) for c in configs]
    if data is not None:
        from .data import check_dataset

        check_dataset(data)
    keyed = keys_for(exp, configs, data=data, device=device, dtype=dtype)
    base = Path(root) if root is not None else cache_dir()
    store = Store(exp.name, base)
    for seen in _RECORDERS.get():
        seen.update(dict.fromkeys((exp.name, k) for k, _ in keyed))
    found = Results(store.load(k) for k, _ in keyed)
    missing = [i for i, f in enumerate(found) if f is None]
    if not missing:
        return found
    if cached_only:
        raise MissingResults(f"{label or exp.name}: {len(missing)} of {len(configs)} results are not in the cache "
                             f"{base} (run them first)")
    dev = None
    if exp.torch:
        from .devices import resolve_device

        dev = resolve_device(device)  # computing needs the device itself
    dt = _dtype(dtype) if exp.torch else None
    check_writable(base)
    if store.folder.is_dir():
        clean_orphans(store.folder)
    start, started = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S")
    run_id = None

    def log(computed: int, **extra) -> None:
        _log_run(base, {"experiment": exp.name, "label": label, "computed": computed, "total": len(configs),
                        "wall_s": round(time.perf_counter() - start, 3), "started": started,
                        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "device": None if dev is None else str(dev),
                        "device_name": device_name(dev), "host": socket.gethostname(),
                        "executor": None if executor is None else type(executor).__name__, "run_id": run_id, **extra})

    try:
        if executor is not None:
            run_id, computed = executor.compute(exp, [configs[i] for i in missing], data=data, device=device,
                                                dtype=dtype, root=base, progress=progress, label=label)
            waiting = missing  # stored by the jobs (or by another writer meanwhile): read below
        else:
            computed, waiting = _compute_here(exp, configs, keyed, found, missing, store, data, dev, dt, progress, label)
        # held by other processes (or computed by jobs): read each as soon as its writer lets go, and
        # say who holds what is still awaited (a suspended writer would otherwise block us silently)
        def ready(i):
            found[i] = store.load(keyed[i][0])

        wait_for({i: store.lock(keyed[i][0]) for i in waiting}, ready)
        for i in waiting:
            if found[i] is None:  # its writer died: compute it here
                n, _ = _compute_here(exp, configs, keyed, found, [i], store, data, dev, dt, False, label)
                computed += n
    except BaseException:  # interrupted (Ctrl-C, a failure): the time spent on what was stored still counts
        stored = sum(store.path(keyed[i][0]).exists() for i in missing)
        if stored:
            log(stored, interrupted=True)
        raise
    found.computed = computed
    if computed:
        log(computed)
    return found


def _compute_here(exp, configs, keyed, found, missing, store, data, dev, dt, progress, label):
    """Lock what nobody else holds, compute it, store each result as it finishes."""
    mine, locks, others = [], {}, []
    for i in missing:
        lock = store.lock(keyed[i][0])
        try:
            lock.acquire(timeout=0)
        except Timeout:
            others.append(i)
            continue
        if store.path(keyed[i][0]).exists():  # finished by another process since we looked
            lock.release()
            others.append(i)
        else:
            mine.append(i)
            locks[i] = lock
    bar = None
    if progress and mine and not exp.reports_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(mine), unit="result", desc=f"{label or exp.name}: computing {len(mine)} of {len(configs)}")
    ctx = Context(data, dev, dt, bool(progress), label or exp.name, store.root)
    start = time.perf_counter()
    done = 0

    def emit(j, arrays):
        nonlocal done
        i = mine[j]
        k, record = keyed[i]
        prov = {**record, "springblock": __version__, "wall_s_since_batch_start": round(time.perf_counter() - start, 3),
                "batch": len(mine), "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "host": socket.gethostname(),
                "label": label, "device_name": device_name(dev), "data_spec": getattr(data, "spec", None)}
        if exp.torch:
            from .kernels import blas_reproducible

            prov["blas_strict"] = blas_reproducible()
            if dev is None or dev.type == "cpu":
                prov["cpu_capability"] = cpu_type()["cpu_capability"]
                prov["threads"] = torch_threads()  # a matrix product's rounding depends on it
        store.save(k, arrays, prov)
        # what a rerun reads (dtypes and memory layout included), so numbers derived from a fresh
        # result and from the cached one agree bitwise
        found[i] = store.load(k) or {kk: np.asarray(v) for kk, v in arrays.items()}
        locks.pop(i).release()
        done += 1
        if bar is not None:
            bar.update(1)

    try:
        if mine:
            exp.compute([configs[i] for i in mine], ctx, emit)
    finally:
        for lock in locks.values():
            lock.release()
        if bar is not None:
            bar.close()
    lost = [i for i in mine if found[i] is None]
    if lost:
        raise RuntimeError(f"experiment {exp.name!r} finished without results for {len(lost)} configuration(s)")
    return done, others
