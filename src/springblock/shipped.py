"""Shipped results: the paper-scale results that come with the package, read under the result cache.

Paper-scale results take CPU-hours to compute and every machine that builds the book may be new,
so the package carries them: one archive per experiment of :data:`springblock.scales.EXPERIMENTS`
in ``assets/paper-scale/``, written by :func:`export` from a cache that holds them (``springblock
fill`` does it):

* ``<experiment>.npz`` — every result the experiment reads, stacked: results of one kind (the same
  arrays) form a group, and for each array name the group's values are concatenated into one flat
  array with their shapes beside it; every result's provenance record (as the result cache keeps
  it, with its group) is in one JSON text;
* ``<experiment>.json`` — the manifest, small and readable in a diff: the settings and scale, the
  cell count and keys, the code fingerprints, data hashes and library versions they were computed
  with, the machine, the wall time and CPU time they took, and the archive's SHA-256.

:class:`springblock.cache.Store` reads a result from here when its cache does not hold it, under
the same key, so the trust rules are the cache's own: a shipped result is found only under the key
the *current* code, data and library versions give it (an edited engine makes it invisible, and
:func:`status` then says what must be recomputed and about how long it takes), and it is served only
if its record hashes to that key and its arrays match the content digest in that record. Any
shipped result can be recomputed (:func:`verify`): training does not depend on which networks share
its stack, and the measured curves only in their last bit or two (:func:`reproduce.agreement`).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import time
import warnings
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .cache import DIGEST, PROVENANCE, Store, atomic_write, content_digest

FORMAT = 1


def folder() -> Path:
    """Where shipped results are read from: ``$SPRINGBLOCK_SHIPPED``, else the package's own."""
    env = os.environ.get("SPRINGBLOCK_SHIPPED")
    if env is not None:  # a folder that does not exist is allowed: it turns the shipped results off
        from .paths import env_folder

        return env_folder("SPRINGBLOCK_SHIPPED", env, "unset it for the package's own shipped results")
    return Path(str(resources.files("springblock") / "assets" / "paper-scale"))


