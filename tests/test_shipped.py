"""Shipped results: packed per experiment, read under the cache with the cache's trust rules,
filled in slices within a budget, verified bitwise; and the one entry point that runs experiments."""
import json
import signal
import time
import warnings

import numpy as np
import pytest

from springblock import cache, experiments, fill, fingerprint, reproduce, results, shipped
from springblock.cli import main


@pytest.fixture
def ship(tmp_path, monkeypatch):
    """An empty shipped folder and an empty cache."""
    folder = tmp_path / "shipped"
    folder.mkdir()
    monkeypatch.setenv("SPRINGBLOCK_SHIPPED", str(folder))
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(tmp_path / "cache"))
    shipped._index.cache_clear()
    shipped._archive.cache_clear()
    yield folder
    shipped._index.cache_clear()
    shipped._archive.cache_clear()


def _toy(name="toy_shipped"):
    def compute(configs, ctx, emit):
        for j, c in enumerate(configs):  # ragged arrays, as early-stopped networks' losses are
            emit(j, {"value": np.array(c["x"] * 2.0), "losses": np.arange(c["x"] + 1, dtype=np.float32),
                     "flag": np.array(c["x"] > 1)})

    return results.Experiment(name, ("springblock.shape",), compute, torch=False)


def _ship_toy(ship, tmp_path, xs=(1, 2, 3)):
    exp = _toy()
    root = tmp_path / "filled"
    with results.recording() as seen:
        results.run(exp, [{"x": x} for x in xs], progress=False, root=root)
    man = shipped.export("toy", seen, root=root, wall_s=3.0)
    return exp, man


def test_packing_keeps_every_array_its_shape_and_dtype():
    cells = [{"a": np.arange(n, dtype=np.float32), "b": np.array(n), "c": np.ones((2, n), bool)} for n in (0, 1, 5)]
    back = shipped._unpack(shipped._pack(cells), 3)
    for c, b in zip(cells, back):
        assert c.keys() == b.keys()
        assert all(np.array_equal(c[k], b[k]) and c[k].dtype == b[k].dtype and c[k].shape == b[k].shape for k in c)
    with pytest.raises(shipped.ShippedError, match="one kind"):
        shipped._pack([{"a": np.ones(1)}, {"b": np.ones(1)}])


def test_a_shipped_result_is_served_under_its_key_to_an_empty_cache(ship, tmp_path):
    exp, man = _ship_toy(ship, tmp_path)
    assert man["cells"] == 3 and man["complete"] and man["namespaces"] == {"toy_shipped": 3}
    assert (ship / "toy.npz").exists() and json.loads((ship / "toy.json").read_text())["sha256"] == man["sha256"]
    calls = []
    exp2 = results.Experiment("toy_shipped", exp.code, lambda *a: calls.append(a), torch=False)
    out = results.run(exp2, [{"x": 2}, {"x": 3}], progress=False, root=tmp_path / "fresh")
    assert not calls and out.computed == 0  # nothing recomputed: served from the shipped layer
    assert float(out[0]["value"]) == 4.0 and out[1]["losses"].dtype == np.float32 and out[1]["losses"].size == 4


def test_an_unchanged_export_does_not_rewrite_the_archive(ship, tmp_path):
    _, man = _ship_toy(ship, tmp_path)
    before = (ship / "toy.npz").stat().st_mtime_ns
    time.sleep(0.01)
    with results.recording() as seen:
        results.run(_toy(), [{"x": x} for x in (1, 2, 3)], progress=False, root=tmp_path / "filled")
    again = shipped.export("toy", seen, root=tmp_path / "filled", wall_s=3.0)
    assert again == man and (ship / "toy.npz").stat().st_mtime_ns == before


def test_results_the_current_code_does_not_key_are_never_served(ship, tmp_path, monkeypatch):
    exp, _ = _ship_toy(ship, tmp_path)
    real = fingerprint._module_digest
    monkeypatch.setattr(fingerprint, "_module_digest", lambda n: (real(n)[0][::-1],) + real(n)[1:])  # an edited module
    out = results.run(exp, [{"x": 1}], progress=False, root=tmp_path / "fresh")
    assert out.computed == 1  # recomputed under the new key


