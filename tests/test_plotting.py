"""Figures drawn the way the book promises: Fig. 1 in one row with touching tiles and an accuracy
colour bar, titles that never run into each other, no negative zeros. Built from synthetic results,
so no network is trained."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from springblock import plotting, scales
from springblock.experiments import fig1
from springblock.plotting import style
from springblock.train import MEASURED_KINDS as KINDS


def panel_result(name, rows=3, cols=4, seeds=2, layers=8, rng=np.random.default_rng(0)):  # noqa: B008 - one stream shared by the calls, on purpose
    values = np.asarray(scales.settings(f"fig1_{name}", "paper")["values"][:cols])
    depth = np.linspace(1.5, -2.5, layers)
    load = {f"{sp}_{k}": depth + 0.1 * rng.standard_normal((rows, cols, seeds, layers))
            for sp in fig1.SPLITS for k in KINDS}
    acc = 85 + 8 * rng.random((rows, cols, seeds))
    return fig1.PanelResult(fig1.PANELS[name], np.linspace(0, 1, rows), values, np.arange(1, seeds + 1), acc,
                            acc + 5, load, np.full((rows, cols, seeds), 100))


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _rendered(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def test_fig1_is_one_row_of_panels_with_touching_tiles_and_an_accuracy_colour_bar():
    results = [panel_result(n) for n in fig1.PANELS]
    fig = plotting.fig1_figure(results)
    _rendered(fig)
    subs = fig.subfigs
    assert len(subs) == 4
    boxes = [s.bbox for s in subs]
    assert len({round(b.y0) for b in boxes}) == 1  # one row, as in the paper
    assert all(a.x1 <= b.x0 + 1 for a, b in zip(boxes, boxes[1:]))  # left to right, not overlapping
    for sub, res in zip(subs, results):
        tiles = [ax for ax in sub.axes if ax.get_label() != "<colorbar>" and ax.lines]
        assert len(tiles) == res.alphas.size * res.values.size
        xs = sorted({round(ax.get_position().x0, 4) for ax in tiles})
        widths = {round(ax.get_position().width, 4) for ax in tiles}
        gaps = np.diff(xs) - min(widths)
        assert np.all(np.abs(gaps) < 2e-3), gaps  # neighbouring tiles touch
        assert all(max(line.get_linewidth() for line in ax.lines) >= 1.8 for ax in tiles)  # bold (default 1.5)
        bars = [ax for ax in sub.axes if ax.get_label() == "<colorbar>"]
        assert len(bars) == 1 and "test accuracy (%)" in bars[0].get_xlabel()
        assert "paper:" in bars[0].get_xlabel()


@pytest.mark.parametrize("ncols", [4, 2])
def test_every_fig1_panel_has_tiles_of_one_size(ncols):
    fig = plotting.fig1_figure([panel_result(n) for n in fig1.PANELS], ncols=ncols)
    _rendered(fig)
    widths = [ax.bbox.width for ax in fig.axes if ax.lines]
    assert max(widths) - min(widths) < 1.5  # pixels: the first column's row labels take their own room


def test_fig4_titles_never_overlap_and_the_final_curvature_has_no_negative_zero():
    rng = np.random.default_rng(1)
    epochs = np.arange(0, 101, 10)
    history = {n: np.cumsum(rng.standard_normal((2, epochs.size, 8)), axis=1) for n in "bcd"}
    history["c"][:, -1] = np.linspace(1, -1, 8)  # exactly straight: ĉ = 0
    settings = {"b": dict(lr=1e-4, batch_size=200), "c": dict(lr=1e-3, dropout=0.1, batch_size=100),
                "d": dict(lr=3e-3, dropout=0.2, batch_size=50)}
    dyn = fig1.DynamicsResult(settings, np.arange(1, 3), epochs, history, {n: np.full(2, 90.0) for n in "bcd"})
    fig = plotting.dynamics_figure(dyn)
    renderer = _rendered(fig)
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    assert [t.get_text().split()[0] for t in titles] == ["(b)", "(c)", "(d)"]
    extents = [t.get_window_extent(renderer) for t in titles]
    assert all(a.x1 < b.x0 for a, b in zip(extents, extents[1:]))  # side by side, never touching
    labels = [ax.get_xlabel() for ax in fig.axes if "ĉ" in ax.get_xlabel()]
    assert labels[1].endswith("(ĉ = +0.00)") and not any("-0.00" in s for s in labels)


@pytest.mark.parametrize("v, digits, sign, text", [(-0.0001, 2, False, "0.00"), (-0.0001, 3, True, "+0.000"),
                                                    (-0.004, 2, True, "+0.00"), (-0.006, 2, True, "-0.01"),
                                                    (0.125, 1, False, "0.1"), (3.0, 0, True, "+3")])
def test_numbers_are_never_negative_zero(v, digits, sign, text):
    assert style.number(v, digits, sign) == text


def test_an_interval_reads_as_estimate_and_bounds():
    assert style.interval(0.4149, -0.0001, 0.52) == "+0.41 [+0.00, +0.52]"
    assert style.interval(83.1, 82.04, 84.0, digits=1, sign=False) == "83.1 [82.0, 84.0]"


def test_the_interactive_fig1_names_its_panels_in_words_that_fit_a_phone():
    from springblock.plotting import interactive

    results = [panel_result(n) for n in fig1.PANELS]
    fig = interactive.fig1(results).figure
    assert [a.text for a in fig.layout.annotations] == ["(a)", "(b)", "(c)", "(d)"]
    names = [fig.layout[f"xaxis{'' if k == 1 else k}"].title.text for k in range(1, 5)]
    assert names[0] == "label + data<br>noise p" and names[1] == "learning<br>rate"
    assert all(max(len(line) for line in n.split("<br>")) <= 12 for n in names)
    hover = {t for trace in fig.data for t in trace.text}
    assert any("label + data noise p = 0.7" in t and "test accuracy" in t for t in hover)
    # 2 × 2, so that a phone gives each panel half its width: (a) above (c), (b) beside (a)
    lay = fig.layout
    assert lay.xaxis.domain == lay.xaxis3.domain and lay.yaxis.domain == lay.yaxis2.domain
    assert lay.yaxis.domain[0] > lay.yaxis3.domain[1]
    assert lay.yaxis.title.text == lay.yaxis3.title.text == "negative slope α" and not lay.yaxis2.title.text


def test_the_live_explorer_is_shown_only_to_a_front_end(monkeypatch):
    import IPython

    from springblock import widgets

    assert not widgets.in_kernel()  # plain Python
    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"kernel": object()})())
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not widgets.in_kernel()  # a headless kernel (papermill, the book build)
    monkeypatch.setenv("JPY_SESSION_NAME", "book/03_spring_block.md")
    assert widgets.in_kernel()  # a notebook JupyterLab opened


def _overlapping_texts(fig):
    """Pairs of visible, non-empty texts of ``fig`` whose drawn boxes overlap by more than a pixel
    (boxes include the font's descent, so stacked labels may touch)."""
    renderer = _rendered(fig)
    texts = [t for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    boxes = [(t.get_text(), t.get_window_extent(renderer).padded(-0.5)) for t in texts]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:] if ba.overlaps(bb)]


