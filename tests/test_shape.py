"""The shape of a load curve (springblock.shape): the authors' curvature c, the book's relative
curvature ĉ and its label, and the all-layer verdict, on curves whose answer is known in closed form."""
import math

import numpy as np
import pytest

from springblock import analysis
from springblock import shape as sh

L = 7
ELL = np.arange(L + 1, dtype=float)


def quadratic(q, L=L, slope=-1.0, scale=1.0, offset=0.0):
    """D_ℓ = offset + scale·(slope·ℓ + q·ℓ²): contributions d_ℓ = -scale·(slope + q(2ℓ − 1)) change
    linearly with depth; c = 2·q·scale·(L − 1), drop = |scale·(slope·L + q·L²)|."""
    ell = np.arange(L + 1, dtype=float)
    return offset + scale * (slope * ell + q * ell**2)


def q_for(rc, L=L):
    """The q of ``quadratic`` (slope −1) whose relative curvature is ``rc``: 2q(L−1)/(L − qL²) = rc.

    (A decreasing quadratic reaches only ĉ > −2(L−1)/L²: the contributions cannot grow faster.)"""
    assert rc > -2 * (L - 1) / L**2
    return rc * L / (2 * (L - 1) + rc * L**2)


def ramp_with_integer_values(rc_sign, L):
    """A curve of integers whose contributions change linearly with |ĉ| = SHAPE_TOL = 1/20 exactly:
    d_ℓ = m + s(ℓ − (L+1)/2) with m = 40(L−1), s = ∓2L (so ĉ = −s(L−1)/(Lm) = ±1/20)."""
    m, s = 40 * (L - 1), -rc_sign * 2 * L
    d = m + s * (np.arange(1, L + 1) - (L + 1) / 2)
    return 10 * m * L - np.r_[0, np.cumsum(d)]


# ---------------------------------------------------------------- the authors' c and v
def test_curvature_of_quadratic_curves_is_known():
    for q in (-0.03, -0.005, 0.0, 0.01, 0.04):
        for scale, offset in ((1.0, 0.0), (2.5, -3.0), (1e-3, 7.0)):
            D = quadratic(q, scale=scale, offset=offset)
            assert sh.curvature(D) == pytest.approx(2 * q * scale * (L - 1), abs=1e-12)
            assert sh.drop(D) == pytest.approx(abs(scale * (-L + q * L**2)), rel=1e-12)
            assert sh.relative_curvature(D) == pytest.approx(2 * q * (L - 1) / abs(-L + q * L**2), rel=1e-9, abs=1e-12)


def test_curvature_matches_its_definition_on_random_curves():
    rng = np.random.default_rng(17)
    D = np.cumsum(rng.uniform(-1, 0, size=(5, L + 1)), axis=-1)
    d = D[:, :-1] - D[:, 1:]
    np.testing.assert_allclose(sh.contributions(D), d, atol=0)
    np.testing.assert_allclose(sh.curvature(D), (D[:, 0] - D[:, 1]) - (D[:, -2] - D[:, -1]), atol=1e-14)
    np.testing.assert_allclose(sh.curvature(D), np.sum(d[:, :-1] - d[:, 1:], axis=-1), atol=1e-12)  # telescopes
    np.testing.assert_allclose(sh.spread(D), np.std(d, axis=-1), atol=1e-15)
    np.testing.assert_allclose(sh.drop(D), np.abs(D[:, 0] - D[:, -1]), atol=0)


def test_signs_and_labels_of_the_three_shapes():
    linear = 3.0 - 0.4 * ELL
    concave = 1 - (ELL / L) ** 2  # contributions grow with depth
    convex = (1 - ELL / L) ** 2  # contributions shrink with depth
    assert abs(sh.curvature(linear)) < 1e-12 and abs(sh.spread(linear)) < 1e-12
    assert sh.curvature(concave) == pytest.approx(-2 * (L - 1) / L**2)  # d_ℓ = (2ℓ − 1)/L²
    assert sh.curvature(convex) == pytest.approx(2 * (L - 1) / L**2)
    assert sh.relative_curvature(concave) == pytest.approx(-2 * (L - 1) / L**2)  # drop = 1
    assert sh.shape_of(sh.relative_curvature(np.stack([linear, concave, convex]))).tolist() == [
        "linear", "concave", "convex"]


