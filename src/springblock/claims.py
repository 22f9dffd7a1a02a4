"""The paper's checkable claims, each a small function of computed results → numbers and a verdict.

One definition serves three readers: the chapters glue a claim's numbers into their sentences, the
chapters' hidden self-checks (:func:`expect`) fail the build when a verdict stops being the one the
sentence states, and the ledger page lists every claim with the paper's statement, our numbers and
the verdict. Nothing on the ledger is typed by hand except the paper's own statements.

Verdicts: ``"reproduced"``, ``"partly"``, ``"not reproduced"``, ``"not testable here"``. Claims whose
``figure`` is ``"book"`` are the book's own statements (methods, choices), checked the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import analysis, paper, shape, theory

VERDICTS = ("reproduced", "partly", "not reproduced", "not testable here")
TOL = shape.SHAPE_TOL


@dataclass(frozen=True)
class Claim:
    """One checkable statement: where it is in the paper and in the book, and how it is checked."""

    id: str
    figure: str  # "Fig. 1", "SM S4", ... or "book"
    statement: str  # the claim, in the book's words
    paper: str  # the paper's number or statement, as the paper gives it
    where: str  # the chapter that tests it (a docname)
    check: Callable[..., "Outcome"] = field(repr=False)


@dataclass(frozen=True)
class Outcome:
    """A claim evaluated on results: its numbers (glued into the chapters), texts, summary, verdict."""

    claim: Claim
    verdict: str
    ours: str  # one line for the ledger, formatted from the numbers
    numbers: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)


class ClaimError(AssertionError):
    """A chapter's sentence states a verdict that the computed numbers no longer support."""


CLAIMS: dict[str, Claim] = {}


def claim(id: str, figure: str, statement: str, paper_says: str, where: str):
    """Register ``check(**results) -> (verdict, ours, numbers[, texts])`` as the claim ``id``."""
    def register(fn):
        def check(**results) -> Outcome:
            verdict, ours, numbers, *texts = fn(**results)
            if verdict not in VERDICTS:
                raise ValueError(f"claim {id}: verdict {verdict!r} is not one of {VERDICTS}")
            nums = {k: (float(v) if not isinstance(v, (int, np.integer)) else int(v)) for k, v in numbers.items()}
            return Outcome(CLAIMS[id], verdict, ours, nums, texts[0] if texts else {})

        CLAIMS[id] = Claim(id, figure, statement, paper_says, where, check)
        return fn

    return register


def evaluate(id: str, **results) -> Outcome:
    """Evaluate the claim ``id`` on the named results."""
    if id not in CLAIMS:
        raise KeyError(f"unknown claim {id!r}; known: {sorted(CLAIMS)}")
    return CLAIMS[id].check(**results)


def expect(outcome: Outcome, verdict: str, scale: str) -> None:
    """Fail (at scales default and paper) when the outcome's verdict is not the one the prose states.

    At scale quick the networks train for a few epochs and no verdict means anything, so nothing is
    enforced there.
    """
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    if scale != "quick" and outcome.verdict != verdict:
        raise ClaimError(f"claim {outcome.claim.id} ({outcome.claim.statement}): the text says {verdict!r} but the "
                         f"numbers give {outcome.verdict!r} — {outcome.ours}")


def _grade(n: int, of: int) -> str:
    return "reproduced" if n == of else ("partly" if n > 0 else "not reproduced")


def _f(v, digits=2) -> str:
    from .plotting.style import number

    return number(v, digits, sign=True)


# =============================================================================================
# Chapter 1
# =============================================================================================
@claim("net.relu_demo_concave", "Fig. 1", "A ReLU network trained without noise has a concave load curve.",
       "concave (top-right cells of Fig. 1)", "01_separation")
def _relu_demo(demo):
    rc = float(shape.relative_curvature(demo["trained_trace"][0].mean(0)))
    return ("reproduced" if rc < -TOL else "not reproduced"), f"ĉ = {_f(rc)}", {"rc": rc}


@claim("net.metrics_demo", "SM S10, S11", "Eq. 3 and Eq. 9 agree on a ReLU network's shape; on a linear network "
       "the metrics diverge (the inverse variant cannot see the layers' work).",
       "comparable diagrams (S10); diverge for linear networks (S11)", "01_separation")
def _metrics_demo(demo):
    mean = {k: demo[f"trained_{k}"].mean(1) for k in ("trace", "pinv", "inverse")}  # (A, L+1), row 0 ReLU, 1 linear
    rt, rp = (float(shape.relative_curvature(mean[k][0])) for k in ("trace", "pinv"))
    drop = float(mean["trace"][1][0] - mean["trace"][1][-1])
    spread = float(np.ptp(mean["inverse"][1][1:]))
    ok = np.sign(rt) == np.sign(rp) and spread < 0.01 * abs(drop)
    return ("reproduced" if ok else "partly"), f"ReLU ĉ {_f(rt)} (Eq. 3) vs {_f(rp)} (Eq. 9); linear net: inverse " \
        f"varies {spread:.1e} vs Eq. 3 drop {drop:.2f}", \
        {"rc_trace_relu": rt, "rc_pinv_relu": rp, "drop_trace_linear": drop, "inverse_spread_linear": spread}


