"""The ``springblock`` command: run/plot through the real experiments on tiny budgets, argument and
cache-folder errors as one line with exit status 2, help with examples, the cache sub-commands."""
import dataclasses

import pytest
import torch

from springblock import cli, results, scales
from springblock.experiments import chain_grids


def _npz(root):
    return sorted(root.rglob("*.npz")) if root.exists() else []


@pytest.fixture
def tiny(monkeypatch, tmp_path, isolated_cache):
    """The quick scale of fig1_noise and fig4_dynamics shrunk to one network of one epoch, so the
    real command trains in seconds (the paper's settings are kept; only the quick budget changes)."""
    e = scales.EXPERIMENTS["fig1_noise"]
    monkeypatch.setitem(scales.EXPERIMENTS, "fig1_noise", dataclasses.replace(
        e, budgets={**e.budgets, "quick": dict(alphas=(0.0,), values=(0.0,), seeds=1, epochs=1)}))
    e = scales.EXPERIMENTS["fig4_dynamics"]
    monkeypatch.setitem(scales.EXPERIMENTS, "fig4_dynamics", dataclasses.replace(
        e, budgets={**e.budgets, "quick": dict(settings={"b": dict(lr=1e-3, batch_size=2560)}, seeds=1, epochs=1,
                                               record_every=1)}))
    return tmp_path


def test_tiny_budgets_only_change_what_the_paper_sets(tiny):
    for name in ("fig1_noise", "fig4_dynamics"):
        e = scales.EXPERIMENTS[name]
        assert set(e.budgets["quick"]) <= set(e.paper)


def test_run_then_plot_fig1_reads_the_cache(tiny, isolated_cache, capsys):
    other = tiny / "elsewhere"  # --cache-dir, not $SPRINGBLOCK_CACHE
    run = ["run", "fig1", "--panel", "noise", "--scale", "quick", "--quiet", "--cache-dir", str(other)]
    assert cli.main(run) == 0
    assert "fig1 noise: 1/1 cells trained" in capsys.readouterr().out
    stored = _npz(other / "mlp")
    assert len(stored) == 1 and _npz(isolated_cache) == []
    n_runs = len(results.run_log(other))
    assert n_runs == 1

    assert cli.main(run + ["--seeds", "1"]) == 0  # the same cell: read, not trained
    assert "fig1 noise: 0/1 cells trained" in capsys.readouterr().out

    png = tiny / "fig1.png"
    assert cli.main(["plot", "fig1", "--panel", "noise", "--scale", "quick", "--quiet", "--cache-dir", str(other),
                     "--out", str(png)]) == 0
    assert f"wrote {png}" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _npz(other / "mlp") == stored and len(results.run_log(other)) == n_runs  # plot trained nothing

    assert cli.main(["cache", "--cache-dir", str(other), "ls"]) == 0
    out = capsys.readouterr().out
    assert "mlp: 1 results (1 current)" in out and "fig1 noise" in out


