"""Chapter 1's claims: the demonstration networks and their metrics.

Cells that hold whatever the code does are left out of the evidence (see each claim).
"""
from __future__ import annotations

import numpy as np

from .. import shape
from . import claim
from .common import TOL, fmt, shaped, two_seeds
from .criteria import beyond, holds


def _demo_cf(demo):
    out = {k: (two_seeds(demo[k], 1) if k.startswith("trained_") else v) for k, v in demo.items()}
    rc = shape.relative_curvature(out["trained_trace"].mean(1))  # (A,)
    out["trained_pinv"] = shaped(out["trained_trace"], (-np.sign(rc) * (np.abs(rc) + 0.3))[:, None])
    inv = np.array(out["trained_inverse"], dtype=float)
    inv[-1] = inv[-1] + np.linspace(0, 1, inv.shape[-1])  # the linear net's inverse metric made to move
    out["trained_inverse"] = inv
    return {"demo": out}


@claim("net.relu_demo_concave", "chapter 1", "The chapter's demonstration network (ReLU, no noise) is concave, "
       "as Fig. 1's quiet ReLU cells are.", "(a demonstration; Fig. 1's claim is tested in chapter 2)", "01_separation",
       kind="book", evidence="the ReLU network of the separation demo, every seed",
       counterfactual=lambda demo: {"demo": {**demo, "trained_trace": shaped(two_seeds(demo["trained_trace"], 1), 0.3)}})
def _relu_demo(demo):
    seeds = shape.relative_curvature(demo["trained_trace"][0])
    rc = float(shape.relative_curvature(demo["trained_trace"][0].mean(0)))
    return [beyond("ReLU net concave", seeds, -TOL, "<")], f"ĉ = {fmt(rc)}", {"rc": rc}


@claim("net.metrics_demo", "chapter 1", "On the demonstration networks Eq. 3 and Eq. 9 bend alike for ReLU, and the "
       "inverse variant cannot see a linear network's layers.", "(a demonstration; S10/S11 are tested in chapter 5)",
       "01_separation", kind="book", evidence="the separation demo: its ReLU and its linear network, every seed",
       counterfactual=_demo_cf)
def _metrics_demo(demo):
    tr, pi = (shape.relative_curvature(demo[f"trained_{k}"][0]) for k in ("trace", "pinv"))  # per seed
    mean = {k: demo[f"trained_{k}"].mean(1) for k in ("trace", "pinv", "inverse")}
    rt, rp = (float(shape.relative_curvature(mean[k][0])) for k in ("trace", "pinv"))
    drop = float(mean["trace"][1][0] - mean["trace"][1][-1])
    spread = float(np.ptp(mean["inverse"][1][1:]))
    parts = [beyond("ReLU net: Eq. 9 bends as Eq. 3 does", np.sign(rt) * pi, TOL, ">",
                    what="ĉ(Eq. 9) × sign ĉ(Eq. 3)"),
             holds("linear net: the inverse variant is flat", spread < 0.01 * abs(drop),
                   f"it varies by {spread:.1e}, Eq. 3 drops by {drop:.2f}")]
    return parts, f"ReLU ĉ {fmt(rt)} (Eq. 3) vs {fmt(rp)} (Eq. 9); linear net: inverse varies {spread:.1e} vs Eq. 3 " \
        f"drop {drop:.2f}", {"rc_trace_relu": rt, "rc_pinv_relu": rp, "drop_trace_linear": drop,
                             "inverse_spread_linear": spread}