# =============================================================================================
# Chapter 2: Fig. 1 and its neighbours
# =============================================================================================
def _per_panel(panels, cell):
    return {n: float(r.curvature()[cell]) for n, r in panels.items()}


@claim("fig1.relu_concave", "Fig. 1", "The ReLU network trained with the least noise is concave, in every panel.",
       "concave top-right corner in (a)–(d)", "02_phase_diagram")
def _relu_concave(panels):
    rc = _per_panel(panels, (0, -1))
    n = sum(v < -TOL for v in rc.values())
    return _grade(n, len(rc)), f"{n}/{len(rc)} panels; ĉ " + ", ".join(_f(v) for v in rc.values()), {"n": n, **rc}


@claim("fig1.linear_convex", "Fig. 1", "The linear network trained with the most noise is convex, in every panel.",
       "convex bottom-left corner in (a)–(d)", "02_phase_diagram")
def _linear_convex(panels):
    rc = _per_panel(panels, (-1, 0))
    n = sum(v > TOL for v in rc.values())
    return _grade(n, len(rc)), f"{n}/{len(rc)} panels; ĉ " + ", ".join(_f(v) for v in rc.values()), {"n": n, **rc}


@claim("fig1.noise_raises", "Fig. 1", "Noise (label/data noise, learning rate, dropout, small batches) turns a "
       "nonlinear network's curve from concave toward linear and convex.",
       "concave → linear → convex as noise grows along the ReLU row", "02_phase_diagram")
def _noise_raises(panels):
    rows = {n: r.curvature()[0] for n, r in panels.items()}  # columns: most stochastic first
    n = sum(float(v[0]) > float(v[-1]) for v in rows.values())
    ranks = [analysis.correlation(-np.arange(len(v)), v)[1] for v in rows.values()]
    rank = float(np.nanmean(ranks))
    return _grade(n, len(rows)), f"noisiest > quietest ĉ in {n}/{len(rows)} panels; mean rank correlation {rank:.2f}", \
        {"n": n, "rank": rank}


@claim("fig1.alpha_raises", "Fig. 1", "Less nonlinearity (α → 1) moves the curve toward convex at fixed noise.",
       "rows bend from concave (ReLU) to convex (linear)", "02_phase_diagram")
def _alpha_raises(panels):
    n = sum(float(r.curvature()[-1, -1]) > float(r.curvature()[0, -1]) for r in panels.values())
    return _grade(n, len(panels)), f"linear > ReLU ĉ in the quietest column in {n}/{len(panels)} panels", {"n": n}


@claim("fig1.monotone", "Fig. 1", "Load curves are monotone except at very small batches.",
       "monotone, except B = 10 (ReLU)", "02_phase_diagram")
def _monotone(panels):
    rising = [(n, ij) for n, r in panels.items() for ij in r.rising()]
    outside = [(n, ij) for n, ij in rising if not (n == "batch" and panels[n].values[ij[1]] <= 20)]
    n_cells = sum(r.test_acc[..., 0].size for r in panels.values())
    verdict = "reproduced" if not outside else "partly"
    names = "; ".join(panels[n].cell_name(ij) for n, ij in rising) or "none"
    return verdict, f"{len(rising)} of {n_cells} curves rise (> 2 % of the drop), {len(outside)} outside B ≤ 20: {names}", \
        {"n_rising": len(rising), "n_cells": n_cells, "outside_small_batch": len(outside)}, {"cells": names}


@claim("fig1.acc_ranges", "Fig. 1", "The test-accuracy ranges of the four panels.",
       "83.4–92.1, 82.1–93.3, 89.1–93.5, 85.5–93.9 %", "02_phase_diagram")
def _acc_ranges(panels):
    diffs, parts = [], []
    for n, r in panels.items():
        acc, ref = r.mean_acc(), paper.FIG1_ACC_RANGE[n]
        lo, hi = float(np.nanmin(acc)), float(np.nanmax(acc))
        diffs += [lo - ref[0], hi - ref[1]]
        parts.append(f"{lo:.1f}–{hi:.1f}")
    mad, mx = float(np.mean(np.abs(diffs))), float(np.max(np.abs(diffs)))
    verdict = "reproduced" if mx <= 2.0 else ("partly" if mx <= 5.0 else "not reproduced")
    return verdict, ", ".join(parts) + f" % (mean |difference| {mad:.1f}, largest {mx:.1f} points)", \
        {"mean_abs_diff": mad, "max_abs_diff": mx}


@claim("data.resize", "book", "The antialiased resize reproduces the paper's accuracy ranges better than the plain one.",
       "Resize(10) on tensors; antialias not stated (depends on the torchvision version)", "02_phase_diagram")
