"""The spring–block simulator against the closed forms and the spec's §7a claims 1–12.

Stochastic claims are checked against the ensemble mean with a tolerance of a few standard
errors (plus the spec's own rounding); step counts are the spec's unless a claim allows fewer.
"""
import numpy as np
import pytest
from scipy.linalg import expm

from springblock import chain
from springblock import theory as th

L = 7


def mean_se(a, axis=-1):
    a = np.asarray(a)
    return a.mean(axis), a.std(axis, ddof=1) / np.sqrt(a.shape[axis])


# ---------------------------------------------------------------- claims 1–3: noiseless, overdamped
def test_claim1_frictionless_converges_to_equiseparation():
    r = chain.simulate(steps=20_000, dt=0.1)
    np.testing.assert_allclose(r.x[0], np.arange(1, L + 1) / (L + 1), atol=1e-12)
    np.testing.assert_allclose(r.elongations[0], 1 / (L + 1), atol=1e-12)
    assert th.energy(r.load[0]) == pytest.approx(1 / 16, abs=1e-12)


@pytest.mark.parametrize("mu_l", [0.0, 0.5])
def test_claim2_overdamped_matches_eq7(mu_l):
    # the authors' step size; 3e4 steps bring the slowest mode below 1e-14
    r = chain.simulate(mu_r=0.02, mu_l=mu_l, steps=30_000)
    np.testing.assert_allclose(r.x[0], th.equilibrium(L, 1.0, 1.0, 0.02), atol=1e-12)
    np.testing.assert_allclose(r.elongations[0], np.linspace(0.055, 0.195, 8), atol=1e-12)
    np.testing.assert_allclose(np.diff(r.elongations[0]), 0.02, atol=1e-12)
    assert r.curvature[0] == pytest.approx(-0.12, abs=1e-12)
    # claim 13 on the simulated state: U = k y^2/(2n) + mu^2 n (n^2 - 1)/(24 k), n = L + 1
    assert th.energy(r.load[0]) == pytest.approx(1 / 16 + 0.02**2 * 8 * 63 / 24, abs=1e-12)


def test_eq7_over_a_grid_in_one_call():
    mu = np.array([0.0, 0.01, 0.02, 0.035])[:, None]
    k = np.array([1.0, 2.0])
    r = chain.simulate(k=k, mu_r=mu, mu_l=0.1, dt=0.05, steps=30_000, realisations=2)
    assert r.x.shape == (4, 2, 2, L) and r.load.shape == (4, 2, 2, L + 1)
    expected = th.equilibrium(L, k, 1.0, mu)[:, :, None, :]
    assert np.max(np.abs(r.x - expected)) < 1e-10


def test_claim3_stuck_blocks():
    r = chain.simulate(mu_r=0.06, steps=30_000)
    np.testing.assert_allclose(r.x[0, :2], 0.0, atol=0)  # never moved at all
    np.testing.assert_allclose(r.x[0], th.equilibrium(L, 1.0, 1.0, 0.06), atol=1e-12)
    np.testing.assert_allclose(r.x[0], [0, 0, 0.0167, 0.0933, 0.23, 0.4267, 0.6833], atol=5e-5)


# ---------------------------------------------------------------- claim 4: Eq. 8
def test_claim4_large_noise_gives_eq8():
    mu_r, mu_l = np.array([0.02, 0.06, 0.04]), np.array([0.06, 0.02, 0.04])
    r = chain.simulate(mu_r=mu_r, mu_l=mu_l, sigma=1.0, realisations=100, steps=10_000, seed=1, record_every=100)
    # mean elongation increment × k, time-averaged over the equilibrated second half of each run
    per_run = th.friction_from_load(r.trajectory[..., 50:, :]).mean(-1)
    mean, se = mean_se(per_run)
    assert np.all(np.abs(mean - (mu_r - mu_l) / 2) < 3 * se + 5e-4), (mean, se)
    assert mean[0] < -0.015 and mean[1] > 0.015  # convex / concave as Eq. 8 says


# ---------------------------------------------------------------- claim 5: the authors' defaults
def test_claim5_symmetric_friction_and_noise_is_linear():
    r = chain.simulate(mu_r=0.1, mu_l=0.1, sigma=0.1, dt=0.01, steps=10_000, realisations=40, seed=2)
    mean, se = mean_se(r.load, axis=0)
    linear = (L + 1 - np.arange(L + 1)) / (L + 1)
    assert np.all(np.abs(mean - linear) < 3 * se + 0.004), (mean.round(3), se.round(4))


