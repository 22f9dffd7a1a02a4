import json
import os

import numpy as np
import pytest
import torch

from springblock import cache


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(tmp_path))
    return cache.ResultCache("unit")


def test_key_is_order_independent_and_config_sensitive():
    a = cache.config_key({"x": 1, "y": [1, 2], "z": {"b": 1.5, "a": "s"}})
    b = cache.config_key({"z": {"a": "s", "b": 1.5}, "y": (1, 2), "x": 1})
    assert a == b
    assert a != cache.config_key({"x": 2, "y": [1, 2], "z": {"b": 1.5, "a": "s"}})
    assert cache.config_key({"v": np.float64(0.5)}) == cache.config_key({"v": 0.5})
    with pytest.raises(TypeError, match="JSON"):
        cache.config_key({"v": object()})


def test_roundtrip_with_provenance(store, tmp_path):
    cfg = {"panel": "noise", "alpha": 0.2}
    assert store.load(cfg) is None
    store.save(cfg, {"acc": 91.5, "load": torch.arange(8.0)}, wall_time=1.25, device="cpu")
    got = store.load(cfg)
    assert float(got["acc"]) == 91.5 and np.allclose(got["load"], np.arange(8.0))
    (rec,) = cache.provenance()
    assert rec["config"] == cfg and rec["wall_time_s"] == 1.25 and rec["namespace"] == "unit"
    assert store.path(cfg).parent == tmp_path / "unit"


def test_get_or_compute_runs_once(store):
    calls = []

    def compute():
        calls.append(1)
        return {"v": np.ones(3)}

    for _ in range(3):
        out = store.get_or_compute({"a": 1}, compute)
    assert len(calls) == 1 and np.allclose(out["v"], 1)


def test_interrupted_write_leaves_no_result(store, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(KeyboardInterrupt):
        store.save({"a": 2}, {"v": np.ones(3)})
    assert store.load({"a": 2}) is None
    assert not list(store.folder.glob("*"))  # no temporary file left behind either


def test_default_root_is_user_cache(monkeypatch):
    monkeypatch.delenv("SPRINGBLOCK_CACHE", raising=False)
    assert cache.cache_dir() == cache.Path.home() / ".cache" / "springblock"
