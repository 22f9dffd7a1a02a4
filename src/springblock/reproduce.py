"""Recomputing a stored result from its provenance record, and comparing it with what is stored.

``springblock cache verify`` and ``springblock shipped verify`` use these: :func:`recompute`
rebuilds a result's data from its record and runs its experiment again on this CPU (at the torch
thread count the record names); :func:`agreement` compares bitwise, or to a few float32 ulp where
the engine's grouping of networks changes how reductions round; :func:`recheck` does both, skips
what cannot be recomputed bitwise here (a GPU result, another CPU type) and says why.
"""
from __future__ import annotations

import contextlib
from typing import Any, Mapping

import numpy as np

from .devices import cpu_type, torch_threads
from .results import REGISTRY, Context


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
    if exp is not None and exp.torch and record.get("threads") is None and torch_threads() != 1:
        # Made before records named their thread count: torch's CPU matrix products round by how they
        # split the work over threads (seen 2026-12-07: the fill's one-thread local jobs made linear
        # and regression results that recompute bitwise at 1 thread and 6-4e5 ulp away at 2), and the
        # fill runs one thread per job, so 1 is the count to try.
        agrees_alone, status_alone = agreement(stored, recompute(record, threads=1))
        if agrees_alone:
            return {"status": f"{status_alone} at 1 torch thread (its record does not name the thread "
                              f"count it was made with; at {torch_threads()}: {status.removeprefix('DIFFERENT: ')})",
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