# ---------------------------------------------------------------- claim 7: bounded noise freezes
def test_claim7_bounded_noise_freeze_point():
    B = np.array([0.01, 0.02, 0.04, 0.08, 0.2])
    # the approach to the freeze point is algebraic, so run long (dt = 0.1 is stable; the freeze
    # point depends only on the per-step kick bound B, not on dt)
    r = chain.simulate(mu_r=0.04, mu_l=0.08, sigma=B, noise="uniform", dt=0.1, steps=20_000,
                       realisations=30, seed=3, record_every=200)
    per_run = th.friction_from_load(r.trajectory[..., 80:, :]).mean(-1)
    mean, se = mean_se(per_run)
    expected = th.freeze_friction(0.04, 0.08, B)  # 0.03 / 0.02 / 0 / -0.02 / -0.02
    assert np.all(np.abs(mean - expected) < 3 * se + 1e-3), (mean.round(4), se.round(4))


def test_bounded_noise_stops_at_its_freeze_point_but_gaussian_drifts_past():
    common = dict(mu_r=0.04, mu_l=0.08, sigma=0.02, dt=0.1, steps=20_000, realisations=5, seed=4, record_every=2_000)
    bounded = th.friction_from_load(chain.simulate(noise="uniform", **common).trajectory)  # (R, T)
    assert bounded.min() >= 0.02 - 1e-6  # never below mu_r - B ...
    assert np.all(bounded[:, -1] < 0.021)  # ... and closing in on it
    gauss = th.friction_from_load(chain.simulate(noise="gaussian", **common).trajectory)
    assert np.all(gauss[:, -1] < 0.0)  # same scale, unbounded: far past mu_r - sigma ...
    assert np.all(gauss[:, -1] > -0.02)  # ... still on its slow way to (mu_r - mu_l)/2
    assert np.all(gauss.mean(0)[-1] < gauss.mean(0)[-3])


# ---------------------------------------------------------------- claim 8: phase diagram
def test_claim8_phase_diagram_trends():
    mu_r = np.array([0.0, 0.014, 0.035])[:, None]
    sigma = np.array([0.0, 0.01, 0.05, 0.2])
    r = chain.simulate(mu_r=mu_r, mu_l=0.04, sigma=sigma, realisations=10, steps=10_000, seed=5, dtype="float32")
    c = r.curvature.mean(-1)
    assert np.all(np.diff(c[:, :3], axis=1) > 0.01)  # more noise: concave -> linear -> convex
    assert np.all(np.diff(c, axis=0) < -0.005)  # more friction: towards concave
    assert c[2, 0] == pytest.approx(-0.21, abs=1e-3)  # top right: Eq. 7
    assert c[0, 3] == pytest.approx(0.12, abs=0.02)  # bottom left: Eq. 8
    assert c[2, 0] < 0 < c[0, 3]


# ---------------------------------------------------------------- claim 9: Fig. 5(b)
def test_claim9_fig5b_mu_r_zero_linear_without_noise_convex_with_any():
    sigma = np.array([0.0, 0.005, 0.02, 0.1, 0.5])
    r = chain.simulate(mu_r=0.0, mu_l=0.04, sigma=sigma, realisations=20, steps=10_000, seed=6)
    mean, se = mean_se(r.curvature)
    assert mean[0] == pytest.approx(0.0, abs=1e-6)  # linear, up to the unfinished relaxation
    assert np.all(mean[1:] > 3 * se[1:]) and np.all(mean[1:] > 0.01)


# ---------------------------------------------------------------- claim 10: synchronous noise
def test_claim10_synchronous_and_independent_noise_agree():
    out = {}
    for sync in (False, True):
        r = chain.simulate(mu_r=0.02, mu_l=0.06, sigma=0.05, synchronous=sync, realisations=60, seed=7)
        out[sync] = mean_se(r.curvature)
    (m0, s0), (m1, s1) = out[False], out[True]
    assert m0 == pytest.approx(0.120, abs=0.005) and m1 == pytest.approx(0.120, abs=0.005)
    assert abs(m0 - m1) < 3 * np.hypot(s0, s1) + 1e-3


