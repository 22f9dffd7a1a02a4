"""springblock.inventory on a small real cache: cached spring-chain simulations (the registered,
torch-free "chain" experiment at a few dozen steps) listed, verified, pruned, exported, imported."""
import io
import json
import os
import subprocess
import sys
import tarfile
import time

import numpy as np
import pytest

from springblock import cache, fingerprint, inventory, results
from springblock.cache import Store
from springblock.experiments import chain_grids

SEEDS = (1, 2, 3)


def _simulate(seed):
    return chain_grids.simulate(("load",), label=f"inventory test {seed}", L=3, sigma=0.1, mu_r=0.01, steps=40,
                                realisations=2, seed=seed)


@pytest.fixture
def filled(isolated_cache):
    """Three current chain results in the test's cache; returns their keys."""
    for s in SEEDS:
        _simulate(s)
    keys = sorted(Store("chain", isolated_cache).keys())
    assert len(keys) == len(SEEDS)
    return keys


def _row(rows, name="chain"):
    (row,) = [r for r in rows if r["experiment"] == name]
    return row


def _stale(monkeypatch, seed=9):
    """A result stored by other code: computed while the code fingerprint reads differently."""
    real, before = fingerprint.code_fingerprint, set(Store("chain").keys())
    with monkeypatch.context() as m:
        m.setattr(fingerprint, "code_fingerprint", lambda mods: ("0" * 24, *real(mods)[1:]))
        _simulate(seed)
    (key,) = set(Store("chain").keys()) - before
    assert key not in _current_keys()
    return key


def _current_keys():
    return [p.stem for _, p, rec in inventory.entries() if rec is not None and inventory.expected_key(rec) == p.stem]


# ------------------------------------------------------------------ listing
def test_listing_of_an_empty_or_missing_cache(isolated_cache, tmp_path):
    assert inventory.listing() == []
    assert inventory.listing(tmp_path / "nowhere") == []


def test_listing_counts_results_and_current_ones(filled, isolated_cache, monkeypatch):
    row = _row(inventory.listing())
    assert row["results"] == 3 and row["current"] == 3
    assert row["devices"] == "cpu" and row["bytes"] > 0
    assert all(f"inventory test {s}" in row["labels"] for s in SEEDS)
    assert row["newest"] == max(r["finished"] for r in cache.provenance(isolated_cache))
    _stale(monkeypatch)
    row = _row(inventory.listing(isolated_cache))
    assert row["results"] == 4 and row["current"] == 3


# ------------------------------------------------------------------ verify
def test_verify_recomputes_and_compares(filled, isolated_cache):
    store = Store("chain")
    arrays, record = store.read(store.path(filled[0]))
    arrays["load"] = arrays["load"] + 1e-3  # a wrong number under valid provenance
    store.save(filled[0], arrays, record)
    assert inventory.expected_key(store.read(store.path(filled[0]))[1]) == filled[0]  # still "current"

    rows = inventory.verify(sample=10)
    assert sorted(r["key"] for r in rows) == filled
    status = {r["key"]: r["status"] for r in rows}
    assert status[filled[0]].startswith("DIFFERENT: load (by ")
    assert all(status[k] == "equal" for k in filled[1:])
    assert {r["experiment"] for r in rows} == {"chain"}


def test_verify_samples_reproducibly(filled):
    one = inventory.verify(sample=1, seed=4)
    assert len(one) == 1 and one[0]["status"] == "equal"
    assert inventory.verify(sample=1, seed=4)[0]["key"] == one[0]["key"]
    assert inventory.verify(sample=5, experiment="mlp") == []


def test_verify_leaves_stale_results_alone(filled, monkeypatch):
    stale = _stale(monkeypatch)
    assert stale not in {r["key"] for r in inventory.verify(sample=10)}


