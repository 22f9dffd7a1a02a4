"""What the result cache holds, and keeping it honest: list, verify, prune, export, import.

Each stored result carries its key record (experiment, configuration, data hash, code fingerprint,
library versions, dtype, device type). :func:`reachable` recomputes the key the *current* code would
give that record; a result is current when the two agree. ``verify`` recomputes a random sample and
compares; ``prune`` removes what no current key can reach; ``export``/``import_`` move results
between machines (a cluster and a laptop), refusing on import anything the importing code would
never look up.
"""
from __future__ import annotations

import importlib
import io
import json
import random
import re
import shutil
import tarfile
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

from . import fingerprint, reproduce, results
from .cache import KeyLock, Store, atomic_write, check_arrays, clean_orphans, namespaces
from .paths import cache_dir

_KEY = re.compile(r"[0-9a-f]{32}")  # results.key's hex digest


def _registry() -> dict:
    from . import scales

    for entry in scales.EXPERIMENTS.values():  # every experiment module registers its Experiment on import
        importlib.import_module(entry.feeds.split(":")[0])
    return results.REGISTRY


def expected_key(record: dict) -> str | None:
    """The key the current code gives ``record`` (None for an experiment it does not know)."""
    exp = _registry().get(record.get("experiment"))
    if exp is None:
        return None
    return results.key(exp.name, record["config"], code=exp.code, data_hash=record.get("data"),
                       dtype=record.get("dtype"), device_type=record.get("device"))[0]


def why_stale(record: dict) -> str:
    """A one-line reason why a record's key is not the current one."""
    exp = _registry().get(record.get("experiment"))
    if exp is None:
        return f"unknown experiment {record.get('experiment')!r}"
    digest, _, libs = fingerprint.code_fingerprint(exp.code)
    versions = fingerprint.library_versions(libs)
    parts = []
    if record.get("code") != digest:
        parts.append(f"code {record.get('code')} (current {digest})")
    for lib, v in versions.items():
        if record.get("versions", {}).get(lib) != v:
            parts.append(f"{lib} {record.get('versions', {}).get(lib)} (current {v})")
    return ", ".join(parts) or "key mismatch"


def entries(root=None):
    """(namespace, path, record or None) of every stored result."""
    base = Path(root) if root is not None else cache_dir()
    for ns in namespaces(base):
        store = Store(ns, base)
        for key in store.keys():
            path = store.path(key)
            try:
                yield ns, path, store.read(path)[1]
            except (ValueError, FileNotFoundError):
                yield ns, path, None


def listing(root=None) -> list[dict]:
    """One row per experiment: results, current ones, size, devices, labels, newest date."""
    rows = defaultdict(lambda: {"results": 0, "current": 0, "bytes": 0, "devices": set(), "labels": set(),
                                "newest": ""})
    for ns, path, rec in entries(root):
        r = rows[ns]
        r["results"] += 1
        r["bytes"] += path.stat().st_size
        if rec is not None:
            r["current"] += expected_key(rec) == path.stem
            r["devices"].add(str(rec.get("device") or "cpu"))
            r["labels"].add(str(rec.get("label")))
            r["newest"] = max(r["newest"], rec.get("finished", ""))
    return [{"experiment": ns, **{k: (", ".join(sorted(v)) if isinstance(v, set) else v) for k, v in r.items()}}
            for ns, r in sorted(rows.items())]


