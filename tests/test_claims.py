"""springblock.claims and springblock.ledger: the criteria can say every verdict, claims test what
they state on synthetic results, every claim's counterfactual comes out "not reproduced" on real
(quick-scale) results, ``expect`` enforces the chapters' verdicts, and the ledger's wiring."""
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from springblock import claims, ledger, shape
from springblock.claims import chain, common, criteria
from springblock.experiments import fig1

BOOK = Path(__file__).resolve().parents[1] / "book"
L = 7
R, N, I, T = claims.REPRODUCED, claims.NOT_REPRODUCED, claims.INCONCLUSIVE, claims.NOT_TESTABLE  # noqa: E741 - verdict initials


def curve(rc: float, L: int = L) -> np.ndarray:
    """D_0..D_L from 1 to 0 with linearly changing contributions: ĉ = rc."""
    return common.shaped(np.linspace(1.0, 0.0, L + 1), rc)


def test_shaped_curves_keep_their_ends_and_take_the_curvature_asked_for():
    base = np.array([[2.0, 1.7, 1.1, 0.9, 0.2, 0.1, 0.0, -0.5], [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]])
    for rc in (-0.25, 0.0, 0.2):
        c = common.shaped(base, rc)
        assert np.allclose(shape.relative_curvature(c), rc)
        assert np.allclose(c[:, [0, -1]], base[:, [0, -1]])
    z = common.zigzag(base, 0.8)
    assert np.allclose(shape.relative_curvature(z), 0.0) and list(shape.verdict(z).shape) == ["uneven", "uneven"]
    assert (shape.rise(common.zigzag(base, 2.5)) > shape.RISE_TOL).all()
    assert common.two_seeds(np.ones((3, 1, 4)), 1).shape == (3, 2, 4)


# ------------------------------------------------------------------ the criteria say every verdict
@pytest.mark.parametrize("samples, verdict", [([-0.3, -0.2, -0.25], R), ([0.3, 0.2, 0.25], N), ([-0.3, 0.2, 0.0], I),
                                              ([-0.3], I), ([], I)])
def test_beyond_needs_the_whole_interval_on_one_side(samples, verdict):
    assert criteria.beyond("x", samples, -0.05, "<").verdict == verdict


def test_beyond_exact_and_with_a_standard_error():
    assert criteria.beyond("x", [-0.3], -0.05, "<", exact=True).verdict == R
    assert criteria.beyond_mean("x", 0.1, 0.01, 0.0, ">").verdict == R
    assert criteria.beyond_mean("x", 0.1, 0.1, 0.0, ">").verdict == I
    assert criteria.beyond_mean("x", -0.1, 0.01, 0.0, ">").verdict == N


@pytest.mark.parametrize("samples, verdict", [([0.01, -0.02, 0.0], R), ([0.3, 0.25, 0.35], N), ([0.0, 0.1, 0.05], I)])
def test_band(samples, verdict):
    assert criteria.band("x", samples, 0.05).verdict == verdict


def test_within_with_and_without_an_error():
    assert criteria.within("x", 1.0, 1.5, 1.0).verdict == R
    assert criteria.within("x", 1.0, 3.0, 1.0).verdict == N
    assert criteria.within("x", 1.0, 2.2, 1.0, sem=0.5).verdict == I


def test_trend_and_correlation():
    x = np.arange(5)
    assert criteria.trend("t", x, np.stack([x, x + 1.0, 2 * x])).verdict == R
    assert criteria.trend("t", x, np.stack([-x, -x + 1.0, -2 * x])).verdict == N
    assert criteria.trend("t", x, x[None]).verdict == I  # one replicate: spread unknown
    rng = np.random.default_rng(1)
    a = rng.normal(size=60)
    assert criteria.correlated("c", a, a + 0.1 * rng.normal(size=60)).verdict == R
    assert criteria.correlated("c", a, -a).verdict == N
    assert criteria.correlated("c", a[:2], a[:2]).verdict == I


