"""On-disk cache for results of expensive runs, keyed by their full configuration.

One finished unit of work (a sweep cell, a chain grid, a training run) is one ``.npz`` file
named by a hash of its configuration, plus a human-readable ``.json`` provenance sidecar
(config, package/torch/numpy versions, device, wall time, date). Both are written to a
temporary name and renamed, so a killed run never leaves a half-written result and a rerun
computes only what is missing.

The cache lives in ``$SPRINGBLOCK_CACHE`` if set, else ``~/.cache/springblock``.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from . import __version__


def cache_dir() -> Path:
    """Root folder of the result cache (``$SPRINGBLOCK_CACHE`` or ``~/.cache/springblock``)."""
    root = os.environ.get("SPRINGBLOCK_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "springblock"


def _canonical(obj: Any) -> Any:
    """JSON-able, order-independent form of a config (tuples → lists, numpy → python)."""
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _canonical(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"config value {obj!r} of type {type(obj).__name__} is not JSON-able")


def config_key(config: Mapping[str, Any]) -> str:
    """Stable 20-hex-digit hash of a configuration plus the package version."""
    blob = json.dumps({"config": _canonical(config), "springblock": __version__}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` via ``write(filehandle)`` to a temporary file, then rename: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _versions() -> dict[str, str]:
    out = {"springblock": __version__, "numpy": np.__version__, "python": platform.python_version()}
    try:  # torch is optional for the spring-block side
        import torch

        out["torch"] = torch.__version__
    except ImportError:
        pass
    return out


class ResultCache:
    """Results of one kind of computation (``namespace``), one file per configuration."""

    def __init__(self, namespace: str, root: str | os.PathLike | None = None):
        self.namespace = namespace
        self.folder = (Path(root) if root is not None else cache_dir()) / namespace

    def path(self, config: Mapping[str, Any]) -> Path:
        return self.folder / f"{config_key(config)}.npz"

    def load(self, config: Mapping[str, Any]) -> dict[str, np.ndarray] | None:
        """The stored result for ``config``, or None if it was never finished."""
        path = self.path(config)
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}

    def save(
        self,
        config: Mapping[str, Any],
        result: Mapping[str, Any],
        *,
        wall_time: float | None = None,
        device: str = "cpu",
    ) -> Path:
        """Store ``result`` (arrays, tensors or numbers) for ``config`` atomically."""
        arrays = {k: _to_numpy(v) for k, v in result.items()}
        path = self.path(config)
        atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays))
        meta = {
            "namespace": self.namespace,
            "key": path.stem,
            "config": _canonical(config),
            "device": str(device),
            "wall_time_s": None if wall_time is None else round(float(wall_time), 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "versions": _versions(),
            "host": platform.node(),
        }
        atomic_write(path.with_suffix(".json"), lambda fh: json.dump(meta, fh, indent=1), mode="w")
        return path

    def get_or_compute(
        self,
        config: Mapping[str, Any],
        compute: Callable[[], Mapping[str, Any]],
        *,
        device: str = "cpu",
    ) -> dict[str, np.ndarray]:
        """Load the result for ``config`` or compute, store and return it."""
        found = self.load(config)
        if found is not None:
            return found
        start = time.perf_counter()
        result = compute()
        self.save(config, result, wall_time=time.perf_counter() - start, device=device)
        return {k: _to_numpy(v) for k, v in result.items()}


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def provenance(root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """All provenance records under the cache root, newest first (for the reproducibility page)."""
    base = Path(root) if root is not None else cache_dir()
    records = []
    for js in base.glob("*/*.json"):
        try:
            records.append(json.loads(js.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # a record being written right now; the .npz is what counts
    return sorted(records, key=lambda r: r.get("finished", ""), reverse=True)
