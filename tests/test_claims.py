"""springblock.claims and springblock.ledger on synthetic results: verdicts that must hold or fail,
``expect`` enforcing the chapters' stated verdicts, the registry, and the ledger's wiring."""
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from springblock import claims, ledger, paper, shape
from springblock.experiments import fig1

BOOK = Path(__file__).resolve().parents[1] / "book"
L = 7


def curve(rc: float, L: int = L) -> np.ndarray:
    """D_0..D_L with D_0 = 1, D_L = 0 whose contributions change linearly with depth, so ĉ = rc."""
    b = -rc / (L - 1)
    a = (1 - b * L * (L - 1) / 2) / L
    d = a + b * np.arange(L)
    return np.r_[1.0, 1.0 - np.cumsum(d)]


def test_the_synthetic_curves_have_the_curvature_asked_for():
    for rc in (-0.25, 0.0, 0.2):
        c = curve(rc)
        assert float(shape.relative_curvature(c)) == pytest.approx(rc)
        assert c[0] == 1.0 and c[-1] == pytest.approx(0.0) and np.all(np.diff(c) < 0)
    assert list(shape.shape_of([-0.25, 0.0, 0.2])) == ["concave", "linear", "convex"]


def panel(name, rc, acc=None, seeds=1):
    """A PanelResult whose seed-mean train-trace curves have relative curvatures ``rc`` (A, V)."""
    rc = np.asarray(rc, float)
    A, V = rc.shape
    load = np.stack([np.stack([curve(v) for v in row]) for row in rc])[:, :, None, :].repeat(seeds, 2)
    acc = np.full((A, V), 90.0) if acc is None else np.asarray(acc, float)
    test_acc = acc[:, :, None].repeat(seeds, 2)
    loads = {f"{sp}_{k}": load.copy() for sp in fig1.SPLITS for k in ("trace", "pinv", "inverse")}
    return fig1.PanelResult(fig1.PANELS[name], np.linspace(0, 1, A), np.arange(V, dtype=float), np.arange(1, seeds + 1),
                            test_acc, test_acc.copy(), loads, np.full((A, V, seeds), 10.0))


def panels(corner_rc: dict, cell):
    """Four 2×2 panels, all linear except ``cell`` of each panel, set to ``corner_rc[name]``."""
    out = {}
    for n in fig1.PANELS:
        rc = np.zeros((2, 2))
        rc[cell] = corner_rc.get(n, 0.0)
        out[n] = panel(n, rc)
    return out


# ------------------------------------------------------------------ chosen claims on synthetic results
@pytest.mark.parametrize("n_concave, verdict", [(4, "reproduced"), (2, "partly"), (0, "not reproduced")])
def test_relu_concave_counts_the_panels(n_concave, verdict):
    names = list(fig1.PANELS)
    ps = panels({n: (-0.2 if i < n_concave else 0.2) for i, n in enumerate(names)}, (0, -1))
    out = claims.evaluate("fig1.relu_concave", panels=ps)
    assert out.verdict == verdict
    assert out.numbers["n"] == n_concave and isinstance(out.numbers["n"], int)
    assert out.numbers["noise"] == pytest.approx(-0.2 if n_concave else 0.2)
    assert f"{n_concave}/4 panels" in out.ours
    assert out.claim is claims.CLAIMS["fig1.relu_concave"]


def test_linear_convex_looks_at_the_bottom_left_cell():
    assert claims.evaluate("fig1.linear_convex", panels=panels(dict.fromkeys(fig1.PANELS, 0.2), (-1, 0))).verdict \
        == "reproduced"
    # the same convex curves in another cell do not count
    assert claims.evaluate("fig1.linear_convex", panels=panels(dict.fromkeys(fig1.PANELS, 0.2), (0, 0))).verdict \
        == "not reproduced"


def test_alpha_raises_compares_the_rows_in_the_quietest_column():
    ps = {n: panel(n, [[0.0, -0.2], [0.0, 0.2]]) for n in fig1.PANELS}
    assert claims.evaluate("fig1.alpha_raises", panels=ps).verdict == "reproduced"
    ps["lr"] = panel("lr", [[0.0, 0.2], [0.0, -0.2]])
    out = claims.evaluate("fig1.alpha_raises", panels=ps)
    assert out.verdict == "partly" and out.numbers["n"] == 3


def _rising_panel(name, column):
    p = panel(name, np.zeros((2, 3)))
    bumpy = curve(0.0)
    bumpy[3] += 0.2  # rises by far more than 2 % of the drop between layers 3 and 4
    p.load["train_trace"][0, column, 0] = bumpy
    return p


