"""Closed forms of the spring–block chain: spec §3 and the §7a claims that need no simulation.

Claims 2, 3, 6, 7, 13 (closed-form halves) and Eqs. 7–8 live here; test_chain.py checks the
simulator against them.
"""
import numpy as np
import pytest

from springblock import theory as th

L, K, Y = 7, 1.0, 1.0


# ---------------------------------------------------------------- friction law
def test_drive_is_an_asymmetric_dead_zone():
    F = np.array([-1.0, -0.06, -0.03, 0.0, 0.02, 0.05, 1.0])
    expected = np.array([-0.94, 0.0, 0.0, 0.0, 0.0, 0.03, 0.98])
    np.testing.assert_allclose(th.drive(F, mu_r=0.02, mu_l=0.06), expected, atol=1e-15)


# ---------------------------------------------------------------- claim 1
def test_claim1_frictionless_equilibrium_is_equiseparation():
    x = th.equilibrium(L, K, Y, 0.0)
    np.testing.assert_allclose(x, np.arange(1, L + 1) / (L + 1), atol=1e-15)
    load = th.load_from_positions(x, Y)
    np.testing.assert_allclose(th.elongations(load), np.full(L + 1, Y / (L + 1)), atol=1e-15)
    assert th.curvature(load) == pytest.approx(0.0, abs=1e-15)
    assert th.energy(load, K) == pytest.approx(K * Y**2 / (2 * (L + 1)), abs=1e-15)


# ---------------------------------------------------------------- claim 2 (Eq. 7)
def test_claim2_eq7_closed_form():
    mu_r = 0.02
    assert float(th.friction_bound(L, K, Y)) == pytest.approx(2 / 56)  # 0.0357
    d = th.elongations(th.load_from_positions(th.equilibrium(L, K, Y, mu_r), Y))
    np.testing.assert_allclose(d, np.linspace(0.055, 0.195, 8), atol=1e-15)
    np.testing.assert_allclose(np.diff(d), mu_r / K, atol=1e-15)
    load = th.uniform_force_load(L, K, Y, mu_r)
    np.testing.assert_allclose(load, th.load_from_positions(th.equilibrium(L, K, Y, mu_r), Y), atol=1e-15)
    np.testing.assert_allclose(np.diff(load, 2), -mu_r / K, atol=1e-15)  # concave
    assert th.curvature(load) == pytest.approx(-(L - 1) * mu_r / K, abs=1e-15)
    assert th.predicted_curvature(L, K, mu_r) == pytest.approx(-0.12)
    assert th.stuck_blocks(L, K, Y, mu_r) == 0


def test_eq7_broadcasts_over_parameters():
    mu = np.array([[0.0], [0.01], [0.03]])
    k = np.array([1.0, 2.0])
    x = th.equilibrium(L, k, Y, mu)
    assert x.shape == (3, 2, L)
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(x[i, j], th.equilibrium(L, k[j], Y, mu[i, 0]), atol=1e-15)


# ---------------------------------------------------------------- claim 3
def test_claim3_stuck_blocks_closed_form():
    assert th.stuck_blocks(L, K, Y, 0.06) == 2
    np.testing.assert_allclose(th.equilibrium(L, K, Y, 0.06),
                               [0, 0, 0.0167, 0.0933, 0.23, 0.4267, 0.6833], atol=5e-5)
    # exactly at the bound every block moves and the first spring is slack
    x = th.equilibrium(L, K, Y, th.friction_bound(L, K, Y))
    assert th.stuck_blocks(L, K, Y, th.friction_bound(L, K, Y)) == 0
    assert x[0] == pytest.approx(0.0, abs=1e-14)
    # overwhelming friction: nothing moves, the last spring takes the whole load
    np.testing.assert_allclose(th.equilibrium(L, K, Y, 10.0), 0.0)