def test_every_and_overall_follow_the_rule():
    p = {v: claims.Part(v, v, "") for v in claims.VERDICTS}
    assert claims.overall([p[R], p[I], p[N]]) == N
    assert claims.overall([p[R], p[I]]) == I
    assert claims.overall([p[R], p[T]]) == R
    assert claims.overall([p[T]]) == T
    assert criteria.every("all", [p[R], p[R]]).verdict == R and criteria.every("all", [p[R], p[N]]).verdict == N
    with pytest.raises(ValueError, match="verdict"):
        claims.Part("x", "partly", "")


# ------------------------------------------------------------------ claims on synthetic results
def panel(name, rc, acc=None, seeds=1, jitter=0.0):
    """A Fig. 1 panel whose curves have relative curvatures ``rc`` (A, V) (± ``jitter`` across seeds)."""
    rc = np.asarray(rc, float)
    A, V = rc.shape
    spread = jitter * np.linspace(-1, 1, seeds) if seeds > 1 else np.zeros(1)
    load = np.stack([[[curve(v + e) for e in spread] for v in row] for row in rc])
    acc = np.full((A, V), 90.0) if acc is None else np.asarray(acc, float)
    test_acc = acc[:, :, None].repeat(seeds, 2)
    loads = {f"{sp}_{k}": load.copy() for sp in fig1.SPLITS for k in ("trace", "pinv", "inverse")}
    return fig1.PanelResult(fig1.PANELS[name], np.linspace(0, 1, A), np.arange(V, dtype=float), np.arange(1, seeds + 1),
                            test_acc, test_acc.copy(), loads, np.full((A, V, seeds), 10.0))


def four(rc, **kw):
    return {n: panel(n, rc, **kw) for n in fig1.PANELS}


def test_relu_concave_reads_the_quiet_half_of_the_relu_row_over_seeds():
    concave = [[0.0, 0.0, -0.2, -0.2], [0.0] * 4]
    assert claims.evaluate("fig1.relu_concave", panels=four(concave, seeds=3, jitter=0.02)).verdict == R
    assert claims.evaluate("fig1.relu_concave", panels=four(np.negative(concave), seeds=3, jitter=0.02)).verdict == N
    edge = [[0.0, 0.0, -0.05, -0.05], [0.0] * 4]  # at the band's edge: cannot say
    assert claims.evaluate("fig1.relu_concave", panels=four(edge, seeds=3, jitter=0.05)).verdict == I


def test_noise_must_make_curves_linear_and_then_convex_not_only_larger():
    rising_but_concave = [[-0.1, -0.2, -0.3, -0.4], [-0.05, -0.1, -0.15, -0.2], [0.0] * 4]  # column 0: most noise
    out = claims.evaluate("fig1.noise_raises", panels=four(rising_but_concave, seeds=2, jitter=0.01))
    assert out.parts[0].verdict == R and out.verdict == N  # the trend holds; the curve never turns convex
    full = [[0.2, 0.0, -0.2, -0.3], [0.3, 0.1, -0.1, -0.2], [0.4, 0.3, 0.2, 0.1]]
    assert claims.evaluate("fig1.noise_raises", panels=four(full, seeds=2, jitter=0.01)).verdict == R


def _stats(acc, rc):
    return {"acc_mean": np.asarray(acc, float), "rc": np.asarray(rc, float), "pearson_abs_hi": -1.0, "pearson_abs": -1.0,
            "linear_wins": True, "best_rc": 0.0, "best_acc": 0.0, "linear_acc": 0.0, "linear_rank": 1, "n_cells": 6}


def test_the_accuracy_claim_tests_both_halves():
    rc = np.array([[-0.3, -0.1, 0.0], [0.1, 0.2, 0.4]])
    good = {n: _stats(95 - 10 * np.abs(rc) - 5 * (rc > 0.3), rc) for n in fig1.PANELS}
    assert claims.evaluate("acc.linear_best", stats=good, without=good).verdict == R
    concave_worst = {n: _stats(95 - 10 * np.abs(rc) - 20 * (rc < -0.2), rc) for n in fig1.PANELS}
    out = claims.evaluate("acc.linear_best", stats=concave_worst, without=concave_worst)
    assert out.parts[-1].name == "the worst cell convex" and out.parts[-1].verdict == N and out.verdict == N