def _resize(resize):
    names = sorted({n for n, _ in resize})
    closer, dist = 0, {True: [], False: []}
    loss, drc = [], []
    for n in names:
        ref = paper.FIG1_ACC_RANGE[n]
        ends = {aa: (np.nanmin(resize[(n, aa)].mean_acc()), np.nanmax(resize[(n, aa)].mean_acc())) for aa in (True, False)}
        for k in range(2):
            d = {aa: abs(ends[aa][k] - ref[k]) for aa in (True, False)}
            closer += d[True] < d[False]
            for aa in (True, False):
                dist[aa].append(d[aa])
        loss.append(np.nanmean(resize[(n, True)].mean_acc() - resize[(n, False)].mean_acc()))
        drc.append(np.nanmean(np.abs(resize[(n, True)].curvature() - resize[(n, False)].curvature())))
    dt, df = float(np.mean(dist[True])), float(np.mean(dist[False]))
    return ("reproduced" if dt < df else "not reproduced"), \
        f"antialias closer at {closer}/{2 * len(names)} range ends (mean distance {dt:.1f} vs {df:.1f} points)", \
        {"closer": closer, "ends": 2 * len(names), "dist_true": dt, "dist_false": df,
         "acc_loss": float(np.mean(loss)), "rc_change": float(np.mean(drc))}


@claim("shape.measures_agree", "book", "The authors' curvature and the all-layer verdict label Fig. 1's cells alike.",
       "c = (D_0 − D_1) − (D_{L−1} − D_L), first against last contribution", "02_phase_diagram")
def _measures(panels):
    agree = total = 0
    for r in panels.values():
        lab, v = shape.shape_of(r.curvature()), r.verdict().shape
        agree += int((lab == v).sum())
        total += lab.size
    pct = 100.0 * agree / total
    return ("reproduced" if pct >= 80 else "partly"), f"same label in {pct:.0f} % of {total} cells", \
        {"n": total, "agree_pct": pct}


@claim("s3.no_batchnorm", "SM S3", "With c_σ instead of BatchNorm the phase pattern survives, with more run-to-run "
       "variation.", "similar convex–concave patterns, more fluctuations", "02_phase_diagram")
def _no_bn(norms):
    b, c = norms["batch"], norms["c_sigma"]
    rq, ln = float(c.curvature()[0, -1]), float(c.curvature()[-1, 0])
    sb, sc = np.nanmean(b.curvature_spread()), np.nanmean(c.curvature_spread())
    ratio = float(sc / sb) if sb > 0 else float("nan")
    drop = float(np.nanmean(b.mean_acc() - c.mean_acc()))
    parts = [(rq < -TOL, "the ReLU network without dropout does not stay concave"),
             (ln > TOL, "the linear network with the most dropout does not stay convex"),
             (ratio > 1, "the seeds do not scatter more than with BatchNorm")]
    missed = [failed for ok, failed in parts if not ok]
    # the chapter's concluding sentence, from the numbers: it says whatever they support
    conclusion = ("the pattern survives, with more fluctuation, as the supplement says" if not missed else
                  "the pattern survives only in part: " + "; ".join(missed))
    return _grade(len(parts) - len(missed), 3), f"c_σ net: ĉ {_f(rq)} (ReLU, no dropout), {_f(ln)} (linear, most dropout); " \
        f"seed spread of ĉ {ratio:.1f}× BatchNorm's", {"relu_quiet_csigma": rq, "linear_noisy_csigma": ln,
                                                       "spread_ratio": ratio, "acc_drop": drop}, \
        {"relu_quiet_shape": str(shape.shape_of(rq)), "linear_noisy_shape": str(shape.shape_of(ln)),
         "conclusion": conclusion}


@claim("fig1.seed_averaging", "book", "How much one seed per cell decides the picture.",
       "10 seeds per cell", "02_phase_diagram")
def _seed_averaging(panels, norms):
    many = [r for r in panels.values() if len(r.seeds) >= 2]
    which = "the four Fig. 1 panels" if many else "the dropout panel of the BatchNorm comparison"
    rs = many or [norms["batch"]]
    cmp = [analysis.compare_shapes(r.mean_load(seeds=1), r.mean_load()) for r in rs]
    changed, cells = sum(c["n_differ"] for c in cmp), sum(c["n"] for c in cmp)
    rc_diff = sum(c["mean_abs_diff"] * c["n"] for c in cmp) / cells
    acc_sd = float(np.nanmean([np.nanmean(r.acc_spread()) for r in rs]))
    return "reproduced", f"{changed} of {cells} cells change label; accuracy sd {acc_sd:.2f} points", \
        {"changed": changed, "n_cells": cells, "n_seeds": len(rs[0].seeds), "acc_sd": acc_sd, "rc_diff": rc_diff}, \
        {"which": which}


@claim("fig4.dynamics_shapes", "Fig. 4", "The three Fig. 4 training settings end concave, linear and convex.",
       "(b) concave, (c) linear, (d) convex", "02_phase_diagram")
def _dynamics(dyn):
    rc = {n: float(shape.relative_curvature(h.mean(0)[-1])) for n, h in dyn.history.items()}
    labels = [str(shape.shape_of(v)) for v in rc.values()]
    acc = {f"acc_{n}": float(a.mean()) for n, a in dyn.test_acc.items()}
    order = list(rc.values())
    if labels == ["concave", "linear", "convex"]:
        verdict = "reproduced"
    elif all(a < b for a, b in zip(order, order[1:])):
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return verdict, "ĉ " + ", ".join(f"{_f(v)} ({n})" for n, v in rc.items()) + f": {', '.join(labels)}", \
        {**{f"rc_{n}": v for n, v in rc.items()}, **acc}, {"labels": ", ".join(labels)}


# =============================================================================================
# Chapters 3–4: the spring–block chain
# =============================================================================================
def _list(values, digits=3) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


