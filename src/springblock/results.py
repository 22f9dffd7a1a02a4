"""Configurations in, cached results out: the one key function and the one orchestrator.

Every expensive result of the package — a Fig. 1 cell, a chapter-5 protocol, a chain grid — is an
:class:`Experiment` (a name, the code it depends on, and a function that computes a batch of
configurations) applied to a list of configurations by :func:`run`, which

1. checks the data and the cache folder before any work;
2. keys every configuration (:func:`key`) by its full configuration, a content hash of the data, a
   fingerprint of the source code the experiment depends on (:func:`code_fingerprint`, computed
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

import ast
import contextlib
import contextvars
import hashlib
import importlib.util
import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from filelock import Timeout

from . import __version__
from .cache import Store, check_writable, clean_orphans, wait_for
from .devices import device_name
from .paths import cache_dir

PACKAGE = "springblock"
# Modules whose code is not fingerprinted, because nothing they do can change a stored number
# without the key seeing it another way: the cache's own plumbing (keys, files, locks); the data
# modules (every key holds a content hash of the data itself); device resolution (the device type
# is in every key); argument checks (they refuse or normalise values, and the normalised values are
# the configuration in the key). Work on them invalidates nothing.
NOT_FINGERPRINTED = frozenset({"springblock.results", "springblock.cache", "springblock.paths",
                               "springblock.data", "springblock._vision", "springblock.devices",
                               "springblock.validate", "springblock.experiments"})
# ("springblock.experiments" is the package's entry point: it resolves names and computes nothing.)
_LIBRARIES = ("torch", "numpy", "scipy")  # whose versions enter a key when the fingerprinted code imports them


# ---------------------------------------------------------------------------------------------
# Code fingerprints
# ---------------------------------------------------------------------------------------------
def _module_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ValueError(f"module {name!r} not found")
    return Path(spec.origin)


_MESSAGE = ast.Constant("<message>")


def _is_warn(call: ast.AST) -> bool:
    f = getattr(call, "func", None)
    return isinstance(call, ast.Call) and (isinstance(f, ast.Attribute) and f.attr == "warn"
                                           or isinstance(f, ast.Name) and f.id == "warn")


class _Normalise(ast.NodeTransformer):
    """What does not compute, taken out of a module's syntax tree before it is hashed.

    * docstrings, and the type annotations of arguments, returns and variables;
    * import statements: which module a name comes from is followed separately (its own code is
      hashed), so moving a module or reordering imports changes no key;
    * the message strings of ``raise`` statements and of ``warn(...)`` calls: rewording an error
      changes no number.
    """

    def _body(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    def visit_Module(self, node):
        return self.generic_visit(self._body(node))

    def visit_ClassDef(self, node):
        return self.generic_visit(self._body(node))

    def visit_FunctionDef(self, node):
        node.returns = None
        return self.generic_visit(self._body(node))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_arg(self, node):
        node.annotation = None
        return node

    def visit_AnnAssign(self, node):  # dataclass fields keep their place and default, not their type
        node.annotation = ast.Constant(None)
        return self.generic_visit(node)

    def visit_Import(self, node):
        return None

    visit_ImportFrom = visit_Import

    def visit_Raise(self, node):
        node = self.generic_visit(node)
        if isinstance(node.exc, ast.Call):
            node.exc.args = [_MESSAGE if isinstance(a, (ast.Constant, ast.JoinedStr, ast.BinOp)) else a
                             for a in node.exc.args]
        return node

    def visit_Expr(self, node):
        if _is_warn(node.value):
            node.value.args = [_MESSAGE] + node.value.args[1:]
        return self.generic_visit(node)


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ModuleNotFoundError, ValueError):  # "from .data import check_dataset": a name, not a module
        return False


def _imports(tree: ast.AST, module: str, is_package: bool) -> tuple[set[str], set[str]]:
    """(springblock modules, top-level external libraries) imported anywhere in ``tree``."""
    ours, libs = set(), set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module or ""
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            if n == PACKAGE or n.startswith(PACKAGE + "."):
                if _is_module(n):
                    ours.add(n)
            else:
                libs.add(n.split(".")[0])
    ours.discard(PACKAGE)  # the package's __init__ holds no numerics
    return ours - NOT_FINGERPRINTED, libs


def source_digest(source: str) -> str:
    """Hash of what computes in one module's source (:class:`_Normalise` says what is left out)."""
    return hashlib.sha256(ast.dump(_Normalise().visit(ast.parse(source))).encode()).hexdigest()


