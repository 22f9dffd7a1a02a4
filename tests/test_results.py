"""springblock.results: the one key function, code fingerprints, the orchestrator, the run log."""
import dataclasses
import time

import numpy as np
import pytest

from springblock import cache, results
from springblock.experiments import chain_grids, mlp
from springblock.train import TrainConfig

CFG = TrainConfig(alpha=0.2, batch_size=320, epochs=2, seed=1)


def _key(cfg=CFG, data=None, **kw):
    return results.keys_for(mlp.EXPERIMENT, [{"network": cfg.asdict(), "record_every": None, "kinds": ["trace"]}],
                            data=data, **kw)[0]


# ------------------------------------------------------------------ keys
def test_key_covers_config_data_code_versions_dtype_device(small):
    k, record = _key(data=small)
    assert record["experiment"] == "mlp" and record["config"]["network"]["alpha"] == 0.2
    assert record["data"] == __import__("springblock.data", fromlist=["x"]).content_hash(small)
    assert {"torch", "numpy", "torch-ops"} <= set(record["versions"])
    assert "+" not in record["versions"]["torch"]  # the release: a CPU and a CUDA build of one torch share keys
    assert record["dtype"] == "float32" and record["device"] == "cpu"
    assert "springblock.models" in record["modules"] and "springblock.separation" in record["modules"]
    assert not any(m.startswith("springblock.plotting") for m in record["modules"])
    assert not set(record["modules"]) & results.PLUMBING
    variants = [_key(dataclasses.replace(CFG, lr=2e-3), data=small)[0], _key(data=small, dtype="float64")[0],
                _key(data=dataclasses.replace(small, y_train=small.y_train.flip(0)))[0]]
    assert len({k, *variants}) == 4
    assert _key(data=small)[0] == k  # stable


def test_cuda_keys_need_no_cuda(small):
    k_cpu, k_cuda = _key(data=small)[0], _key(data=small, device="cuda:0")[0]
    assert k_cpu != k_cuda and _key(data=small, device="cuda")[0] == k_cuda


def test_an_engine_change_recomputes_and_a_plotting_change_does_not(small, monkeypatch):
    base = _key(data=small)[0]
    real = results._module_digest

    def edited(module):
        def digest(name):
            d, ours, libs = real(name)
            return (d[::-1] if name == module else d), ours, libs
        return digest

    monkeypatch.setattr(results, "_module_digest", edited("springblock.models"))
    assert _key(data=small)[0] != base
    monkeypatch.setattr(results, "_module_digest", edited("springblock.plotting.grids"))
    assert _key(data=small)[0] == base


def test_fingerprints_ignore_docstrings_and_comments_only():
    import ast

    a = "def f(x):\n    'doc'\n    return x + 1  # comment\n"
    b = "def f(x):\n    '''another doc'''\n\n    return x + 1\n"
    c = "def f(x):\n    return x + 2\n"
    dump = lambda s: ast.dump(results._strip_docstrings(ast.parse(s)))  # noqa: E731
    assert dump(a) == dump(b) != dump(c)


def test_torch_free_experiments_do_not_key_on_torch():
    k, record = results.keys_for(chain_grids.EXPERIMENT, [{"simulate": {"steps": 1}, "keep": ["load"]}])[0]
    assert "torch" not in record["versions"] and record["device"] is None and record["dtype"] is None
    assert set(record["modules"]) == {"springblock.chain", "springblock.theory", "springblock.validate",
                                      "springblock.experiments.chain_grids"}


# ------------------------------------------------------------------ the orchestrator
def _counting(exp):
    calls = []

    def compute(configs, ctx, emit):
        calls.append(len(configs))
        for j, c in enumerate(configs):
            emit(j, {"value": np.array(c["x"] * 2.0)})

    return results.Experiment(exp, ("springblock.validate",), compute, torch=False), calls