def test_stuck_solution_has_force_mu_r_on_every_moving_block():
    mu_r = 0.06
    x = np.concatenate([[0.0], th.equilibrium(L, K, Y, mu_r), [Y]])
    force = K * (x[2:] - 2 * x[1:-1] + x[:-2])
    m = th.stuck_blocks(L, K, Y, mu_r)
    np.testing.assert_allclose(force[m:], mu_r, atol=1e-14)
    assert np.all(force[:m] <= mu_r)  # the stuck ones are held by static friction


# ---------------------------------------------------------------- claim 6 (effective friction)
MU_R, MU_L = 0.02, 0.06


@pytest.mark.parametrize("noise", ["gaussian", "truncated", "uniform"])
def test_claim6_effective_friction_limits(noise):
    F = np.array([0.03, 0.1, 0.5])  # all above mu_r
    np.testing.assert_allclose(th.effective_friction(F, 1e-6, MU_R, MU_L, noise), MU_R, atol=1e-9)
    np.testing.assert_allclose(th.effective_friction(F, 0.0, MU_R, MU_L, noise), MU_R, atol=1e-15)
    F_star = (MU_R - MU_L) / 2
    for sigma in [1e2, 1e4, 1e6]:  # approaches F* like 1/sigma
        gap = np.abs(th.effective_friction(F, sigma, MU_R, MU_L, noise) - F_star)
        assert np.all(gap <= (F - F_star) * (MU_R + MU_L) / sigma), (sigma, gap)


@pytest.mark.parametrize("noise", ["gaussian", "truncated", "uniform"])
def test_claim6_zero_drift_force_is_noise_independent(noise):
    sigma = np.logspace(-4, 2, 25)
    F_star = th.zero_drift_force(MU_R, MU_L)
    assert F_star == pytest.approx(-0.02)
    np.testing.assert_allclose(th.mean_drift(F_star, sigma, MU_R, MU_L, noise), 0.0, atol=1e-15)


def test_claim6_noise_lowers_friction_iff_force_exceeds_zero_drift():
    sigma = np.logspace(-3, 1.5, 400)
    F_star = th.zero_drift_force(MU_R, MU_L)
    for F in [-0.1, -0.05, -0.03, -0.01, 0.0, 0.02, 0.05, 0.2]:
        slope = np.diff(th.effective_friction(F, sigma, MU_R, MU_L))
        if F > F_star:
            assert np.all(slope <= 1e-15), F  # acoustic lubrication
            assert slope.sum() < 0
        else:
            assert np.all(slope >= -1e-15), F


@pytest.mark.parametrize("noise", ["gaussian", "truncated", "uniform"])
def test_effective_friction_closed_form_matches_monte_carlo(noise):
    rng = np.random.default_rng(0)
    n, sigma, truncate = 400_000, 0.05, 1.5
    z = rng.standard_normal(4 * n)
    eps = {"gaussian": sigma * z[:n],
           "truncated": sigma * z[np.abs(z) <= truncate][:n],
           "uniform": sigma * rng.uniform(-1, 1, n)}[noise]
    for F in [-0.08, -0.02, 0.0, 0.03, 0.1]:
        samples = th.drive(F + eps, MU_R, MU_L)
        mc, se = F - samples.mean(), samples.std() / np.sqrt(n)
        closed = th.effective_friction(F, sigma, MU_R, MU_L, noise, truncate=truncate)
        assert abs(closed - mc) < 4 * se + 1e-12, (F, closed, mc)


# ---------------------------------------------------------------- claim 7 (bounded noise)
def test_claim7_bounded_noise_freeze_point():
    B = np.array([0.01, 0.02, 0.04, 0.08, 0.2])
    np.testing.assert_allclose(th.freeze_friction(0.04, 0.08, B), [0.03, 0.02, 0.0, -0.02, -0.02], atol=1e-15)
    # inside the dead band the uniform-noise drift vanishes: F just below mu_r - B does not move
    F = 0.04 - B[:3] - 1e-9
    np.testing.assert_allclose(th.mean_drift(F, B[:3], 0.04, 0.08, "uniform"), 0.0, atol=1e-15)
    assert np.all(th.mean_drift(F + 2e-3, B[:3], 0.04, 0.08, "uniform") > 0)