def test_no_text_of_the_chain_phase_diagram_or_fig1_runs_into_another():
    rng = np.random.default_rng(1)
    mu_r, sigma = np.linspace(0, 0.035, 6), np.array([0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2])
    chain = {"mean_load": np.linspace(1, 0, 8) + 0.05 * rng.random((6, 7, 8)), "excess": rng.random((6, 7)) * 0.03,
             "mu_r": mu_r, "sigma": sigma}
    assert _overlapping_texts(plotting.chain_phase_figure(chain, "overdamped chain")) == []
    assert _overlapping_texts(plotting.fig1_figure([panel_result(n) for n in fig1.PANELS])) == []
    with pytest.raises(ValueError, match="bar"):
        plotting.phase_figure(chain["mean_load"], chain["excess"], bar="left")


def test_the_column_labels_of_a_phase_grid_tilt_all_together_or_not_at_all():
    curves = np.linspace(1, 0, 8) * np.ones((2, 4, 1))
    _, axes = plotting.phase_figure(curves, col_labels=["0", "0.005", "0.01", "0.02"])  # one label is long
    assert {ax.xaxis.label.get_rotation() for ax in axes[-1]} == {45.0}
    _, axes = plotting.phase_figure(curves, col_labels=["0", "0.1", "0.2", "0.3"])
    assert {ax.xaxis.label.get_rotation() for ax in axes[-1]} == {0.0}


# Chapters 4 and 5 only call these: each is built here from synthetic results of the shapes the
# experiments return, and checked for the panels, lines, legends and titles the captions describe.
L_CHAIN = 7


def _legend_texts(legend):
    return [t.get_text() for t in legend.get_texts()]


def noise_sweep(n=6, rng=np.random.default_rng(2)):  # noqa: B008 - one stream shared by the calls, on purpose
    sigmas = np.r_[0, np.geomspace(0.005, 0.2, n - 1)]
    c = rng.standard_normal((2, n)) * 0.01
    return {"sigmas": sigmas, "independent_load": np.linspace(1, 0, L_CHAIN + 1) + 0.01 * rng.random((2, n, L_CHAIN + 1)),
            "independent_c": c, "independent_sem": np.full((2, n), 0.002), "synchronous_c": c + 0.001,
            "synchronous_sem": np.full((2, n), 0.002), "eq7_c": -0.04, "eq8_c": 0.03, "eq8_c_free": 0.02}