def test_synchronous_noise_is_one_draw_per_chain():
    # one frictionless step from rest: interior blocks feel only the (shared) kick
    r = chain.simulate(sigma=1.0, steps=1, synchronous=True, realisations=3, seed=8)
    kicks = r.x[:, : L - 1]
    np.testing.assert_allclose(kicks, kicks[:, :1] * np.ones(L - 1), atol=1e-15)
    assert np.ptp(kicks[:, 0]) > 0  # but different chains get different draws
    r = chain.simulate(sigma=1.0, steps=1, synchronous=False, realisations=1, seed=8)
    assert np.ptp(r.x[0, : L - 1]) > 0


# ---------------------------------------------------------------- claim 11: second order
def test_claim11_second_order_phase_behaviour():
    sigma = np.array([0.0, 0.02, 0.05, 0.2, 1.0])
    r = chain.simulate(mu_r=0.02, mu_l=0.06, sigma=sigma, dynamics="second_order", gamma=5.0, dt=0.01,
                       steps=20_000, realisations=30, seed=9, dtype="float32")
    mean, se = mean_se(r.curvature)
    spec = np.array([-0.121, -0.096, -0.047, 0.081, 0.113])
    assert np.all(np.abs(mean - spec) < 3 * se + 0.006), (mean.round(3), se.round(4))
    assert np.all(np.diff(mean) > 0)


def test_second_order_and_langevin_without_noise_reach_eq7():
    for dyn in ("second_order", "langevin"):
        r = chain.simulate(mu_r=0.02, mu_l=0.06, dynamics=dyn, gamma=5.0, dt=0.05, steps=20_000)
        np.testing.assert_allclose(r.x[0], th.equilibrium(L, 1.0, 1.0, 0.02), atol=1e-10)
        np.testing.assert_allclose(r.v, 0.0, atol=1e-12)


@pytest.mark.parametrize("dynamics, sigma, dt", [("second_order", 1.0, 0.05), ("langevin", 0.3, 0.05)])
def test_second_order_and_langevin_large_noise_reach_eq8(dynamics, sigma, dt):
    mu_r, mu_l = np.array([0.02, 0.06]), np.array([0.06, 0.02])
    r = chain.simulate(mu_r=mu_r, mu_l=mu_l, sigma=sigma, dynamics=dynamics, dt=dt, steps=10_000,
                       realisations=30, seed=10, record_every=100)
    per_run = th.friction_from_load(r.trajectory[..., 50:, :]).mean(-1)
    mean, se = mean_se(per_run)
    assert np.all(np.abs(mean - (mu_r - mu_l) / 2) < 3 * se + 1e-3), (mean, se)


# ---------------------------------------------------------------- claim 12: Langevin (S14)
def test_claim12_langevin_s14_is_nearly_linear_slightly_convex():
    # the authors' diffusion matrix is eps * ones((7, 7)): one shared increment of scale eps*sqrt(7)
    r = chain.simulate(k=0.1, mu_r=0.003, mu_l=0.004, sigma=0.003 * np.sqrt(L), synchronous=True,
                       decay=0.001, dynamics="langevin", gamma=1.0, dt=0.05, steps=14_000,
                       realisations=40, seed=11)
    mean = r.load.mean(0)[1:]
    np.testing.assert_allclose(mean, [0.86, 0.73, 0.60, 0.47, 0.35, 0.23, 0.11], atol=0.02)
    c, se = mean_se(r.curvature, axis=0)
    assert 0.01 <= c <= 0.04 and c > 3 * se