def verify(sample: int | None = 5, root=None, seed: int = 0, experiment: str | None = None) -> list[dict]:
    """Recompute ``sample`` current results (all of them when None), drawn at random with ``seed``,
    and compare them with the stored ones.

    Results on the CPU must agree (:func:`reproduce.agreement`: bitwise, or float arrays within a few
    units in the last place; each row's ``agrees`` says so); results of another device type are
    skipped (they cannot be recomputed here), as are results whose data cannot be rebuilt.
    """
    from . import validate

    if sample is not None:
        sample = validate.integer("sample", sample, 1)
    seed = validate.integer("seed", seed, 0)
    cands = sorted(((ns, p, rec) for ns, p, rec in entries(root) if rec is not None and expected_key(rec) == p.stem
                    and (experiment is None or ns == experiment)), key=lambda c: (c[0], c[1].name))
    random.Random(seed).shuffle(cands)
    out = []
    for ns, path, rec in cands[:sample]:
        row = {"experiment": ns, "key": path.stem, "label": rec.get("label")}
        stored = Store(ns, root).read(path)[0]
        try:
            out.append({**row, **reproduce.recheck(stored, rec)})
        except ValueError as err:  # its data cannot be rebuilt, or no longer hash the same
            out.append({**row, "status": f"skipped: {err}"})
    return out


def prune(root=None, dry_run: bool = False) -> dict:
    """Remove results no current key can reach, unreadable files, orphan temporary files and the
    lock files nobody holds (a lock a live run holds, and a result being written, are left alone).
    Returns what was (or, with ``dry_run``, would be) removed, and under ``"held"`` the locks kept."""
    base = Path(root) if root is not None else cache_dir()
    stale, unreadable = [], []
    for _ns, path, rec in entries(base):
        if rec is None:
            unreadable.append(path)
        elif expected_key(rec) != path.stem:
            stale.append(path)
    orphans, locks, held = [], [], []
    for path in sorted((base / ".locks").rglob("*.lock")) if (base / ".locks").is_dir() else ():
        lock = KeyLock(path)
        if lock.held():  # a live run holds it: removing it would let a second writer in
            held.append(path)
            continue
        locks.append(path)
        if not dry_run:
            lock.holder_path.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
    for folder in (d for d in base.iterdir() if d.is_dir() and d.name != "submitit") if base.is_dir() else ():
        orphans += clean_orphans(folder, dry_run=dry_run)  # a live writer's temporary file is not an orphan
    jobs = ended_local_jobs(base / "submitit")
    if not dry_run:
        for p in stale + unreadable:
            p.unlink(missing_ok=True)
        for folder in jobs:
            shutil.rmtree(folder, ignore_errors=True)
    return {"stale": stale, "unreadable": unreadable, "orphans": orphans, "locks": locks, "held": held,
            "jobs": jobs}


def ended_local_jobs(folder: Path) -> list[Path]:
    """The folders local executor jobs left under ``folder`` (``<cache>/submitit``: their pickled
    arguments, with a copy of the data, and their logs) whose process has ended. A local job's folder
    is named by its pid; SLURM jobs (their folders hold a ``*_submission.sh``) are never touched,
    since this machine cannot tell whether they still run."""
    import psutil

    if not folder.is_dir():
        return []
    return sorted(d for d in folder.iterdir() if d.is_dir() and d.name.isdigit()
                  and not any(d.glob("*_submission.sh")) and not psutil.pid_exists(int(d.name)))


def export(path, root=None, experiment: str | None = None) -> int:
    """Write every current result (of ``experiment``, or all) and the run log into a .tar.gz, all
    or nothing (written under a temporary name and renamed: a full disk leaves no truncated archive)."""
    base = Path(root) if root is not None else cache_dir()
    chosen = [(ns, p) for ns, p, rec in entries(base) if rec is not None and (experiment is None or ns == experiment)]

    def write(fh):
        with tarfile.open(fileobj=fh, mode="w:gz") as tar:
            for ns, p in chosen:
                tar.add(p, arcname=f"{ns}/{p.name}")
            if (base / "runs.jsonl").exists():
                tar.add(base / "runs.jsonl", arcname="runs.jsonl")

    atomic_write(Path(path), write)
    return len(chosen)