def _rewrite(ship, edit):
    """Edit the toy archive's blob and records, and give the manifest the new archive's SHA-256
    (a forger who also updates the manifest)."""
    with np.load(ship / "toy.npz") as npz:
        blob = {k: npz[k] for k in npz.files}
    records = json.loads(str(blob.pop(cache.PROVENANCE)))
    edit(blob, records)
    blob[cache.PROVENANCE] = np.array(json.dumps(records))
    np.savez_compressed(ship / "toy.npz", **blob)
    man = json.loads((ship / "toy.json").read_text())
    man["sha256"] = shipped._sha256(ship / "toy.npz")
    (ship / "toy.json").write_text(json.dumps(man))
    shipped._index.cache_clear()
    shipped._archive.cache_clear()


def _edit_number(blob, records):
    blob["toy_shipped/0/value"] = blob["toy_shipped/0/value"] + 1


def _edit_config_consistently(blob, records):  # a record that claims another configuration
    records[0]["config"] = {"x": 9}


def _drop_array(blob, records):
    del blob["toy_shipped/0/flag"], blob["toy_shipped/0/flag.shapes"]


@pytest.mark.parametrize("edit, word", [(_edit_number, "content digest"), (_edit_config_consistently, "hash to its key"),
                                        (_drop_array, "content digest")])
def test_edited_shipped_results_are_refused_with_a_warning_and_recomputed(ship, tmp_path, edit, word):
    exp, _ = _ship_toy(ship, tmp_path)
    _rewrite(ship, edit)
    with pytest.warns(UserWarning, match=word):
        out = results.run(exp, [{"x": 1}], progress=False, root=tmp_path / "fresh")
    assert out.computed == 1 and float(out[0]["value"]) == 2.0


def test_an_archive_that_is_not_its_manifests_is_not_used(ship, tmp_path):
    exp, _ = _ship_toy(ship, tmp_path)
    (ship / "toy.npz").write_bytes(b"not an archive")
    shipped._archive.cache_clear()
    with pytest.warns(UserWarning, match="SHA-256"):
        out = results.run(exp, [{"x": 1}], progress=False, root=tmp_path / "fresh")
    assert out.computed == 1


def test_verify_recomputes_bitwise_and_catches_a_consistent_forgery(ship, tmp_path):
    _ship_toy(ship, tmp_path)
    assert all(r["status"] == "equal" for r in shipped.verify(3, seed=1, log=lambda *a: None))

    def forge(blob, records):  # edited numbers with a matching digest: only recomputing can tell
        values = blob["toy_shipped/0/value"] + 1
        blob["toy_shipped/0/value"] = values
        for i, rec in enumerate(records):
            arrays = shipped._unpack({k.split("/", 2)[2]: v for k, v in blob.items()}, len(records))[i]
            rec["digest"] = cache.content_digest(arrays)

    _rewrite(ship, forge)
    rows = shipped.verify(3, seed=1, log=lambda *a: None)
    assert [r["status"].split(":")[0] for r in rows] == ["DIFFERENT"] * 3 and not any(r["agrees"] for r in rows)
    with pytest.raises(ValueError, match="per_experiment"):
        shipped.verify(0)


def test_fill_ships_an_experiment_once_and_status_says_so(ship, tmp_path):
    root = tmp_path / "cache"
    written = fill.fill("quick", root=root, names=("chain_eq7",), progress=False, log=lambda *a: None)
    assert [m["experiment"] for m in written] == ["chain_eq7"] and written[0]["complete"]
    assert fill.fill("quick", root=root, names=("chain_eq7",), progress=False, log=lambda *a: None) == []
    (row,) = fill.status("quick", root=tmp_path / "empty", names=("chain_eq7",))
    assert row.state == "shipped" and row.found == 1 and row.missing == 0


def test_a_fill_slice_stops_at_its_budget_ships_what_it_finished_and_the_next_one_completes(ship, tmp_path,
                                                                                             monkeypatch):
    exp = _toy()
    slow = {"on": True}

    def compute(name, ctx, **kw):  # three results stored, then a long stage (budget runs out in it)
        with results.using(ctx):
            results.run(exp, [{"x": x} for x in (1, 2, 3)], progress=False)
            if slow["on"]:
                time.sleep(30)
            return results.run(exp, [{"x": 4}], progress=False)

    monkeypatch.setattr(experiments, "compute", compute)
    monkeypatch.setattr(fill, "_probe", lambda name, scale, root: (0, 1, ""))
    t = time.monotonic()
    (man,) = fill.fill("quick", budget_s=1.0, root=tmp_path / "c1", names=("chain_eq7",), log=lambda *a: None)
    assert time.monotonic() - t < 10 and not man["complete"] and man["cells"] == 3
    slow["on"] = False  # the next slice, on a new machine: an empty cache, the partial archive shipped
    (man,) = fill.fill("quick", budget_s=60, root=tmp_path / "c2", names=("chain_eq7",), log=lambda *a: None)
    assert man["complete"] and man["cells"] == 4