@claim("chain.fig2_linear", "Fig. 2", "With symmetric friction and noise the chain's mean load is linear.",
       "the authors' notebook: λ_ℓ = (8 − ℓ)/8", "03_spring_block")
def _fig2(sim):
    dev = float(np.abs(sim["mean_load"] - np.asarray(paper.FIG2_NOTEBOOK_LOAD)).max())
    return ("reproduced" if dev < 0.02 else "not reproduced"), f"mean load within {dev:.3f} of (8 − ℓ)/8", \
        {"max_dev": dev, "chains": int(sim["realisations"])}


@claim("chain.eq7", "Eq. 7", "Without noise the chain freezes with elongations stepping by μ_r/k, whatever μ_l.",
       "d_{ℓ+1} − d_ℓ = μ_r/k; independent of μ_l", "03_spring_block")
def _eq7(eq7):
    err = float(eq7["error"])
    return ("reproduced" if err < 1e-10 else "not reproduced"), f"simulation = closed form to {err:.1e}", {"error": err}


@claim("chain.stuck", "book", "Above μ_r = 2ky/(L(L+1)) the first blocks never move (μ_r = 0.06: two blocks).",
       "(derived; the paper states Eq. 7's condition)", "03_spring_block")
def _stuck(eq7):
    i = int(np.argmax(~eq7["valid"]))
    mu = float(eq7["mu_r"][i])
    m = int(theory.stuck_blocks(len(eq7["x"][0, i]), 1.0, 1.0, mu))
    x = eq7["x"][0, i]
    closed = theory.equilibrium(len(x), 1.0, 1.0, mu)
    ok = np.allclose(x, closed, atol=1e-8) and int((np.abs(x) < 1e-12).sum()) == m
    return ("reproduced" if ok else "not reproduced"), f"μ_r = {mu:g}: {m} blocks stay at the wall", \
        {"mu": mu, "m": m}, {"x": _list(x, 4)}


@claim("chain.phase_diagram", "Fig. 3", "The chain's friction × noise diagram: concave with friction and no noise, "
       "a linear band, convex with no friction and much noise.", "concave top right, linear anti-diagonal, convex "
       "bottom left", "03_spring_block")
def _phase(phase):
    c = phase["c"]
    tr, bl = float(c[-1, 0]), float(c[0, -1])
    n_lin = int((np.abs(c) <= 0.01).sum())
    eq7_ok = bool(np.allclose(c[:, 0], phase["eq7"], atol=1e-3))
    eq8 = float(theory.predicted_curvature(7, 1.0, theory.zero_drift_force(0.0, 0.04)))
    n = int(tr < -0.05) + int(bl > 0.05) + int(n_lin > 0) + int(eq7_ok)
    return _grade(n, 4), f"c = {_f(tr, 3)} (top right), {_f(bl, 3)} (bottom left); {n_lin} linear cells", \
        {"top_right": tr, "bottom_left": bl, "n_linear": n_lin, "n_cells": int(c.size), "eq8": eq8}


@claim("chain.second_order", "SM S13", "With inertia (second-order dynamics) the chain has the same phases.",
       "same behaviour as the overdamped model", "03_spring_block")
def _second(phase, second):
    c1, c2 = phase["c"], second["c"]
    diff = np.abs(c2 - c1)
    j = int(np.argmax(diff.max(0)))
    tr, bl = float(c2[-1, 0]), float(c2[0, -1])
    return _grade(int(tr < -0.05) + int(bl > 0.05), 2), f"c = {_f(tr, 3)} (top right), {_f(bl, 3)} (bottom left)", \
        {"top_right": tr, "bottom_left": bl, "max_diff": float(diff.max()), "sigma_worst": float(phase["sigma"][j])}


@claim("chain.effective_friction", "Eq. 8 (SM)", "Noise lowers the effective friction (acoustic lubrication) from μ_r "
       "to (μ_r − μ_l)/2, with a noise-independent zero-drift force.", "μ̄ → μ_r (σ → 0), → (μ_r − μ_l)/2 (σ → ∞); "
       "decreasing in σ", "04_noise_friction")
def _mu_bar(mu_r, mu_l):
    mb = lambda F, s: float(theory.effective_friction(F, s, mu_r, mu_l))  # noqa: E731
    fs = float(theory.zero_drift_force(mu_r, mu_l))
    nums = {"small": mb(0.1, 1e-3), "mid": mb(0.1, 0.05), "large": mb(0.1, 10.0), "neg_small": mb(-0.06, 0.01),
            "neg_large": mb(-0.06, 1.0), "F_star": fs,
            "zero_drift": max(abs(float(theory.mean_drift(fs, s, mu_r, mu_l))) for s in (0.01, 0.1, 1.0, 10.0))}
    ok = (abs(nums["small"] - mu_r) < 1e-6 and abs(nums["large"] - fs) < 1e-3 and nums["small"] > nums["mid"] > nums["large"]
          and nums["neg_small"] < nums["neg_large"] and nums["zero_drift"] < 1e-12)
    return ("reproduced" if ok else "not reproduced"), f"μ̄(0.1): {nums['small']:.4f} → {nums['mid']:.4f} → " \
        f"{nums['large']:.4f}; zero drift at F* to {nums['zero_drift']:.0e}", nums


