import pytest
import torch

from springblock import cli, scales


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    """Quick scale shrunk to one α and one column, so the real command runs in seconds."""
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(scales.EXPERIMENTS, "fig1_noise", {
        s: dict(alphas=(0.0,), values=(0.0,), seeds=1, epochs=2) for s in scales.SCALES})
    monkeypatch.setitem(scales.EXPERIMENTS, "fig4_dynamics", {
        s: dict(alpha=0.0, seeds=1, epochs=1, record_every=1) for s in scales.SCALES})
    return tmp_path


def test_run_and_plot_fig1(tiny, capsys):
    assert cli.main(["run", "fig1", "--panel", "noise", "--scale", "quick", "--quiet"]) == 0
    assert "fig1 noise: 1/1 cells trained" in capsys.readouterr().out
    out = tiny / "fig1.png"
    assert cli.main(["plot", "fig1", "--panel", "noise", "--scale", "quick", "--quiet", "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert len(list((tiny / "cache" / "fig1").glob("*.npz"))) == 1  # plot read the cached cell


def test_run_and_plot_fig4(tiny, capsys):
    out = tiny / "fig4.png"
    assert cli.main(["plot", "fig4", "--scale", "quick", "--quiet", "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert cli.main(["run", "fig4", "--scale", "quick", "--quiet"]) == 0
    assert "fig4: 0 run(s) trained" in capsys.readouterr().out


def test_bad_arguments_exit_cleanly(tiny, capsys):
    if not torch.cuda.is_available():
        assert cli.main(["run", "fig1", "--device", "cuda", "--quiet"]) == 2
        assert "cuda" in capsys.readouterr().err
    assert cli.main(["run", "fig1", "--panel", "noise", "--scale", "quick", "--seeds", "0", "--quiet"]) == 2
    assert "seeds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["run", "fig1", "--panel", "temperature"])
    with pytest.raises(SystemExit):
        cli.main(["plot", "fig1"])  # --out is required
