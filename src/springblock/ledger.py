"""Every claim of the paper evaluated on the book's results: what the ledger page shows.

:func:`gather` obtains every result the claims read through :func:`springblock.experiments.compute`
— the same named experiments and settings the chapters use, so on a built book everything comes from
the cache (or, at scale paper, from the shipped results). With ``cached_only`` nothing is computed:
a result that is not stored is simply absent, and the claims that need it have no verdict at that
scale. :func:`rows` evaluates every claim and its counterfactual and says, per row, which
experiments it rests on, at what budget and where their settings come from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


from . import auto, claims, derived, experiments, results, scales

FIG1 = tuple(f"fig1_{n}" for n in ("noise", "lr", "dropout", "batch"))

# gather()'s results: name -> (the experiments it is computed with, how, from the results before it)
_Build = Callable[[Callable, dict, results.RunContext], object]


def _panels(get, out, ctx):
    return {n.split("_", 1)[1]: get(n) for n in FIG1}


def _stats(get, out, ctx):
    return derived.fig1_accuracy(out["panels"], ctx.scale, ctx.seed)


def _without(get, out, ctx):
    return derived.fig1_accuracy_without_linear(out["panels"])


def _train_test(get, out, ctx):
    return derived.train_test_shapes(out["panels"])


def _cifar(get, out, ctx):
    try:
        return {n: get(n) for n in ("gen_cifar_dropout", "gen_cifar_lr")}
    except FileNotFoundError:  # the data cannot be shipped or downloaded here
        return None


def _stored(name: str) -> tuple[tuple[str, ...], _Build]:
    """An input that is one experiment's result as stored."""
    return (name,), lambda get, out, ctx: get(name)


BUILDS: dict[str, tuple[tuple[str, ...], _Build]] = {
    "panels": (FIG1, _panels),
    "stats": (FIG1, _stats),
    "without": (FIG1, _without),
    "tt": (FIG1, _train_test),
    "norms": _stored("fig1_norm"),
    "resize": (("fig1_resize", *FIG1), lambda get, out, ctx: get("fig1_resize")),  # the panels' grids at ctx.scale
    "dyn": _stored("fig4_dynamics"),
    "demo": _stored("separation"),
    "sim": _stored("chain_fig2"),
    "eq7": _stored("chain_eq7"),
    "phase": _stored("chain_phase"),
    "second": _stored("chain_second_order"),
    "sweep": _stored("chain_noise"),
    "bounded": _stored("chain_bounded"),
    "chain_dyn": _stored("chain_dynamics"),
    "lang": _stored("chain_langevin"),
    "mu_r": (("chain_noise",), lambda get, out, ctx: scales.settings("chain_noise", ctx.scale)["mu_r"]),
    "mu_l": (("chain_noise",), lambda get, out, ctx: scales.settings("chain_noise", ctx.scale)["mu_l"]),
    "dw": _stored("gen_depth_width"),
    "dw_stats": (("gen_depth_width",), lambda get, out, ctx: derived.depth_width_stats(out["dw"])),
    "fashion": _stored("gen_fashion"),
    "fashion_sgd": _stored("gen_fashion_sgd"),
    "cifar": (("gen_cifar_dropout", "gen_cifar_lr"), _cifar),
    "mc": _stored("gen_metrics"),
    "cnn": _stored("gen_cnn"),
    "lin": _stored("gen_linear"),
    "reg": _stored("gen_regression"),
    "pr": _stored("gen_probe"),
    "ctl": _stored("gen_control"),
    "fits": (("fig4_dynamics", "gen_chainfit"), lambda get, out, ctx: experiments.analyse(
        "gen_chainfit", ctx, out["dyn"].history, out["dyn"].epochs)),
}
_NEEDS = {"stats": "panels", "without": "panels", "tt": "panels", "dw_stats": "dw", "fits": "dyn"}