@claim("chain.eq8", "Eq. 8", "Large symmetric noise gives elongations stepping by (μ_r − μ_l)/(2k): convex for "
       "μ_r < μ_l.", "d_{ℓ+1} − d_ℓ = (μ_r − μ_l)/2k", "04_noise_friction")
def _eq8(sweep):
    c, s = sweep["independent_c"][0], sweep["sigmas"]
    first = float(s[int(np.argmax(c > 0))]) if (c > 0).any() else float("nan")
    ok = abs(c[0] - sweep["eq7_c"]) < 1e-3 and abs(c[-1] - sweep["eq8_c"]) < 0.02
    return ("reproduced" if ok else "not reproduced"), f"c = {_f(c[0], 3)} (no noise) → {_f(c[-1], 3)} (σ̄ = {s[-1]:g}); " \
        f"Eq. 8: {_f(sweep['eq8_c'], 3)}", {"no_noise": float(c[0]), "max_noise": float(c[-1]),
                                            "predicted": float(sweep["eq8_c"]), "first_convex": first,
                                            "sigma_max": float(s[-1])}


@claim("chain.bounded", "SM VI.2", "Under bounded noise the chain freezes at μ̄ = max(μ_r − B, (μ_r − μ_l)/2); Gaussian "
       "noise drifts on to (μ_r − μ_l)/2.", "bounded noise makes the intermediate shapes stable", "04_noise_friction")
def _bounded(bounded):
    meas = bounded["uniform_final"].mean(-1)
    err = float(np.abs(meas - bounded["freeze"]).max())
    return ("reproduced" if err < 0.01 else "partly"), f"largest |measured − predicted| {err:.3f}", \
        {"max_err": err, "gauss_small": float(bounded["gaussian_final"][0].mean()), "t_end": float(bounded["times"][-1])}, \
        {"bounds": ", ".join(f"{b:g}" for b in bounded["bounds"]), "measured": _list(meas), "predicted": _list(bounded["freeze"])}


@claim("chain.synchronous", "SM S3", "Synchronous noise (the same kick on every block) gives the same final curvature "
       "as independent noise.", "same phase behaviour with synchronous noise (Fig. 4)", "04_noise_friction")
def _sync(sweep):
    s = sweep["sigmas"]
    ci, cs = sweep["independent_c"][0], sweep["synchronous_c"][0]
    se = np.hypot(sweep["independent_sem"][0], sweep["synchronous_sem"][0])
    d = np.abs(ci - cs)
    j = int(np.argmax(d))
    i05 = int(np.argmin(np.abs(s - 0.05)))
    ratio = float(d[j] / se[j]) if se[j] > 0 else 0.0
    return ("reproduced" if ratio < 4 or d[j] < 0.01 else "partly"), f"largest difference {d[j]:.3f} ({ratio:.1f} s.e.)", \
        {"sigma": float(s[i05]), "indep": float(ci[i05]), "sync": float(cs[i05]), "max_diff": float(d[j]), "in_se": ratio}


@claim("chain.load_dynamics", "Fig. 4", "A chain with synchronous noise ends concave, linear or convex depending on "
       "the noise (Fig. 4, right column).", "(b) concave, (c) linear, (d) convex", "04_noise_friction")
def _chain_dyn(dyn):
    c = [float(v) for v in dyn["curvature"]]
    labels = [str(shape.shape_of(v)) for v in c]  # y = 1: the total drop is 1, so ĉ = c
    ok = labels == ["concave", "linear", "convex"]
    return ("reproduced" if ok else "partly"), "c = " + ", ".join(_f(v, 3) for v in c), dict(zip("bcd", c))


@claim("chain.langevin_s14", "SM S14", "The standard Langevin chain at the authors' parameters ends nearly linear, "
       "slightly convex.", "the authors' stored run: 1 − x ≈ 0.87, 0.735, 0.61, 0.48, 0.36, 0.235, 0.12", "04_noise_friction")
def _s14(lang):
    stored = np.asarray(paper.S14_STORED_LOAD)
    out, texts = {}, {"stored": _list(stored, 2)}
    for conv, name in (("langevin", "book"), ("langevin_sign", "authors")):
        mean = lang[f"s14_load_{conv}"].mean(0)
        out[f"c_{name}"] = float(lang[f"s14_c_{conv}"].mean())
        out[f"dev_{name}"] = float(np.abs(mean[1:] - stored).max())
        texts[f"load_{name}"] = _list(mean[1:], 2)
    ok = all(abs(out[f"c_{n}"]) < 0.06 and out[f"dev_{n}"] < 0.05 for n in ("book", "authors"))
    return ("reproduced" if ok else "partly"), f"c = {_f(out['c_book'], 3)} (book's), {_f(out['c_authors'], 3)} " \
        f"(authors' convention); within {max(out['dev_book'], out['dev_authors']):.3f} of the stored run", out, texts


@claim("chain.langevin_grid", "SM S14", "The Langevin chain's friction × noise diagram has the same phases.",
       "the same convex–concave phases", "04_noise_friction")
