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
terminals, cluster jobs on a shared filesystem) never compute the same result twice.

This module stores bytes; what a key *means* is :mod:`springblock.results`' business.
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import time
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
from filelock import FileLock

from .paths import cache_dir

PROVENANCE = "__provenance__"
ORPHAN_AGE_S = 24 * 3600  # a temporary file this old is an orphan even if its writer's host is another
_HOST = socket.gethostname().replace(".", "_")  # no dots: temporary names are split on them


class CacheError(OSError):
    """The cache folder cannot be used (not a folder, not writable, full); names the path."""


def check_writable(root: str | os.PathLike | None = None) -> Path:
    """Make sure results can be stored under ``root`` before any work is done; return it."""
    base = Path(root) if root is not None else cache_dir()
    try:
        base.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=base, prefix=".write-probe.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(b"ok")
        os.unlink(probe)
    except OSError as err:
        raise CacheError(f"result cache {base} is not usable ({err.strerror or err}); set SPRINGBLOCK_CACHE "
                         "to a writable folder") from err
    return base


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.{_HOST}.{os.getpid()}."


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` via ``write(filehandle)`` to a temporary file, then rename: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_tmp_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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
    """Remove temporary files whose writer is gone (same host, dead pid) or that are over a day old.

    Returns them; with ``dry_run`` only finds them."""
    removed = []
    for tmp in folder.glob(".*.tmp"):
        parts = tmp.name.rsplit(".", 3)  # ".<name>.<host>.<pid>.<random>.tmp" -> [..., pid, random, tmp]
        host, pid = (parts[0].rsplit(".", 1)[-1], parts[1]) if len(parts) == 4 else (None, None)
        try:
            old = time.time() - tmp.stat().st_mtime > ORPHAN_AGE_S
            dead = host == _HOST and pid is not None and pid.isdigit() and not _alive(int(pid))
            if old or dead:
                if not dry_run:
                    tmp.unlink()
                removed.append(tmp)
        except (FileNotFoundError, ValueError):
            continue
    return removed


class Store:
    """The results of one namespace: ``<root>/<namespace>/<key>.npz``, one lock file per key."""

    def __init__(self, namespace: str, root: str | os.PathLike | None = None):
        self.namespace = namespace
        self.root = Path(root) if root is not None else cache_dir()
        self.folder = self.root / namespace

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def lock(self, key: str) -> FileLock:
        lock_dir = self.root / ".locks" / self.namespace
        lock_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(lock_dir / f"{key}.lock")

    def save(self, key: str, arrays: Mapping[str, Any], provenance: Mapping[str, Any]) -> Path:
        """Store ``arrays`` with ``provenance`` (which must hold ``"key": key``) in one atomic file."""
        if PROVENANCE in arrays:
            raise ValueError(f"{PROVENANCE!r} is reserved for the provenance record")
        record = {**provenance, "key": key, "namespace": self.namespace}
        blob = {k: np.asarray(v) for k, v in arrays.items()}
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
        return arrays, record

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        """The stored result for ``key``; None if absent, or if damaged (then reported and moved aside)."""
        path = self.path(key)
        if not path.exists():
            return None
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