def test_relative_curvature_is_scale_and_offset_free():
    D = quadratic(0.01)
    rc = sh.relative_curvature(D)
    for scale, offset in ((1e-3, 5.0), (1e6, -2.0), (-4.0, 0.0)):  # a negative scale flips c and the drop's sign alike
        assert sh.relative_curvature(scale * D + offset) == pytest.approx(np.sign(scale) * rc, rel=1e-9)
    # the absolute c is not scale free
    assert sh.curvature(1e-3 * D) == pytest.approx(1e-3 * sh.curvature(D))


def test_shape_of_threshold_is_relative_to_the_total_drop():
    rc = 2 * 0.005 * (L - 1) / (L + 0.005 * L**2)  # the quadratic bulge below, computed by hand
    D = quadratic(-0.005)
    assert sh.relative_curvature(D) == pytest.approx(-rc, rel=1e-12)
    assert sh.shape_of(sh.relative_curvature(D), tol=rc * 1.01) == "linear"
    assert sh.shape_of(sh.relative_curvature(D), tol=rc * 0.99) == "concave"
    assert sh.shape_of(sh.relative_curvature(1e-3 * D + 5), tol=rc * 1.01) == "linear"
    assert sh.shape_of(sh.relative_curvature(1e-3 * D + 5), tol=rc * 0.99) == "concave"


def test_shape_of_default_band_and_its_edges():
    tol = sh.SHAPE_TOL
    assert tol == 0.05
    rcs = np.array([-1.0, -tol - 1e-9, -tol, 0.0, tol, tol + 1e-9, 1.0])
    assert sh.shape_of(rcs).tolist() == ["concave", "concave", "linear", "linear", "linear", "convex", "convex"]
    assert sh.shape_of(0.3, tol=0.3) == "linear" and sh.shape_of(0.3, tol=0.29) == "convex"


def test_batched_curves():
    curves = np.stack([1 - ELL / L, 1 - (ELL / L) ** 2, (1 - ELL / L) ** 2])
    curves = np.stack([curves, curves[::-1]])  # (2, 3, L+1)
    c, rc = sh.curvature(curves), sh.relative_curvature(curves)
    assert c.shape == rc.shape == sh.spread(curves).shape == (2, 3)
    assert sh.shape_of(rc).tolist() == [["linear", "concave", "convex"], ["convex", "concave", "linear"]]
    for i in range(2):
        for j in range(3):
            assert c[i, j] == sh.curvature(curves[i, j]) and rc[i, j] == sh.relative_curvature(curves[i, j])
    v = sh.verdict(curves)
    assert v.shape.tolist() == [["linear", "concave", "convex"], ["convex", "concave", "linear"]]
    assert v.trend.shape == v.unevenness.shape == v.explained.shape == v.monotone.shape == (2, 3)


# ---------------------------------------------------------------- NaN and degenerate curves
def test_nan_propagates_to_the_numbers_and_the_label():
    D = np.array([[1.0, math.nan, 0.5, 0.0], [1.0, 0.7, 0.4, 0.1]])
    assert math.isnan(sh.curvature(D)[0]) and math.isnan(sh.relative_curvature(D)[0])
    assert math.isnan(sh.spread(D)[0])
    assert not math.isnan(sh.curvature(D)[1])  # the other curve is unaffected
    assert sh.shape_of(sh.relative_curvature(D)).tolist() == ["nan", "linear"]
    v = sh.verdict(D)
    assert v.shape.tolist() == ["nan", "linear"] and v.label().tolist() == ["nan", "linear"]
    assert sh.shape_of([math.nan, math.inf, -math.inf]).tolist() == ["nan"] * 3


def test_flat_curve_has_no_shape():
    flat = np.full(L + 1, 0.3)
    assert sh.curvature(flat) == 0 and sh.drop(flat) == 0
    assert math.isnan(sh.relative_curvature(flat)) and sh.shape_of(sh.relative_curvature(flat)) == "nan"
    assert sh.verdict(flat).shape == "nan"


@pytest.mark.parametrize("call", [sh.curvature, sh.relative_curvature, sh.verdict])
def test_curves_need_three_points(call):
    with pytest.raises(ValueError, match=r"load must have >= 3 points"):
        call([1.0, 0.0])
    with pytest.raises(ValueError, match="load"):
        call(1.0)


@pytest.mark.parametrize("call", [sh.contributions, sh.spread, sh.drop, sh.rise, sh.normalised])
def test_two_point_summaries_need_two_points(call):
    with pytest.raises(ValueError, match=r"load must have >= 2 points"):
        call([1.0])
    call([1.0, 0.0])  # two points are enough for these


# ---------------------------------------------------------------- the all-layer verdict
RCS = [0.0, 1e-3, -0.01, 0.03, -0.0499, 0.0501, -0.0501, 0.08, -0.16, 0.5, 0.9]


