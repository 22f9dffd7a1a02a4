"""Chapters 3–4's claims: the spring–block chain, its closed forms and its noise.

Cells that hold whatever the code does are left out of the evidence (see each claim).
"""
from __future__ import annotations

import numpy as np

from .. import paper, theory
from . import Part, claim
from .common import CHAIN_TOL, TOL, fmt, fmt_list
from .criteria import beyond, beyond_mean, every, holds, trend, within


@claim("chain.fig2_linear", "Fig. 2", "With symmetric friction and noise the chain's mean load is linear.",
       "the authors' notebook: λ_ℓ = (8 − ℓ)/8", "03_spring_block", evidence="the mean final load over every realisation",
       counterfactual=lambda sim: {"sim": {**sim, "mean_load": np.asarray(sim["mean_load"])
                                           + 0.1 * np.sin(np.pi * np.arange(len(sim["mean_load"])) / 7)}})
def _fig2(sim):
    dev = float(np.abs(sim["mean_load"] - np.asarray(paper.FIG2_NOTEBOOK_LOAD)).max())
    nums = {"max_dev": dev, "chains": int(sim["realisations"])}
    if "mean_trajectory" in sim:  # when the mean load last moves by more than 0.02 from where it ends
        traj, times = np.asarray(sim["mean_trajectory"]), np.asarray(sim["times"])
        off = np.abs(traj - traj[-1]).max(-1) > 0.02
        nums["settle_t"] = float(times[np.nonzero(off)[0][-1] + 1]) if off.any() else float(times[0])
    return [holds("mean load linear", dev < 0.02, f"largest deviation from (8 − ℓ)/8: {dev:.3f} (needs < 0.02)")], \
        f"mean load within {dev:.3f} of (8 − ℓ)/8", nums


@claim("chain.eq7", "Eq. 7", "Without noise the chain freezes with elongations stepping by μ_r/k, whatever μ_l.",
       "successive elongations differ by μ_r/k, independent of μ_l (the formula as the book reconstructs it: the "
       "paper's was lost with its typesetting)", "03_spring_block",
       evidence="every μ_r × μ_l chain of the noiseless grid against the closed form",
       counterfactual=lambda eq7: {"eq7": {**eq7, "load": np.asarray(eq7["load"]) + 1e-3 * np.arange(
           np.shape(eq7["load"])[-1])}})
def _eq7(eq7):
    err = float(np.abs(np.asarray(eq7["load"]) - np.asarray(eq7["predicted"])).max())
    return [holds("simulation = closed form", err < 1e-10, f"largest difference {err:.1e} (needs < 1e-10)")], \
        f"simulation = closed form to {err:.1e}", {"error": err}


@claim("chain.stuck", "book", "Above μ_r = 2ky/(L(L+1)) the first blocks never move (μ_r = 0.06: two blocks).",
       "(derived; the paper states Eq. 7's condition)", "03_spring_block", kind="book",
       evidence="the first noiseless chain beyond the bound",
       counterfactual=lambda eq7: {"eq7": {**eq7, "x": np.asarray(eq7["x"]) + 0.01}})
def _stuck(eq7):
    i = int(np.argmax(~eq7["valid"]))
    mu = float(eq7["mu_r"][i])
    x = np.asarray(eq7["x"])[0, i]
    m = int(theory.stuck_blocks(len(x), 1.0, 1.0, mu))
    closed = theory.equilibrium(len(x), 1.0, 1.0, mu)
    ok = bool(np.allclose(x, closed, atol=1e-8) and int((np.abs(x) < 1e-12).sum()) == m)
    return [holds(f"{m} blocks at the wall, the rest where the closed form puts them", ok, f"μ_r = {mu:g}")], \
        f"μ_r = {mu:g}: {m} blocks stay at the wall", {"mu": mu, "m": m}, {"x": fmt_list(x, 4)}


