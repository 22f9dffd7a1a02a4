"""The store against hostile archives, stuck writers and bad command lines.

One test per fault: an archive whose numbers, arrays or provenance were edited; a writer suspended
while it holds a result's lock; ``cache prune`` beside a live run; archives that are not archives;
a damaged shipped data file; sizes and options refused before any work; ``cache verify``'s sample.
"""
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from springblock import cache, cli, data, experiments, inventory, results
from springblock.experiments import mlp

sys.path.insert(0, str(Path(__file__).parent))
import faultjob


@pytest.fixture
def one_result(isolated_cache, small):
    """One trained result in the test's cache: (its path, its arrays, its record)."""
    mlp.train(faultjob.CONFIGS[:1], small, progress=False)
    path, = (Path(os.environ["SPRINGBLOCK_CACHE"]) / "mlp").glob("*.npz")
    arrays, record = cache.Store("mlp").read(path)
    return path, arrays, record


def _archive(tmp_path, members: dict[str, bytes], name="results.tar.gz") -> Path:
    out = tmp_path / name
    with tarfile.open(out, "w:gz") as tar:
        for arcname, blob in members.items():
            info = tarfile.TarInfo(arcname)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return out


def _npz(arrays, record) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays, __provenance__=np.array(json.dumps(record, sort_keys=True)))
    return buf.getvalue()


# ------------------------------------------------------------------ 1. import checks the contents
@pytest.mark.parametrize("forge", ["edited numbers", "missing array", "edited code field"])
def test_import_refuses_an_archive_whose_contents_were_edited(one_result, tmp_path, forge):
    path, arrays, record = one_result
    arrays, record = dict(arrays), dict(record)
    if forge == "edited numbers":
        arrays["test_acc"] = arrays["test_acc"] + 1.0
    elif forge == "missing array":
        del arrays["test_acc"]
    else:
        record["code"] = "0" * len(str(record["code"]))
    archive = _archive(tmp_path, {f"mlp/{path.name}": _npz(arrays, record)})
    target = tmp_path / "other-cache"
    out = inventory.import_(archive, target)
    assert out["accepted"] == [] and len(out["refused"]) == 1
    assert not (target / "mlp" / path.name).exists()


def test_reimporting_a_good_archive_replaces_a_damaged_stored_copy(one_result, tmp_path):
    path, arrays, record = one_result
    archive = tmp_path / "good.tar.gz"
    assert inventory.export(archive) == 1
    # the stored copy loses an array (digest and manifest no longer match)
    damaged = {k: v for k, v in arrays.items() if k != "test_acc"}
    path.write_bytes(_npz(damaged, record))
    with pytest.warns(UserWarning, match="moved to"):
        out = inventory.import_(archive)
    assert out["accepted"] == [f"mlp/{path.name}"] and out["present"] == []
    assert cache.Store("mlp").read(path)[0].keys() == arrays.keys()


def test_import_reports_links_and_forged_run_log_lines(one_result, tmp_path):
    path, arrays, record = one_result
    good = json.dumps({"experiment": "mlp", "computed": 1, "total": 1, "wall_s": 1.0}).encode()
    forged = b'{"experiment": "mlp", "computed": -5, "total": 1, "wall_s": 1e12}'
    archive = _archive(tmp_path, {"runs.jsonl": good + b"\n" + forged + b"\nnot json\n"})
    with tarfile.open(tmp_path / "links.tar.gz", "w:gz") as tar:
        link = tarfile.TarInfo(f"mlp/{path.name}")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    target = tmp_path / "other"
    out = inventory.import_(archive, target)
    assert out["refused"] == [("runs.jsonl", "2 line(s) that are not run records left out")]
    assert (target / "runs.jsonl").read_bytes().splitlines() == [good]
    out = inventory.import_(tmp_path / "links.tar.gz", target)
    assert out["refused"] == [(f"mlp/{path.name}", "a link or special file, not a result")]


# ------------------------------------------------------------------ 2. a stopped writer
_HOLDER = textwrap.dedent("""
    import sys, time
    from springblock import cache
    lock = cache.KeyLock(sys.argv[1]).acquire()
    print("held", flush=True)
    time.sleep(120)
""")


def test_waiting_on_a_suspended_writer_says_who_holds_the_lock_and_reads_the_rest(tmp_path):
    stuck, free = tmp_path / "stuck.lock", tmp_path / "free.lock"
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(stuck)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.time() + 10
        while not cache._stopped(child.pid) and time.time() < deadline:
            time.sleep(0.01)
        said, got = [], []
        locks = {"stuck": cache.KeyLock(stuck), "free": cache.KeyLock(free)}

        def say(text):  # once it has said whom it waits for, the stuck writer is resumed and ends
            said.append(text)
            os.kill(child.pid, signal.SIGCONT)
            child.terminate()

        cache.wait_for(locks, got.append, notice_after=0.0, every=0.5, poll=0.05, say=say)
        assert got == ["free", "stuck"]  # the free result was read without waiting for the stuck one
        assert said and f"held by pid {child.pid} on " in said[0] and "stopped" in said[0]
    finally:
        os.kill(child.pid, signal.SIGCONT)
        child.kill()
        child.wait()