@pytest.mark.parametrize("n_layers", [2, 3, 5, 7, 10])
@pytest.mark.parametrize("rc", RCS)
def test_verdict_equals_shape_of_for_quadratic_curves(n_layers, rc):
    """Contributions that change linearly with depth: the verdict is decided by ĉ alone."""
    for scale, offset in ((1.0, 0.0), (3e-3, 2.0), (-50.0, 1.0)):
        D = quadratic(q_for(rc, n_layers), n_layers, scale=scale, offset=offset)
        rc_got = sh.relative_curvature(D)
        assert rc_got == pytest.approx(np.sign(scale) * rc, abs=1e-9)
        v = sh.verdict(D)
        assert v.shape == sh.shape_of(rc_got)
        assert v.trend == pytest.approx(rc_got, rel=1e-9, abs=1e-12)  # the trend of a ramp is ĉ
        assert v.explained == pytest.approx(1.0, abs=1e-9) or abs(rc) < 1e-12
        assert bool(v.monotone) == (sh.rise(D) <= sh.RISE_TOL)


@pytest.mark.parametrize("n_layers", range(2, 12))
@pytest.mark.parametrize("sign", [1, -1])
def test_verdict_equals_shape_of_at_the_band_edge(n_layers, sign):
    """|ĉ| = SHAPE_TOL exactly (a curve of integers): the unevenness sits on linear_band and both say linear."""
    D = ramp_with_integer_values(sign, n_layers)
    rc = sh.relative_curvature(D)
    assert rc == sign * sh.SHAPE_TOL  # exactly on the edge
    v = sh.verdict(D)
    assert v.unevenness == pytest.approx(sh.linear_band(n_layers), rel=1e-14)
    assert v.shape == sh.shape_of(rc) == "linear"
    # just outside the edge both leave the band, towards the sign of ĉ
    wider = D + sign * 1e-6 * (np.arange(n_layers + 1) - n_layers / 2) ** 2 * 40 * (n_layers - 1)
    assert sh.verdict(wider).shape == sh.shape_of(sh.relative_curvature(wider)) == ("convex" if sign > 0 else "concave")


@pytest.mark.parametrize("n_layers, rc", [(8, -0.05), (9, -0.05), (11, 0.05), (11, -0.05)])
def test_verdict_equals_shape_of_at_the_band_edge_for_float_curves(n_layers, rc):
    D = quadratic(q_for(rc, n_layers), n_layers)
    assert sh.relative_curvature(D) == pytest.approx(rc, abs=1e-15)
    assert sh.verdict(D).shape == sh.shape_of(sh.relative_curvature(D))


def test_linear_band_is_the_unevenness_of_a_ramp_at_the_tolerance():
    for n_layers in (2, 4, 7, 12):
        for tol in (0.05, 0.2):
            D = quadratic(q_for(tol, n_layers), n_layers)
            assert sh.verdict(D).unevenness == pytest.approx(sh.linear_band(n_layers, tol), rel=1e-12)
    assert sh.linear_band(7) == pytest.approx(0.05 * 7 * math.sqrt(8 / 72))
    assert sh.linear_band(2) == pytest.approx(0.05)  # two contributions: std/mean = |ĉ|


def test_plateau_is_uneven_although_its_relative_curvature_is_linear():
    D = np.array([1, 0.6, 0.6, 0.6, 0.6, 0.6, 0.4, 0])
    rc = sh.relative_curvature(D)
    assert abs(rc) <= sh.SHAPE_TOL and sh.shape_of(rc) == "linear"  # c = d_1 − d_L = 0.4 − 0.4
    v = sh.verdict(D)
    assert v.shape == "uneven" and v.label() == "uneven"
    assert v.unevenness > sh.linear_band(L) and v.explained < sh.TREND_R2
    assert bool(v.monotone)


def test_s_shaped_and_zigzag_curves_are_uneven():
    s_curve = 1 - 1 / (1 + np.exp(-2.0 * (ELL - L / 2)))  # slow, fast, slow: contributions peak mid-depth
    zigzag = 1 - np.cumsum(np.r_[0, [0.05, 0.25, 0.05, 0.25, 0.05, 0.25, 0.1]])
    for D in (s_curve, zigzag):
        v = sh.verdict(D)
        assert v.shape == "uneven", D
        assert bool(v.monotone)
    assert sh.shape_of(sh.relative_curvature(s_curve)) == "linear"  # symmetric: c ≈ 0, yet not a line