def _lgrid(lang):
    c, alt = lang["grid_c_langevin"], lang["grid_c_langevin_sign"]
    d = np.abs(alt - c)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    tr, bl = float(c[-1, 0]), float(c[0, -1])
    where = f"μ_r = {lang['mu_r'][i]:g}, ε = {lang['eps_grid'][j]:g}"
    return _grade(int(tr < -0.01) + int(bl > 0.01), 2), f"c = {_f(tr, 3)} (top right), {_f(bl, 3)} (bottom left); " \
        f"conventions differ by at most {d.max():.3f}", {"top_right": tr, "bottom_left": bl, "max_diff": float(d.max())}, \
        {"where": where}


@claim("chain.fig5b", "Fig. 5(b)", "A chain with μ_r = 0 is linear without noise and convex with any noise.",
       "linear at σ = 0, convex for every σ > 0", "04_noise_friction")
def _fig5b(sweep):
    c = sweep["independent_c"][1]
    n_noisy, n_convex = len(c) - 1, int((c[1:] > 0).sum())
    ok = abs(c[0]) < 1e-4 and n_convex == n_noisy  # float32 chains: exact zero up to round-off
    return ("reproduced" if ok else "partly"), f"c = {_f(c[0], 4)} at σ̄ = 0; convex at {n_convex}/{n_noisy} noise levels", \
        {"zero": float(c[0]), "first": float(c[1]), "sigma_first": float(sweep["sigmas"][1]),
         "min": float(c[1:].min()), "n_convex": n_convex, "n_noisy": n_noisy}


# =============================================================================================
# Chapter 5: accuracy
# =============================================================================================
@claim("acc.linear_best", "Fig. 1", "The best test accuracy lies on the linear band (the most linear curve is the best "
       "network); the worst in the strongly convex corner.", "brightest cells on the linear band, α ∈ {0.2, 0.4}",
       "05_accuracy")
def _linear_best(stats, without):
    neg = sum(s["pearson_abs_hi"] < 0 for s in stats.values())
    neg_wo = sum(s["pearson_abs"] < 0 for s in without.values())
    wins = sum(s["linear_wins"] for s in stats.values())
    best_lin = sum(abs(s["best_rc"]) <= TOL for s in stats.values())
    gap = max(s["best_acc"] - s["linear_acc"] for s in stats.values())
    verdict = "reproduced" if wins == len(stats) else ("partly" if neg >= 2 or best_lin >= 1 else "not reproduced")
    ranks = ", ".join(f"{s['linear_rank']}" for s in stats.values()) + f" (of {next(iter(stats.values()))['n_cells']})"
    return verdict, f"acc–|ĉ| correlation < 0 (95 %) in {neg}/4 panels; most linear cell best in {wins}/4, ranks {ranks}", \
        {"n_negative": neg, "n_negative_without": neg_wo, "n_wins": wins, "n_best_linear": best_lin, "max_gap": gap}, \
        {"ranks": ranks, "best_rcs": ", ".join(_f(s["best_rc"]) for s in stats.values())}


@claim("s4.train_test", "SM S4", "Test-set load curves have the same shapes as training-set ones.",
       "train (solid) and test (dashed) curves alike", "05_accuracy")
def _s4(tt):
    r, same = tt["pearson"], 100 * tt["same_shape"]
    return ("reproduced" if r > 0.9 and same >= 70 else "partly"), f"r = {r:.3f}, same label in {same:.0f} % of {tt['n']} cells", \
        {"n": tt["n"], "r": r, "diff": tt["mean_abs_diff"], "same": same,
         "borderline": 100 * (tt["borderline"] if np.isfinite(tt["borderline"]) else 1.0)}


def _relu_quiet_concave(stats) -> int:
    """Architectures whose ReLU network without dropout (row 0, the last column) is concave."""
    return sum(s["rc"][0, -1] < -TOL for s in stats)


@claim("s56.depth_width", "SM S5, S6", "For each depth and width the best accuracy sits at the linear curve.",
       "the pattern and the accuracy–linearity link hold for other depths and widths", "05_accuracy")
def _s56(dw, stats):
    n = len(stats)
    concave = _relu_quiet_concave(stats)
    best_lin = sum(abs(s["best_rc"]) <= TOL for s in stats)
    wins = sum(s["linear_wins"] for s in stats)
    neg = sum(s["pearson_abs"] < 0 for s in stats)
    verdict = "reproduced" if wins == n else ("partly" if neg >= n / 2 or best_lin >= 1 else "not reproduced")
    return verdict, f"{n} architectures: ReLU concave in {concave}, best cell linear in {best_lin}, most linear best in " \
        f"{wins}, acc–|ĉ| correlation < 0 in {neg}", {"n": n, "n_concave": concave, "n_best_linear": best_lin,
                                                       "n_wins": wins, "n_negative": neg}


@claim("s56.pattern", "SM S5, S6", "The phase pattern is the same for other depths and widths.",
       "the same concave-to-convex pattern at every depth and width", "05_accuracy")
def _s56_pattern(dw, stats):
    n = len(stats)
    concave = _relu_quiet_concave(stats)
    raises = sum(s["rc"][0, 0] > s["rc"][0, -1] for s in stats)  # the most dropout (first column) bends it up
    return _grade(min(concave, raises), n), f"{n} architectures: ReLU without dropout concave in {concave}, " \
        f"dropout raises its ĉ in {raises}", {"n": n, "n_concave": concave, "n_raises": raises}


