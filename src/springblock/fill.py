"""Filling the shipped results, a slice at a time, and saying what is shipped and what is missing.

The paper scale costs CPU-days on a laptop and every machine that works on this book may be new,
so it is filled in slices that each fit a working session: :func:`fill` computes the experiments
of :data:`ORDER` that are not shipped yet (or whose shipped results the current code no longer
reaches), in that order, until its time budget is spent; every finished result is stored as it
finishes, and what the slice did is exported into the shipped form (:mod:`springblock.shipped`) —
a partly computed experiment too, so that the next slice, on another machine, starts where this
one stopped. :func:`status` says, per experiment, how many of its results the shipped layer (and
the cache) hold under current keys, and about how long the rest will take.
"""
from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from . import results, scales, shipped, validate

# The fill's order: chapters 1–4 first (Fig. 1 and Fig. 4, then what else those chapters read),
# then the generalization chapters, cheapest evidence first; CIFAR-10 last (it needs its files).
# Not shipped: "separation" (chapter 1's 20 networks train in under a minute at scale paper, and the
# layer features it keeps for its pictures take 16 MB) and "gen_metrics" (60 float64 networks, 4
# minutes here; its inverse metric, a pseudo-inverse of a within-class scatter of condition ~1e8,
# recomputes only to about 5 float32 ulp, beyond what `shipped verify` accepts).
ORDER = ("fig1_noise", "fig1_lr", "fig1_dropout", "fig1_batch", "fig4_dynamics",
         "chain_eq7", "chain_fig2", "chain_phase", "chain_second_order", "chain_explorer",
         "chain_noise", "chain_bounded", "chain_dynamics", "chain_langevin", "fig1_norm", "fig1_resize",
         "separation", "gen_metrics", "gen_depth_width", "gen_fashion", "gen_fashion_sgd", "gen_regression", "gen_linear",
         "gen_control", "gen_cnn", "gen_probe", "gen_cifar_dropout", "gen_cifar_lr")


class BudgetSpent(KeyboardInterrupt):
    """The slice's time is up: raised like Ctrl-C, so running jobs are cancelled and every finished
    result is already stored."""


@contextlib.contextmanager
def _deadline(seconds: float | None):
    if seconds is None:
        yield
        return

    def stop(signum, frame):
        raise BudgetSpent(f"the fill's budget of {seconds:.0f} s is spent")

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Row:
    """What the shipped layer holds of one experiment at one scale."""

    experiment: str
    state: str  # "shipped" | "partial" | "missing" | "stale" | "not testable here"
    found: int | None  # results under current keys (None: unknown)
    missing: int | None  # results still to compute in the first stage that lacks some (None: unknown)
    estimate_s: float | None  # about how long the missing ones take on this machine
    note: str = ""


def _probe(name: str, scale: str, root) -> tuple[int, int | None, str]:
    """(found, missing, note) of ``name``: its function run read-only, recording what it asks for."""
    from . import experiments

    ctx = results.RunContext(root=root, cached_only=True, scale=scale, progress=False)
    with results.recording() as seen:
        try:
            experiments.compute(name, ctx)
        except results.MissingResults as err:
            n_missing = _count(str(err))
            asked = len(seen)
            return asked - (n_missing or 0), n_missing, "first missing stage shown" if n_missing is not None else str(err)
        except (OSError, RuntimeError, ValueError) as err:  # e.g. a dataset that is not on this machine
            return 0, None, f"{type(err).__name__}: {str(err).splitlines()[0]}"
    return len(seen), 0, ""


def _count(message: str) -> int | None:
    import re

    m = re.search(r"(\d+) of (\d+) results are not in the cache", message)
    return int(m.group(1)) if m else None


def seconds_per_result() -> dict[str, float]:
    """Seconds per result by cache namespace, from the shipped manifests (wall × cores / cells)."""
    sums: dict[str, list[float]] = {}
    for m in shipped.manifests().values():
        if not m.get("wall_s") or not m.get("complete", True):
            continue
        cpu = float(m["wall_s"]) * float(m.get("cores") or 1)
        for ns, n in m["namespaces"].items():
            acc = sums.setdefault(ns, [0.0, 0.0])
            acc[0] += cpu * n / m["cells"]
            acc[1] += n
    return {ns: s / n for ns, (s, n) in sums.items() if n}