def test_run_computes_only_what_is_missing_and_logs_real_wall_time(isolated_cache):
    exp, calls = _counting("toy_missing")
    out = results.run(exp, [{"x": 1}, {"x": 2}], progress=False, label="toy")
    assert [float(o["value"]) for o in out] == [2.0, 4.0] and out.computed == 2 and calls == [2]
    again = results.run(exp, [{"x": 2}, {"x": 3}, {"x": 1}], progress=False, label="toy")
    assert [float(o["value"]) for o in again] == [4.0, 6.0, 2.0] and again.computed == 1 and calls == [2, 1]
    log = results.run_log()
    assert [e["computed"] for e in log] == [2, 1] and all(e["wall_s"] >= 0 and e["label"] == "toy" for e in log)
    with pytest.raises(results.MissingResults, match="1 of 2 results are not in the cache"):
        results.run(exp, [{"x": 1}, {"x": 9}], progress=False, cached_only=True)
    assert calls == [2, 1]


def test_an_interrupted_run_logs_the_time_spent_on_what_it_stored(isolated_cache):
    def compute(configs, ctx, emit):
        emit(0, {"value": np.array(1.0)})
        emit(1, {"value": np.array(2.0)})
        raise KeyboardInterrupt  # Ctrl-C during the third

    exp = results.Experiment("toy_interrupted", ("springblock.validate",), compute, torch=False)
    with pytest.raises(KeyboardInterrupt):
        results.run(exp, [{"x": 1}, {"x": 2}, {"x": 3}], progress=False, label="toy")
    (entry,) = results.run_log()
    assert entry["computed"] == 2 and entry["total"] == 3 and entry["interrupted"] is True and entry["wall_s"] >= 0
    exp_nothing = results.Experiment("toy_nothing", ("springblock.validate",),
                                     lambda configs, ctx, emit: (_ for _ in ()).throw(KeyboardInterrupt), torch=False)
    with pytest.raises(KeyboardInterrupt):
        results.run(exp_nothing, [{"x": 1}], progress=False)
    assert len(results.run_log()) == 1  # nothing stored, nothing logged


def test_every_result_carries_its_provenance(isolated_cache, small):
    mlp.train([CFG], small, progress=False, label="provenance test")
    (rec,) = cache.provenance()
    assert rec["experiment"] == "mlp" and rec["label"] == "provenance test" and rec["device"] == "cpu"
    assert rec["key"] and rec["code"] and rec["versions"]["torch"] and rec["finished"] and "wall_s_since_batch_start" in rec
    assert rec["blas_strict"] in (True, None)


def test_scale_tag_reaches_the_run_log(isolated_cache):
    from springblock import scales

    scales.check("cpu", "quick", 0)
    exp, _ = _counting("toy_tag")
    results.run(exp, [{"x": 5}], progress=False)
    assert results.run_log()[-1]["scale"] == "quick"


def test_an_experiment_that_loses_a_result_is_an_error(isolated_cache):
    exp = results.Experiment("toy_lossy", ("springblock.validate",), lambda configs, ctx, emit: emit(0, {"v": 1}),
                             torch=False)
    with pytest.raises(RuntimeError, match="without results for 1"):
        results.run(exp, [{"x": 1}, {"x": 2}], progress=False)
    assert results.run(exp, [{"x": 1}], progress=False)[0]["v"] == 1  # what was finished is kept


def test_a_key_held_by_another_writer_is_waited_for_not_recomputed(isolated_cache):
    import threading

    exp, calls = _counting("toy_held")
    (k, _), = results.keys_for(exp, [{"x": 7}])
    store = cache.Store(exp.name, isolated_cache)
    held = threading.Event()

    def other_writer():  # holds the key's lock, finishes the result while we wait, then releases
        with cache.Store(exp.name, isolated_cache).lock(k):
            held.set()
            time.sleep(0.5)
            store.save(k, {"value": np.array(14.0)}, {"note": "other"})

    t = threading.Thread(target=other_writer)
    t.start()
    held.wait(5)
    out = results.run(exp, [{"x": 7}], progress=False)
    t.join()
    assert float(out[0]["value"]) == 14.0 and calls == [] and out.computed == 0