def import_(path, root=None) -> dict:
    """Read an :func:`export` archive into the cache. A result is refused, with the reason, when the
    current code would never look it up (other code, other library versions, unknown experiment),
    when it is unreadable, or when its arrays are not what its provenance records (content digest,
    array names, dtypes and shapes); links and other non-files are refused too. A damaged stored copy
    of an imported result is moved to ``corrupt/`` and replaced. An archive that is not a readable
    .tar.gz raises ValueError naming it (what was read before a truncation stays imported)."""
    base = Path(root) if root is not None else cache_dir()
    accepted, present, refused = [], [], []
    try:
        tar = tarfile.open(path, "r:gz")
    except FileNotFoundError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise ValueError(f"{path} is not a springblock cache archive (a .tar.gz written by `springblock cache "
                         f"export`): {err}") from None
    try:
        with tar:
            for member in tar:
                if not member.isfile():
                    if not member.isdir():
                        refused.append((member.name, "a link or special file, not a result"))
                    continue
                blob = tar.extractfile(member).read()
                if member.name == "runs.jsonl":
                    bad = _merge_run_log(base, blob)
                    if bad:
                        refused.append((member.name, f"{bad} line(s) that are not run records left out"))
                    continue
                why = _import_one(member.name, blob, base, accepted, present)
                if why:
                    refused.append((member.name, why))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        if isinstance(err, OSError) and err.errno is not None:  # the cache's disk, not the archive
            raise
        raise ValueError(f"{path} is truncated or damaged after {len(accepted) + len(present) + len(refused)} "
                         f"member(s) ({type(err).__name__}: {err}); the {len(accepted)} result(s) read before "
                         "that were imported") from None
    return {"accepted": accepted, "present": present, "refused": refused}


def _import_one(name: str, blob: bytes, base: Path, accepted: list, present: list) -> str | None:
    """Store one archive member; the reason it is refused, or None."""
    ns, _, file = name.partition("/")
    key = Path(file).stem
    if not (ns in _registry() and file == f"{key}.npz" and _KEY.fullmatch(key)):
        return "not a result's name (<experiment>/<key>.npz)"
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        rec = json.loads(str(arrays.pop("__provenance__")))
    except Exception as err:  # any unreadable member is refused, with its error
        return f"unreadable ({type(err).__name__})"
    if not isinstance(rec, dict) or rec.get("experiment") != ns:
        return f"stored under {ns!r} but of experiment {rec.get('experiment') if isinstance(rec, dict) else None!r}"
    if rec.get("key") != key or expected_key(rec) != key:
        return why_stale(rec) if rec.get("key") == key else "file name is not its key"
    stale = why_stale(rec)  # the key fits, so the code and versions it records must be the current ones
    if stale != "key mismatch":
        return f"its provenance records {stale}"
    why = check_arrays(arrays, rec)
    if why:
        return why
    store = Store(ns, base)
    if store.path(key).exists():
        try:
            store.read(store.path(key))
            present.append(name)
            return None
        except ValueError as err:  # the stored copy is damaged: keep it aside, take the good one
            store.quarantine(store.path(key), str(err))
    store.save(key, arrays, rec)
    accepted.append(name)
    return None


def _run_line_ok(line: bytes) -> bool:
    """A run-log line as :func:`results._log_run` writes it: a JSON object naming a registered
    experiment, with whole counts and a non-negative wall time."""
    try:
        rec = json.loads(line)
    except ValueError:
        return False
    if not isinstance(rec, dict) or rec.get("experiment") not in _registry():
        return False
    counts = (rec.get("computed"), rec.get("total"))
    wall = rec.get("wall_s")
    return (all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
            and isinstance(wall, (int, float)) and not isinstance(wall, bool) and 0 <= wall < 1e8)


def _merge_run_log(base: Path, blob: bytes) -> int:
    """Append the archive's run-log lines that the cache's run log does not hold yet; lines that are
    not run records are left out. Returns how many were left out."""
    base.mkdir(parents=True, exist_ok=True)
    log = base / "runs.jsonl"
    have = set(log.read_bytes().splitlines()) if log.exists() else set()
    lines = [line for line in blob.splitlines() if line.strip() and line not in have]
    new = [line for line in lines if _run_line_ok(line)]
    if new:
        with open(log, "ab") as fh:
            fh.write(b"".join(line + b"\n" for line in new))
    return len(lines) - len(new)