INPUTS = {  # claim id -> {argument: name in gather()'s result}
    "net.relu_demo_concave": {"demo": "demo"}, "net.metrics_demo": {"demo": "demo"},
    "fig1.relu_concave": {"panels": "panels"}, "fig1.linear_convex": {"panels": "panels"},
    "fig1.noise_raises": {"panels": "panels"}, "fig1.alpha_raises": {"panels": "panels"},
    "fig1.monotone": {"panels": "panels"}, "fig1.acc_ranges": {"panels": "panels"}, "data.resize": {"resize": "resize"},
    "shape.measures_agree": {"panels": "panels"}, "s3.no_batchnorm": {"norms": "norms"},
    "fig1.seed_averaging": {"panels": "panels", "norms": "norms"}, "fig4.dynamics_shapes": {"dyn": "dyn"},
    "chain.fig2_linear": {"sim": "sim"}, "chain.eq7": {"eq7": "eq7"}, "chain.stuck": {"eq7": "eq7"},
    "chain.phase_diagram": {"phase": "phase"}, "chain.second_order": {"phase": "phase", "second": "second"},
    "chain.effective_friction": {"mu_r": "mu_r", "mu_l": "mu_l"}, "chain.eq8": {"sweep": "sweep"},
    "chain.bounded": {"bounded": "bounded"}, "chain.synchronous": {"sweep": "sweep"},
    "chain.load_dynamics": {"dyn": "chain_dyn"}, "chain.langevin_s14": {"lang": "lang"},
    "chain.langevin_grid": {"lang": "lang"}, "chain.fig5b": {"sweep": "sweep"},
    "acc.linear_best": {"stats": "stats", "without": "without"}, "s4.train_test": {"tt": "tt"},
    "s56.depth_width": {"dw": "dw", "stats": "dw_stats"}, "s56.pattern": {"dw": "dw", "stats": "dw_stats"},
    "s7.fashion": {"fashion": "fashion", "fashion_sgd": "fashion_sgd"},
    "s89.cifar": {"cifar": "cifar"}, "s1011.metrics": {"panels": "panels", "mc": "mc"}, "s2.cnn": {"cnn": "cnn"},
    "fig5a.linear_net": {"lin": "lin"}, "s12.regression": {"reg": "reg"}, "beyond.probe": {"pr": "pr"},
    "beyond.chain_fit": {"fits": "fits"}, "beyond.controller": {"ctl": "ctl"},
}


def gather(scale: str, device: str = "cpu", seed: int = 0, *, cached_only: bool = False, names=None) -> dict:
    """The named results the claims need (all of :data:`BUILDS`, or ``names``) at ``scale``.

    Stored results are read, missing ones computed — or, with ``cached_only``, left out (a name whose
    results are not all stored is absent from the returned dict)."""
    ctx = results.RunContext(cached_only=cached_only, device=device, seed=seed, scale=scale, progress=False)
    memo: dict[str, object] = {}

    def get(name, **overrides):
        key = (name, tuple(sorted(overrides)))
        if key not in memo:
            memo[key] = experiments.compute(name, ctx, **overrides)
        return memo[key]

    wanted = set(BUILDS if names is None else [d for n in names for d in (n, _NEEDS.get(n)) if d])
    out: dict[str, object] = {}
    for name in (n for n in BUILDS if n in wanted):  # BUILDS lists what a result is built from first
        if _NEEDS.get(name, name) in out or name not in _NEEDS:
            try:
                out[name] = BUILDS[name][1](get, out, ctx)
            except results.MissingResults:
                if not cached_only:
                    raise
    return out


def _args(cid: str, res: dict) -> dict:
    return {arg: res[key] for arg, key in INPUTS[cid].items()}


def _has(cid: str, res: dict) -> bool:
    return all(key in res for key in INPUTS[cid].values())


def experiments_of(cid: str) -> tuple[str, ...]:
    """The experiments claim ``cid`` rests on."""
    return tuple(dict.fromkeys(e for key in INPUTS[cid].values() for e in BUILDS[key][0]))


def budget(cid: str, scale: str) -> str:
    """What ``scale`` leaves out of the experiments claim ``cid`` rests on (one phrase per distinct budget)."""
    phrases: dict[str, list[str]] = {}
    for e in experiments_of(cid):
        phrases.setdefault(scales.budget(e, scale), []).append(e)
    return "; ".join(f"{', '.join(scales.TITLES[e] for e in es)}: {b}" for b, es in phrases.items())