# ------------------------------------------------------------------ prune
def _orphans(folder):
    """A temporary file of a dead writer on this host and one of another host, two days old."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = folder / f".{'a' * 32}.npz.{cache._HOST}.{proc.pid}.x1.tmp"
    old = folder / f".{'b' * 32}.npz.elsewhere.12345.x2.tmp"
    for p in (dead, old):
        p.write_bytes(b"partial")
    two_days = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days, two_days))
    return {dead, old}


def test_prune_removes_stale_unreadable_and_orphans_and_dry_run_removes_nothing(filled, isolated_cache, monkeypatch):
    stale = _stale(monkeypatch)
    folder = isolated_cache / "chain"
    broken = folder / f"{'c' * 32}.npz"
    broken.write_bytes(b"not a zip file")
    orphans = _orphans(folder)
    live = folder / f".{'d' * 32}.npz.{cache._HOST}.{os.getpid()}.x3.tmp"  # a writer still at work
    live.write_bytes(b"partial")
    before = sorted(p for p in isolated_cache.rglob("*") if p.is_file())

    dry = inventory.prune(dry_run=True)
    assert [p.stem for p in dry["stale"]] == [stale]
    assert dry["unreadable"] == [broken]
    assert set(dry["orphans"]) == orphans
    assert dry["locks"]  # one lock file per computed key
    assert sorted(p for p in isolated_cache.rglob("*") if p.is_file()) == before  # nothing removed

    done = inventory.prune()
    assert [p.stem for p in done["stale"]] == [stale] and set(done["orphans"]) == orphans
    assert sorted(Store("chain").keys()) == filled
    assert not broken.exists() and not any(p.exists() for p in orphans) and live.exists()
    assert not list((isolated_cache / ".locks").rglob("*.lock"))
    assert _row(inventory.listing())["current"] == 3
    assert inventory.prune() == {"stale": [], "unreadable": [], "orphans": [], "locks": [], "held": [], "jobs": []}
    for k in filled:  # the current results were kept and are still read, not recomputed
        assert Store("chain").load(k) is not None


def test_why_stale_names_the_code(filled, monkeypatch, isolated_cache):
    stale = _stale(monkeypatch)
    rec = Store("chain").read(Store("chain").path(stale))[1]
    why = inventory.why_stale(rec)
    assert why.startswith("code 000000") and "current" in why
    assert "unknown experiment" in inventory.why_stale({**rec, "experiment": "nope"})
    assert inventory.expected_key({**rec, "experiment": "nope"}) is None


# ------------------------------------------------------------------ export / import
def _member(tar, name, blob):
    info = tarfile.TarInfo(name)
    info.size = len(blob)
    tar.addfile(info, io.BytesIO(blob))


def _npz_bytes(arrays, record):
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays, __provenance__=np.array(json.dumps(record, sort_keys=True)))
    return buf.getvalue()


def test_export_then_import_into_an_empty_cache(filled, isolated_cache, tmp_path, monkeypatch):
    stale = _stale(monkeypatch)
    archive = tmp_path / "results.tar.gz"
    assert inventory.export(archive) == 4  # every readable result
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {f"chain/{k}.npz" for k in filled} | {f"chain/{stale}.npz", "runs.jsonl"} == names

    other = tmp_path / "other-cache"
    out = inventory.import_(archive, other)
    assert sorted(out["accepted"]) == sorted(f"chain/{k}.npz" for k in filled)
    assert out["present"] == []
    assert [n for n, _ in out["refused"]] == [f"chain/{stale}.npz"]  # the current code would never look it up
    assert out["refused"][0][1].startswith("code 000000")
    for k in filled:
        a, rec = Store("chain", other).read(Store("chain", other).path(k))
        b, rec0 = Store("chain").read(Store("chain").path(k))
        assert a.keys() == b.keys() and all(np.array_equal(a[n], b[n]) for n in a)
        assert rec["finished"] == rec0["finished"]  # provenance travels with the result
    assert len(results.run_log(other)) == len(results.run_log(isolated_cache))

    again = inventory.import_(archive, other)
    assert again["accepted"] == [] and sorted(again["present"]) == sorted(f"chain/{k}.npz" for k in filled)
    assert len(results.run_log(other)) == len(results.run_log(isolated_cache))  # the run log is not doubled

    # imported results are what the experiment reads there: nothing is recomputed
    res = results.run(chain_grids.EXPERIMENT, [{"simulate": dict(L=3, sigma=0.1, mu_r=0.01, steps=40, realisations=2,
                                                                 seed=s), "keep": ["load"]} for s in SEEDS],
                      root=other, progress=False)
    assert res.computed == 0


def test_export_of_one_experiment(filled, tmp_path):
    assert inventory.export(tmp_path / "a.tar.gz", experiment="chain") == 3
    assert inventory.export(tmp_path / "b.tar.gz", experiment="mlp") == 0


def test_import_refuses_tampered_and_misnamed_members(filled, isolated_cache, tmp_path):
    store = Store("chain")
    arrays, record = store.read(store.path(filled[0]))
    good = store.path(filled[0]).read_bytes()
    tampered = _npz_bytes(arrays, {**record, "key": filled[1], "config": {**record["config"], "keep": ["x"]}})
    archive = tmp_path / "evil.tar.gz"
    outside = tmp_path / f"{filled[0]}.npz"
    with tarfile.open(archive, "w:gz") as tar:
        _member(tar, f"chain/{filled[1]}.npz", tampered)
        _member(tar, f"../{filled[0]}.npz", good)  # a valid result under a path-traversal name
        _member(tar, f"../chain/{filled[0]}.npz", good)
        _member(tar, f"chain/../../{filled[0]}.npz", good)
        _member(tar, f"/tmp/{filled[0]}.npz", good)
        _member(tar, f"mlp/{filled[0]}.npz", good)  # another experiment's folder
        _member(tar, f"chain/{'e' * 32}.npz", good)  # a name that is not its key
        _member(tar, "chain/garbage.npz", b"not a zip")

    other = tmp_path / "other-cache"
    out = inventory.import_(archive, other)
    assert out["accepted"] == [] and out["present"] == []
    refused = dict(out["refused"])
    assert len(refused) == 8 and all(refused.values())
    assert refused[f"chain/{filled[1]}.npz"] == "key mismatch"  # same code, but not this record's key
    assert refused[f"chain/{'e' * 32}.npz"] == "file name is not its key"
    assert "mlp" in refused[f"mlp/{filled[0]}.npz"]
    assert "name" in refused[f"../{filled[0]}.npz"] and "name" in refused[f"/tmp/{filled[0]}.npz"]
    assert refused["chain/garbage.npz"]
    assert not outside.exists() and not (tmp_path / "chain").exists() and not list(tmp_path.glob("*.npz"))
    assert not list(other.rglob("*.npz"))


def test_import_of_a_missing_archive_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.tar.gz"):
        inventory.import_(tmp_path / "missing.tar.gz", tmp_path / "c")


@pytest.mark.parametrize("value, words", [("", "is set but empty"), ("   ", "is set but empty"),
                                          ("~nosuchuser_springblock/x", "SPRINGBLOCK_CACHE='~nosuchuser_springblock/x'")])
def test_a_cache_folder_from_the_environment_is_checked_like_cache_dir(monkeypatch, value, words):
    from springblock import paths

    monkeypatch.setenv("SPRINGBLOCK_CACHE", value)
    with pytest.raises(ValueError, match=words):
        paths.cache_dir()


def test_a_file_is_neither_a_cache_nor_a_shipped_folder(monkeypatch, tmp_path):
    from springblock import paths, shipped

    f = tmp_path / "a-file"
    f.write_text("x")
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(f))
    with pytest.raises(ValueError, match="SPRINGBLOCK_CACHE=.* is a file, not a folder"):
        paths.cache_dir()
    monkeypatch.setenv("SPRINGBLOCK_SHIPPED", str(f))
    with pytest.raises(ValueError, match="SPRINGBLOCK_SHIPPED=.* is a file"):
        shipped.folder()
    monkeypatch.setenv("SPRINGBLOCK_SHIPPED", str(tmp_path / "none"))  # a missing folder: shipped results off
    assert shipped.folder() == tmp_path / "none"