def test_dynamics_shapes_need_their_seeds():
    def dyn(ends, seeds):
        h = {n: np.stack([np.stack([curve(0.0), curve(rc + 0.01 * s)]) for s in range(seeds)]) for n, rc in zip("bcd", ends)}
        return SimpleNamespace(history=h, test_acc={n: np.full(seeds, 90.0) for n in "bcd"})

    assert claims.evaluate("fig4.dynamics_shapes", dyn=dyn((-0.2, 0.0, 0.2), 3)).verdict == R
    assert claims.evaluate("fig4.dynamics_shapes", dyn=dyn((-0.2, 0.0, 0.2), 1)).verdict == I  # spread unknown
    assert claims.evaluate("fig4.dynamics_shapes", dyn=dyn((0.2, 0.0, -0.2), 3)).verdict == N


def test_chain_claims_compute_their_own_errors():
    pred = np.tile(curve(-0.1), (2, 1))
    eq7 = {"load": np.stack([pred, pred]), "predicted": pred}
    assert claims.evaluate("chain.eq7", eq7=eq7).verdict == R
    assert claims.evaluate("chain.eq7", eq7={**eq7, "load": eq7["load"] + 1e-6}).verdict == N


def test_effective_friction_checks_the_formula_it_is_given():
    out = claims.evaluate("chain.effective_friction", mu_r=0.02, mu_l=0.06)
    assert out.verdict == R and out.numbers["F_star"] == pytest.approx(-0.02)
    assert claims.evaluate("chain.effective_friction", mu_r=0.02, mu_l=0.06,
                           formula=chain._broken_mu_bar).verdict == N


def test_a_claim_without_its_data_is_not_testable():
    out = claims.evaluate("s89.cifar", cifar=None)
    assert out.verdict == T and out.numbers == {} and "CIFAR-10" in out.texts["summary"]


def test_evaluate_checks_names_and_returns_plain_numbers():
    with pytest.raises(KeyError, match="no.such.claim"):
        claims.evaluate("no.such.claim")
    with pytest.raises(TypeError, match="missing"):
        claims.evaluate("fig1.relu_concave")
    out = claims.evaluate("fig1.relu_concave", panels=four([[0.0, -0.2], [0.0, 0.0]]))
    assert type(out.numbers["n"]) is int and all(type(out.numbers[n]) is float for n in fig1.PANELS)


# ------------------------------------------------------------------ expect
@pytest.fixture
def outcome():
    return claims.evaluate("fig1.relu_concave", panels=four([[0.0, -0.2], [0.0, 0.0]]))  # one seed, 1 cell per panel


@pytest.mark.parametrize("scale", ["default", "paper"])
def test_expect_fails_when_the_text_allows_another_verdict(outcome, scale):
    assert outcome.verdict == R  # one seed, but four cells pooled over the panels
    with pytest.raises(claims.ClaimError, match="fig1.relu_concave") as exc:
        claims.expect(outcome, N, scale)
    assert "'reproduced'" in str(exc.value) and isinstance(exc.value, AssertionError)
    claims.expect(outcome, (R, I), scale)  # a sentence written for either: no error


def test_expect_enforces_nothing_at_quick_and_refuses_unknown_verdicts(outcome):
    for verdict in claims.VERDICTS:
        claims.expect(outcome, verdict, "quick")
    with pytest.raises(ValueError, match="verdict"):
        claims.expect(outcome, "partly", "default")


# ------------------------------------------------------------------ the registry
def test_every_claim_says_what_where_evidence_and_kind():
    assert len(claims.CLAIMS) >= 30
    chapters = {p.stem for p in BOOK.glob("*.md")}
    for cid, c in claims.CLAIMS.items():
        assert c.id == cid and c.kind in claims.KINDS
        assert c.statement.strip() and c.paper.strip() and c.figure.strip() and c.evidence.strip(), cid
        assert c.kind == "book" or re.match(r"(Fig\.|SM|Eq\.)", c.figure), (cid, c.figure)
        assert c.where in chapters, (cid, c.where)
        assert callable(c.check) and callable(c.counterfactual)
    assert claims.CLAIMS["net.relu_demo_concave"].kind == "book" and claims.CLAIMS["beyond.chain_fit"].kind == "book"


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
        assert args == set(ledger.INPUTS[cid]), (chapter, cid, args)
    assert set(ledger.INPUTS) == set(claims.CLAIMS)