_DIGESTS: dict[str, tuple[tuple, tuple]] = {}  # module -> ((path, mtime, size), (digest, ours, libs))


def _module_digest(name: str) -> tuple[str, frozenset, frozenset]:
    """A module's digest and imports; recomputed when its file changed (an edited module in a
    long-lived kernel, ``importlib.reload``, autoreload), never served stale."""
    path = _module_file(name)
    st = path.stat()
    stamp = (str(path), st.st_mtime_ns, st.st_size)
    hit = _DIGESTS.get(name)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    source = path.read_text(encoding="utf-8")
    ours, libs = _imports(ast.parse(source), name, path.name == "__init__.py")
    out = (source_digest(source), frozenset(ours), frozenset(libs))
    _DIGESTS[name] = (stamp, out)
    return out


def code_fingerprint(modules: Sequence[str]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Fingerprint of the source of ``modules`` and every ``springblock`` module they import.

    Each module's source is parsed and what does not compute is dropped (:class:`_Normalise`:
    comments, layout, docstrings, annotations, imports, error messages), so only edits that can
    change a number count. The fingerprint hashes the modules' digests, not their names, so moving
    a file changes no key. :data:`NOT_FINGERPRINTED` modules are not followed. Returns (hex digest,
    the modules covered, the external libraries they import).
    """
    seen, todo, libs = {}, list(modules), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        digest, ours, used = _module_digest(name)
        seen[name] = digest
        todo.extend(ours)
        libs |= used
    blob = json.dumps(sorted(seen.values()))
    return hashlib.sha256(blob.encode()).hexdigest()[:24], tuple(sorted(seen)), tuple(sorted(libs))


def library_versions(libs: Iterable[str]) -> dict[str, str]:
    """Versions of the libraries in ``libs`` that can change numbers (torch, numpy, scipy)."""
    out = {}
    for lib in sorted(set(libs) & set(_LIBRARIES)):
        try:  # the release, without a local build tag ("2.13.0+cpu" and "2.13.0+cu126" are one torch)
            out[lib] = __import__(lib).__version__.split("+")[0]
        except ImportError:
            out[lib] = "absent"
    if "torch" in out and out["torch"] != "absent":
        from . import kernels

        out["torch-ops"] = kernels.BACKEND
        out["blas"] = kernels.blas_mode()  # MKL's reproducibility mode changes the last bits
    return out


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
    digest, covered, libs = code_fingerprint(code)
    record = {"experiment": experiment, "config": canonical(config), "data": data_hash, "code": digest,
              "modules": list(covered), "versions": library_versions(libs), "dtype": dtype, "device": device_type}
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


TAGS: dict[str, str] = {}  # added to every run-log line (``scales.check`` records the scale it was called with)


def _log_run(root: Path, entry: dict) -> None:
    entry = {**TAGS, **entry}
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


def stack(found: Sequence[Mapping], shape: tuple) -> dict:
    """Each field of the per-result dicts ``found`` (in grid order) stacked into ``shape`` + the
    field's own shape: how a grid of results becomes one array per field."""
    if len(found) != int(np.prod(shape, dtype=int)):
        raise ValueError(f"stack: {len(found)} results cannot fill a grid of shape {tuple(shape)}")
    return {k: np.stack([np.asarray(f[k]) for f in found]).reshape(*shape, *np.asarray(found[0][k]).shape)
            for k in found[0]}


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
                prov["threads"] = _threads()  # a matrix product's rounding depends on it
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



# How far a recomputed float array may sit from the stored one, in float32 units in the last place
# of its largest value (relative 4.8e-7), whatever dtype it was computed in. Training is bitwise
# independent of which networks share a stack; the separation measure is not quite: networks are
# measured a few at a time, and the group's size changes how reductions round. Measured: a float32
# network measured alone differs from its stack's copy by up to 2 float32 ulp; a float64 network's
# inverse metric (a pseudo-inverse of a within-class scatter with condition number ~1e8) by up to
# 2.1 float32 ulp (1.1e9 float64 ulp). Any other code, data or setting moves results far more.
ULP_TOLERANCE = 4


