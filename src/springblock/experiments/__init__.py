"""The book's experiments, one module per family, and :func:`compute`, the one way to run one by name.

Each function takes its settings explicitly and returns plain results; everything expensive goes
through :func:`springblock.results.run`, so it is cached, resumable and keyed. :func:`compute`
looks a name up in ``springblock.scales.EXPERIMENTS``, applies the scale's settings and runs the
function under one explicit :class:`~springblock.results.RunContext` (device, seed, scale, cache
root, executor, cached-only, progress): chapters, the ledger and the command line all go through it.

* :mod:`.mlp` — the one experiment for the engine's MLPs (cached per network)
* :mod:`.fig1` — Fig. 1 phase-diagram panels and Fig. 4 (left) training dynamics
* :mod:`.architectures` — other normalisations, depths, widths, datasets, optimizers and metrics
* :mod:`.separation_demo` — chapter 1's trained and untrained MLPs in the three metrics
* :mod:`.cnn`, :mod:`.linear_net`, :mod:`.regression` — the S2 CNN, Fig. 5(a)'s linear network, S12
* :mod:`.torchvision_probe` — a torchvision network probed with hooks
* :mod:`.chain_grids` — spring–block simulations of chapters 3–4
* :mod:`.chain_fits` — spring chains fitted to networks' load dynamics
* :mod:`.control` — load-guided dropout
"""

from __future__ import annotations

import inspect
from typing import Any

from .. import results, scales, validate


def names() -> tuple[str, ...]:
    """Every experiment :func:`compute` can run, in the registry's order (chapter by chapter)."""
    return tuple(n for n, e in scales.EXPERIMENTS.items() if not e.inputs())


def _context(ctx) -> results.RunContext:
    if ctx is None:
        return results.RunContext()
    if isinstance(ctx, results.RunContext):
        return ctx
    if not isinstance(ctx, scales.RunParams):
        raise ValueError(f"ctx must be a results.RunContext or a chapter's scales.RunParams (or None), got {ctx!r}; "
                         f"a scale is given as RunContext(scale=...)")
    return results.RunContext(device=ctx.device, seed=ctx.seed, scale=ctx.scale)  # a chapter's scales.RunParams


def compute(name: str, ctx: results.RunContext | scales.RunParams | None = None, **overrides: Any) -> Any:
    """The result of experiment ``name`` at ``ctx.scale`` (stored results read, missing computed).
    ``ctx`` may be a chapter's ``scales.RunParams`` (its device, seed and scale are used).

    ``overrides`` replace single settings (``seeds=3``); a name the experiment's function does not
    take is refused before any work. The context's device, seed and progress are passed to the
    function where it takes them; its cache root, executor and cached-only flag reach every cached
    call inside it (:func:`springblock.results.using`), so no module state or environment is changed.
    """
    ctx = _context(ctx)
    validate.choice("name", name, names())
    entry = scales.EXPERIMENTS[name]
    fn = entry.function()
    params = inspect.signature(fn).parameters
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(f"{name}: unknown setting(s) {unknown}; it takes {sorted(params)}")
    kw = {**entry.args, **scales.settings(name, ctx.scale), **overrides}
    _check_size(name, kw)
    for field in ("device", "seed", "progress", "scale"):
        if field in params and field not in kw:
            kw[field] = getattr(ctx, field)
    with results.using(ctx), results.tagged(scale=ctx.scale):  # the run log says at which scale
        return fn(**kw)


def analyse(name: str, ctx: results.RunContext | scales.RunParams | None, *inputs: Any) -> Any:
    """Analysis ``name`` (one that reads other results, e.g. ``gen_chainfit`` on Fig. 4's curves) of
    ``inputs``, with its settings at ``ctx``'s scale and ``ctx``'s seed."""
    ctx = _context(ctx)
    validate.choice("name", name, tuple(n for n, e in scales.EXPERIMENTS.items() if e.inputs()))
    fn = scales.EXPERIMENTS[name].function()
    kw = {**scales.settings(name, ctx.scale)}
    if "seed" in inspect.signature(fn).parameters:
        kw["seed"] = ctx.seed
    with results.using(ctx), results.tagged(scale=ctx.scale):
        return fn(*inputs, **kw)


# The most networks (cells × seeds) one call trains: refused above it before any work, rather than
# failing for memory after building millions of configurations (the paper's largest grid, S5/S6,
# is 4,320 networks).
MAX_NETWORKS = 200_000


def _check_size(name: str, kw: dict) -> None:
    seeds = kw.get("seeds")
    if seeds is None:
        return
    count = validate.integer("seeds", seeds, 1) if not isinstance(seeds, (list, tuple)) else len(seeds)
    cells = 1
    for field, value in kw.items():  # every grid axis is a sequence setting (alphas, values, depths, ...)
        if field != "seeds" and isinstance(value, (list, tuple)) and value \
                and all(isinstance(v, (int, float)) for v in value):
            cells *= len(value)
    if cells * count > MAX_NETWORKS:
        raise ValueError(f"{name}: seeds={count} asks for {cells * count:,} networks ({cells} cells × {count} seeds); "
                         f"one run trains at most {MAX_NETWORKS:,} (seeds must be in [1, {MAX_NETWORKS // cells:,}] here)")