def test_the_effective_friction_figure_has_a_panel_per_noise_and_one_legend():
    forces = [-0.06, -0.01, 0.0, 0.1]
    fig = plotting.effective_friction_figure(np.geomspace(1e-3, 10, 30), forces, 0.02, 0.04)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    assert fig.axes[0].get_title().startswith("Gaussian") and fig.axes[1].get_title().startswith("uniform")
    assert all(len(ax.lines) == len(forces) + 2 for ax in fig.axes)  # a curve per force and the two limits
    assert len(fig.legends) == 1 and _legend_texts(fig.legends[0]) == [f"$F = {F:g}$" for F in forces]
    assert fig.axes[1].get_ylabel() == ""


def test_the_noise_sweep_figure_draws_four_levels_against_eqs_7_and_8():
    sweep = noise_sweep()
    fig = plotting.noise_sweep_figure(sweep, L=L_CHAIN, k=1.0, y=1.0, mu_r=0.02, mu_l=0.04)
    a, b = fig.axes
    assert _legend_texts(a.get_legend())[-2:] == ["Eq. 7", "Eq. 8"]
    assert len(a.get_legend().get_texts()) == len({0, 2, 3, 5}) + 2  # σ̄ = 0, the first at 0.01 and 0.05, the last
    assert "0.02 < " in a.get_title()
    assert b.get_xscale() == "log" and _legend_texts(b.get_legend()) == ["Eq. 7 (no noise)", "Eq. 8 (large noise)", "simulated"]


def test_the_synchronous_and_frictionless_figures_read_the_same_sweep():
    sweep = noise_sweep()
    ax, = plotting.synchronous_noise_figure(sweep).axes
    assert _legend_texts(ax.get_legend()) == ["independent noise", "synchronous noise"] and ax.get_xscale() == "log"
    a, b = plotting.frictionless_chain_figure(sweep, L=L_CHAIN, k=1.0, y=1.0, mu_l=0.04).axes
    assert _legend_texts(a.get_legend())[-1] == "Eq. 8" and a.get_title() == r"$\mu_r=0$, $\mu_l=0.04$"
    assert r"$\bar\sigma=0$ (drawn at left)" in _legend_texts(b.get_legend())
    diamond = [line for line in b.lines if line.get_marker() == "D"]
    assert len(diamond) == 1 and diamond[0].get_xdata()[0] == sweep["sigmas"][1] / 2  # left of the first noisy level


def test_the_bounded_noise_figure_has_the_closed_form_and_a_style_legend():
    rng = np.random.default_rng(3)
    B, times = np.array([0.005, 0.01, 0.02]), np.geomspace(1, 1e4, 20)
    bounded = {"bounds": B, "uniform_final": rng.random((3, 4)) * 0.02, "gaussian_final": rng.random((3, 4)) * 0.02,
               "times": times, "uniform_force": rng.random((3, 20)) * 0.02, "gaussian_force": rng.random((3, 20)) * 0.02,
               "freeze": 0.02 - B, "zero_drift": -0.01}
    a, b = plotting.bounded_noise_figure(bounded, mu_r=0.02, mu_l=0.04).axes
    assert _legend_texts(a.get_legend()) == ["where the chain stops, closed form", "uniform noise", "Gaussian, same sd"]
    assert _legend_texts(b.get_legend()) == ["$B=0.005$", "$B=0.01$", r"$(\mu_r-\mu_l)/2$", "uniform", "Gaussian, same sd",
                                             "freeze level"]
    assert b.get_xscale() == "log"


def test_the_noise_dynamics_figure_titles_panels_b_to_d_without_negative_zero():
    rng = np.random.default_rng(4)
    dyn = {"sigma": np.array([0.005, 0.03, 0.1]), "times": np.arange(50), "curvature": np.array([-0.05, -0.0001, 0.04]),
           "trajectory": rng.random((3, 50, L_CHAIN + 1))}
    fig = plotting.noise_dynamics_figure(dyn)
    assert [ax.get_title().split()[0] for ax in fig.axes] == ["(b)", "(c)", "(d)"]
    assert "c=+0.000" in fig.axes[1].get_title()
    assert all(len(ax.lines) == L_CHAIN + 1 for ax in fig.axes) and len(fig.legends[0].get_texts()) == L_CHAIN + 1