def _diagram_numbers(res, prefix=""):
    s = analysis.accuracy_vs_shape(res["acc"], res["load"], n_boot=0)
    rc = s["rc"]
    return s, {f"{prefix}relu_quiet": float(rc[0, -1]), f"{prefix}relu_noisy": float(rc[0, 0]),
               f"{prefix}linear_noisy": float(rc[-1, 0]), f"{prefix}acc_lo": float(np.nanmin(s["acc_mean"])),
               f"{prefix}acc_hi": float(np.nanmax(s["acc_mean"]))}


@claim("s7.fashion", "SM S7", "On Fashion-MNIST (and with another optimizer) the phase pattern and the "
       "accuracy–linearity link hold.", "same patterns on Fashion-MNIST, (b) with a different optimizer", "05_accuracy")
def _s7(fashion, fashion_sgd):
    s, nums = _diagram_numbers(fashion)
    _, sgd = _diagram_numbers(fashion_sgd, "sgd_")
    pattern = nums["relu_noisy"] > nums["relu_quiet"] and nums["linear_noisy"] > TOL
    verdict = "reproduced" if pattern and s["linear_wins"] else ("partly" if pattern else "not reproduced")
    return verdict, f"Adam: ReLU ĉ {_f(nums['relu_quiet'])} → {_f(nums['relu_noisy'])} with dropout; most linear cell " \
        f"ranks {s['linear_rank']} of {s['n_cells']}; SGD: ĉ {_f(sgd['sgd_relu_quiet'])} (ReLU)", \
        {**nums, **sgd, "best_rc": s["best_rc"], "linear_rank": s["linear_rank"], "n_cells": s["n_cells"]}


@claim("s89.cifar", "SM S8, S9", "On CIFAR-10 the pattern holds; with the learning rate the best accuracy sits at "
       "slightly concave curves; D_0 deviates.", "best at slightly concave curves (S9)", "05_accuracy")
def _s89(cifar):
    if cifar is None:
        return "not testable here", "CIFAR-10 cannot be shipped or downloaded on this machine", {}, \
            {"summary": "CIFAR-10 is not on this machine"}
    s9 = analysis.accuracy_vs_shape(cifar["gen_cifar_lr"]["acc"], cifar["gen_cifar_lr"]["load"], n_boot=0)
    s8 = analysis.accuracy_vs_shape(cifar["gen_cifar_dropout"]["acc"], cifar["gen_cifar_dropout"]["load"], n_boot=0)
    slightly = -0.3 <= s9["best_rc"] < -TOL
    summary = f"S9 best cell ĉ {_f(s9['best_rc'])}; S8 best cell ĉ {_f(s8['best_rc'])}"
    return ("reproduced" if slightly else "partly"), summary, {"s9_best_rc": s9["best_rc"], "s8_best_rc": s8["best_rc"]}, \
        {"summary": summary}


@claim("s1011.metrics", "SM S10, S11", "Eq. 3 and Eq. 9 give comparable diagrams on ReLU networks and diverge on "
       "linear ones.", "comparable (S10); diverge for linear networks (S11)", "05_accuracy")
def _s1011(rows, mc):
    r_relu, r_lin = float(rows.iloc[0, 0]), float(rows.iloc[-1, 0])
    inv_lin = float(np.nanmax(mc["inverse_spread"][-1]))
    lin = [mc[f"load_{k}"][-1, 0].mean(0) for k in ("trace", "pinv")]
    ok = r_relu > r_lin and inv_lin < 1e-3
    return ("reproduced" if ok else "partly"), f"ĉ correlation {r_relu:.2f} (ReLU) vs {r_lin:.2f} (linear); inverse " \
        f"metric flat to {inv_lin:.0e} on the linear net", \
        {"r_relu": r_relu, "r_lin": r_lin, "same_relu": float(rows.iloc[0, 1]), "same_lin": float(rows.iloc[-1, 1]),
         "inv_lin": inv_lin, "inv_relu": float(np.nanmin(mc["inverse_spread"][0])),
         "pinv_drop_lin": float(lin[1][0] - lin[1][-1]), "trace_drop_lin": float(lin[0][0] - lin[0][-1])}


# =============================================================================================
# Chapters 6–7: other networks, beyond the paper
# =============================================================================================
@claim("s2.cnn", "SM S2", "A CNN given dropout after convergence: moderate dropout turns concave into linear with "
       "better accuracy; strong dropout gives convex and worse.", "concave (purple) → linear, better (blue) → convex, "
       "worse", "06_other_networks")
def _s2(cnn):
    rc, acc = cnn["rc"], cnn["acc"].mean(1)
    best, top = int(np.argmax(acc)), len(rc) - 1
    labels = shape.verdict(cnn["load"].mean(1)).label()
    pre = str(shape.verdict(cnn["pre_load"].mean(0)).label())
    nums = {"pre_rc": float(cnn["pre_rc"]), "pre_acc": float(cnn["pre_acc"].mean()), "ctrl_rc": float(rc[0]),
            "ctrl_acc": float(acc[0]), "best_p": float(cnn["dropouts"][best]), "best_acc": float(acc[best]),
            "best_rc": float(rc[best]), "top_p": float(cnn["dropouts"][top]), "top_rc": float(rc[top]), "top_acc": float(acc[top])}
    full = 0 < best < top and abs(rc[best]) <= TOL and acc[best] > acc[0] and rc[top] > TOL and acc[top] == acc.min()
    direction = nums["pre_rc"] < -TOL and rc[top] > rc[0] and acc[top] < acc[best]
    verdict = "reproduced" if full else ("partly" if direction else "not reproduced")
    return verdict, f"ĉ {_f(nums['pre_rc'])} after pre-training; best rate {nums['best_p']:g} at ĉ {_f(nums['best_rc'])}; " \
        f"strongest ĉ {_f(nums['top_rc'])}, {nums['top_acc']:.1f} %", nums, \
        {"pre_shape": pre, "best_shape": str(labels[best]), "top_shape": str(labels[top])}