def provenance(cid: str) -> str:
    """Where the settings of the experiments claim ``cid`` rests on come from."""
    by_source: dict[str, list[str]] = {}
    for e in experiments_of(cid):
        by_source.setdefault(scales.SOURCES[e], []).append(scales.TITLES[e])
    return "; ".join(f"{', '.join(es)}: {src}" for src, es in by_source.items())


@dataclass(frozen=True)
class Row:
    """One claim on the ledger page: its verdict at the scale its chapter was built at, and at the other."""

    outcome: claims.Outcome
    counterfactual: str  # the verdict on the claim's counterfactual (must read "not reproduced")
    budget: str
    provenance: str
    scale: str = "default"  # the scale ``outcome`` was computed at (its chapter's, in this build)
    other: str | None = None  # the verdict at ``other_scale``, where its results are stored, else None
    other_scale: str | None = None  # the scale beside ``scale`` (named even where nothing is stored at it)

    @property
    def differs(self) -> bool:
        return self.other is not None and self.other != self.outcome.verdict


def rows(res: dict, scale: str, paper_res: dict | None = None, chapter_scale: dict[str, str] | None = None) -> list[Row]:
    """The ledger: every claim, its counterfactual, budget and provenance, each evaluated at the scale
    its chapter (or its chapter's section) ran at — ``chapter_scale[claim id]``, else
    ``chapter_scale[chapter]`` ("paper": on ``paper_res``, the paper-scale results, e.g.
    ``gather("paper", cached_only=True)``; else on ``res``, computed at ``scale``) — and, where the
    other set holds its results, its verdict there too."""
    missing = set(claims.CLAIMS) - set(INPUTS)
    if missing:
        raise KeyError(f"claims without ledger inputs: {sorted(missing)}")
    chapter_scale = chapter_scale or {}
    sets = {scale: res} if paper_res is None or scale == "paper" else {scale: res, "paper": paper_res}
    out = []
    for cid, c in claims.CLAIMS.items():
        first = "paper" if chapter_scale.get(cid, chapter_scale.get(c.where)) == "paper" and "paper" in sets else scale
        order = [first] + [s for s in sets if s != first]
        held = [s for s in order if _has(cid, sets[s])]
        if not held:
            continue  # no stored results for it at any scale (a partial gather): no row
        main = held[0]
        o = claims.evaluate(cid, **_args(cid, sets[main]))
        cf = claims.evaluate_counterfactual(cid, **_args(cid, sets[main])).verdict
        # the other scale is named even where nothing is stored at it ("paper" beside a CPU build)
        other_scale = next((s for s in order if s != main), "paper" if main != "paper" else scale)
        other = claims.evaluate(cid, **_args(cid, sets[other_scale])).verdict if other_scale in held else None
        out.append(Row(o, cf, budget(cid, main), provenance(cid), main, other, other_scale))
    return out


def build(scale: str, device: str = "cpu", seed: int = 0) -> list[Row]:
    """The ledger page's rows for a book built at ``scale``. At "auto" (the README's build) each claim
    is evaluated at the scale its chapter was built at: from the shipped paper-scale results where they
    hold everything the chapter reads, else at the CPU budget (computed here where not yet cached);
    the other scale's verdict is added wherever its results are stored, nothing being computed for it."""
    from . import validate

    validate.choice("scale", scale, scales.SCALES + (scales.AUTO,))
    resolved: dict = {}  # each chapter or section resolved once for all its claims
    per = {cid: auto.scale_of(c.where, experiments_of(cid), scale, resolved) for cid, c in claims.CLAIMS.items()}
    base = "default" if scale == scales.AUTO else scale
    paper = None if base == "paper" else gather("paper", device, seed, cached_only=True)
    at_base = [cid for cid, c in claims.CLAIMS.items()
               if per[cid] != "paper" or paper is None or not _has(cid, paper)]
    names = {key for cid in at_base for key in INPUTS[cid].values()}
    res = gather(base, device, seed, names=names) if names else {}
    res = {**gather(base, device, seed, cached_only=True), **res}  # the rest only where already stored
    return rows(res, base, paper, per)