def agreement(stored: Mapping[str, np.ndarray], fresh: Mapping[str, np.ndarray],
              ulps: int = ULP_TOLERANCE) -> tuple[bool, str]:
    """Compare a recomputed result with the stored one: ``(agrees, status)``.

    The status is ``"equal"`` (bitwise), ``"equal to N ulp"`` (every float array within ``ulps``
    float32 units in the last place of its largest value, or of its own dtype's if coarser; every
    other array bitwise), or ``"DIFFERENT: ..."`` naming the arrays that disagree and by how much.
    """
    if stored.keys() != fresh.keys():
        return False, f"DIFFERENT: arrays {sorted(set(stored) ^ set(fresh))} are in one result only"
    worst, bad = 0.0, []
    for k in sorted(stored):
        a, b = np.asarray(stored[k]), np.asarray(fresh[k])
        floating = np.issubdtype(a.dtype, np.floating)
        if a.dtype != b.dtype or a.shape != b.shape:
            bad.append(f"{k} ({a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)})")
        elif np.array_equal(a, b, equal_nan=floating):  # NaN only exists in float arrays
            continue
        elif not floating or not np.array_equal(np.isnan(a), np.isnan(b)):
            bad.append(k)
        else:
            ok = ~np.isnan(a)
            unit = min(a.dtype, np.dtype(np.float32), key=lambda t: t.itemsize)
            # in ulp of the array's largest value: a reduction's rounding scales with what it sums, and an
            # entry near zero (a load curve crossing 0) would otherwise count its absolute error in tiny ulps
            scale = unit.type(max(np.max(np.abs(a[ok]), initial=0.0), np.max(np.abs(b[ok]), initial=0.0)))
            gap = float(np.max(np.abs(a[ok].astype(np.float64) - b[ok]), initial=0.0) / np.spacing(scale))
            worst = max(worst, gap)
            if not gap <= ulps:
                bad.append(f"{k} (by {gap:.3g} ulp)")
    if bad:
        return False, "DIFFERENT: " + ", ".join(bad)
    return True, "equal" if worst == 0 else f"equal to {worst:.2g} ulp"


