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
    # the time scale is identifiable and ends well inside the default box; so does μ_r in the Eq. 7 regime
    # (in the Eq. 8 regime μ_r may slide down its valley to the box's edge, and at_bound says so)
    assert not f.at_bound["tau"]
    if sigma < 0.01:
        assert not f.at_bound["mu_r"]
    assert set(f.at_bound) == set(fit.PARAMS)


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
    assert f.at_bound["mu_l"] is False  # a fixed parameter (lo == hi) is not "at a bound"
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
    for kwargs, name in [(dict(seed=-1), "seed"), (dict(seed="0"), "seed"), (dict(rounds=-1), "rounds"),
                         (dict(n_best=0), "n_best"), (dict(candidates=1, elite=1), "candidates"),
                         (dict(substeps=2.0), "substeps"), (dict(realisations=True), "realisations")]:
        with pytest.raises(ValueError, match=f"^{name} must be an integer"):
            fit.fit_chain(good, **kwargs)


# ---------------------------------------------------------------- at_bound
@pytest.mark.parametrize("bounds, param, edge, interior", [
    ({"mu_r": (1e-4, 2e-3)}, "mu_r", 2e-3, "tau"),  # true mu_r = 0.02 lies above the box
    ({"tau": (1.5, 2.5)}, "tau", 1.5, "sigma"),  # true tau = 0.5 lies below the box
])
def test_at_bound_flags_a_parameter_pushed_against_its_box(bounds, param, edge, interior):
    d, _ = observed(0.02, 0.04, 0.005, 0.5)
    f = fit.fit_chain(d, bounds=bounds, **SMALL)
    assert getattr(f, param) == pytest.approx(edge, rel=0.01)
    assert f.at_bound[param] is True
    assert f.at_bound[interior] is False
    lo, hi = (np.log10(v) for v in f.settings["bounds"][interior])
    assert lo + 0.05 * (hi - lo) < np.log10(getattr(f, interior)) < hi - 0.05 * (hi - lo)  # comfortably inside


def test_at_bound_rule_is_one_percent_of_the_log_range():
    d, _ = observed(0.02, 0.04, 0.03, 1.0, T=6)
    e = np.arange(6, dtype=float)
    prob = fit._Problem(d, e, 4, 10, True, "gaussian", 0, "float32")
    box = fit._bounds({"sigma": (0.01, 0.01)}, 5.0, prob.interval, 10)
    lo, width = box[:, 0], box[:, 1] - box[:, 0]
    assert fit.BOUND_TOL == 0.01
    cases = {  # fraction of the log-range from the lower edge -> at a bound?
        0.0: True, 0.005: True, 0.0099: True, 0.0101: False, 0.5: False, 0.9899: False, 0.9901: True, 1.0: True}
    for frac, expected in cases.items():
        theta = lo + frac * width
        f = fit._summary(prob, theta, theta[None], np.zeros((1, 3)), box, d, e, {"interval": prob.interval})
        assert f.at_bound == {"mu_r": expected, "mu_l": expected, "sigma": False, "tau": expected}, frac
        assert f.mu_r == pytest.approx(10 ** theta[0]) and f.tau == pytest.approx(10 ** theta[3])


def test_search_stays_in_the_box_and_polish_never_worsens():
    d, _ = observed(0.02, 0.04, 0.03, 1.0, T=8)
    e = np.arange(8, dtype=float)
    prob = fit._Problem(d, e, 8, 10, True, "gaussian", 0, "float32")
    box = fit._bounds({"mu_l": (0.04, 0.04)}, 7.0, prob.interval, 10)
    lo, hi = box[:, 0], box[:, 1]
    thetas, sses, extra = fit._search(prob, np.random.default_rng(0), lo, hi, candidates=16, rounds=2, elite=4)
    assert thetas.shape == (48, 4) and sses.shape == (48,) and extra.shape == (48, 3)
    assert np.all(thetas >= lo) and np.all(thetas <= hi)
    assert np.all(thetas[:, 1] == np.log10(0.04))  # the fixed parameter never moves
    # the first batch (the Latin hypercube) re-evaluated as one batch meets the same noise: the same SSE
    np.testing.assert_allclose(prob(thetas[:16])[0], sses[:16], rtol=1e-12)
    best = thetas[np.argmin(sses)]
    polished = fit._polish(prob, best, thetas[np.argsort(sses)[:4]], lo, hi)
    assert np.all(polished >= lo) and np.all(polished <= hi) and polished[1] == best[1]
    assert prob(polished[None])[0][0] <= prob(best[None])[0][0]