# ------------------------------------------------------------------ 3. prune beside a live run
def test_prune_keeps_the_locks_live_runs_hold(isolated_cache, tmp_path):
    root = Path(os.environ["SPRINGBLOCK_CACHE"])
    held_path = root / ".locks" / "mlp" / ("a" * 32 + ".lock")
    free_path = root / ".locks" / "mlp" / ("b" * 32 + ".lock")
    cache.Store("mlp").lock("b" * 32).acquire().release()  # a lock file nobody holds
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, str(held_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        out = inventory.prune()
        assert out["held"] == [held_path] and out["locks"] == [free_path]
        assert held_path.exists() and not free_path.exists()
    finally:
        child.kill()
        child.wait()


def test_prune_removes_ended_local_job_folders_and_leaves_slurm_and_live_ones(isolated_cache):
    root = Path(os.environ["SPRINGBLOCK_CACHE"])
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    folders = {"ended": root / "submitit" / str(ended.pid), "live": root / "submitit" / str(os.getpid()),
               "slurm": root / "submitit" / "999999"}
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / f"{folder.name}_0_submitted.pkl").write_bytes(b"x" * 1000)  # the pickled data copy
    (folders["slurm"] / "999999_submission.sh").write_text("#!/bin/bash\n")
    assert inventory.prune(dry_run=True)["jobs"] == [folders["ended"]] and folders["ended"].exists()
    assert inventory.prune()["jobs"] == [folders["ended"]]
    assert not folders["ended"].exists() and folders["live"].exists() and folders["slurm"].exists()


# ------------------------------------------------------------------ 11. what an executor run reports
class _OtherWriter:
    """An executor whose jobs find every result already stored by another writer (here: stored by
    a run in this process while the 'jobs' ran), so they train nothing themselves."""

    def compute(self, exp, configs, *, data, device, dtype, root, progress, label):
        results.run(exp, configs, data=data, device=device, dtype=dtype, root=root, progress=False, label=label)
        return "other-writer", 0


def test_an_executor_run_counts_only_the_results_its_jobs_trained(isolated_cache, small):
    mlp.train(faultjob.CONFIGS[:2], small, progress=False, executor=_OtherWriter())
    log = results.run_log()
    assert [e["computed"] for e in log] == [2] and log[0]["executor"] is None  # the other writer's line only