def cpu_type() -> dict[str, str]:
    """This machine's CPU as results record it: its model and the instruction set torch's kernels
    and the BLAS dispatch to (``AVX2``, ``AVX512``, ...)."""
    import torch

    return {"device_name": device_name(None), "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def other_cpu(record: Mapping[str, Any]) -> str | None:
    """Why a torch result computed on a CPU cannot be recomputed bitwise here (None if it can).

    Matrix products and reductions take a different code path on another CPU type (MKL and torch
    dispatch on the instruction set), and training carries the different rounding forward: the
    paper-scale Fig. 1 networks made on an AMD EPYC and retrained on an AVX-512 Intel Xeon differ
    by about 1e-3 of their values, and Fig. 4's training curves by more. Bitwise recomputation is
    a promise on the same CPU type only."""
    here = cpu_type()
    theirs = {k: record.get(k) for k in here if record.get(k) is not None}
    differ = {k: v for k, v in theirs.items() if v != here[k]}
    if not differ:
        return None
    made = ", ".join(f"made on {v}, this machine is {here[k]}" for k, v in differ.items())
    return f"computed on another CPU type ({made}), whose rounding differs; bitwise recomputation needs the same type"


def recheck(stored: Mapping[str, np.ndarray], record: Mapping[str, Any]) -> dict[str, Any]:
    """Recompute one stored result here and compare (:func:`agreement`): ``{"status", "agrees"}``,
    or only a ``"status"`` saying why it is skipped (made on a GPU, or on another CPU type:
    :func:`other_cpu`). A result that differs is recomputed once more: if that agrees, the row
    agrees with ``"transient": True`` and its status names the first difference; if not, it
    differs (and says whether the two recomputes agree with each other). Raises ValueError when its
    data cannot be rebuilt."""
    if record.get("device") not in (None, "cpu"):
        return {"status": f"skipped: computed on {record.get('device')}"}
    exp = REGISTRY.get(record.get("experiment"))
    why = other_cpu(record) if exp is not None and exp.torch else None
    if why:
        return {"status": f"skipped: {why}"}
    first = recompute(record)
    agrees, status = agreement(stored, first)
    if agrees:
        return {"status": status, "agrees": True}
    if exp is not None and exp.torch and record.get("threads") is None and _threads() != 1:
        # Made before records named their thread count: torch's CPU matrix products round by how they
        # split the work over threads (seen 2026-12-07: the fill's one-thread local jobs made linear
        # and regression results that recompute bitwise at 1 thread and 6-4e5 ulp away at 2), and the
        # fill runs one thread per job, so 1 is the count to try.
        agrees_alone, status_alone = agreement(stored, recompute(record, threads=1))
        if agrees_alone:
            return {"status": f"{status_alone} at 1 torch thread (its record does not name the thread "
                              f"count it was made with; at {_threads()}: {status.removeprefix('DIFFERENT: ')})",
                    "agrees": True}
    # A difference is recomputed once more before it counts. Seen once in CI (2026-12-05): a
    # depth/width network recomputed 56-81 ulp away from its shipped copy while other processes
    # loaded the machine, and bitwise equal to it in every later recompute, with or without load.
    again = recompute(record)
    agrees_again, status_again = agreement(stored, again)
    if agrees_again:
        return {"status": f"{status_again} on a second recompute (the first differed: "
                          f"{status.removeprefix('DIFFERENT: ')})", "agrees": True, "transient": True}
    stable = agreement(first, again)[0]
    unrecorded = [k for k in cpu_type() if record.get(k) is None] if exp is not None and exp.torch else []
    if stable and unrecorded:
        # Results made before the instruction set was recorded say only "AMD EPYC": AMD EPYCs with
        # and without AVX-512 round some kernels differently (seen 2026-12-05: on an AVX2 EPYC, one
        # Fig. 1 batch cell and Fig. 4's networks differ, stably; their other panels are bitwise
        # equal), so a stable difference cannot tell a changed engine from another CPU type.
        here = cpu_type()
        return {"status": f"skipped after recomputing: {status.removeprefix('DIFFERENT: ')}; its record does not "
                          f"name the CPU's {' or '.join(unrecorded)} (this machine: "
                          f"{', '.join(here[k] for k in unrecorded)}), so another CPU type's rounding cannot be "
                          "ruled out", "unrecorded_cpu": True}
    return {"status": status + ("" if stable else "; two recomputes here also differ from each other"), "agrees": False}


def _threads() -> int:
    import torch

    return torch.get_num_threads()


@contextlib.contextmanager
def _torch_threads(n: int | None):
    """torch's CPU thread count set to ``n`` inside the block (unchanged when None)."""
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def recompute(record: Mapping[str, Any], threads: int | None = None) -> dict[str, np.ndarray]:
    """Compute one stored result again from its provenance record, here, on the CPU (its experiment
    must be registered: import its module first). Its data are rebuilt from the record's data spec
    and must hash as they did; the arrays come back as a rerun would store them. A torch result is
    recomputed with the torch thread count its record names (or ``threads``, or the current one)."""
    exp = REGISTRY.get(record.get("experiment"))
    if exp is None:
        raise ValueError(f"experiment {record.get('experiment')!r} is not registered (import its module first)")
    data = None
    if record.get("data") is not None:
        from .data import content_hash, load_dataset

        spec = record.get("data_spec")
        if not spec:
            raise ValueError(f"{record.get('key')}: its data cannot be rebuilt (no data spec in its record)")
        data = load_dataset(**spec)
        if content_hash(data) != record["data"]:
            raise ValueError(f"{record.get('key')}: the data its spec builds no longer hash the same")
    dev = None
    if exp.torch:
        from .devices import resolve_device

        dev = resolve_device("cpu")
    fresh: dict[str, np.ndarray] = {}
    with _torch_threads(threads or record.get("threads")) if exp.torch else contextlib.nullcontext():
        exp.compute([record["config"]], Context(data, dev, record.get("dtype"), False, "recompute"),
                    lambda j, arrays: fresh.update({k: np.asarray(v) for k, v in arrays.items()}))
    return fresh