def test_the_chapters_state_known_verdicts():
    text = "".join(md.read_text(encoding="utf-8") for md in BOOK.glob("*.md"))
    stated = re.findall(r'claims\.expect\([^,]+, ([^)]+?), run\.scale\)', text)
    assert stated
    for s in stated:
        names = re.findall(r"claims\.(REPRODUCED|NOT_REPRODUCED|INCONCLUSIVE|NOT_TESTABLE)|\"([^\"]+)\"", s)
        assert names, s
        for const, lit in names:
            assert (getattr(claims, const) if const else lit) in claims.VERDICTS, s


# ------------------------------------------------------------------ on real results: the counterfactuals
@pytest.fixture(scope="session")
def quick_results():
    """Every result the claims read, at scale quick (a minute on an empty cache)."""
    return ledger.gather("quick")


@pytest.mark.parametrize("cid", sorted(claims.CLAIMS))
def test_every_claims_counterfactual_is_not_reproduced(cid, quick_results):
    args = {a: quick_results[k] for a, k in ledger.INPUTS[cid].items()}
    out = claims.evaluate(cid, **args)
    assert out.verdict in claims.VERDICTS and out.parts
    cf = claims.evaluate_counterfactual(cid, **args)
    assert cf.verdict == N, (cid, cf.summary())


def test_the_ledger_rows_carry_budget_provenance_and_counterfactual(quick_results):
    rows = ledger.rows(quick_results, "quick")
    assert [r.outcome.claim.id for r in rows] == list(claims.CLAIMS)
    assert all(r.counterfactual == N for r in rows)
    fig1_row = next(r for r in rows if r.outcome.claim.id == "fig1.relu_concave")
    assert "seeds 1 (paper 10)" in fig1_row.budget and "the paper's text" in fig1_row.provenance
    tally = claims.tally([r.outcome for r in rows])
    assert sum(tally.values()) == sum(c.kind == "paper" for c in claims.CLAIMS.values())
    # nothing stored at the paper's scale here: the row still names that scale, without a verdict
    assert all(r.scale == "quick" and r.other is None and r.other_scale == "paper" for r in rows)


def test_the_ledger_cards_show_each_claims_verdict_first_and_name_chapters_by_title(quick_results):
    from springblock import ledger_cards, notebooks

    rows = ledger.rows(quick_results, "quick")
    page = ledger_cards.cards(rows)
    cards = page.split("<div class='claim-card'>")[1:]
    assert len(cards) == len(rows)
    for r, html_card in zip(rows, cards):
        head = html_card.split("</div>")[0]
        assert f"<span class='{ledger_cards.CSS[r.outcome.verdict]}'>{r.outcome.verdict}</span>" in head
        title = ledger_cards.chapter_title(r.outcome.claim.where, notebooks.book_dir())
        assert title != r.outcome.claim.where and f">{title}</a>" in html_card.replace("&#x27;", "'")
        assert "not reproduced, as it must be" in html_card  # every counterfactual fails at quick


def test_a_ledger_row_is_evaluated_at_its_chapters_scale(quick_results):
    # chapter 3 drawn from the (here: stand-in) paper-scale results, every other chapter at the build's scale
    rows = ledger.rows(quick_results, "quick", paper_res=quick_results, chapter_scale={"03_spring_block": "paper"})
    assert [r.outcome.claim.id for r in rows] == list(claims.CLAIMS)
    for r in rows:
        ch3 = r.outcome.claim.where == "03_spring_block"
        assert (r.scale, r.other_scale) == (("paper", "quick") if ch3 else ("quick", "paper")), r.outcome.claim.id
        assert r.other == r.outcome.verdict and not r.differs  # the same results at both "scales"
    assert any(r.scale == "paper" for r in rows)
    fig3 = next(r for r in rows if r.outcome.claim.id == "chain.phase_diagram")
    assert fig3.budget == ledger.budget("chain.phase_diagram", "paper")
    # a section of its own (chapter 6's linear network): a claim's scale wins over its chapter's
    rows = ledger.rows(quick_results, "quick", paper_res=quick_results,
                       chapter_scale={"06_other_networks": "quick", "fig5a.linear_net": "paper"})
    at = {r.outcome.claim.id: r.scale for r in rows if r.outcome.claim.where == "06_other_networks"}
    assert at.pop("fig5a.linear_net") == "paper" and set(at.values()) == {"quick"}


