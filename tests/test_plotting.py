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