# ------------------------------------------------------------------ 6. clear errors, exit code 2
@pytest.mark.parametrize("content", [b"", b"not an archive", "gzip-of-text", "truncated"])
def test_an_archive_that_is_not_one_gets_one_line_and_exit_2(one_result, tmp_path, capsys, content):
    bad = tmp_path / "bad.tar.gz"
    if content == "gzip-of-text":
        import gzip

        bad.write_bytes(gzip.compress(b"hello, this is text"))
    elif content == "truncated":
        good = tmp_path / "good.tar.gz"
        inventory.export(good)
        bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    else:
        bad.write_bytes(content)
    assert cli.main(["cache", "import", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "Traceback" not in err[0]


def test_a_damaged_shipped_data_file_is_named(tmp_path, monkeypatch):
    shipped = data.asset_path("mnist")
    broken = tmp_path / "mnist-paper-split.npz"
    broken.write_bytes(shipped.read_bytes()[:100_000])
    monkeypatch.setattr(data, "asset_path", lambda name: broken)
    with pytest.raises(ValueError, match="mnist-paper-split.npz: the shipped mnist split is damaged"):
        data._read_shipped("mnist")


def test_a_run_too_large_for_any_machine_is_refused_before_any_work(isolated_cache):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"asks for 120,000,000 networks \(4 cells × 30000000 seeds\)"):
        experiments.compute("fig1_noise", results.RunContext(scale="quick"), seeds=30_000_000)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("run", ["fig1 panel", "metric comparison"])
def test_an_empty_training_set_is_named_as_such_not_as_a_bad_batch_size(isolated_cache, small, run):
    import dataclasses

    from springblock.experiments import architectures, fig1

    empty = dataclasses.replace(small, x_train=small.x_train[:0], y_train=small.y_train[:0])
    call = {"fig1 panel": lambda: fig1.run_panel("noise", alphas=[0.0], values=[0.0], seeds=1, epochs=1, data=empty),
            "metric comparison": lambda: architectures.metric_comparison(alphas=[0.0], dropouts=[0.0], seeds=1,
                                                                          epochs=1, data=empty)}[run]
    with pytest.raises(ValueError, match=r"data.x_train must have shape \(N, d\) with N >= 1; got \(0, "):
        call()


# ------------------------------------------------------------------ 7. cache verify's sample
def test_cache_verify_samples_at_random_prints_its_seed_and_refuses_empty_samples(one_result, capsys):
    assert cli.main(["cache", "verify", "--sample", "1"]) == 0
    out = capsys.readouterr().out
    seed = int(out.split("sample seed ")[1].split()[0])
    assert f"(replay: --seed {seed})" in out
    assert cli.main(["cache", "verify", "--sample", "1", "--seed", str(seed)]) == 0
    assert f"sample seed {seed}" in capsys.readouterr().out
    assert cli.main(["cache", "verify", "--all"]) == 0
    assert "recomputing every current result" in capsys.readouterr().out
    assert cli.main(["cache", "verify", "--sample", "100"]) == 0  # more than the cache holds: says so
    assert "holds only 1 current result(s): all of them are checked" in capsys.readouterr().out
    for bad in ("0", "-1"):
        with pytest.raises(SystemExit) as stop:
            cli.main(["cache", "verify", "--sample", bad])
        assert stop.value.code == 2
        assert "--sample: must be >= 1" in capsys.readouterr().err
    # different seeds draw different orders (the old code always drew the same five)
    cands = list(range(50))
    assert any(inventory.random.Random(s).sample(cands, 5) != inventory.random.Random(0).sample(cands, 5)
               for s in range(1, 4))


# ------------------------------------------------------------------ 10. silent or wrong answers
@pytest.mark.parametrize("argv, says", [
    (["cache", "--cache-dir", "", "ls"], "--cache-dir: must name a folder"),
    (["cache", "--cache-dir", "/etc/passwd", "ls"], "/etc/passwd is not a folder"),
    (["cache", "--cache-dir", "/no/such/cache", "prune"], "/no/such/cache does not exist"),
    (["plot", "fig1", "--out", "/tmp"], "--out /tmp is a folder"),
    (["run", "fig1", "--scale", "quick", "--jobs", "3"], "--jobs applies only to submitit jobs"),
    (["run", "fig1", "--scale", "quick", "--executor", "local", "--mem-gb", "-1"], "--mem-gb must be >= 1"),
    (["run", "fig1", "--scale", "quick", "--executor", "local", "--partition", "gpu"], "--partition names a SLURM"),
    (["run", "fig1", "--scale", "quick", "--seed", str(2**70)], "seed must be an integer in [0, 4294967295]"),
    (["run", "fig4", "--scale", "quick", "--panel", "noise"], "--panel chooses Fig. 1 panels"),
    # found by scripts/probe_bad_inputs.py
    (["shipped", "--cache-dir", "/no/such/cache", "status"], "/no/such/cache does not exist"),
    (["shipped", "--cache-dir", "/etc/passwd", "status"], "/etc/passwd is not a folder"),
    (["shipped", "--cache-dir", "/tmp", "verify"], "--cache-dir: shipped verify recomputes"),
    (["book", "--scale", "quick", "--out", ""], "--out: must name a folder"),
    (["cache", "import", ""], "the archive to import must be a file name"),
    (["plot", "fig1", "--out", "/etc/passwd/x.png"], "--out: /etc/passwd is a file, not a folder"),
    (["plot", "fig1", "--out", "x.png", "--cache-dir", "/no/such/cache"], "/no/such/cache does not exist"),
])
def test_options_that_would_do_nothing_or_the_wrong_thing_are_refused_by_name(isolated_cache, capsys, argv, says):
    try:
        rc = cli.main(argv)
    except SystemExit as stop:  # argparse's own refusals
        rc = stop.code
    assert rc == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def test_a_lock_says_who_holds_it_and_forgets_it_on_release(isolated_cache):
    lock = cache.Store("mlp").lock("c" * 32)
    lock.acquire()
    try:
        note = lock.holder()
        assert f"pid {os.getpid()} on " in note and "since" in note
    finally:
        lock.release()
    assert not lock.holder_path.exists()
    assert lock.holder() == "an unknown process"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache.wait_for({}, lambda item: None)  # nothing to wait for: returns at once, says nothing


# ------------------------------------------------------------------ 11. leftovers
def test_export_is_all_or_nothing(one_result, tmp_path, monkeypatch):
    out = tmp_path / "results.tar.gz"
    out.write_bytes(b"an older archive")

    def full_disk(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tarfile.TarFile, "add", full_disk)
    with pytest.raises(cache.CacheError, match=str(out)):
        inventory.export(out)
    assert out.read_bytes() == b"an older archive"  # neither truncated nor replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "results.tar.gz"]  # no temporary left


@pytest.mark.parametrize("field, value, says", [
    ("executor", "local", "RunContext.executor must be None"),
    ("cached_only", "no", "RunContext.cached_only must be True or False"),
    ("progress", "no", "RunContext.progress must be True or False"),
    ("root", "", "RunContext.root must be a folder"),
    ("device", "tpu", "RunContext.device must be one of"),
    ("seed", -1, "RunContext.seed must be"),
])
def test_a_run_context_is_refused_by_field_before_any_experiment_runs(field, value, says):
    with pytest.raises(ValueError, match=says):
        results.RunContext(scale="quick", **{field: value})
