import numpy as np
import pytest

from springblock import chain, fit, theory

SMALL = dict(realisations=32, substeps=10, candidates=64, rounds=4, elite=12)  # ~0.5 s per fit


def observed(mu_r, mu_l, sigma, tau, T=31, a=0.5, b=3.0, noise=0.01, epochs=None, seed=0):
    """Mean load of a known synchronous chain (finer step than the fit uses), mapped to a + b·λ + noise."""
    e = np.arange(T, dtype=float) if epochs is None else np.asarray(epochs, float)
    sub = 40
    res = chain.simulate(L=7, mu_r=mu_r, mu_l=mu_l, sigma=sigma, dt=tau / sub, steps=int(e[-1] - e[0]) * sub,
                         realisations=256, synchronous=True, seed=123, record_every=sub)
    lam = res.trajectory.mean(-3)[(e - e[0]).astype(int)]
    d = a + b * lam + noise * np.random.default_rng(seed).standard_normal(lam.shape)
    return d, lam


@pytest.mark.parametrize(
    "case, mu_r, mu_l, sigma, tau",
    [
        ("concave, small noise: Eq. 7 regime", 0.02, 0.04, 0.005, 0.5),
        ("convex, large noise: Eq. 8 regime", 0.01, 0.06, 0.1, 1.0),
    ],
)
def test_recovers_known_chain(case, mu_r, mu_l, sigma, tau):
    d, lam = observed(mu_r, mu_l, sigma, tau)
    f = fit.fit_chain(d, **SMALL)
    assert f.r2 > 0.99
    assert f.fitted.shape == f.observed.shape == f.load.shape == d.shape
    assert np.sqrt(np.mean((f.fitted - (0.5 + 3.0 * lam)) ** 2)) < 0.02  # vs the noise-free truth
    # Identifiable: the map, the time scale and the effective friction that sets the curvature.
    assert f.a == pytest.approx(0.5, abs=0.03) and f.b == pytest.approx(3.0, rel=0.02)
    assert f.tau == pytest.approx(tau, rel=0.1)
    assert f.mu_eff == pytest.approx(theory.friction_from_load(lam[-1]), abs=0.004)
    assert f.curvature == pytest.approx(f.b * theory.curvature(f.load[-1]))
    if sigma < 0.01:  # Eq. 7: without noise the curve is set by μ_r alone; μ_l is not identifiable
        assert f.mu_r == pytest.approx(mu_r, rel=0.15)
    else:  # Eq. 8: with large noise only μ_r − μ_l is
        assert f.mu_r - f.mu_l == pytest.approx(mu_r - mu_l, abs=0.015)  # measured scatter <= 0.008
    for p, (lo, hi) in f.spread.items():
        assert lo <= getattr(f, p) <= hi


def test_simulate_kwargs_rerun_the_fitted_chain():
    d, _ = observed(0.02, 0.04, 0.03, 1.0, T=11)
    f = fit.fit_chain(d, **SMALL)
    res = chain.simulate(**f.simulate_kwargs())
    np.testing.assert_allclose(res.trajectory.mean(-3), f.load, atol=2e-3)
    np.testing.assert_allclose(res.times / f.tau + f.epochs[0], f.epochs, rtol=1e-6)
    assert f.dt == pytest.approx(f.tau / SMALL["substeps"])
    assert set(f.params) == {"mu_r", "mu_l", "sigma", "tau", "a", "b"}


def test_irregular_epochs_and_fixed_parameter():
    e = np.array([0, 1, 2, 3, 5, 8, 12, 17, 23, 30], float)
    d, lam = observed(0.02, 0.04, 0.03, 1.0, epochs=e)
    f = fit.fit_chain(d, epochs=e, bounds={"mu_l": (0.04, 0.04)}, **SMALL)
    assert f.mu_l == pytest.approx(0.04)
    assert f.r2 > 0.99 and f.tau == pytest.approx(1.0, rel=0.15)
    assert np.array_equal(f.epochs, e)


def test_deterministic_given_seed():
    d, _ = observed(0.02, 0.04, 0.03, 1.0, T=8)
    small = dict(SMALL, candidates=16, rounds=1, elite=4, polish=False)
    f1, f2 = fit.fit_chain(d, seed=3, **small), fit.fit_chain(d, seed=3, **small)
    assert f1.params == f2.params and np.array_equal(f1.fitted, f2.fitted)


def test_bad_input():
    good = np.linspace(1, 0, 8)[None, :] * np.linspace(1, 2, 5)[:, None]
    with pytest.raises(ValueError, match=r"shape \(T, L\+1\)"):
        fit.fit_chain(good[0])
    with pytest.raises(ValueError, match=r"shape \(T, L\+1\)"):
        fit.fit_chain(good[None])
    with pytest.raises(ValueError, match="T >= 3"):
        fit.fit_chain(good[:2])
    with pytest.raises(ValueError, match="L >= 2"):
        fit.fit_chain(good[:, :2])
    for bad in (np.nan, np.inf):
        d = good.copy()
        d[2, 3] = bad
        with pytest.raises(ValueError, match=r"non-finite.*\[\[2, 3\]\]"):
            fit.fit_chain(d)
    with pytest.raises(ValueError, match="constant"):
        fit.fit_chain(np.ones((5, 8)))
    with pytest.raises(ValueError, match="epochs must have shape"):
        fit.fit_chain(good, epochs=np.arange(4))
    with pytest.raises(ValueError, match="strictly increasing"):
        fit.fit_chain(good, epochs=[0, 1, 1, 2, 3])
    with pytest.raises(ValueError, match="bounds keys"):
        fit.fit_chain(good, bounds={"k": (1, 2)})
    with pytest.raises(ValueError, match="0 < lo <= hi"):
        fit.fit_chain(good, bounds={"sigma": (0.1, 0.01)})
    with pytest.raises(ValueError, match="raise substeps"):
        fit.fit_chain(good, bounds={"tau": (0.1, 100.0)})
    with pytest.raises(ValueError, match="noise"):
        fit.fit_chain(good, noise="cauchy")
    with pytest.raises(ValueError, match="elite"):
        fit.fit_chain(good, candidates=8, elite=9)
    with pytest.raises(ValueError, match="realisations"):
        fit.fit_chain(good, realisations=0)
    with pytest.raises(TypeError, match="array of numbers"):
        fit.fit_chain([["a", "b", "c"]] * 3)