def _phase_parts(phase, key="c", tol=TOL, cells=None) -> list[Part]:
    """Fig. 3's pattern on a chain diagram (rows μ_r ascending × columns σ ascending), leaving out the
    noiseless column (it follows Eq. 7, or is zero without friction, by construction). ``cells``:
    per-chain curvatures (rows, cols, R) to bootstrap the corners over; without them the cells are the
    values."""
    c = np.asarray(phase[key], dtype=float)[:, 1:]
    per = c[..., None] if cells is None else np.asarray(cells, dtype=float)[:, 1:]
    R = c.shape[0]
    most, least = slice(R // 2, R), slice(0, (R + 1) // 2)  # the more and the less frictional half of the rows
    mu_r, sigma = np.asarray(phase["mu_r"]), np.asarray(phase.get("sigma", phase.get("eps_grid")))[1:]
    return [beyond("friction, little noise: concave", per[most, :2], -tol, "<", what="c"),
            beyond("little friction, much noise: convex", per[least, -2:], tol, ">", what="c"),
            trend("c rises with noise in each row", sigma, c, what="c"),
            trend("c falls with friction in each column", -mu_r, c.T, what="c", against="−μ_r")]


def _field(phase, key="c", amp=0.2, cells=None):
    """The chain diagram reversed: friction makes convex, noise concave (same grid, zero spread)."""
    mu_r = np.asarray(phase["mu_r"], dtype=float)
    sigma = np.asarray(phase.get("sigma", phase.get("eps_grid")), dtype=float)
    c = amp * (mu_r[:, None] / mu_r.max() - sigma[None, :] / sigma.max())
    out = {**phase, key: c}
    if cells is not None:
        out[cells] = np.repeat(c[..., None], np.shape(phase[cells])[-1], -1)
    return out


@claim("chain.phase_diagram", "Fig. 3", "The chain's friction × noise diagram: concave with friction and little "
       "noise, convex with little friction and much noise, a linear band between.",
       "concave top right, linear anti-diagonal, convex bottom left", "03_spring_block",
       evidence="every noisy cell (the noiseless column follows Eq. 7 by construction); the corners (the more or "
                "less frictional half of the rows, the two least or most noisy columns) over every realisation",
       counterfactual=lambda phase: {"phase": _field(phase, cells="curvature")})
def _phase(phase):
    c = np.asarray(phase["c"])
    tr, bl = float(c[-1, 1]), float(c[0, -1])
    n_lin = int((np.abs(c[:, 1:]) <= CHAIN_TOL).sum())
    eq8 = float(theory.predicted_curvature(7, 1.0, theory.zero_drift_force(0.0, 0.04)))
    return _phase_parts(phase, cells=phase["curvature"]), \
        f"c = {fmt(tr, 3)} (most friction, least noise), {fmt(bl, 3)} (least friction, most noise); {n_lin} linear cells", \
        {"top_right": tr, "bottom_left": bl, "n_linear": n_lin, "n_cells": int(c[:, 1:].size), "eq8": eq8,
         **_row_and_column_trends(c)}, {"rows": _rows_text(c)}


def _row_and_column_trends(c: np.ndarray) -> dict:
    """How the mean curvature moves across the grid (rows: friction; columns: noise, the first one
    noiseless): rows that rise at every step before their three noisiest cells, how far those three
    cells spread (the large-noise level-off), and the noisy columns that fall with friction at every step."""
    return {"rows_rising": int((np.diff(c[:, :-2], axis=1) > 0).all(axis=1).sum()), "n_rows": int(c.shape[0]),
            "plateau": float(np.ptp(c[:, -3:], axis=1).max()),
            "cols_falling": int((np.diff(c[:, 1:], axis=0) < 0).all(axis=0).sum()), "n_noisy_cols": int(c.shape[1] - 1)}


def _rows_text(c: np.ndarray) -> str:
    t = _row_and_column_trends(c)
    levels = (f"then levels off (over a row's three largest noises it moves by at most {t['plateau']:.3f})"
              if t["plateau"] <= CHAIN_TOL else
              f"does not level off (over a row's three largest noises it still moves by up to {t['plateau']:.3f})")
    return (f"along {t['rows_rising']} of the {t['n_rows']} rows c rises with noise at every step up to the "
            f"third-largest noise and {levels}; down {t['cols_falling']} of the {t['n_noisy_cols']} noisy columns "
            "it falls with friction at every step")


@claim("chain.second_order", "SM S13", "With inertia (second-order dynamics) the chain has the same phases.",
       "same behaviour as the overdamped model", "03_spring_block",
       evidence="every noisy cell of the second-order diagram (the noiseless column holds by construction), every "
                "realisation",
       counterfactual=lambda phase, second: {"phase": phase, "second": _field(second, cells="curvature")})
def _second(phase, second):
    c1, c2 = np.asarray(phase["c"]), np.asarray(second["c"])
    diff = np.abs(c2 - c1)[:, 1:]
    j = int(np.argmax(diff.max(0))) + 1
    tr, bl = float(c2[-1, 1]), float(c2[0, -1])
    i = int(np.argmax(diff[:, j - 1]))
    direction = "more concave" if c2[i, j] < c1[i, j] else "more convex"
    return _phase_parts(second, cells=second["curvature"]), f"c = {fmt(tr, 3)} (most friction, least noise), " \
        f"{fmt(bl, 3)} (least friction, most noise)", {"top_right": tr, "bottom_left": bl, "max_diff": float(diff.max()),
                                                      "sigma_worst": float(phase["sigma"][j])}, {"direction": direction}


def _broken_mu_bar(F, s, mu_r, mu_l):
    return np.full(np.broadcast(F, s).shape, float(mu_r))  # noise-blind: no lubrication at all


@claim("chain.effective_friction", "Eq. 8 (SM)", "Noise lowers the effective friction (acoustic lubrication) from μ_r "
       "to (μ_r − μ_l)/2, with a noise-independent zero-drift force.", "μ̄ → μ_r (σ → 0), → (μ_r − μ_l)/2 (σ → ∞), "
       "decreasing in σ (the limits the text states; the closed form between them is the book's)", "04_noise_friction",
       kind="book",
       evidence="the book's closed form for μ̄(F, σ), at a few forces and noises (a definition's properties)",
       counterfactual=lambda mu_r, mu_l, formula=None: {"mu_r": mu_r, "mu_l": mu_l, "formula": _broken_mu_bar})
def _mu_bar(mu_r, mu_l, formula=None):
    formula = theory.effective_friction if formula is None else formula
    mb = lambda F, s: float(formula(F, s, mu_r, mu_l))
    fs = float(theory.zero_drift_force(mu_r, mu_l))
    nums = {"small": mb(0.1, 1e-3), "mid": mb(0.1, 0.05), "large": mb(0.1, 10.0), "neg_small": mb(-0.06, 0.01),
            "neg_large": mb(-0.06, 1.0), "F_star": fs,
            "zero_drift": max(abs(float(theory.mean_drift(fs, s, mu_r, mu_l))) for s in (0.01, 0.1, 1.0, 10.0))}
    parts = [holds("→ μ_r without noise", abs(nums["small"] - mu_r) < 1e-6, f"μ̄(σ = 0.001) = {nums['small']:.4f}"),
             holds("→ (μ_r − μ_l)/2 with much noise", abs(nums["large"] - fs) < 1e-3, f"μ̄(σ = 10) = {nums['large']:.4f}"),
             holds("decreasing in σ", nums["small"] > nums["mid"] > nums["large"] and nums["neg_small"] < nums["neg_large"],
                   f"{nums['small']:.4f} > {nums['mid']:.4f} > {nums['large']:.4f}"),
             holds("no drift at F*", nums["zero_drift"] < 1e-12, f"largest drift {nums['zero_drift']:.0e}")]
    return parts, f"μ̄(0.1): {nums['small']:.4f} → {nums['mid']:.4f} → {nums['large']:.4f}; zero drift at F* to " \
        f"{nums['zero_drift']:.0e}", nums


def _sweep_cf(sweep, row, value):
    out = dict(sweep)
    c = np.array(sweep["independent_c"], dtype=float)
    c[row, 1:] = value(c[row, 1:])
    out["independent_c"] = c
    return out


@claim("chain.eq8", "Eq. 8", "Large symmetric noise gives elongations stepping by (μ_r − μ_l)/(2k): convex for "
       "μ_r < μ_l.", "successive elongations differ by (μ_r − μ_l)/2k (as the book reconstructs the formula)",
       "04_noise_friction",
       evidence="the noisy levels of the μ_r < μ_l sweep (the noiseless one follows Eq. 7 by construction): the "
                "largest against Eq. 8, the noisiest quarter for the sign",
       counterfactual=lambda sweep: {"sweep": _sweep_cf(sweep, 0, lambda c: -np.abs(c) - 0.05)})
def _eq8(sweep):
    c, s, se = np.asarray(sweep["independent_c"])[0], np.asarray(sweep["sigmas"]), np.asarray(sweep["independent_sem"])[0]
    first = float(s[int(np.argmax(c > 0))]) if (c > 0).any() else float("nan")
    q = max(1, (len(c) - 1) // 4)
    parts = [within("largest noise: Eq. 8's curvature", c[-1], sweep["eq8_c"], 0.02, what="c", sem=float(se[-1])),
             beyond("much noise: convex", c[-q:], TOL, ">", what="c")]
    return parts, f"c = {fmt(c[0], 3)} (no noise) → {fmt(c[-1], 3)} (σ̄ = {s[-1]:.3g}); Eq. 8: {fmt(sweep['eq8_c'], 3)}", \
        {"no_noise": float(c[0]), "max_noise": float(c[-1]), "predicted": float(sweep["eq8_c"]), "first_convex": first,
         "sigma_max": float(s[-1])}


@claim("chain.bounded", "SM VI.2", "Under bounded noise the chain freezes at μ̄ = max(μ_r − B, (μ_r − μ_l)/2); Gaussian "
       "noise drifts on to (μ_r − μ_l)/2.", "bounded noise makes the intermediate shapes stable", "04_noise_friction",
       evidence="every bound, every realisation; the smallest bound for the Gaussian comparison",
       counterfactual=lambda bounded: {"bounded": {**bounded,
                                                   "uniform_final": np.asarray(bounded["uniform_final"]) + 0.05,
                                                   "gaussian_final": np.repeat(np.asarray(bounded["freeze"])[:, None],
                                                                               np.shape(bounded["gaussian_final"])[-1], -1)}})
def _bounded(bounded):
    u = np.asarray(bounded["uniform_final"])
    meas = u.mean(-1)
    sem = u.std(-1, ddof=1) / np.sqrt(u.shape[-1]) if u.shape[-1] >= 2 else np.full(len(meas), np.nan)
    err = float(np.abs(meas - bounded["freeze"]).max())
    per = [within(f"B = {b:g}", m, f, 0.01, what="μ̄", sem=float(e)) for b, m, f, e in
           zip(bounded["bounds"], meas, bounded["freeze"], sem)]
    g = np.asarray(bounded["gaussian_final"])[0]
    parts = [every("uniform noise freezes at the predicted μ̄", per),
             beyond("Gaussian noise moves on past it", g, float(bounded["freeze"][0]), "<", what="μ̄")]
    return parts, f"largest |measured − predicted| {err:.3f}", \
        {"max_err": err, "gauss_small": float(g.mean()), "t_end": float(bounded["times"][-1])}, \
        {"bounds": ", ".join(f"{b:g}" for b in bounded["bounds"]), "measured": fmt_list(meas),
         "predicted": fmt_list(bounded["freeze"])}


@claim("chain.synchronous", "SM S3", "Synchronous noise (the same kick on every block) gives the same final curvature "
       "as independent noise.", "same phase behaviour with synchronous noise (Fig. 4)", "04_noise_friction",
       evidence="every noisy level of the μ_r < μ_l sweep (both noises give Eq. 7 without noise), 0.02 tolerance",
       counterfactual=lambda sweep: {"sweep": {**sweep, "synchronous_c": np.asarray(sweep["independent_c"]) + 0.1}})
def _sync(sweep):
    s = np.asarray(sweep["sigmas"])
    ci, cs = np.asarray(sweep["independent_c"])[0], np.asarray(sweep["synchronous_c"])[0]
    se = np.hypot(np.asarray(sweep["independent_sem"])[0], np.asarray(sweep["synchronous_sem"])[0])
    d = np.abs(ci - cs)
    j = int(np.argmax(d[1:])) + 1
    i05 = int(np.argmin(np.abs(s - 0.05)))
    ratio = float(d[j] / se[j]) if se[j] > 0 else 0.0
    per = [within(f"σ̄ = {v:.3g}", a - b, 0.0, 0.02, what="difference", sem=float(e))
           for v, a, b, e in zip(s[1:], ci[1:], cs[1:], se[1:])]
    return [every("same curvature at every noise level", per)], f"largest difference {d[j]:.3f} ({ratio:.1f} s.e.)", \
        {"sigma": float(s[i05]), "indep": float(ci[i05]), "sync": float(cs[i05]), "max_diff": float(d[j]), "in_se": ratio}


@claim("chain.load_dynamics", "Fig. 4", "A chain with synchronous noise ends concave, linear or convex depending on "
       "the noise (Fig. 4, right column).", "(b) concave, (c) linear, (d) convex", "04_noise_friction", kind="book",
       evidence="one chain per noise level (the levels were chosen to give the three shapes)",
       counterfactual=lambda dyn: {"dyn": {**dyn, "curvature": np.asarray(dyn["curvature"])[::-1].copy()}})
def _chain_dyn(dyn):
    c = [float(v) for v in dyn["curvature"]]
    parts = [holds("(b) concave", c[0] < -TOL, f"c {fmt(c[0], 3)}"), holds("(c) linear", abs(c[1]) <= TOL, f"c {fmt(c[1], 3)}"),
             holds("(d) convex", c[2] > TOL, f"c {fmt(c[2], 3)}")]
    return parts, "c = " + ", ".join(fmt(v, 3) for v in c), dict(zip("bcd", c))


def _mirror(load):
    load = np.asarray(load, dtype=float)
    line = np.linspace(load[..., :1], load[..., -1:], load.shape[-1], axis=-1)[..., 0]
    return 2 * line - load - 0.1 * np.sin(np.pi * np.arange(load.shape[-1]) / (load.shape[-1] - 1))


@claim("chain.langevin_s14", "SM S14", "The standard Langevin chain at the authors' parameters ends nearly linear, "
       "slightly convex.", "the authors' stored run: 1 − x ≈ 0.87, 0.735, 0.61, 0.48, 0.36, 0.235, 0.12", "04_noise_friction",
       evidence="every realisation, in the book's convention; both conventions against the authors' stored run",
       counterfactual=lambda lang: {"lang": {**lang, **{f"s14_load_{c}": _mirror(lang[f"s14_load_{c}"])
                                                         for c in ("langevin", "langevin_sign")},
                                             **{f"s14_c_{c}": theory.curvature(_mirror(lang[f"s14_load_{c}"]))
                                                for c in ("langevin", "langevin_sign")}}})
def _s14(lang):
    stored = np.asarray(paper.S14_STORED_LOAD)
    out, texts = {}, {"stored": fmt_list(stored, 2)}
    for conv, name in (("langevin", "book"), ("langevin_sign", "authors")):
        mean = np.asarray(lang[f"s14_load_{conv}"]).mean(0)
        out[f"c_{name}"] = float(np.mean(lang[f"s14_c_{conv}"]))
        out[f"dev_{name}"] = float(np.abs(mean[1:] - stored).max())
        texts[f"load_{name}"] = fmt_list(mean[1:], 2)
    c = np.asarray(lang["s14_c_langevin"])
    parts = [beyond("slightly convex", c, 0.0, ">", what="c"), beyond("nearly linear", np.abs(c), 0.06, "<", what="|c|"),
             holds("the authors' stored run, both conventions", max(out["dev_book"], out["dev_authors"]) < 0.05,
                   f"largest deviation {max(out['dev_book'], out['dev_authors']):.3f} (needs < 0.05)")]
    return parts, f"c = {fmt(out['c_book'], 3)} (book's), {fmt(out['c_authors'], 3)} (authors' convention); within " \
        f"{max(out['dev_book'], out['dev_authors']):.3f} of the stored run", out, texts


@claim("chain.langevin_grid", "SM S14", "The Langevin chain's friction × noise diagram has the same phases.",
       "the same convex–concave phases", "04_noise_friction",
       evidence="every noisy cell of the grid, book's convention (the noiseless column holds by construction); the "
                "corners over their cells",
       counterfactual=lambda lang: {"lang": _field(lang, "grid_c_langevin", amp=0.05)})
def _lgrid(lang):
    c, alt = np.asarray(lang["grid_c_langevin"]), np.asarray(lang["grid_c_langevin_sign"])
    d = np.abs(alt - c)
    i, j = np.unravel_index(int(np.argmax(d)), d.shape)
    tr, bl = float(c[-1, 1]), float(c[0, -1])
    where = f"μ_r = {lang['mu_r'][i]:g}, ε = {lang['eps_grid'][j]:g}"
    return _phase_parts(lang, "grid_c_langevin", tol=CHAIN_TOL), f"c = {fmt(tr, 3)} (most friction, least noise), " \
        f"{fmt(bl, 3)} (least friction, most noise); conventions differ by at most {d.max():.3f}", \
        {"top_right": tr, "bottom_left": bl, "max_diff": float(d.max())}, {"where": where}


@claim("chain.fig5b", "Fig. 5(b)", "A chain with μ_r = 0 is linear without noise and convex with any noise.",
       "linear at σ = 0, convex for every σ > 0", "04_noise_friction",
       evidence="every noisy level of the μ_r = 0 sweep (its noiseless cell is zero by construction)",
       counterfactual=lambda sweep: {"sweep": _sweep_cf(sweep, 1, lambda c: -np.abs(c) - 0.01)})
def _fig5b(sweep):
    c, se = np.asarray(sweep["independent_c"])[1], np.asarray(sweep["independent_sem"])[1]
    n_noisy, n_convex = len(c) - 1, int((c[1:] > 0).sum())
    per = [beyond_mean(f"σ̄ = {v:.3g}", m, e, 0.0, ">") for v, m, e in zip(np.asarray(sweep["sigmas"])[1:], c[1:], se[1:])]
    return [every("convex at every noise level", per)], \
        f"c = {fmt(c[0], 4)} at σ̄ = 0; convex at {n_convex}/{n_noisy} noise levels", \
        {"zero": float(c[0]), "first": float(c[1]), "sigma_first": float(sweep["sigmas"][1]),
         "min": float(c[1:].min()), "n_convex": n_convex, "n_noisy": n_noisy}