# ---------------------------------------------------------------- Eq. 8
def test_eq8_shapes_follow_the_sign_of_mu_r_minus_mu_l():
    for mu_r, mu_l, sign in [(0.02, 0.06, 1), (0.06, 0.02, -1), (0.04, 0.04, 0)]:
        load = th.large_noise_load(L, K, Y, mu_r, mu_l)
        assert load[0] == pytest.approx(Y) and load[-1] > 0
        np.testing.assert_allclose(np.diff(load, 2), (mu_l - mu_r) / (2 * K), atol=1e-15)
        assert np.sign(round(th.curvature(load), 12)) == sign
        assert th.friction_from_load(load, K) == pytest.approx((mu_r - mu_l) / 2, abs=1e-15)


def test_friction_from_load_inverts_load_curve_and_curvature_matches():
    mu = np.linspace(-0.03, 0.03, 7)
    load = th.uniform_force_load(L, 2.0, 1.5, mu)
    np.testing.assert_allclose(th.friction_from_load(load, 2.0), mu, atol=1e-14)
    np.testing.assert_allclose(th.curvature(load), th.predicted_curvature(L, 2.0, mu), atol=1e-14)


# ---------------------------------------------------------------- claim 13 (energy)
def test_claim13_energy_closed_form_and_minimum():
    mu = np.linspace(-0.035, 0.035, 71)
    for k, y in [(1.0, 1.0), (0.5, 2.0)]:
        U = th.energy(th.uniform_force_load(L, k, y, mu), k)
        np.testing.assert_allclose(U, th.energy_closed_form(L, k, y, mu), rtol=1e-12)
        assert np.argmin(U) == 35 and mu[35] == pytest.approx(0.0, abs=1e-15)  # only at equiseparation
        assert np.all(U[np.abs(mu) > 1e-12] > U[35])
        assert U[35] == pytest.approx(k * y**2 / (2 * (L + 1)))


def test_equiseparation_minimises_energy_over_random_load_curves():
    rng = np.random.default_rng(1)
    d = rng.dirichlet(np.ones(L + 1), size=2000)  # random positive elongations summing to y = 1
    load = np.concatenate([np.ones((2000, 1)), 1 - np.cumsum(d, axis=1)[:, :L]], axis=1)
    assert np.all(th.energy(load) >= th.energy_closed_form(L, 1.0, 1.0, 0.0) - 1e-15)


def test_bad_noise_name_and_negative_sigma_raise():
    # The only checks theory makes (it does not use springblock.validate): the noise name and sigma >= 0.
    with pytest.raises(ValueError, match=r"^noise must be one of \('gaussian', 'truncated', 'uniform'\), got 'cauchy'"):
        th.effective_friction(0.1, 0.1, noise="cauchy")
    with pytest.raises(ValueError, match="^noise must be one of"):
        th.mean_drift(0.1, 0.0, noise="cauchy")  # refused even where no noise is drawn
    with pytest.raises(ValueError, match="^sigma must be >= 0"):
        th.mean_drift(0.1, -1.0)
    with pytest.raises(ValueError, match="^sigma must be >= 0"):
        th.effective_friction(np.array([0.1, 0.2]), np.array([0.1, -1e-9]))  # any negative entry
    assert th.NOISES == ("gaussian", "truncated", "uniform")


@pytest.mark.parametrize("call, says", [
    (lambda: th.energy("abc"), "load must be numbers"),
    (lambda: th.load_from_positions("abc"), "x must be numbers"),
    (lambda: th.friction_from_load([1.0]), "load must have >= 2 points"),
    (lambda: th.elongations(np.float64(1.0)), "load must have >= 2 points"),
    (lambda: th.uniform_force_load(2**70), "L must be an integer in"),
])
def test_bad_load_curves_and_chain_lengths_are_named(call, says):
    with pytest.raises(ValueError, match=says):
        call()