# ---------------------------------------------------------------- the schemes, step by step
def _reference(dynamics, L, k, y, mu_r, mu_l, sigma, gamma, dt, steps, seed):
    """One chain, float64, Gaussian independent noise, written out block by block from the docstring.

    The simulator draws the noise of one chain as one (steps, L) block of standard normals when it
    fits in a chunk, so the same seed gives the same kicks here."""
    xi = np.random.default_rng(seed).standard_normal((steps, L))
    x, v = np.zeros(L + 2), np.zeros(L)
    x[-1] = y

    def static(F):  # the dead zone g(F) at rest
        return F - np.clip(F, -mu_l, mu_r)

    for n in range(steps):
        F = k * (x[:-2] + x[2:] - 2 * x[1:-1])
        if dynamics == "overdamped":
            x[1:-1] += dt * static(F + sigma * xi[n])
            continue
        if dynamics == "second_order":
            F = F + sigma * xi[n]  # friction sees the noisy force
        if dynamics == "langevin_sign":  # -μ_r (v > 0), +μ_l (v < 0), nothing at rest; no sticking
            net = F - np.where(v > 0, mu_r, np.where(v < 0, -mu_l, 0.0))
            vnew = v + dt * (net - gamma * v)
        else:  # kinetic friction while moving, the dead zone at rest, no reversal within a step
            net = np.where(v > 0, F - mu_r, np.where(v < 0, F + mu_l, static(F)))
            vnew = v + dt * (net - gamma * v)
            vnew = np.where(v * vnew < 0, 0.0, vnew)
        if dynamics in ("langevin", "langevin_sign"):
            vnew = vnew + sigma * np.sqrt(dt) * xi[n]  # noise on the velocity, after friction
        v = vnew
        x[1:-1] += dt * v
    return x[1:-1], v


@pytest.mark.parametrize("dynamics", chain.DYNAMICS)
@pytest.mark.parametrize("mu_r, mu_l, sigma", [(0.02, 0.06, 0.05), (0.05, 0.01, 0.3), (0.03, 0.03, 0.0)])
def test_every_scheme_matches_its_step_written_out(dynamics, mu_r, mu_l, sigma):
    kw = dict(L=5, k=1.3, y=0.8, mu_r=mu_r, mu_l=mu_l, sigma=sigma, gamma=2.0, dt=0.05, steps=600, seed=21)
    r = chain.simulate(dynamics=dynamics, **kw)
    x, v = _reference(dynamics, **kw)
    np.testing.assert_allclose(r.x[0], x, rtol=0, atol=1e-12)
    if dynamics == "overdamped":
        assert r.v is None
    else:
        np.testing.assert_allclose(r.v[0], v, rtol=0, atol=1e-12)
    assert np.max(np.abs(x)) > 0.1  # the chains moved


def test_schemes_table():
    assert chain.DYNAMICS == ("overdamped", "second_order", "langevin", "langevin_sign") == tuple(chain.SCHEMES)
    assert chain.DEFAULT_GAMMA == {"second_order": 5.0, "langevin": 1.0, "langevin_sign": 1.0}
    for name, scheme in chain.SCHEMES.items():  # each bound is the one the simulator enforces
        assert chain.max_stable_dt(L, 2.0, name, 1.5) == scheme.max_dt(L, 2.0, 1.5)
    assert chain.max_stable_dt(L, 1.0, "langevin_sign") == chain.max_stable_dt(L, 1.0, "langevin")
    w2 = 2 + 2 * np.cos(np.pi / (L + 1))  # the stiffest mode at k = 1
    assert chain.max_stable_dt(L) == pytest.approx(2 / w2)
    dt = chain.max_stable_dt(L, 1.0, "second_order", 3.0)
    assert w2 * dt**2 + 2 * 3.0 * dt == pytest.approx(4.0)
    assert chain.max_stable_dt(L, 1.0, "second_order") == chain.max_stable_dt(L, 1.0, "second_order", 5.0)
    with pytest.raises(ValueError, match="^dynamics must be one of"):
        chain.max_stable_dt(L, 1.0, "verlet")
    with pytest.raises(ValueError, match="^L must be an integer"):
        chain.max_stable_dt(0)


def test_default_gamma_is_used():
    for dyn, g in chain.DEFAULT_GAMMA.items():
        kw = dict(mu_r=0.01, sigma=0.1, steps=300, seed=3, dynamics=dyn)
        np.testing.assert_array_equal(chain.simulate(**kw).x, chain.simulate(gamma=g, **kw).x)
        assert chain.simulate(**kw).params["gamma"] == g


