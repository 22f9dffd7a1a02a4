"""Result files on disk: atomic, self-describing, locked, and survivable when damaged.

One finished result is one ``<root>/<namespace>/<key>.npz``. Its arrays and its provenance record
(the full key record, versions, device, wall time, date, host) travel in the same file, written to
a temporary name and renamed: a killed writer leaves either the whole result or nothing, never a
result without its provenance. Temporary files name their writer (host and process id), so the
orphans of dead writers are recognised and removed.

A file that cannot be read — truncated, bit-flipped (zip CRC), without provenance, or whose
provenance names another key — is reported with its path, moved to ``<root>/corrupt/`` and treated
as missing, so it is recomputed instead of blocking every rerun.

Writers coordinate with one lock file per key (``filelock``): processes that share a cache (two
terminals, cluster jobs on a shared filesystem) never compute the same result twice. Beside each held
lock, ``<key>.lock.holder`` says who holds it (pid, host, since when, command), so a waiter can say
whom it waits for, and take over a lock whose holder died on this host (:class:`KeyLock`).

This module stores bytes; what a key *means* is :mod:`springblock.results`' business.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
from filelock import FileLock, Timeout

from .paths import cache_dir

PROVENANCE = "__provenance__"
DIGEST = "digest"  # the provenance field holding :func:`content_digest` of the result's arrays
MANIFEST = "arrays"  # the provenance field listing each array's dtype and shape, as written
MIN_FREE_BYTES = 200 * 2**20  # less free space than this under a cache refuses a run before it starts
ORPHAN_AGE_S = 24 * 3600  # a temporary file this old is an orphan even if its writer's host is another
_HOST = socket.gethostname().replace(".", "_")  # no dots: temporary names are split on them


def content_digest(arrays: Mapping[str, Any]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes (in name order): any edited number,
    missing or added array, or changed dtype gives another digest."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(np.asarray(arrays[name]))
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def manifest(arrays: Mapping[str, Any]) -> dict[str, list]:
    """Each array's dtype and shape, by name: what a result's provenance says it holds."""
    return {name: [np.asarray(a).dtype.str, list(np.shape(a))] for name, a in sorted(arrays.items())}


def check_arrays(arrays: Mapping[str, Any], record: Mapping[str, Any]) -> str | None:
    """Why ``arrays`` are not the result ``record`` describes (missing, added or reshaped arrays, or
    numbers that do not match its content digest); None when they are."""
    listed = record.get(MANIFEST)
    if isinstance(listed, Mapping):
        have = manifest(arrays)
        missing, added = sorted(set(listed) - set(have)), sorted(set(have) - set(listed))
        if missing or added:
            return (f"arrays {missing} missing" if missing else "") + (" and " if missing and added else "") + \
                (f"arrays {added} not in its provenance" if added else "")
        changed = sorted(n for n in have if list(listed[n]) != have[n])
        if changed:
            return f"arrays {changed} have another dtype or shape than its provenance records"
    if DIGEST not in record:
        return "no content digest in its provenance"
    if record.get(DIGEST) != content_digest(arrays):
        return "its numbers do not match the content digest in its provenance (edited)"
    return None


class CacheError(OSError):
    """The cache folder cannot be used (not a folder, not writable, full); names the path."""


def check_writable(root: str | os.PathLike | None = None, need_bytes: int | None = None) -> Path:
    """Make sure results can be stored under ``root`` before any work is done: the folder is
    writable and holds at least ``need_bytes`` (default :data:`MIN_FREE_BYTES`) of free space, so a
    nearly full disk stops a run before its training rather than at its first save. Returns it."""
    base = Path(root) if root is not None else cache_dir()
    try:
        base.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=base, prefix=".write-probe.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"ok")
        os.unlink(probe)
        free = shutil.disk_usage(base).free
    except OSError as err:
        raise CacheError(f"result cache {base} is not usable ({err.strerror or err}); set SPRINGBLOCK_CACHE "
                         "to a writable folder") from err
    need = MIN_FREE_BYTES if need_bytes is None else need_bytes
    if free < need:
        raise CacheError(f"result cache {base} has {free / 2**20:.0f} MB free, less than the {need / 2**20:.0f} MB "
                         "a run needs; free some space or set SPRINGBLOCK_CACHE to another folder")
    return base


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.{_HOST}.{os.getpid()}."


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` via ``write(filehandle)`` to a temporary file, then rename: all or nothing.
    A failing disk (full, read-only) raises :class:`CacheError` naming ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_tmp_prefix(path), suffix=".tmp")
    except OSError as err:
        raise CacheError(err.errno, f"cannot write {path} ({err.strerror or err})", str(path)) from err
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, CacheError) and err.errno is not None:
            # the writer's own message rarely says which file: say it (a full disk, after a long run)
            raise CacheError(err.errno, f"cannot write {path} ({err.strerror or err})", str(path)) from err
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_orphans(folder: Path, dry_run: bool = False) -> list[Path]:
    """Remove temporary files whose writer is gone (this host, dead pid) or, written on another
    host, that are over a day old; a live writer's file on this host is never removed.

    Returns them; with ``dry_run`` only finds them."""
    removed = []
    for tmp in folder.glob(".*.tmp"):
        parts = tmp.name.rsplit(".", 3)  # ".<name>.<host>.<pid>.<random>.tmp" -> [..., pid, random, tmp]
        host, pid = (parts[0].rsplit(".", 1)[-1], parts[1]) if len(parts) == 4 else (None, None)
        try:
            mine = host == _HOST and pid is not None and pid.isdigit()
            dead = mine and not _alive(int(pid))
            old = not mine and time.time() - tmp.stat().st_mtime > ORPHAN_AGE_S  # another host's: by age
            if old or dead:
                if not dry_run:
                    tmp.unlink()
                removed.append(tmp)
        except (FileNotFoundError, ValueError):
            continue
    return removed


class KeyLock:
    """One result's lock (``filelock``; the operating system drops it when its holder dies) with a
    note beside it, ``<key>.lock.holder``, saying who holds it: pid, host, since when, command. A
    waiter reads the note to say whom it waits for; a note whose process is gone is ignored."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.holder_path = self.path.with_name(self.path.name + ".holder")
        self._lock = FileLock(self.path)

    def acquire(self, timeout: float = -1) -> "KeyLock":
        """Take the lock (raise ``filelock.Timeout`` after ``timeout`` seconds; -1 waits forever)."""
        self._lock.acquire(timeout=timeout)
        note = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "command": " ".join(sys.argv)[:200]}
        try:
            self.holder_path.write_text(json.dumps(note))
        except OSError:  # the note is a courtesy; the lock itself is what excludes
            pass
        return self

    def release(self) -> None:
        if self._lock.is_locked:
            self.holder_path.unlink(missing_ok=True)
        self._lock.release()

    @property
    def is_locked(self) -> bool:
        return self._lock.is_locked

    def __enter__(self) -> "KeyLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def holder(self) -> str:
        """Who holds the lock, in words (from its note), or "an unknown process"."""
        try:
            note = json.loads(self.holder_path.read_text())
            pid, host = int(note["pid"]), str(note["host"])
        except (OSError, ValueError, KeyError, TypeError):
            return "an unknown process"
        state = ""
        if host == socket.gethostname():
            state = "" if _alive(pid) else ", which has exited"
            if not state and _stopped(pid):
                state = ", which is stopped (suspended: resume it with `kill -CONT`, or end it)"
        return f"pid {pid} on {host} since {note.get('since', '?')}{state} ({note.get('command', '')})"

    def held(self) -> bool:
        """Whether another process holds the lock now (tries to take it without waiting)."""
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return True
        self._lock.release()
        return False