@claim("fig5a.linear_net", "Fig. 5(a)", "A linear network with orthogonal weights on whitened data: small-step SGD "
       "gives a linear curve; a large step or dropout a convex one.", "small lr linear; large lr, dropout convex",
       "06_other_networks")
def _f5a(lin):
    rc = lin["rc"]
    traj = [shape.relative_curvature(np.nanmean(lin["history"][i], 0))[1:] for i in range(len(rc))]
    first = sum(bool(np.nanmin(t[:-1]) < -TOL) for t in traj)
    ok = abs(rc[0]) <= TOL and rc[1] > TOL and rc[2] > TOL
    return ("reproduced" if ok else "partly"), f"ĉ {_f(rc[0], 3)} (small lr), {_f(rc[1], 3)} (large lr), {_f(rc[2], 3)} " \
        f"(dropout)", {"rc_small": float(rc[0]), "rc_large": float(rc[1]), "rc_dropout": float(rc[2]),
                       "flat0": float(np.nanmax(np.ptp(lin["history"][:, :, 0], axis=-1))), "n_concave_first": first}


@claim("s12.regression", "SM S12", "The regression load is concave for lazy training and convex for noisy training.",
       "lazy concave, noisy convex", "06_other_networks")
def _s12(reg):
    keys = ("lazy", "default", "dropout", "large")
    rc, rmse = reg["rc"], reg["test_rmse"].mean(1)
    nums = {**{f"rc_{k}": float(v) for k, v in zip(keys, rc)}, **{f"rmse_{k}": float(v) for k, v in zip(keys, rmse)}}
    ok = rc[0] < -TOL and rc[2] > TOL and rc[3] > TOL
    return ("reproduced" if ok else "partly"), f"ĉ {_f(rc[0])} (lazy), {_f(rc[2])} (dropout), {_f(rc[3])} (large lr)", nums


@claim("beyond.probe", "book", "A torchvision network trained without noise is concave too.", "(beyond the paper)",
       "07_beyond")
def _probe(pr):
    rc = float(pr["rc"])
    return ("reproduced" if rc < -TOL else "not reproduced"), f"ĉ = {_f(rc)}", {"rc": rc, "acc": float(pr["test_acc"])}


@claim("beyond.chain_fit", "Fig. 4", "A spring chain with synchronous noise, fitted, follows a network's load dynamics; "
       "its effective friction falls as training noise grows.", "qualitative likeness of Fig. 4's two columns", "07_beyond")
def _fit(fits):
    r2, mu = fits["r2"], fits["mu_eff"]
    bounds = "; ".join(f"({n}) " + ", ".join(p for p, b in zip(fits["bound_names"], row) if b)
                       for n, row in zip(fits["names"], fits["at_bound"]) if row.any()) or "none"
    ok = r2.min() >= 0.9 and all(a > b for a, b in zip(mu, mu[1:]))
    return ("reproduced" if ok else "partly"), f"R² {', '.join(f'{v:.3f}' for v in r2)}; μ̄ {', '.join(_f(v, 4) for v in mu)}", \
        {"r2_min": float(r2.min())}, {"r2s": ", ".join(f"{v:.3f}" for v in r2), "mu_effs": ", ".join(_f(v, 4) for v in mu),
                                      "bounds": bounds}


@claim("beyond.controller", "book", "Steering dropout to a straight load curve matches the best fixed rate of a grid "
       "search (within two standard errors).", "(beyond the paper)", "07_beyond")
def _controller(ctl):
    d, se = ctl["diff_mean"], ctl["diff_sem"]
    fixed = ctl["fixed_test"].mean(1)
    matches = bool(np.isfinite(se) and abs(d) <= 2 * se) or (not np.isfinite(se) and abs(d) < 0.5)
    return ("reproduced" if matches else "not reproduced"), f"controller − chosen fixed rate: {_f(d)} ± {se:.2f} points", \
        {"seeds": len(ctl["seeds"]), "acc": float(ctl["ctrl_test"].mean()), "best_p": float(ctl["dropouts"][ctl["best_fixed"]]),
         "best_acc": float(fixed[ctl["best_fixed"]]), "none_acc": float(fixed[0]), "diff": d,
         "diff_sem": float(se) if np.isfinite(se) else 0.0, "oracle_diff": ctl["oracle_diff_mean"],
         "final_rc": float(ctl["ctrl_rc"].mean()), "best_rc": float(ctl["fixed_rc"][ctl["best_fixed"]].mean()),
         "final_p": float(ctl["ctrl_p"][:, -1].mean())}