def test_a_stopped_fill_ships_what_it_finished_before_it_stops(ship, tmp_path, monkeypatch):
    """Ctrl-C (or the CLI's SIGTERM exit) in the middle of an experiment: what it finished is exported,
    then the stop goes on; a signal during the export is held until the export is written."""
    import os

    exp = _toy()

    def compute(name, ctx, **kw):
        with results.using(ctx):
            results.run(exp, [{"x": x} for x in (1, 2)], progress=False)
            raise KeyboardInterrupt

    real_export = shipped.export

    def export_then_signalled(*a, **kw):  # SIGINT arrives while the archive is being written
        os.kill(os.getpid(), signal.SIGINT)
        return real_export(*a, **kw)

    monkeypatch.setattr(experiments, "compute", compute)
    monkeypatch.setattr(fill, "_probe", lambda name, scale, root: (0, 1, ""))
    monkeypatch.setattr(shipped, "export", export_then_signalled)
    with pytest.raises(KeyboardInterrupt):
        fill.fill("quick", budget_s=60, root=tmp_path / "c", names=("chain_eq7",), log=lambda *a: None)
    man = shipped.manifests()["chain_eq7"]
    assert man["cells"] == 2 and not man["complete"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_a_failed_job_ships_what_it_finished_and_the_fill_goes_on(ship, tmp_path, monkeypatch):
    from springblock.executors import SubmititExecutor

    exps = {"chain_eq7": _toy("toy_a"), "chain_fig2": _toy("toy_b")}
    limits = []

    def compute(name, ctx, **kw):  # the first experiment: two results stored, then a job fails
        limits.append(ctx.executor.time_min)
        with results.using(ctx):
            results.run(exps[name], [{"x": x} for x in (1, 2)], progress=False)
            if name == "chain_eq7":
                raise RuntimeError("local job 7 failed; its log: /x")

    monkeypatch.setattr(experiments, "compute", compute)
    monkeypatch.setattr(fill, "_probe", lambda name, scale, root: (0, 1, ""))
    said = []
    written = fill.fill("quick", budget_s=3 * 3600, executor=SubmititExecutor(time_min=60), root=tmp_path / "c",
                        names=("chain_eq7", "chain_fig2"), log=said.append)
    assert [(m["experiment"], m["cells"], m["complete"]) for m in written] == [("chain_eq7", 2, False),
                                                                                ("chain_fig2", 2, True)]
    assert any("local job 7 failed" in line and "going on" in line for line in said)
    assert limits[0] >= 180  # no job is killed by its own time limit before the budget ends it


def test_fill_refuses_bad_input_before_any_work(ship):
    with pytest.raises(ValueError, match="names"):
        fill.fill("paper", names=("nope",))
    with pytest.raises(ValueError, match="budget"):
        fill.fill("paper", budget_s=-1)
    with pytest.raises(SystemExit):
        main(["fill", "--budget", "soon"])


def test_fill_into_the_packages_own_folder_refuses_a_scale_other_than_paper(monkeypatch, capsys):
    monkeypatch.delenv("SPRINGBLOCK_SHIPPED", raising=False)
    assert main(["fill", "--scale", "quick", "--only", "chain_eq7"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--scale quick" in err and "SPRINGBLOCK_SHIPPED" in err


# ------------------------------------------------------------------ the one entry point
def test_compute_runs_a_named_experiment_under_one_explicit_context(tmp_path):
    ctx = results.RunContext(root=tmp_path / "c", scale="quick", progress=False)
    out = experiments.compute("chain_eq7", ctx)
    assert isinstance(out, dict) and any((tmp_path / "c" / "chain").glob("*.npz"))
    with pytest.raises(results.MissingResults):
        experiments.compute("chain_eq7", results.RunContext(root=tmp_path / "other", scale="quick", cached_only=True))
    with pytest.raises(ValueError, match="name"):
        experiments.compute("fig9", ctx)
    with pytest.raises(ValueError, match="unknown setting"):
        experiments.compute("chain_eq7", ctx, realisations=3)
    assert "gen_accuracy" not in experiments.names()  # an analysis of other results, not runnable by name


def test_the_command_line_runs_any_experiment_by_name(tmp_path, capsys):
    assert main(["run", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(n in listed for n in experiments.names())
    assert main(["run", "chain_eq7", "--scale", "quick", "--cache-dir", str(tmp_path), "--quiet"]) == 0
    assert "chain_eq7: 1 result(s) at scale quick" in capsys.readouterr().out
    assert main(["run", "fig4", "--panel", "noise"]) == 2
    assert "--panel" in capsys.readouterr().err
    assert main(["run", "fig9"]) == 2


def test_shipped_verify_on_the_command_line_exits_1_on_a_difference(ship, tmp_path, capsys):
    _ship_toy(ship, tmp_path)
    assert main(["shipped", "verify", "--per-experiment", "2", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "sample seed 3" in out and "verified 2 shipped result(s) (0 of them equal to within 4 float32 ulp" in out
    assert "0 different" in out

    def forge(blob, records):
        blob["toy_shipped/0/value"] = blob["toy_shipped/0/value"] + 1
        for i, rec in enumerate(records):
            rec["digest"] = cache.content_digest(
                shipped._unpack({k.split("/", 2)[2]: v for k, v in blob.items()}, len(records))[i])

    _rewrite(ship, forge)
    assert main(["shipped", "verify", "--per-experiment", "2", "--seed", "3"]) == 1
    assert "2 different" in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["shipped", "verify", "--only", "nope"]) == 2


def test_auto_scale_is_the_paper_scale_only_where_every_experiment_is_shipped(ship, tmp_path):
    from springblock import scales

    run = scales.check("cpu", "auto", 0, experiments=("chain_eq7",))
    assert run.scale == "default" and scales.TITLES["chain_eq7"] in run.note  # nothing shipped yet
    fill.fill("paper", root=tmp_path / "filling", names=("chain_eq7",), progress=False, log=lambda *a: None)
    run = scales.check("cpu", "auto", 0, experiments=("chain_eq7",))
    assert run.scale == "paper" and "nothing was trained" in run.note
    run = scales.check("cpu", "auto", 0, experiments=("chain_eq7", "chain_fig2"))
    assert run.scale == "default" and scales.TITLES["chain_fig2"] in run.note
    assert scales.TITLES["chain_eq7"] not in run.note
    with pytest.raises(ValueError, match="experiments"):
        scales.check("cpu", "auto", 0, experiments=("fig9",))


def test_verify_skips_by_name_what_costs_more_than_max_seconds_and_refuses_a_non_positive_cap(ship, tmp_path,
                                                                                             capsys, monkeypatch):
    _ship_toy(ship, tmp_path)
    assert shipped.seconds_per_result({"wall_s": 300.0, "cores": 2, "cells": 1}) == 600.0
    monkeypatch.setattr(shipped, "seconds_per_result", lambda manifest: 600.0)

    def never(*a):
        raise AssertionError("recomputed a result over the cap")

    monkeypatch.setattr(reproduce, "recheck", never)
    rows = shipped.verify(2, seed=1, log=lambda *a: None, max_seconds=60)
    assert len(rows) == 2 and all(r["too_costly"] and "agrees" not in r for r in rows)
    assert "600 CPU-s" in rows[0]["status"] and "--max-seconds 60" in rows[0]["status"]
    assert main(["shipped", "verify", "--per-experiment", "2", "--max-seconds", "60"]) == 0
    assert "2 skipped; not recomputed, over --max-seconds: toy" in capsys.readouterr().out
    with pytest.raises(ValueError, match="max_seconds"):
        shipped.verify(2, max_seconds=0)
    with pytest.raises(SystemExit) as stop:
        main(["shipped", "verify", "--max-seconds", "-5"])
    assert stop.value.code == 2 and "--max-seconds" in capsys.readouterr().err


def test_the_reproducibility_page_says_when_a_build_turned_the_shipped_results_off(ship, tmp_path):
    assert "SPRINGBLOCK_SHIPPED points at" in shipped.in_short() and str(ship) in shipped.in_short()
    _ship_toy(ship, tmp_path)
    assert shipped.in_short().startswith("The one shipped paper-scale experiment took ")


def test_the_totals_are_the_manifests_sums_not_the_rounded_table():
    rows, total = shipped.summary(), shipped.totals()
    assert total["results"] == sum(r["results"] for r in rows)
    cpu = [r["CPU time (h)"] for r in rows if r["CPU time (h)"] is not None]
    assert abs(total["cpu_h"] - sum(cpu)) <= 0.005 * len(cpu)  # the table rounds each row to 0.01 h
    assert f"{total['cpu_h']:.1f} CPU-hours" in shipped.in_short() or not rows