def test_ramps_with_a_little_noise_keep_their_trend():
    rng = np.random.default_rng(3)
    D = quadratic(q_for(-0.2))
    v = sh.verdict(D + 1e-3 * rng.standard_normal(L + 1))
    assert v.shape == "concave" and 0.5 < v.explained <= 1.0
    v = sh.verdict(quadratic(q_for(0.3)) + 1e-3 * rng.standard_normal(L + 1))
    assert v.shape == "convex"


def test_a_rise_of_five_percent_is_non_monotone():
    D = np.array([1.0, 0.8, 0.6, 0.65, 0.4, 0.2, 0.1, 0.0])  # λ_3 − λ_2 = 0.05 of a drop of 1
    assert sh.rise(D) == pytest.approx(0.05)
    v = sh.verdict(D)
    assert not bool(v.monotone)
    assert str(v.label()).endswith("(non-monotone)") and str(v.label()) == f"{v.shape} (non-monotone)"
    # a rise below RISE_TOL is tolerated
    small = D.copy()
    small[3] = 0.61
    assert sh.rise(small) == pytest.approx(0.01)
    assert bool(sh.verdict(small).monotone) and not str(sh.verdict(small).label()).endswith("(non-monotone)")


def test_label_is_elementwise():
    curves = np.stack([np.array([1.0, 0.8, 0.6, 0.65, 0.4, 0.2, 0.1, 0.0]), 1 - ELL / L,
                       np.full(L + 1, math.nan)])
    labels = sh.verdict(curves).label().tolist()
    assert labels[0].endswith(" (non-monotone)") and labels[1:] == ["linear", "nan"]


# ---------------------------------------------------------------- rise, normalised
def test_rise_values():
    assert sh.rise(1 - ELL / L) == 0.0  # monotone decreasing
    assert sh.rise([1.0, 0.5, 0.7, 0.0]) == pytest.approx(0.2)  # largest rise 0.2 over drop 1
    assert sh.rise([2.0, 1.0, 1.5, 1.2, 1.0]) == pytest.approx(0.5)  # drop 1, rise 0.5
    assert sh.rise([0.0, 1.0, 2.0]) == pytest.approx(0.5)  # a rising curve: each step is half its total change of 2
    np.testing.assert_allclose(sh.rise(np.stack([1 - ELL / L, 1 - ELL / L])), [0.0, 0.0])
    assert sh.rise([1.0, 1.2, 1.0]) == math.inf  # a rise with no net drop
    assert math.isnan(sh.rise([1.0, 1.0, 1.0]))  # flat: 0/0


def test_normalised_maps_to_unit_interval():
    np.testing.assert_allclose(sh.normalised([2.0, 1.0, 0.5]), [1.0, 1 / 3, 0.0])
    rng = np.random.default_rng(18)
    x = rng.standard_normal((4, 8))
    n = sh.normalised(x)
    np.testing.assert_allclose(n.min(-1), 0.0)
    np.testing.assert_allclose(n.max(-1), 1.0)
    np.testing.assert_allclose(sh.normalised(3 * x - 1), n, atol=1e-15)  # affine-invariant
    np.testing.assert_allclose(sh.normalised(-x), 1 - n, atol=1e-15)
    assert np.all(np.isnan(sh.normalised([0.4, 0.4, 0.4])))  # flat: NaN, not 0/0 warnings
    out = sh.normalised([1.0, math.nan, 0.0])  # NaN stays where it was, the rest is normalised
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == 0.0


# ------------------------------------------------------------------ bad input: named, before any work
@pytest.mark.parametrize("call, word", [
    (lambda: sh.linear_band(1), "L must be an integer in \\[2, inf\\)"),
    (lambda: sh.shape_of([0.1], tol=-0.01), "tol must lie in \\[0, inf\\)"),
    (lambda: sh.verdict(np.zeros((2, 8)), tol=-1), "tol must lie"),
    (lambda: sh.verdict("concave"), "load must be numbers"),
    (lambda: sh.relative_curvature([["a", "b", "c"]]), "load must be numbers"),
    (lambda: sh.shape_of("linear"), "rc must be numbers"),
    (lambda: analysis.correlation([1, 2, 3], [1, 2]), "a and b must hold as many values, got 3 and 2"),
])
def test_bad_input_is_refused_naming_the_parameter(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_nan_still_propagates_through_the_checked_inputs():
    assert sh.shape_of([np.nan, 0.0])[0] == "nan" and sh.verdict([[1.0, np.nan, 0.0]]).shape[0] == "nan"
