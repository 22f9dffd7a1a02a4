"""Fault injection: kills, damaged files, unusable folders, concurrent writers and bad data.

Each test asserts that nothing finished is lost, that nothing bad is served, and that a resumed run
gives bitwise the numbers of an uninterrupted one.
"""
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from springblock import cache, results
from springblock.experiments import mlp

sys.path.insert(0, str(Path(__file__).parent))
import faultjob

JOB = Path(__file__).with_name("faultjob.py")


def _child(mode, root, **popen):
    env = {**os.environ, "SPRINGBLOCK_CACHE": str(root), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, str(JOB), mode], env=env, stdout=subprocess.PIPE, text=True, **popen)


def _wait_for(proc, word, n=1, timeout=120):
    seen, start = 0, time.time()
    while seen < n:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"child ended before printing {word!r} {n} times")
        seen += line.strip() == word
        assert time.time() - start < timeout, f"timed out waiting for {word!r}"


def _stored(root):
    folder = Path(root) / "mlp"
    return sorted(folder.glob("*.npz")) if folder.is_dir() else []


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The sweep, uninterrupted, in a cache of its own."""
    root = tmp_path_factory.mktemp("reference")
    return mlp.train(faultjob.CONFIGS, faultjob.small_data(), progress=False, root=root)


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=True), k


def test_sigkill_between_saves_loses_nothing_and_resumes_exactly(isolated_cache, reference):
    proc = _child("slow-saves", isolated_cache)
    _wait_for(proc, "saved", 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = _stored(isolated_cache)
    assert len(kept) == 2  # both finished results survived the kill, whole
    assert not list((isolated_cache / "mlp").glob(".*.tmp"))
    for p in kept:  # each with its provenance inside
        assert cache.Store("mlp", isolated_cache).read(p)[1]["key"] == p.stem
    resumed = mlp.train(faultjob.CONFIGS, faultjob.small_data(), progress=False)
    assert resumed.computed == 2
    for a, b in zip(resumed, reference):
        _same(a, b)


def test_sigterm_stops_like_ctrl_c_and_the_run_log_keeps_the_time_spent(isolated_cache):
    proc = _child("terminable", isolated_cache)
    _wait_for(proc, "saved", 2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert len(_stored(isolated_cache)) == 2
    (entry,) = results.run_log(isolated_cache)
    assert entry["interrupted"] is True and entry["computed"] == 2 and entry["total"] == 4 and entry["wall_s"] > 0


def test_sigkill_mid_write_leaves_an_orphan_that_is_cleaned_up(isolated_cache, reference):
    proc = _child("stuck-write", isolated_cache)
    _wait_for(proc, "writing")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    orphans = list((isolated_cache / "mlp").glob(".*.tmp"))
    assert len(orphans) == 1 and not _stored(isolated_cache)
    resumed = mlp.train(faultjob.CONFIGS, faultjob.small_data(), progress=False)
    assert not orphans[0].exists() and len(_stored(isolated_cache)) == 4
    for a, b in zip(resumed, reference):
        _same(a, b)


@pytest.mark.parametrize("damage", ["truncate", "bitflip", "no-provenance", "foreign", "empty"])
def test_a_damaged_result_is_reported_moved_aside_and_recomputed(isolated_cache, reference, damage):
    mlp.train(faultjob.CONFIGS[:1], faultjob.small_data(), progress=False)
    (path,) = _stored(isolated_cache)
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "bitflip":  # one bit inside the compressed data of a stored array
        import zipfile

        with zipfile.ZipFile(path) as zf:
            info = max(zf.infolist(), key=lambda i: i.compress_size)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        i = start + info.compress_size // 2
        path.write_bytes(blob[:i] + bytes([blob[i] ^ 0x10]) + blob[i + 1:])
    elif damage == "no-provenance":
        np.savez_compressed(path, test_acc=np.array(99.0))
    elif damage == "foreign":  # a valid result of another key, copied under this name
        other = mlp.train(faultjob.CONFIGS[2:3], faultjob.small_data(), progress=False)
        assert other
        donor = next(p for p in _stored(isolated_cache) if p != path)
        shutil.copyfile(donor, path)
    else:
        path.write_bytes(b"")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = mlp.train(faultjob.CONFIGS[:1], faultjob.small_data(), progress=False)
    assert again.computed == 1
    _same(again[0], reference[0])
    messages = [str(w.message) for w in caught]
    assert any(str(path) in m and "recomputing" in m for m in messages), messages
    assert list((isolated_cache / "corrupt" / "mlp").glob(f"{path.name}.*"))  # kept for inspection


def test_an_unusable_cache_folder_is_named_before_any_training(tmp_path, monkeypatch, small):
    calls = []
    monkeypatch.setattr(mlp, "train_networks", lambda *a, **k: calls.append(1))
    file_typed = tmp_path / "a-file"
    file_typed.write_text("not a folder")
    with pytest.raises(cache.CacheError, match=str(file_typed)):
        mlp.train(faultjob.CONFIGS[:1], small, progress=False, root=file_typed)
    full = tmp_path / "full"
    full.mkdir()

    def no_space(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.tempfile, "mkstemp", no_space)
    with pytest.raises(cache.CacheError, match="No space left on device"):
        mlp.train(faultjob.CONFIGS[:1], small, progress=False, root=full)
    assert calls == []


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr (read-only even for root)")
def test_a_read_only_cache_folder_is_named_before_any_training(tmp_path, monkeypatch, small):
    calls = []
    monkeypatch.setattr(mlp, "train_networks", lambda *a, **k: calls.append(1))
    ro = tmp_path / "read-only"
    ro.mkdir()
    if subprocess.run(["chattr", "+i", str(ro)], capture_output=True).returncode != 0:
        pytest.skip("the filesystem does not support chattr +i")
    try:
        with pytest.raises(cache.CacheError, match=f"{ro}.*not usable"):
            mlp.train(faultjob.CONFIGS[:1], small, progress=False, root=ro)
    finally:
        subprocess.run(["chattr", "-i", str(ro)])
    assert calls == []


def test_two_writers_on_one_cache_never_train_the_same_network_twice(isolated_cache, reference):
    a, b = _child("sweep", isolated_cache), _child("sweep", isolated_cache)
    for proc in (a, b):
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "done" in out
    log = results.run_log(isolated_cache)
    assert sum(e["computed"] for e in log) == len(faultjob.CONFIGS)  # each network trained once, in all
    final = mlp.train(faultjob.CONFIGS, faultjob.small_data(), progress=False)
    assert final.computed == 0
    for x, y in zip(final, reference):
        _same(x, y)


@pytest.mark.parametrize("change,msg", [("nan", "x_train contains NaN"), ("inf", "x_test contains NaN or inf"),
                                        ("labels", "y_train must lie in 0..9"), ("width", "x_test has 99 features"),
                                        ("dtype", "x_test must be a floating-point")])
def test_bad_data_is_refused_before_any_work(isolated_cache, small, monkeypatch, change, msg):
    import dataclasses

    import torch

    calls = []
    monkeypatch.setattr(mlp, "train_networks", lambda *a, **k: calls.append(1))
    bad = {"nan": dict(x_train=small.x_train.clone().fill_(float("nan"))),
           "inf": dict(x_test=small.x_test.clone().fill_(float("inf"))),
           "labels": dict(y_train=torch.full_like(small.y_train, 12)),
           "width": dict(x_test=small.x_test[:, :99]),
           "dtype": dict(x_test=(small.x_test * 255).to(torch.uint8))}[change]
    with pytest.raises(ValueError, match=msg):
        mlp.train(faultjob.CONFIGS[:1], dataclasses.replace(small, **bad), progress=False)
    assert calls == [] and not isolated_cache.exists() or not _stored(isolated_cache)