def test_monotone_allows_rises_only_at_the_smallest_batches():
    ps = {n: panel(n, np.zeros((2, 3))) for n in fig1.PANELS}
    out = claims.evaluate("fig1.monotone", panels=ps)
    assert out.verdict == "reproduced" and out.numbers["n_rising"] == 0 and out.texts["cells"] == "none"
    ok = {**ps, "batch": _rising_panel("batch", 0)}
    out = claims.evaluate("fig1.monotone", panels=ok)
    assert out.verdict == "reproduced" and out.numbers["n_rising"] == 1 and out.numbers["outside_small_batch"] == 0
    bad = {**ps, "noise": _rising_panel("noise", 2)}
    out = claims.evaluate("fig1.monotone", panels=bad)
    assert out.verdict == "partly" and out.numbers["outside_small_batch"] == 1 and "(a)" in out.texts["cells"]
    assert out.numbers["n_cells"] == 4 * 6


def test_monotone_reads_the_small_batches_by_value_not_by_column():
    ps = {n: panel(n, np.zeros((2, 3))) for n in fig1.PANELS}
    for column, outside in ((0, 0), (1, 1)):  # B = 10 may rise; B = 40, the second column here, may not
        batch = _rising_panel("batch", column)
        batch.values = np.array([10.0, 40.0, 320.0])
        out = claims.evaluate("fig1.monotone", panels={**ps, "batch": batch})
        assert out.numbers["n_rising"] == 1 and out.numbers["outside_small_batch"] == outside


@pytest.mark.parametrize("rcs, verdict, concave, raises", [
    ([[-0.1, -0.3], [-0.2, -0.4]], "reproduced", 2, 2),  # rc[0, 0]: most dropout; rc[0, -1]: none
    ([[0.2, -0.3], [-0.5, -0.4]], "partly", 2, 1),
    ([[0.2, 0.1], [0.3, 0.0]], "not reproduced", 0, 2)])
def test_s56_pattern_needs_concave_relu_and_dropout_raising_it_in_every_architecture(rcs, verdict, concave, raises):
    stats = [{"rc": np.array([[a, b], [0.0, 0.0]])} for a, b in rcs]
    out = claims.evaluate("s56.pattern", dw=None, stats=stats)
    assert (out.verdict, out.numbers["n_concave"], out.numbers["n_raises"]) == (verdict, concave, raises)


@pytest.mark.parametrize("shift, verdict", [(0.0, "reproduced"), (1.5, "reproduced"), (3.0, "partly"),
                                            (10.0, "not reproduced")])
def test_accuracy_ranges_against_the_papers(shift, verdict):
    ps = {}
    for n in fig1.PANELS:
        lo, hi = paper.FIG1_ACC_RANGE[n]
        ps[n] = panel(n, np.zeros((2, 2)), acc=[[lo + shift, (lo + hi) / 2], [(lo + hi) / 2, hi + shift]])
    out = claims.evaluate("fig1.acc_ranges", panels=ps)
    assert out.verdict == verdict
    assert out.numbers["max_abs_diff"] == pytest.approx(shift)


@pytest.mark.parametrize("ends, verdict", [((-0.2, 0.0, 0.2), "reproduced"), ((-0.2, -0.15, -0.1), "partly"),
                                           ((0.2, 0.0, -0.2), "not reproduced")])
def test_fig4_dynamics_shapes(ends, verdict):
    R = 4
    history = {n: np.stack([np.linspace(curve(0.0), curve(rc), R)] * 2) for n, rc in zip("bcd", ends)}  # (S, R, L+1)
    dyn = SimpleNamespace(history=history, test_acc={n: np.array([90.0, 91.0]) for n in "bcd"})
    out = claims.evaluate("fig4.dynamics_shapes", dyn=dyn)
    assert out.verdict == verdict
    assert out.numbers["rc_b"] == pytest.approx(ends[0]) and out.numbers["acc_c"] == pytest.approx(90.5)


def test_relu_demo_concave():
    concave = np.stack([np.stack([curve(-0.25)] * 3), np.stack([curve(0.25)] * 3)])  # (A, S, L+1), row 0 ReLU
    assert claims.evaluate("net.relu_demo_concave", demo={"trained_trace": concave}).verdict == "reproduced"
    out = claims.evaluate("net.relu_demo_concave", demo={"trained_trace": concave[::-1]})
    assert out.verdict == "not reproduced" and out.numbers["rc"] == pytest.approx(0.25)