def test_the_langevin_figures_show_both_conventions():
    rng = np.random.default_rng(5)
    lang = {f"s14_load_{c}": np.linspace(1, 0, L_CHAIN + 1) + 0.02 * rng.random((5, L_CHAIN + 1))
            for c in ("langevin", "langevin_sign")}
    fig = plotting.langevin_loads_figure(lang, np.linspace(0.9, 0.1, L_CHAIN), L=L_CHAIN, k=0.1, y=1.0)
    assert [ax.get_title() for ax in fig.axes] == ["the book's convention", "the authors' convention"]
    assert _legend_texts(fig.axes[0].get_legend()) == ["mean", "linear", "authors' stored run"]
    assert all(len(ax.lines) == 5 + 1 + 1 + 1 for ax in fig.axes)  # realisations, mean, linear, stored run
    grid = {"mu_r": np.array([0.0, 0.003]), "eps_grid": np.array([0.0, 0.003, 0.01]),
            "grid_c_langevin": rng.random((2, 3)), "grid_c_langevin_sign": rng.random((2, 3))}
    fig = plotting.langevin_maps_figure(grid)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["mean curvature (book's convention)", "authors' minus book's convention"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["0.003", "0"]  # μ_r grows upwards


def test_the_train_test_figure_overlays_both_splits_and_the_diagonal():
    from springblock import analysis

    lr = panel_result("lr")
    tt = analysis.compare_shapes(lr.mean_load("train").reshape(-1, 8), lr.mean_load("test").reshape(-1, 8))
    a1, a2 = plotting.train_test_figure(lr, tt).axes
    assert len(a1.lines) == 2 * lr.values.size and len(a1.get_legend().get_texts()) == lr.values.size
    assert a2.get_title() == f"all {tt['n']} cells of Fig. 1" and len(a2.collections) == 1


def _diagram(rng, alphas=3, values=4, seeds=2, layers=8):
    return {"load": np.linspace(1, -1, layers) + 0.1 * rng.random((alphas, values, seeds, layers)),
            "acc": 80 + 10 * rng.random((alphas, values, seeds))}


def test_the_depth_width_figure_draws_a_diagram_per_architecture_three_a_row():
    rng = np.random.default_rng(6)
    archs = [(4, 100), (6, 100), (8, 100), (6, 50)]
    dw = {"archs": archs, "alphas": np.array([0.0, 0.5, 1.0]), "dropouts": np.array([0, 0.1, 0.2, 0.3]),
          "diagrams": [_diagram(rng) for _ in archs]}
    fig = plotting.depth_width_figure(dw)
    subs = fig.subfigs
    assert len(subs) == 6 and sum(bool(s.axes) for s in subs) == len(archs)  # two rows of three
    bars = [ax for s in subs for ax in s.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == len(archs) and all(b.get_xlabel() == "accuracy (%)" for b in bars)


def test_the_dataset_diagrams_tick_learning_rates_in_powers_of_ten():
    rng = np.random.default_rng(7)
    results = [{**_diagram(rng), "alphas": np.array([0.0, 0.5, 1.0]), "values": np.array(v), "axis": axis}
               for axis, v in (("dropout", [0, 0.1, 0.2, 0.3]), ("lr", [1e-4, 1e-3, 1e-2, 1e-1]))]
    fig = plotting.dataset_diagrams(results, ["a: dropout", "b: lr"])
    assert len(fig.subfigs) == 2
    ticks = [{t.get_text() for ax in s.axes for t in ax.get_xticklabels()} | {ax.get_xlabel() for ax in s.axes}
             for s in fig.subfigs]
    assert "0.1" in ticks[0] and "1e-03" in ticks[1]


def test_the_metrics_figure_draws_three_metrics_from_zero_per_alpha():
    rng = np.random.default_rng(8)
    mc = {"alphas": np.array([0.0, 1.0]), "acc": 90 + rng.random((2, 1, 2))}
    mc.update({f"load_{k}": rng.random((2, 1, 2, 8)) for k in ("trace", "pinv", "inverse")})
    fig = plotting.metrics_figure(mc)
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("α = 0, no dropout")
    assert all(len(ax.lines) == 3 and all(line.get_ydata()[0] == 0 for line in ax.lines) for ax in fig.axes)
    assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None


def test_one_load_curve_plotter_draws_a_networks_and_a_chains_curves():
    curves = np.linspace(1.0, 0.0, 8)[None] * np.array([[1.0], [0.8]])
    fig, (a, b) = plt.subplots(1, 2)
    plotting.load_curves(a, curves, labels=["x", "y"])
    plotting.load_curves(b, curves, of="chain", labels=["x", "y"], theory=curves[0], theory_label="Eq. 7",
                         band=np.full_like(curves, 0.05))
    assert a.get_xlabel() == r"layer $\ell$" and a.get_ylabel() == r"$D_\ell$"
    assert b.get_xlabel() == r"layer / block $\ell$" and list(b.get_xticks()) == list(range(8))
    assert [t.get_text() for t in b.get_legend().get_texts()] == ["x", "y", "Eq. 7"] and len(b.collections) == 2
    with pytest.raises(ValueError, match="of must be one of"):
        plotting.load_curves(a, curves, of="block")
    plt.close(fig)