def test_langevin_sign_has_no_static_friction_and_no_sticking():
    """Overwhelming friction (μ = 10 > every elastic force): the stick–slip convention never moves;
    the notebook convention feels no friction at rest, so the last block starts, then friction
    reverses it within one step."""
    kw = dict(mu_r=10.0, mu_l=10.0, dt=0.05, gamma=1.0)
    for steps in (1, 2, 50):
        stuck = chain.simulate(dynamics="langevin", steps=steps, **kw)
        assert np.all(stuck.x == 0) and np.all(stuck.v == 0)
    one = chain.simulate(dynamics="langevin_sign", steps=1, **kw)
    np.testing.assert_allclose(one.v[0], np.r_[np.zeros(L - 1), 0.05], atol=1e-16)  # v = dt·k·y
    np.testing.assert_allclose(one.x[0], np.r_[np.zeros(L - 1), 0.05**2], atol=1e-16)
    two = chain.simulate(dynamics="langevin_sign", steps=2, **kw)
    v1, x1 = 0.05, 0.05**2
    v2 = v1 + 0.05 * ((1.0 - 2 * x1) - 1.0 * v1 - 10.0)  # moving right: -μ_r, and no stop at v = 0
    assert v2 < 0 and two.v[0, -1] == pytest.approx(v2, abs=1e-15)
    assert two.v[0, -2] == pytest.approx(0.05 * 1.0 * x1, abs=1e-15)  # block L-1 is pulled at rest: f = 0


def test_langevin_sign_chatters_where_langevin_sticks():
    """Without noise the stick–slip chain settles on Eq. 7 at rest; the sign convention never comes to
    rest (every step at v ≈ 0 feels ±μ), so it keeps moving and misses Eq. 7."""
    kw = dict(mu_r=0.02, mu_l=0.06, gamma=5.0, dt=0.05, steps=20_000)
    eq7 = th.equilibrium(L, 1.0, 1.0, 0.02)
    stick = chain.simulate(dynamics="langevin", **kw)
    np.testing.assert_allclose(stick.x[0], eq7, atol=1e-10)
    sign = chain.simulate(dynamics="langevin_sign", **kw)
    assert np.max(np.abs(sign.v)) > 1e-5
    assert np.max(np.abs(sign.x[0] - eq7)) > 1e-2
    # the sign chain's velocities stay of the order of one friction kick dt·μ
    assert np.max(np.abs(sign.v)) < 2 * kw["dt"] * 0.06


def test_langevin_sign_large_noise_reaches_eq8():
    mu_r, mu_l = np.array([0.02, 0.06]), np.array([0.06, 0.02])
    r = chain.simulate(mu_r=mu_r, mu_l=mu_l, sigma=0.3, dynamics="langevin_sign", dt=0.05, steps=10_000,
                       realisations=30, seed=10, record_every=100)
    per_run = th.friction_from_load(r.trajectory[..., 50:, :]).mean(-1)
    mean, se = mean_se(per_run)
    assert np.all(np.abs(mean - (mu_r - mu_l) / 2) < 3 * se + 1e-3), (mean, se)


# ---------------------------------------------------------------- time-step convergence
def _laplacian(k=1.0):
    A = -2 * np.eye(L) + np.eye(L, k=1) + np.eye(L, k=-1)
    b = np.zeros(L)
    b[-1] = 1.0  # target y = 1
    return k * A, k * b


@pytest.mark.parametrize("dynamics", chain.DYNAMICS)
def test_first_order_convergence_in_dt(dynamics):
    """Frictionless, noiseless runs against the exact solution at t = 5: error ∝ dt."""
    A, b = _laplacian()
    T, gamma = 5.0, 2.0
    if dynamics == "overdamped":  # x' = A x + b
        M = np.block([[A, b[:, None]], [np.zeros((1, L + 1))]])
        exact = (expm(T * M) @ np.r_[np.zeros(L), 1.0])[:L]
    else:  # x'' = A x + b - gamma x'
        M = np.zeros((2 * L + 1, 2 * L + 1))
        M[:L, L:2 * L] = np.eye(L)
        M[L:2 * L, :L], M[L:2 * L, L:2 * L], M[L:2 * L, -1] = A, -gamma * np.eye(L), b
        exact = (expm(T * M) @ np.r_[np.zeros(2 * L), 1.0])[:L]
    errors = []
    for dt in (0.02, 0.01, 0.005):
        r = chain.simulate(dynamics=dynamics, gamma=gamma, dt=dt, steps=round(T / dt))
        errors.append(np.max(np.abs(r.x[0] - exact)))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    assert errors[-1] < 5e-3
    np.testing.assert_allclose(ratios, 2.0, rtol=0.1)


def test_langevin_statistics_converge_in_dt():
    """With noise and friction, ensemble curvature changes by less than its error as dt halves."""
    out = []
    for dt in (0.1, 0.05):
        r = chain.simulate(k=0.5, mu_r=0.01, mu_l=0.03, sigma=0.05, dynamics="langevin", dt=dt,
                           steps=round(200 / dt), realisations=200, seed=12, dtype="float32")
        out.append(mean_se(r.curvature))
    (m0, s0), (m1, s1) = out
    assert abs(m0 - m1) < 3 * np.hypot(s0, s1) + 0.005