def test_chain_claims_on_synthetic_simulations():
    assert claims.evaluate("chain.eq7", eq7={"error": 1e-13}).verdict == "reproduced"
    assert claims.evaluate("chain.eq7", eq7={"error": 1e-4}).verdict == "not reproduced"
    exact = {"mean_load": np.array(paper.FIG2_NOTEBOOK_LOAD), "realisations": 20}
    out = claims.evaluate("chain.fig2_linear", sim=exact)
    assert out.verdict == "reproduced" and out.numbers == {"max_dev": 0.0, "chains": 20}
    off = {**exact, "mean_load": exact["mean_load"] + np.r_[0.0, 0.05, np.zeros(6)]}
    assert claims.evaluate("chain.fig2_linear", sim=off).verdict == "not reproduced"


def test_effective_friction_is_checked_against_the_theory():
    out = claims.evaluate("chain.effective_friction", mu_r=0.02, mu_l=0.06)
    assert out.verdict == "reproduced"
    assert out.numbers["small"] == pytest.approx(0.02, abs=1e-6)
    assert out.numbers["F_star"] == pytest.approx((0.02 - 0.06) / 2)


def test_a_claim_without_its_data_is_not_testable():
    out = claims.evaluate("s89.cifar", cifar=None)
    assert out.verdict == "not testable here" and out.numbers == {} and "CIFAR-10" in out.texts["summary"]


def test_numbers_are_plain_python():
    out = claims.evaluate("chain.eq7", eq7={"error": np.float32(1e-12)})
    assert type(out.numbers["error"]) is float
    out = claims.evaluate("fig1.relu_concave", panels=panels({}, (0, -1)))
    assert type(out.numbers["n"]) is int and all(type(out.numbers[n]) is float for n in fig1.PANELS)


def test_evaluate_rejects_unknown_claims():
    with pytest.raises(KeyError, match="no.such.claim"):
        claims.evaluate("no.such.claim")


def test_a_check_must_return_a_known_verdict(monkeypatch):
    monkeypatch.setattr(claims, "CLAIMS", dict(claims.CLAIMS))

    @claims.claim("test.bad", "book", "A claim whose check is broken.", "(test)", "07_beyond")
    def _bad():
        return "maybe", "?", {}

    with pytest.raises(ValueError, match="maybe"):
        claims.evaluate("test.bad")


# ------------------------------------------------------------------ expect
@pytest.fixture
def partly():
    return claims.evaluate("fig1.relu_concave", panels=panels({"noise": -0.2, "lr": -0.2}, (0, -1)))


@pytest.mark.parametrize("scale", ["default", "paper"])
def test_expect_fails_when_the_text_states_another_verdict(partly, scale):
    assert partly.verdict == "partly"
    with pytest.raises(claims.ClaimError, match="fig1.relu_concave") as exc:
        claims.expect(partly, "reproduced", scale)
    assert "'reproduced'" in str(exc.value) and "'partly'" in str(exc.value)
    assert isinstance(exc.value, AssertionError)
    claims.expect(partly, "partly", scale)  # the stated verdict: no error


def test_expect_enforces_nothing_at_quick(partly):
    for verdict in claims.VERDICTS:
        claims.expect(partly, verdict, "quick")


@pytest.mark.parametrize("scale", ["quick", "default"])
def test_expect_rejects_a_verdict_that_does_not_exist(partly, scale):
    with pytest.raises(ValueError, match="verdict"):
        claims.expect(partly, "mostly", scale)


# ------------------------------------------------------------------ the registry
def test_every_claim_says_what_where_and_the_papers_words():
    assert len(claims.CLAIMS) >= 30
    chapters = {p.stem for p in BOOK.glob("*.md")}
    for cid, c in claims.CLAIMS.items():
        assert c.id == cid
        assert c.statement.strip() and c.paper.strip() and c.figure.strip(), cid
        assert c.figure == "book" or re.match(r"(Fig\.|SM|Eq\.)", c.figure), (cid, c.figure)
        assert c.where in chapters, (cid, c.where)
        assert callable(c.check)


def _book_calls():
    for md in sorted(BOOK.glob("*.md")):
        text = md.read_text(encoding="utf-8")
        for m in re.finditer(r'claims\.evaluate\("([^"]+)"((?:, \w+=[^,)]+)*)\)', text):
            yield md.name, m.group(1), set(re.findall(r"(\w+)=", m.group(2)))