def test_the_ledger_budget_and_provenance_name_experiments_as_readers_do():
    b, p = ledger.budget("fig1.relu_concave", "default"), ledger.provenance("fig1.relu_concave")
    assert "Fig. 1(a) noise" in b and "fig1_noise" not in b and "fig1_noise" not in p


def test_gather_cached_only_leaves_out_what_is_not_stored(tmp_path, monkeypatch):
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(tmp_path))
    monkeypatch.setenv("SPRINGBLOCK_SHIPPED", str(tmp_path / "none"))
    got = ledger.gather("quick", cached_only=True, names=("eq7", "stats"))
    assert got == {}  # nothing stored: no result, no verdict, nothing computed
    assert list(tmp_path.glob("*/*.npz")) == []


def test_a_panel_names_the_metric_kinds_it_holds():
    p = panel("noise", [[0.0, 0.1], [0.2, 0.3]])
    assert p.mean_load(kind="pinv").shape == (2, 2, p.load["train_pinv"].shape[-1])
    with pytest.raises(ValueError, match=r"kind must be one of \('trace', 'pinv'\), got 'inverse'"):
        p.mean_load(kind="inverse")
    with pytest.raises(ValueError, match="split must be one of"):
        p.curvature_spread(split="val")


def test_a_panels_cells_are_named_as_readers_name_them_and_bad_queries_are_refused():
    p = panel("dropout", [[0.0, 0.1], [0.2, 0.3]])
    assert p.cell_label((1, 0)) == "α = 1, p = 0" and p.cell_name((1, 0)) == "(c) α = 1, p = 0"
    assert p.title == "(c) dropout"
    with pytest.raises(ValueError, match=r"row must be an integer in \[0, 1\], got 99"):
        p.cell_name((99, 0))
    with pytest.raises(ValueError, match="split must be one of"):
        p.mean_acc(split="bogus")
    with pytest.raises(ValueError, match=r"tol must lie in \[0, inf\)"):
        p.rising(tol=-0.1)
    with pytest.raises(ValueError, match="alphas must hold at least 1"):
        fig1.panel_configs("noise", alphas=[], values=[0.1], seeds=1, epochs=1)


def test_compute_refuses_a_scale_given_as_its_context():
    from springblock import experiments

    with pytest.raises(ValueError, match="ctx must be a results.RunContext"):
        experiments.compute("chain_eq7", "quick")


def test_the_chapters_tables_come_from_the_analyses_the_ledger_reads(quick_results):
    from springblock import derived

    panels, stats, without = quick_results["panels"], quick_results["stats"], quick_results["without"]
    assert stats.keys() == without.keys() == panels.keys()
    rows = derived.accuracy_rows(panels, stats, without)
    assert [r["panel"] for r in rows] == [p.title for p in panels.values()]
    for r, s in zip(rows, stats.values()):
        assert r["most linear cell, rank"].endswith(f"{s['linear_rank']} of {s['n_cells']}")
    metrics = derived.metric_comparison(panels)
    assert [m["alpha"] for m in metrics] == [float(a) for a in next(iter(panels.values())).alphas]
    assert all(0.0 <= m["same_shape"] <= 1.0 and m["mean_abs_diff"] >= 0 for m in metrics)
    dw_rows = derived.depth_width_rows(quick_results["dw"], quick_results["dw_stats"])
    assert len(dw_rows) == len(quick_results["dw"]["archs"])
    again = derived.train_test_shapes(panels)
    assert again.keys() == quick_results["tt"].keys()
    assert all(np.array_equal(again[k], v, equal_nan=True) for k, v in quick_results["tt"].items())