# ---------------------------------------------------------------- options and bookkeeping
def test_decay_switches_the_noise_off():
    kw = dict(sigma=0.2, dt=0.1, steps=3_000, seed=13)  # noise gone by t ~ 20, then 280 to relax
    np.testing.assert_allclose(chain.simulate(decay=1.0, **kw).x[0], np.arange(1, L + 1) / (L + 1), atol=1e-8)
    assert np.max(np.abs(chain.simulate(decay=0.0, **kw).x[0] - np.arange(1, L + 1) / (L + 1))) > 1e-3


@pytest.mark.parametrize("noise, bound", [("uniform", 1.0), ("truncated", 1.5)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bounded_noise_kinds_stay_in_bounds(noise, bound, dtype):
    rng = np.random.default_rng(0)
    z = chain._standard_noise(rng, noise, 200_000, np.dtype(dtype).type, truncate=1.5)
    assert z.dtype == np.dtype(dtype) and np.max(np.abs(z)) <= bound
    assert abs(z.mean()) < 0.01


@pytest.mark.parametrize("truncate", [0.3, 1.5, 3.0])
def test_truncated_draws_are_the_truncated_gaussian(truncate):
    from scipy import stats

    z = chain._standard_noise(np.random.default_rng(2), "truncated", 100_000, np.float64, truncate)
    assert np.max(np.abs(z)) <= truncate
    c, phi = truncate, np.exp(-truncate**2 / 2) / np.sqrt(2 * np.pi)
    var = 1 - 2 * c * phi / (2 * stats.norm.cdf(c) - 1)  # variance of N(0, 1) conditioned on |Z| <= c
    assert z.var() == pytest.approx(var, rel=0.02)
    assert stats.kstest(z, stats.truncnorm(-c, c).cdf).pvalue > 1e-3


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tiny_truncation_is_fast_and_bounds_every_kick(dtype):
    """Drawn by inverting the CDF: no rejection loop, however narrow the cut (the old redraw loop
    would practically never finish at truncate = 1e-6)."""
    import time

    t0 = time.perf_counter()
    r = chain.simulate(sigma=0.5, noise="truncated", truncate=1e-6, steps=2_000, realisations=50, seed=1, dtype=dtype)
    assert time.perf_counter() - t0 < 10
    assert np.all(np.isfinite(r.x))
    # one frictionless step from rest: an interior block moves by its force kick dt·σ·ξ alone
    one = chain.simulate(sigma=0.5, noise="truncated", truncate=1e-6, steps=1, realisations=500, seed=2, dtype=dtype)
    kicks = one.x[:, : L - 1] / (0.01 * 0.5)
    slack = 1 + (1e-15 if dtype == "float64" else 1e-6)
    assert np.max(np.abs(kicks)) <= 1e-6 * slack
    assert np.max(np.abs(kicks)) > 0.9e-6 and np.ptp(kicks) > 0  # spread over the whole interval
    # Langevin: the kick is on the velocity, σ·√dt·ξ
    lv = chain.simulate(sigma=0.5, noise="truncated", truncate=1e-6, steps=1, realisations=500, seed=2,
                        dtype=dtype, dynamics="langevin")
    assert np.max(np.abs(lv.v[:, : L - 1])) <= 1e-6 * 0.5 * np.sqrt(0.01) * slack


def test_truncated_noise_agrees_with_the_closed_form_effective_friction():
    sigma, truncate, n = 0.05, 1.5, 400_000
    eps = sigma * chain._standard_noise(np.random.default_rng(3), "truncated", n, np.float64, truncate)
    for F in [-0.08, -0.02, 0.0, 0.03, 0.1]:
        samples = th.drive(F + eps, 0.02, 0.06)
        mc, se = F - samples.mean(), samples.std() / np.sqrt(n)
        closed = th.effective_friction(F, sigma, 0.02, 0.06, "truncated", truncate=truncate)
        assert abs(closed - mc) < 4 * se + 1e-12, (F, closed, mc)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gaussian_draws_are_standard(dtype):
    z = chain._standard_noise(np.random.default_rng(1), "gaussian", 400_001, np.dtype(dtype).type, 2.0)
    assert z.size == 400_001 and z.dtype == np.dtype(dtype)
    assert abs(z.mean()) < 0.006 and abs(z.var() - 1) < 0.01
    assert abs(np.mean(np.abs(z) > 2) - 0.0455) < 0.002


def test_seed_reproducibility_and_generator():
    kw = dict(mu_r=0.02, mu_l=0.06, sigma=0.1, steps=500, realisations=3)
    a, b = chain.simulate(seed=5, **kw), chain.simulate(seed=5, **kw)
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, chain.simulate(seed=6, **kw).x)
    c = chain.simulate(seed=np.random.default_rng(5), **kw)
    np.testing.assert_array_equal(a.x, c.x)
    assert not np.array_equal(a.x[:, 0], a.x[:, 1])  # realisations differ


def test_noise_free_cells_are_unaffected_by_noisy_neighbours():
    r = chain.simulate(mu_r=0.02, sigma=np.array([0.3, 0.0, 0.1]), steps=30_000, seed=1)
    np.testing.assert_allclose(r.x[1, 0], th.equilibrium(L, 1.0, 1.0, 0.02), atol=1e-12)
    assert r.params["sigma"].tolist() == [0.3, 0.0, 0.1]


def test_trajectory_records_loads_and_times():
    r = chain.simulate(mu_r=np.array([0.0, 0.02]), steps=1000, dt=0.01, realisations=2, record_every=100)
    assert r.trajectory.shape == (2, 2, 11, L + 1) and r.times.shape == (11,)
    np.testing.assert_allclose(r.times, np.arange(11))
    np.testing.assert_allclose(r.trajectory[..., 0, :], np.r_[1.0, np.ones(L)] * np.ones((2, 2, 1)))  # at rest
    np.testing.assert_array_equal(r.trajectory[..., -1, :], r.load)
    np.testing.assert_array_equal(r.trajectory[..., 0], 1.0)  # lambda_0 = y always
    assert chain.simulate(steps=10).trajectory is None


def test_float32_is_close_to_float64_and_curvature_property():
    a = chain.simulate(mu_r=0.02, steps=30_000, dtype="float32")
    # float32 stalls once a step's move drops below its resolution (~1e-7 relative)
    np.testing.assert_allclose(a.x[0], th.equilibrium(L, 1.0, 1.0, 0.02), atol=5e-5)
    np.testing.assert_allclose(a.curvature, th.curvature(a.load))
    assert a.x.dtype == np.float64  # results are returned as float64


def test_one_block():
    r = chain.simulate(L=1, mu_r=0.1, steps=5000)
    # F = k(y - 2x) = mu_r at rest
    assert r.x[0, 0] == pytest.approx(0.45, abs=1e-12)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", ["k", "mu_r", "mu_l", "sigma", "gamma", "decay"])
def test_negative_parameter_is_named(name):
    with pytest.raises(ValueError, match=name):
        chain.simulate(steps=1, **{name: -0.1})
    with pytest.raises(ValueError, match=name):
        chain.simulate(steps=1, **{name: np.array([0.1, -0.1])})


@pytest.mark.parametrize("name", ["k", "y", "mu_r", "mu_l", "sigma", "gamma", "dt"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_parameter_is_named(name, bad):
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        chain.simulate(steps=1, **{name: bad})


@pytest.mark.parametrize("kwargs, name", [
    (dict(L=0), "L"), (dict(L=2.5), "L"), (dict(L=True), "L"), (dict(steps=-1), "steps"),
    (dict(steps=10.0), "steps"), (dict(realisations=0), "realisations"), (dict(k=0.0), "k"), (dict(dt=0.0), "dt"),
    (dict(dt=True), "dt"), (dict(dt="0.01"), "dt"), (dict(dynamics="verlet"), "dynamics"),
    (dict(dynamics=["langevin"]), "dynamics"), (dict(noise="cauchy"), "noise"), (dict(record_every=0), "record_every"),
    (dict(record_every=2.0), "record_every"), (dict(dtype="float16"), "dtype"), (dict(truncate=0.0), "truncate"),
    (dict(truncate="2"), "truncate"), (dict(mu_r="a lot"), "mu_r"), (dict(synchronous=1), "synchronous"),
    (dict(synchronous="yes"), "synchronous"), (dict(seed=-1), "seed"), (dict(seed="12"), "seed"),
    (dict(seed=1.5), "seed"), (dict(seed=True), "seed"), (dict(gamma=[1.0, "x"]), "gamma"),
])
def test_other_bad_input_is_named(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name} "):
        chain.simulate(**{"steps": 1, **kwargs})


@pytest.mark.parametrize("kwargs, message", [
    (dict(L=0), r"L must be an integer in \[1, 1000000\]"),
    (dict(steps=-1), r"steps must be an integer in \[0, inf"),
    (dict(dt=-0.1), r"dt must lie in \(0, inf"),
    (dict(seed=-1), r"seed must be an integer in \[0, inf.*got -1"),
    (dict(seed="12"), r"seed must be an integer in \[0, inf.*got '12'"),
    (dict(mu_r=-0.1), r"mu_r must be >= 0 everywhere"),
    (dict(k=np.array([1.0, 0.0])), r"k must be > 0 everywhere"),
    (dict(dynamics="verlet"), r"dynamics must be one of \('overdamped', 'second_order', 'langevin', 'langevin_sign'\)"),
    (dict(noise="cauchy"), r"noise must be one of \('gaussian', 'truncated', 'uniform'\)"),
])
def test_messages_state_the_allowed_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        chain.simulate(**{"steps": 1, **kwargs})


def test_numpy_scalars_are_accepted_and_stored_as_plain_numbers():
    kw = dict(mu_r=0.02, sigma=0.1, realisations=2)
    ref = chain.simulate(L=5, steps=50, seed=5, truncate=1.5, dt=float(np.float32(0.01)), noise="truncated",
                         synchronous=True, record_every=10, **kw)
    got = chain.simulate(L=np.int32(5), steps=np.int64(50), seed=np.int64(5), truncate=np.float32(1.5),
                         dt=np.float32(0.01), noise=np.str_("truncated"), synchronous=np.bool_(True),
                         record_every=np.int16(10), **kw)
    np.testing.assert_array_equal(got.x, ref.x)
    np.testing.assert_array_equal(got.trajectory, ref.trajectory)
    for name in ("L", "steps", "dt", "truncate", "synchronous", "record_every"):
        assert type(got.params[name]) is type(ref.params[name]) and got.params[name] == ref.params[name], name
    assert type(got.params["L"]) is int and type(got.params["dt"]) is float and got.params["synchronous"] is True


@pytest.mark.parametrize("dynamics", chain.DYNAMICS)
def test_unstable_time_step_is_refused(dynamics):
    limit = chain.max_stable_dt(L, 2.0, dynamics, 1.0)
    chain.simulate(k=2.0, dt=0.99 * limit, dynamics=dynamics, gamma=1.0, steps=10)
    with pytest.raises(ValueError, match="dt"):
        chain.simulate(k=np.array([1.0, 2.0]), dt=1.01 * limit, dynamics=dynamics, gamma=1.0, steps=10)


def test_unstable_limit_is_sharp():
    """Just beyond the bound the frictionless Euler map blows up; just inside it settles
    (stepped by hand, since the simulator refuses dt >= limit)."""
    limit = chain.max_stable_dt(L, 1.0)
    A, b = _laplacian()
    for factor, grows in [(0.98, False), (1.02, True)]:
        x = np.zeros(L)
        for _ in range(3000):
            x = x + factor * limit * (A @ x + b)
        assert (np.max(np.abs(x)) > 10) == grows


def test_parameters_that_do_not_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        chain.simulate(mu_r=np.zeros(3), sigma=np.zeros(4), steps=1)


@pytest.mark.parametrize("kwargs, says", [
    (dict(L=2**40), "L must be an integer in \\[1, 1000000\\]"),
    (dict(realisations=2**40), "would hold .* GiB of chain state"),
    (dict(L=5000, realisations=10**6), "would hold .* GiB of chain state"),
])
def test_a_run_too_large_for_memory_is_refused_before_anything_is_allocated(kwargs, says):
    with pytest.raises(ValueError, match=says):
        chain.simulate(steps=10, **kwargs)


@pytest.mark.parametrize("kwargs, name", [(dict(k=-1.0), "k"), (dict(k=np.nan), "k"), (dict(gamma=0.0), "gamma")])
def test_max_stable_dt_names_a_bad_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        chain.max_stable_dt(7, **kwargs)