def test_plot_on_an_empty_cache_fails_in_one_line_and_trains_nothing(tiny, isolated_cache, capsys):
    png = tiny / "fig1.png"
    assert cli.main(["plot", "fig1", "--panel", "noise", "--scale", "quick", "--quiet", "--out", str(png)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("springblock plot: error:") and "not in the cache" in err
    assert not png.exists()
    assert _npz(isolated_cache) == [] and results.run_log(isolated_cache) == []


def test_run_then_plot_fig4(tiny, isolated_cache, capsys):
    png = tiny / "fig4.png"
    assert cli.main(["plot", "fig4", "--scale", "quick", "--quiet", "--out", str(png)]) == 2
    assert "not in the cache" in capsys.readouterr().err
    assert cli.main(["run", "fig4", "--scale", "quick", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "fig4 (b): final ĉ" in out and "fig4: 1 run(s) trained" in out
    assert cli.main(["plot", "fig4", "--scale", "quick", "--quiet", "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert cli.main(["run", "fig4", "--scale", "quick", "--quiet"]) == 0
    assert "fig4: 0 run(s) trained" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_bad_seeds_exit_2_naming_seeds(tiny, capsys, value):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "fig1", "--panel", "noise", "--scale", "quick", "--seeds", value])
    assert exc.value.code == 2
    assert "--seeds" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["run", "fig1", "--panel", "temperature"],
    ["run", "fig1", "--panel"],  # no value
    # ("run fig2" is refused by the command itself, naming the experiments: test_shipped.py)
    ["run", "fig1", "--scale", "huge"],
    ["run", "fig1", "--device", "tpu"],
    ["plot", "fig1"],  # --out is required
    ["cache"],  # an action is required
])
def test_argument_errors_exit_through_argparse(tiny, capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_negative_seed_is_one_line_naming_seed(tiny, isolated_cache, capsys):
    assert cli.main(["run", "fig1", "--panel", "noise", "--scale", "quick", "--seed", "-1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "seed" in err
    assert _npz(isolated_cache) == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_cuda_exits_2_naming_cuda(tiny, isolated_cache, capsys):
    assert cli.main(["run", "fig1", "--panel", "noise", "--scale", "quick", "--device", "cuda", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cuda" in err.lower()
    assert _npz(isolated_cache) == []


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["plot", "--help"]])
def test_help_shows_the_examples(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    assert "springblock run fig1 --panel noise --scale default" in out
    assert "springblock cache ls" in out


def test_cache_ls_on_an_empty_cache(isolated_cache, capsys):
    assert cli.main(["cache", "ls"]) == 0
    assert capsys.readouterr().out.strip() == "the cache is empty"


def test_an_unwritable_cache_dir_is_named_in_one_line(tiny, capsys):
    blocker = tiny / "a-file"
    blocker.write_text("not a folder")
    bad = blocker / "cache"
    assert cli.main(["run", "fig1", "--panel", "noise", "--scale", "quick", "--quiet", "--cache-dir", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("springblock run: error:") and str(bad) in err
    assert blocker.read_text() == "not a folder"


def _one_chain_result():
    chain_grids.simulate(("load",), label="cli test", L=3, sigma=0.1, steps=20, seed=1)


def test_cache_commands_on_a_real_result(tiny, isolated_cache, capsys):
    _one_chain_result()
    assert cli.main(["cache", "ls"]) == 0
    assert "chain: 1 results (1 current)" in capsys.readouterr().out
    assert cli.main(["cache", "verify", "--sample", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("equal") == 1 and "cli test" in out
    assert cli.main(["cache", "prune", "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("would remove: 0 stale, 0 unreadable, 0 orphan")
    archive = tiny / "results.tar.gz"
    assert cli.main(["cache", "export", str(archive)]) == 0
    assert f"exported 1 result(s) to {archive}" in capsys.readouterr().out
    other = tiny / "other"
    assert cli.main(["cache", "--cache-dir", str(other), "import", str(archive)]) == 0
    assert "imported 1, already present 0, refused 0" in capsys.readouterr().out
    assert cli.main(["cache", "--cache-dir", str(other), "import", str(archive)]) == 0
    assert "imported 0, already present 1, refused 0" in capsys.readouterr().out


def test_cache_import_into_an_unwritable_root_is_one_line(tiny, capsys):
    _one_chain_result()
    archive = tiny / "results.tar.gz"
    assert cli.main(["cache", "export", str(archive)]) == 0
    capsys.readouterr()
    blocker = tiny / "a-file"
    blocker.write_text("not a folder")
    assert cli.main(["cache", "--cache-dir", str(blocker / "cache"), "import", str(archive)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("springblock cache: error:") and str(blocker) in err
    assert cli.main(["cache", "import", str(tiny / "missing.tar.gz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing.tar.gz" in err


def test_sigterm_during_a_command_prints_one_line_and_exits_143(monkeypatch, capsys):
    import os
    import signal

    def stopped_mid_work(args):
        os.kill(os.getpid(), signal.SIGTERM)  # handled by cli.stop_on_sigterm, which main installs
        raise AssertionError("SIGTERM should have ended the command")

    monkeypatch.setattr(cli, "_cmd_fill", stopped_mid_work)
    old = signal.getsignal(signal.SIGTERM)
    try:
        assert cli.main(["fill", "--scale", "quick", "--budget", "1m"]) == 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, old)
    assert capsys.readouterr().err.strip() == "springblock fill: stopped; every result finished so far is stored"


@pytest.mark.parametrize("argv, words", [
    (["run", "fig1", "--panel", "noise", "noise", "--scale", "quick"], "--panel names each panel once"),
    (["run", "--list", "fig1"], "--list lists the experiments"),
    (["run", "fig1", "--panel", "noise", "--executor", "local", "--mem-gb", "4"], "--mem-gb asks SLURM"),
    (["run", "fig1", "--panel", "noise", "--executor", "local", "--cpus-per-job", "1000"], "--cpus-per-job must be in [1,"),
    (["run", "fig1", "--panel", "noise", "--executor", "local", "--log-dir", " "], "--log-dir must name a folder"),
    (["fill", "--scale", "paper", "--seed", "3", "--only", "chain_eq7"], "--seed 3: the shipped results"),
    (["cache", "verify", "--all", "--sample", "3"], "--all checks every current result"),
    (["cache", "export", "results.txt"], "ending in .tar.gz"),
    (["cache", "export", ""], "ending in .tar.gz"),
])
def test_options_that_would_be_ignored_or_misread_are_refused_before_any_work(tiny, isolated_cache, capsys, argv, words):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    assert _npz(isolated_cache) == []


def test_shipped_cache_dir_must_name_a_folder(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["shipped", "--cache-dir", " ", "status"])
    assert exc.value.code == 2 and "--cache-dir" in capsys.readouterr().err