def test_the_chapters_evaluate_registered_claims_with_the_ledgers_arguments():
    calls = list(_book_calls())
    assert len(calls) >= 20
    for chapter, cid, args in calls:
        assert cid in claims.CLAIMS, (chapter, cid)
        assert args == set(ledger._INPUTS[cid]), (chapter, cid, args)


def test_the_chapters_state_known_verdicts():
    stated = [v for md in BOOK.glob("*.md") for v in re.findall(r'claims\.expect\([^,]+, "([^"]+)"',
                                                                   md.read_text(encoding="utf-8"))]
    assert stated and set(stated) <= set(claims.VERDICTS)


# ------------------------------------------------------------------ the ledger
class _Untouchable:
    """Stands in for a result; any use of it raises, so only the call's signature is checked."""

    def __getattr__(self, name):
        raise _Touched(name)

    def __getitem__(self, key):
        raise _Touched(key)

    def __array__(self, *a, **k):
        raise _Touched("array")

    def __float__(self):
        raise _Touched("float")

    def __len__(self):
        raise _Touched("len")

    def __iter__(self):
        raise _Touched("iter")


class _Touched(Exception):
    pass


@pytest.mark.parametrize("cid", sorted(claims.CLAIMS))
def test_the_ledger_passes_each_claim_the_arguments_it_takes(cid):
    kwargs = {arg: _Untouchable() for arg in ledger._INPUTS[cid]}
    try:
        claims.evaluate(cid, **kwargs)
    except TypeError as err:  # a wrong argument name fails the call itself, not the check's arithmetic
        assert "keyword argument" not in str(err) and "required positional" not in str(err), (cid, str(err))
    except Exception:  # noqa: BLE001 - the check used its (fake) results: the names were right
        pass


def test_evaluate_all_runs_every_claim_in_order(monkeypatch):
    subset = ("chain.eq7", "chain.fig2_linear", "chain.effective_friction", "s89.cifar")
    monkeypatch.setattr(claims, "CLAIMS", {k: claims.CLAIMS[k] for k in subset})
    res = {"eq7": {"error": 0.0}, "sim": {"mean_load": np.array(paper.FIG2_NOTEBOOK_LOAD) + 0.1, "realisations": 3},
           "mu_r": 0.02, "mu_l": 0.06, "cifar": None, "unused": object()}
    out = ledger.evaluate_all(res)
    assert [o.claim.id for o in out] == list(subset)
    assert [o.verdict for o in out] == ["reproduced", "not reproduced", "reproduced", "not testable here"]


def test_evaluate_all_refuses_a_claim_the_ledger_cannot_feed(monkeypatch):
    monkeypatch.setattr(claims, "CLAIMS", {"chain.eq7": claims.CLAIMS["chain.eq7"]})

    @claims.claim("test.unfed", "book", "A claim nobody gathers results for.", "(test)", "07_beyond")
    def _unfed(x):
        return "reproduced", "", {}

    with pytest.raises(KeyError, match="test.unfed"):
        ledger.evaluate_all({"eq7": {"error": 0.0}})


@pytest.mark.parametrize("rq, ln, spread, verdict, missing", [
    (-0.2, 0.3, 0.05, "reproduced", None),
    (-0.05, 0.3, 0.05, "partly", "the ReLU network without dropout does not stay concave"),
    (-0.2, 0.3, 0.01, "partly", "the seeds do not scatter more than with BatchNorm"),
])
def test_no_batchnorm_states_only_what_holds(rq, ln, spread, verdict, missing):
    """The chapter's sentence about S3 is the claim's own text: it names every part that fails."""
    def net(corner_rq, corner_ln, sd):
        rc = np.zeros((6, 8))
        rc[0, -1], rc[-1, 0] = corner_rq, corner_ln
        return SimpleNamespace(curvature=lambda: rc, curvature_spread=lambda: np.full((6, 8), sd),
                               mean_acc=lambda: np.full((6, 8), 90.0))
    out = claims.evaluate("s3.no_batchnorm", norms={"batch": net(-0.2, 0.3, 0.02), "c_sigma": net(rq, ln, spread)})
    assert out.verdict == verdict
    assert out.texts["relu_quiet_shape"] == str(shape.shape_of(rq))
    if missing is None:
        assert out.texts["conclusion"].startswith("the pattern survives, with more fluctuation")
    else:
        assert out.texts["conclusion"].startswith("the pattern survives only in part") and missing in out.texts["conclusion"]