def _stopped(pid: int) -> bool:
    """Whether process ``pid`` on this host is stopped (SIGSTOP, Ctrl-Z): Linux's /proc says so."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return bool(fields) and fields[0] in ("T", "t")


def wait_for(locks: Mapping[Any, KeyLock], ready: Callable[[Any], None], *, notice_after: float = 5.0,
             every: float = 60.0, poll: float = 0.2, say: Callable[[str], None] | None = None) -> None:
    """Wait for other processes' results: call ``ready(item)`` (under its lock) as soon as each
    lock is free, in whatever order they free up, so one stuck writer does not hold back the rest.
    After ``notice_after`` seconds, and then every ``every`` seconds, ``say`` who holds what is
    still awaited (default: a warning)."""
    say = say or (lambda text: warnings.warn(text, stacklevel=3))
    todo, start, last = dict(locks), time.monotonic(), None
    while todo:
        for item, lock in list(todo.items()):
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            try:
                ready(item)
            finally:
                lock.release()
            del todo[item]
        if not todo:
            return
        now = time.monotonic()
        if now - start >= notice_after and (last is None or now - last >= every):
            last = now
            first = next(iter(todo.values()))
            say(f"springblock cache: waiting {now - start:.0f} s for {len(todo)} result(s) other processes are "
                f"computing; {first.path.stem} is held by {first.holder()}")
        time.sleep(poll)


class Store:
    """The results of one namespace: ``<root>/<namespace>/<key>.npz``, one lock file per key."""

    def __init__(self, namespace: str, root: str | os.PathLike | None = None):
        self.namespace = namespace
        self.root = Path(root) if root is not None else cache_dir()
        self.folder = self.root / namespace

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def lock(self, key: str) -> "KeyLock":
        lock_dir = self.root / ".locks" / self.namespace
        lock_dir.mkdir(parents=True, exist_ok=True)
        return KeyLock(lock_dir / f"{key}.lock")

    def save(self, key: str, arrays: Mapping[str, Any], provenance: Mapping[str, Any]) -> Path:
        """Store ``arrays`` with ``provenance`` (which must hold ``"key": key``) in one atomic file."""
        if PROVENANCE in arrays:
            raise ValueError(f"{PROVENANCE!r} is reserved for the provenance record")
        blob = {k: np.asarray(v) for k, v in arrays.items()}
        record = {**provenance, "key": key, "namespace": self.namespace, DIGEST: content_digest(blob)}
        blob[PROVENANCE] = np.array(json.dumps(record, sort_keys=True, default=str))
        path = self.path(key)
        atomic_write(path, lambda fh: np.savez_compressed(fh, **blob))
        return path

    def read(self, path: Path) -> tuple[dict[str, np.ndarray], dict]:
        """Arrays and provenance of one file; raises ValueError naming the path if it is unusable."""
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
            record = json.loads(str(arrays.pop(PROVENANCE)))
        except KeyError:
            raise ValueError(f"{path}: no provenance record") from None
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, json.JSONDecodeError) as err:
            raise ValueError(f"{path}: unreadable ({type(err).__name__}: {err})") from None
        if record.get("key") != path.stem:
            raise ValueError(f"{path}: its provenance names key {record.get('key')!r}, not {path.stem!r}")
        if record.get(DIGEST) != content_digest(arrays):
            raise ValueError(f"{path}: its arrays do not match the content digest in its provenance "
                             f"({'none recorded' if DIGEST not in record else 'edited, missing or added arrays'})")
        return arrays, record

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """The stored result for ``key``; None if absent, or if damaged (then reported and moved aside)."""
        path = self.path(key)
        if not path.exists():  # not computed here: perhaps shipped with the package (same key, same checks)
            from . import shipped

            return shipped.load(self.namespace, key)
        try:
            return self.read(path)[0]
        except ValueError as err:
            self.quarantine(path, str(err))
            return None

    def quarantine(self, path: Path, reason: str) -> Path:
        """Move a damaged file to ``<root>/corrupt/<namespace>/`` (kept for inspection) and warn."""
        dest = self.root / "corrupt" / self.namespace / f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(path, dest)
        except FileNotFoundError:  # another process moved it first
            return dest
        warnings.warn(f"springblock cache: {reason}; moved to {dest} and recomputing", stacklevel=3)
        return dest

    def keys(self) -> Iterator[str]:
        if self.folder.is_dir():
            yield from sorted(p.stem for p in self.folder.glob("*.npz"))


def namespaces(root: str | os.PathLike | None = None) -> list[str]:
    """The namespaces present under ``root`` (folders holding results)."""
    base = Path(root) if root is not None else cache_dir()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and p.name != "corrupt" and any(p.glob("*.npz")))


def provenance(root: str | os.PathLike | None = None) -> list[dict]:
    """Every readable provenance record under ``root``, newest first."""
    records = []
    for ns in namespaces(root):
        store = Store(ns, root)
        for key in store.keys():
            try:
                records.append(store.read(store.path(key))[1])
            except (ValueError, FileNotFoundError):
                continue
    return sorted(records, key=lambda r: r.get("finished", ""), reverse=True)