class ShippedError(ValueError):
    """A shipped archive or manifest is unusable; names the file."""


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _pack(results: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Flat arrays of many results: ``<name>`` (values concatenated) and ``<name>.shapes``."""
    names = sorted(results[0])
    for i, r in enumerate(results):
        if sorted(r) != names:
            raise ShippedError(f"result {i} holds arrays {sorted(r)}, the first one {names}: one archive packs "
                               "results of one kind")
    out = {}
    for name in names:
        arrays = [np.asarray(r[name]) for r in results]
        dtypes, ndims = {a.dtype.str for a in arrays}, {a.ndim for a in arrays}
        if len(dtypes) > 1 or len(ndims) > 1:
            raise ShippedError(f"array {name!r} has dtypes {sorted(dtypes)} / ranks {sorted(ndims)} across results")
        out[name] = np.concatenate([a.reshape(-1) for a in arrays]) if arrays else np.zeros(0)
        out[f"{name}.shapes"] = np.array([a.shape for a in arrays], dtype=np.int64).reshape(len(arrays), -1)
    return out


def _unpack(blob: Mapping[str, np.ndarray], n: int) -> list[dict[str, np.ndarray]]:
    names = [k for k in blob if not k.endswith(".shapes") and k != PROVENANCE]
    cells: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
    for name in names:
        flat, shapes = blob[name], blob[f"{name}.shapes"]
        if shapes.shape[0] != n:
            raise ShippedError(f"array {name!r} has {shapes.shape[0]} cells, not {n}")
        sizes = np.prod(shapes, axis=1, dtype=np.int64) if shapes.shape[1] else np.ones(n, dtype=np.int64)
        if int(sizes.sum()) != flat.size:
            raise ShippedError(f"array {name!r} holds {flat.size} values, its shapes {int(sizes.sum())}")
        start = 0
        for i in range(n):
            cells[i][name] = flat[start:start + sizes[i]].reshape(tuple(shapes[i]))
            start += int(sizes[i])
    return cells


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _summary(records: list[dict], field: str) -> list:
    """The distinct values of one provenance field (one, normally)."""
    return [json.loads(v) for v in sorted({json.dumps(r.get(field), sort_keys=True) for r in records})]


def export(experiment: str, keys: Iterable[tuple[str, str]], *, root=None, scale: str = "paper",
           settings: Mapping[str, Any] | None = None, wall_s: float | None = None, out: Path | None = None,
           complete: bool = True) -> dict:
    """Write the results ``keys`` (``(namespace, key)`` pairs, e.g. from
    :func:`springblock.results.recording`) of ``experiment`` from the cache ``root`` into
    ``<out>/<experiment>.npz`` and its manifest; return the manifest.

    ``complete=False``: the experiment is not finished (a fill slice ran out of time); the next
    slice adds to it. ``wall_s``: the time computing them took (added to a partial archive's).
    An archive whose cells did not change is not rewritten (no binary churn in a repository)."""
    out = folder() if out is None else Path(out)
    keys = list(dict.fromkeys(keys))
    if not keys:
        raise ShippedError(f"{experiment}: no results to ship")
    by_ns: dict[str, list[str]] = {}
    for ns, k in keys:
        by_ns.setdefault(ns, []).append(k)
    blob: dict[str, np.ndarray] = {}
    records: list[dict] = []
    for ns, ks in sorted(by_ns.items()):
        store = Store(ns, root)
        groups: dict[tuple, list[tuple[str, dict]]] = {}  # results of one kind (the same arrays) pack together
        for k in ks:
            arrays = store.load(k)
            if arrays is None:
                raise ShippedError(f"{experiment}: result {ns}/{k} is in neither the cache {store.root} nor the shipped "
                                   "results (compute it first)")
            groups.setdefault(tuple(sorted(arrays)), []).append((k, arrays))
        for g, members in enumerate(groups.values()):
            for k, _ in members:
                records.append({**_record(store, k), "_group": g})
            for name, a in _pack([a for _, a in members]).items():
                blob[f"{ns}/{g}/{name}"] = a
    blob[PROVENANCE] = np.array(json.dumps(records, sort_keys=True, default=str))
    archive, manifest_path = out / f"{experiment}.npz", out / f"{experiment}.json"
    namespaces = {ns: len(ks) for ns, ks in sorted(by_ns.items())}
    cells_digest = hashlib.sha256(json.dumps([[r["namespace"], r["key"], r[DIGEST]] for r in records]).encode()).hexdigest()
    old = _read_manifest(manifest_path) if manifest_path.exists() else None
    if old is not None and old.get("cells_digest") == cells_digest and archive.exists() \
            and _sha256(archive) == old.get("sha256") and old.get("complete", True) == complete:
        return old
    if wall_s is not None and old is not None and not old.get("complete", True) and old.get("wall_s"):
        wall_s = float(wall_s) + float(old["wall_s"])  # this slice's time on top of the earlier slices'
    atomic_write(archive, lambda fh: np.savez_compressed(fh, **blob))
    manifest = {
        "format": FORMAT, "experiment": experiment, "scale": scale,
        "settings": json.loads(json.dumps(dict(settings or {}), default=str)),
        "cells": len(records), "namespaces": namespaces, "complete": bool(complete),
        "keys": {ns: ks for ns, ks in sorted(by_ns.items())},
        "code": _summary(records, "code"), "data": _summary(records, "data"), "versions": _summary(records, "versions"),
        "devices": sorted({str(r.get("device")) for r in records}),
        "machine": sorted({str(r.get("device_name")) for r in records}),
        "hosts": len({r.get("host") for r in records}),
        # the fill's wall time on a machine of `cores` cores, all of them busy: CPU time ≈ wall × cores
        "wall_s": None if wall_s is None else round(float(wall_s), 1), "cores": os.cpu_count(),
        "computed": [min(str(r.get("finished")) for r in records), max(str(r.get("finished")) for r in records)],
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S"), "exported_on": platform.node(),
        "cells_digest": cells_digest, "bytes": archive.stat().st_size, "sha256": _sha256(archive),
    }
    atomic_write(manifest_path, lambda fh: fh.write(json.dumps(manifest, indent=1, sort_keys=True) + "\n"), mode="w")
    for path in (archive, manifest_path):
        path.chmod(0o644)  # files of a repository, readable by all
    _index.cache_clear()
    _archive.cache_clear()
    return manifest


def _record(store: Store, key: str) -> dict:
    """A stored result's provenance (from the cache, or from a shipped archive)."""
    path = store.path(key)
    if path.exists():
        return store.read(path)[1]
    hit = _index().get((store.namespace, key))
    if hit is None:
        raise ShippedError(f"no record of {store.namespace}/{key}")
    return _archive(hit)[1][(store.namespace, key)][1]


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
def _read_manifest(path: Path) -> dict:
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ShippedError(f"{path}: unreadable manifest ({type(err).__name__}: {err})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("keys"), dict):
        raise ShippedError(f"{path}: not a shipped-results manifest of format {FORMAT}")
    return m


def manifests() -> dict[str, dict]:
    """Every shipped experiment's manifest, by experiment name (unreadable ones are warned about)."""
    out = {}
    base = folder()
    for path in sorted(base.glob("*.json")) if base.is_dir() else ():
        try:
            out[path.stem] = _read_manifest(path)
        except ShippedError as err:
            warnings.warn(f"springblock shipped results: {err}; ignored", stacklevel=2)
    return out


@functools.lru_cache(maxsize=1)
def _index() -> dict[tuple[str, str], str]:
    """(namespace, key) -> the experiment archive that ships it."""
    index = {}
    for name, m in manifests().items():
        for ns, ks in m["keys"].items():
            for k in ks:
                index.setdefault((ns, k), name)
    return index


@functools.lru_cache(maxsize=4)
def _archive(name: str) -> tuple[Path, dict[tuple[str, str], tuple[dict, dict]]]:
    """One archive, checked and unpacked: (namespace, key) -> (arrays, record)."""
    path = folder() / f"{name}.npz"
    manifest = _read_manifest(folder() / f"{name}.json")
    if not path.exists() or _sha256(path) != manifest.get("sha256"):
        raise ShippedError(f"{path}: missing, or not the archive its manifest describes (SHA-256 differs)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            blob = {k: npz[k] for k in npz.files}
        records = json.loads(str(blob.pop(PROVENANCE)))
    except Exception as err:  # any unreadable archive is reported by name and not used
        raise ShippedError(f"{path}: unreadable ({type(err).__name__}: {err})") from None
    out = {}
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in records:
        groups.setdefault((r.get("namespace"), r.pop("_group", 0)), []).append(r)
    for (ns, g), recs in groups.items():
        part = {k.split("/", 2)[2]: v for k, v in blob.items() if k.startswith(f"{ns}/{g}/")}
        for rec, arrays in zip(recs, _unpack(part, len(recs))):
            out[(ns, rec["key"])] = (arrays, rec)
    return path, out


def load(namespace: str, key: str) -> dict[str, np.ndarray] | None:
    """The shipped result of ``key``, or None. Served only when its record hashes to ``key`` and its
    arrays match the record's content digest; a result that fails is reported and not served."""
    name = _index().get((namespace, key))
    if name is None:
        return None
    try:
        path, cells = _archive(name)
    except ShippedError as err:
        warnings.warn(f"springblock shipped results: {err}; not used", stacklevel=3)
        return None
    arrays, rec = cells.get((namespace, key), (None, None))
    from .results import record_key

    problem = None
    if arrays is None:
        problem = "listed in the manifest but absent from the archive"
    elif record_key(rec) != key:
        problem = "its provenance does not hash to its key"
    elif rec.get(DIGEST) != content_digest(arrays):
        problem = "its arrays do not match the content digest in its provenance"
    if problem:
        warnings.warn(f"springblock shipped results: {path} {namespace}/{key}: {problem}; not used, recomputing",
                      stacklevel=3)
        return None
    return {k: v.copy() for k, v in arrays.items()}


def has(namespace: str, key: str) -> bool:
    """Whether a shipped archive lists ``key`` (it is checked only when read, by :func:`load`)."""
    return (namespace, key) in _index()


def records(experiment: str) -> list[dict]:
    """The provenance records of a shipped experiment's results."""
    return [rec for _, rec in _archive(experiment)[1].values()]


# ---------------------------------------------------------------------------------------------
# Verification
# ---------------------------------------------------------------------------------------------
def verify(per_experiment: int = 2, seed: int | None = None, experiments: Iterable[str] | None = None,
           log=print, max_seconds: float | None = None) -> list[dict]:
    """Recompute ``per_experiment`` randomly chosen shipped results of every shipped experiment (or
    of ``experiments``) and compare them with what is shipped: bitwise, or within
    :data:`reproduce.ULP_TOLERANCE` float32 units in the last place for float arrays (see
    :func:`reproduce.agreement`). Each row's ``agrees`` says which.

    The sample is drawn with ``seed`` (a fresh one when None), which is logged, so a failure can be
    replayed. Results computed on another device type are skipped (they cannot be recomputed here),
    and so are those whose key the current code no longer gives (they are never served).
    ``max_seconds`` skips, by name, the sampled results of an experiment whose manifest says one
    result took more CPU-seconds than that to make (:func:`seconds_per_result`): CI's sample stays
    cheap, and ``--only`` without the cap still recomputes them.
    """
    import random
    import secrets

    from . import inventory, reproduce

    per_experiment = _positive("per_experiment", per_experiment)
    if max_seconds is not None:
        from . import validate

        max_seconds = validate.real("max_seconds", max_seconds, 0.0, lo_open=True)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    log(f"springblock shipped results: verifying {per_experiment} result(s) per experiment, sample seed {seed}")
    rng = random.Random(seed)
    mans = manifests()
    names = sorted(mans) if experiments is None else list(experiments)
    unknown = sorted(set(names) - set(mans))
    if unknown:
        raise ValueError(f"experiments: {unknown} are not shipped; shipped are {sorted(mans)}")
    inventory.expected_key  # noqa: B018 - importing inventory fills the experiment registry
    rows = []
    for name in names:
        cells = sorted(_archive(name)[1].items())
        cost = seconds_per_result(mans[name])
        for (ns, key), (arrays, rec) in rng.sample(cells, min(per_experiment, len(cells))):
            row = {"experiment": name, "namespace": ns, "key": key, "label": rec.get("label")}
            if max_seconds is not None and cost > max_seconds:
                rows.append({**row, "status": f"skipped: one result took {cost:.0f} CPU-s to make (its manifest), "
                                              f"over --max-seconds {max_seconds:g}", "too_costly": True})
            elif inventory.expected_key(rec) != key:
                rows.append({**row, "status": "skipped: the current code gives it another key (never served)"})
            else:
                rows.append({**row, **reproduce.recheck(arrays, rec)})
            log(f"{name:>18} {ns}/{key}: {rows[-1]['status']}")
    return rows


def seconds_per_result(manifest: Mapping) -> float:
    """CPU-seconds one of an experiment's results took to make, on average, by its manifest (wall
    time × cores ÷ results): what recomputing one of them costs, roughly, on a like machine."""
    return float(manifest.get("wall_s") or 0) * float(manifest.get("cores") or 1) / max(1, int(manifest.get("cells") or 1))


def _positive(name: str, n) -> int:
    from . import validate

    return validate.integer(name, n, 1)


def in_short() -> str:
    """Two sentences for the top of the reproducibility page: the CPU time behind the shipped
    paper-scale results and the machines that made them, and whether any was computed on a GPU."""
    ms = manifests()
    if not ms:
        if os.environ.get("SPRINGBLOCK_SHIPPED") is not None:  # CI's cold CPU-budget build turns them off
            return (f"This build read no shipped paper-scale results: SPRINGBLOCK_SHIPPED points at {folder()}, "
                    "which holds none, so every result on its pages was computed for it.")
        return "No paper-scale results are shipped with this copy of the package."
    hours = totals()["cpu_h"]
    machines = sorted({f"{cpu} ({m.get('cores')} cores)" for m in ms.values() for cpu in m.get("machine", [])})
    partial = [n for n, m in ms.items() if not m.get("complete", True)]
    gpu = sorted({d for m in ms.values() for d in m.get("devices", []) if d.startswith("cuda")})
    out = (("The one shipped paper-scale experiment" if len(ms) == 1 else f"The {len(ms)} shipped paper-scale experiments")
           + (f" ({len(partial)} of them partial)" if partial else "") + " "
           f"took {hours:.1f} CPU-hours to compute, on {' and '.join(machines)}. ")
    out += (f"Some were computed on a GPU ({', '.join(gpu)})." if gpu else
            "None was computed on a GPU, so no GPU time is recorded for them.")
    return out


def totals() -> dict:
    """The shipped results in all, from their manifests: results, bytes and CPU-hours."""
    ms = manifests().values()
    return {"results": sum(int(m["cells"]) for m in ms), "bytes": sum(int(m["bytes"]) for m in ms),
            "cpu_h": sum((m.get("wall_s") or 0) * (m.get("cores") or 1) for m in ms) / 3600}


def summary() -> list[dict]:
    """One row per shipped experiment, for people: results, size, the time they took and where."""
    rows = []
    for name, m in manifests().items():
        wall = m.get("wall_s")
        rows.append({"experiment": name, "results": m["cells"], "complete": "yes" if m.get("complete", True) else "partial",
                     "size (MB)": round(m["bytes"] / 1e6, 2),
                     "wall time (min)": None if wall is None else round(wall / 60, 1),
                     "CPU time (h)": None if wall is None else round(wall * (m.get("cores") or 1) / 3600, 2),
                     "machine": f"{', '.join(m.get('machine', []))}, {m.get('cores')} cores",
                     "computed": str(m.get("computed", ["", ""])[-1])[:10]})
    return rows