def status(scale: str = "paper", root=None, names=ORDER) -> list[Row]:
    """One :class:`Row` per experiment: what the shipped layer (and the cache ``root``) holds under
    the current code's keys, and an estimate of the CPU time the rest takes."""
    validate.choice("scale", scale, scales.SCALES)
    mans = shipped.manifests()
    rate = seconds_per_result()
    rows = []
    for name in names:
        found, missing, note = _probe(name, scale, root)
        man = mans.get(name)
        if missing is None and found == 0:
            state = "not testable here"
        elif missing == 0:
            state = "shipped" if man is not None else "computed, not shipped"
        elif man is not None:
            state = "stale" if found == 0 else "partial"
        else:
            state = "missing"
        est = None
        if missing:
            ns = _namespace(name)
            if ns in rate:
                est = missing * rate[ns]
        rows.append(Row(name, state, found, missing, est, note))
    return rows


def _namespace(name: str) -> str:
    """The cache namespace an experiment's results live in (its engine's)."""
    feeds = scales.EXPERIMENTS[name].feeds
    if "experiments.fig1" in feeds or "architectures" in feeds:
        return "mlp"
    if "chain_grids" in feeds:
        return "chain"
    return feeds.split(":")[0].rsplit(".", 1)[-1]


def fill(scale: str = "paper", *, budget_s: float | None = None, executor=None, root=None, names=ORDER,
         out: Path | None = None, progress: bool = True, log=print) -> list[dict]:
    """Compute the experiments of ``names`` not yet shipped at ``scale`` (in that order) within
    ``budget_s`` seconds, and export each into the shipped form as it completes — or, when the
    budget runs out inside one, what of it was finished. Returns the manifests written."""
    validate.choice("scale", scale, scales.SCALES)
    for n in names:
        validate.choice("names", n, ORDER)
    if budget_s is not None:
        budget_s = validate.real("budget", budget_s, 0, None, lo_open=True)
    from . import experiments

    start = time.monotonic()
    written = []
    for name in names:
        found, missing, note = _probe(name, scale, root)
        if missing is None and found == 0:
            log(f"{name}: skipped ({note})")
            continue
        if missing == 0 and name in shipped.manifests():
            man = shipped.manifests()[name]
            if man.get("complete", True) and sum(len(k) for k in man["keys"].values()) == found:
                continue  # shipped and current
        left = None if budget_s is None else budget_s - (time.monotonic() - start)
        if left is not None and left <= 0:
            log(f"budget spent before {name}")
            break
        log(f"{name}: computing at scale {scale} ({found} results found, {missing} missing in its first stage)")
        ctx = results.RunContext(root=root, executor=_lasting(executor, left), scale=scale, progress=progress)
        t0 = time.monotonic()
        complete = failed = False
        stopped: BaseException | None = None
        with results.recording() as seen:
            try:
                with _deadline(left):
                    experiments.compute(name, ctx)
                complete = True
            except BudgetSpent:
                log(f"{name}: budget spent; exporting what is finished")
            except (KeyboardInterrupt, SystemExit) as err:  # Ctrl-C, or SIGTERM (the CLI's exit): ship, then stop
                stopped = err
                log(f"{name}: stopped; exporting what is finished")
            except RuntimeError as err:  # a failed job: keep what it finished, go on with the next experiment
                failed = True
                log(f"{name}: {err}; exporting what is finished and going on")
        wall_s = time.monotonic() - t0
        with _shielded():  # an interrupt now would lose the export of everything this slice computed
            keys = [k for k in seen if _present(k, root)]
            if keys:
                t1 = time.monotonic()
                man = shipped.export(name, keys, root=root, scale=scale, settings=scales.settings(name, scale),
                                     wall_s=wall_s, out=out, complete=complete)
                written.append(man)
                log(f"{name}: shipped {man['cells']} results ({man['bytes'] / 1e6:.1f} MB, exported in "
                    f"{time.monotonic() - t1:.0f} s){'' if complete else ', partial'}")
        if stopped is not None:
            raise stopped
        if not complete and not failed:
            break
    return written


@contextlib.contextmanager
def _shielded():
    """SIGINT and SIGTERM held back until the block ends (then delivered as a KeyboardInterrupt)."""
    caught: list[int] = []

    def hold(signum, frame):
        caught.append(signum)

    old = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if caught:
        raise KeyboardInterrupt(f"signal {caught[0]} during the export, which finished first")


def _lasting(executor, left: float | None):
    """The executor, with a per-job time limit no shorter than what is left of the budget (a job
    killed by its own limit loses the result it was computing; the budget stops jobs anyway)."""
    limit = getattr(executor, "time_min", None)
    if limit is None or left is None or limit * 60 >= left:
        return executor
    import dataclasses
    import math

    return dataclasses.replace(executor, time_min=math.ceil(left / 60) + 1)


def _present(nk: tuple[str, str], root) -> bool:
    from .cache import Store

    ns, k = nk
    store = Store(ns, root)
    return store.path(k).exists() or shipped.has(ns, k)
