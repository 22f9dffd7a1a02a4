"""springblock.results: the one key function, code fingerprints, the orchestrator, the run log."""
import dataclasses
import time

import numpy as np
import pytest

from springblock import cache, devices, fingerprint, reproduce, results
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
    assert {"torch", "numpy", "torch-ops", "blas"} <= set(record["versions"])
    assert "+" not in record["versions"]["torch"]  # the release: a CPU and a CUDA build of one torch share keys
    assert record["dtype"] == "float32" and record["device"] == "cpu"
    assert "springblock.models" in record["modules"] and "springblock.separation" in record["modules"]
    assert not any(m.startswith("springblock.plotting") for m in record["modules"])
    assert not set(record["modules"]) & fingerprint.NOT_FINGERPRINTED
    variants = [_key(dataclasses.replace(CFG, lr=2e-3), data=small)[0], _key(data=small, dtype="float64")[0],
                _key(data=dataclasses.replace(small, y_train=small.y_train.flip(0)))[0]]
    assert len({k, *variants}) == 4
    assert _key(data=small)[0] == k  # stable


def test_cuda_keys_need_no_cuda(small):
    k_cpu, k_cuda = _key(data=small)[0], _key(data=small, device="cuda:0")[0]
    assert k_cpu != k_cuda and _key(data=small, device="cuda")[0] == k_cuda


def test_an_engine_change_recomputes_and_a_plotting_change_does_not(small, monkeypatch):
    base = _key(data=small)[0]
    real = fingerprint._module_digest

    def edited(module):
        def digest(name):
            d, ours, libs = real(name)
            return (d[::-1] if name == module else d), ours, libs
        return digest

    monkeypatch.setattr(fingerprint, "_module_digest", edited("springblock.models"))
    assert _key(data=small)[0] != base
    monkeypatch.setattr(fingerprint, "_module_digest", edited("springblock.plotting.grids"))
    assert _key(data=small)[0] == base


def test_fingerprints_ignore_what_does_not_compute():
    base = "import math\ndef f(x):\n    'doc'\n    if x < 0:\n        raise ValueError('x must be >= 0')\n    return x + 1  # c\n"
    same = ["from math import pi\nimport os\n\ndef f(x):\n    if x < 0:\n        raise ValueError(f'x must be >= 0, got {x}')\n"
            "    return x + 1\n",  # other imports, docstring, comment, layout, an f-string message
            "def f(x: float) -> float:\n    if x < 0:\n        raise ValueError('x' + ' must be positive')\n    return x + 1\n"]
    other = ["def f(x):\n    if x < 0:\n        raise ValueError('x must be >= 0')\n    return x + 2\n",
             "def f(x):\n    if x <= 0:\n        raise ValueError('x must be >= 0')\n    return x + 1\n",
             "def f(x):\n    if x < 0:\n        raise TypeError('x must be >= 0')\n    return x + 1\n"]
    assert all(fingerprint.source_digest(s) == fingerprint.source_digest(base) for s in same)
    assert len({fingerprint.source_digest(s) for s in [base, *other]}) == 4
    warned = "import warnings\ndef g():\n    warnings.warn('{}'.format(1), stacklevel=2)\n"
    reworded = "import warnings\ndef g():\n    warnings.warn('another text', stacklevel=2)\n"
    assert fingerprint.source_digest(warned) == fingerprint.source_digest(reworded)


def _edit(monkeypatch, module, edit):
    """Pretend ``module``'s source were ``edit(source)`` (its digest is recomputed from that)."""
    real = fingerprint._module_digest

    def digest(name):
        d, ours, libs = real(name)
        if name != module:
            return d, ours, libs
        return fingerprint.source_digest(edit(fingerprint._module_file(name).read_text())), ours, libs

    monkeypatch.setattr(fingerprint, "_module_digest", digest)


@pytest.mark.parametrize("module, edit, retrains", [
    # rewording an error message of the engine, or any edit of the argument checks, retrains nothing
    ("springblock.train", lambda s: s.replace("configs must hold at least one TrainConfig", "no configs"), False),
    ("springblock.validate", lambda s: s + "\ndef extra():\n    return 1\n", False),
    ("springblock.data", lambda s: s + "\nX = 2\n", False),
    # the engine's numerics do
    ("springblock.train", lambda s: s.replace("STOP_LOSS, STOP_DELTA = 1e-4", "STOP_LOSS, STOP_DELTA = 2e-4"), True),
    ("springblock.kernels", lambda s: s.replace("BN_EPS, BN_MOMENTUM = 1e-5", "BN_EPS, BN_MOMENTUM = 1e-6"), True),
])
def test_which_edits_retrain_a_network(small, monkeypatch, module, edit, retrains):
    base = _key(data=small)[0]
    source = fingerprint._module_file(module).read_text()
    assert edit(source) != source, "the edit must apply to today's source"
    _edit(monkeypatch, module, edit)
    assert (_key(data=small)[0] != base) is retrains


def test_fingerprints_follow_contents_not_file_names(tmp_path, monkeypatch):
    body = "import math\ndef f(x):\n    return math.sqrt(x)\n"
    (tmp_path / "sb_old_place.py").write_text(body)
    (tmp_path / "sb_new_place.py").write_text("from math import sqrt\nimport math\n" + body.split("\n", 1)[1])
    (tmp_path / "sb_other.py").write_text(body.replace("sqrt", "log"))
    monkeypatch.syspath_prepend(str(tmp_path))
    fp = lambda m: fingerprint.code_fingerprint((m,))[0]
    assert fp("sb_old_place") == fp("sb_new_place") != fp("sb_other")


def test_an_edited_module_is_rehashed_in_a_running_process(tmp_path, monkeypatch):
    mod = tmp_path / "sb_fp_probe.py"
    mod.write_text("def f():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = fingerprint._module_digest("sb_fp_probe")[0]
    assert fingerprint._module_digest("sb_fp_probe")[0] == first
    mod.write_text("def f():\n    return 2  # edited in place, as a kernel with autoreload sees it\n")
    assert fingerprint._module_digest("sb_fp_probe")[0] != first


def test_the_blas_mode_is_part_of_every_engine_key(small, monkeypatch):
    from springblock import kernels

    base = _key(data=small)[0]
    assert kernels.blas_mode() == "mkl 0x10002"  # the package's strict mode is in force
    monkeypatch.setattr(kernels, "blas_mode", lambda: "mkl 0x3")  # MKL_CBWR=COMPATIBLE
    assert _key(data=small)[0] != base


def test_the_package_fixes_the_blas_mode_whatever_the_environment_says():
    import os
    import subprocess
    import sys

    code = ("import springblock, torch; from springblock import kernels; torch.ones(4, 4) @ torch.ones(4, 4); "
            "print(kernels.blas_mode())")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "MKL_CBWR": "COMPATIBLE"},
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "mkl 0x10002"


def test_torch_free_experiments_do_not_key_on_torch():
    k, record = results.keys_for(chain_grids.EXPERIMENT, [{"simulate": {"steps": 1}, "keep": ["load"]}])[0]
    assert "torch" not in record["versions"] and record["device"] is None and record["dtype"] is None
    assert set(record["modules"]) == {"springblock.chain", "springblock.theory", "springblock.shape",
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
    import torch

    mlp.train([CFG], small, progress=False, label="provenance test")
    (rec,) = cache.provenance()
    assert rec["experiment"] == "mlp" and rec["label"] == "provenance test" and rec["device"] == "cpu"
    assert rec["key"] and rec["code"] and rec["versions"]["torch"] and rec["finished"] and "wall_s_since_batch_start" in rec
    assert rec["blas_strict"] in (True, None)
    assert rec["threads"] == torch.get_num_threads()  # a matrix product's rounding depends on it


def test_a_torch_result_is_recomputed_at_the_thread_count_it_was_made_with(isolated_cache, small, monkeypatch):
    import torch

    seen = []
    results.Experiment("toy_threads", ("springblock.validate",),
                             lambda configs, ctx, emit: [seen.append(torch.get_num_threads()) or emit(j, {"x": np.ones(1)})
                                                         for j, _ in enumerate(configs)])
    before = torch.get_num_threads()
    reproduce.recompute({"experiment": "toy_threads", "config": {"x": 1}, "threads": 1})
    reproduce.recompute({"experiment": "toy_threads", "config": {"x": 1}}, threads=1)
    reproduce.recompute({"experiment": "toy_threads", "config": {"x": 1}})
    assert seen == [1, 1, before] and torch.get_num_threads() == before


def test_an_unrecorded_thread_count_is_tried_at_one_thread(monkeypatch):
    stored = {"x": np.linspace(0, 1, 5, dtype=np.float32)}
    off = {"x": stored["x"] + np.float32(0.01)}
    here = devices.cpu_type()
    asked = []

    def fake(rec, threads=None):
        asked.append(threads)
        return stored if threads == 1 else off

    monkeypatch.setattr(reproduce, "recompute", fake)
    monkeypatch.setattr(reproduce, "torch_threads", lambda: 2)
    rec = {"experiment": "mlp", "device": "cpu", **here}  # made before records named their threads
    row = reproduce.recheck(stored, rec)
    assert row["agrees"] and row["status"].startswith("equal at 1 torch thread") and "at 2: x (by " in row["status"]
    asked.clear()
    row = reproduce.recheck(stored, {**rec, "threads": 2})  # recorded: its own count is the only one tried
    assert row["agrees"] is False and 1 not in asked


def test_tags_reach_the_run_log_lines_written_inside_their_block_only(isolated_cache):
    exp, _ = _counting("toy_tag")
    with results.tagged(scale="quick"), results.tagged(parent="abc"):
        results.run(exp, [{"x": 5}], progress=False)
    results.run(exp, [{"x": 6}], progress=False)
    inside, outside = results.run_log()[-2:]
    assert inside["scale"] == "quick" and inside["parent"] == "abc"
    assert "scale" not in outside and "parent" not in outside


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


# ------------------------------------------------------------------ agreement of a recomputed result
def test_agreement_is_bitwise_or_within_a_few_float32_ulp():
    one = np.float32(1.5)
    def up(k):  # k float32 ulp above 1.5
        return float(one + np.float32(k) * np.spacing(one))

    stored = {"load": np.array([1.5, np.nan]), "epochs": np.array(3), "names": np.array(["fc1", "fc2"])}
    same = {k: v.copy() for k, v in stored.items()}
    assert reproduce.agreement(stored, same) == (True, "equal")
    # float arrays (float64 here) 2 float32 ulp apart agree, 9 do not
    near = {**same, "load": np.array([up(2), np.nan])}
    assert reproduce.agreement(stored, near) == (True, "equal to 2 ulp")
    far = {**same, "load": np.array([up(9), np.nan])}
    ok, status = reproduce.agreement(stored, far)
    assert not ok and status.startswith("DIFFERENT: load (by 9")
    # ulp of the array's largest value: an entry near zero may carry the same absolute error
    crossing = {**same, "load": np.array([1.5, 1e-3])}
    shifted = {**same, "load": np.array([1.5, 1e-3 + 2 * float(np.spacing(one))])}
    assert reproduce.agreement(crossing, shifted) == (True, "equal to 2 ulp")
    # a float16 array counts in its own, coarser, last place
    half = {"x": np.array([1.5], np.float16)}
    assert reproduce.agreement(half, {"x": np.array([1.5 + 2 * float(np.spacing(np.float16(1.5)))], np.float16)})[0]
    # integers, strings, NaN patterns, shapes and the set of arrays must match exactly
    assert not reproduce.agreement(stored, {**same, "epochs": np.array(4)})[0]
    assert reproduce.agreement(stored, {**same, "names": np.array(["fc1", "fc3"])}) == (False, "DIFFERENT: names")
    assert not reproduce.agreement(stored, {**same, "load": np.array([1.5, 1.5])})[0]
    assert not reproduce.agreement(stored, {**same, "load": np.array([1.5])})[0]
    assert reproduce.agreement(stored, {"load": stored["load"], "names": stored["names"]})[1].startswith(
        "DIFFERENT: arrays ['epochs']")


def test_a_cpu_result_from_another_cpu_type_is_not_expected_to_recompute_bitwise():
    here = devices.cpu_type()
    assert reproduce.other_cpu({"device_name": here["device_name"]}) is None
    assert reproduce.other_cpu({**here}) is None
    assert reproduce.other_cpu({}) is None  # nothing recorded: assumed comparable
    why = reproduce.other_cpu({"device_name": "Some Other CPU", "cpu_capability": here["cpu_capability"]})
    assert why.startswith("computed on another CPU type (made on Some Other CPU, this machine is ")
    assert "cpu_capability" not in why and "bitwise recomputation needs the same type" in why
    assert reproduce.other_cpu({"device_name": here["device_name"], "cpu_capability": "SSE2"}) is not None


def test_a_recheck_that_differs_is_recomputed_once_more_before_it_counts(monkeypatch):
    stored = {"x": np.linspace(0, 1, 5, dtype=np.float32)}
    off = {"x": stored["x"] + np.float32(0.01)}
    record = {"experiment": "not-registered", "device": "cpu"}

    def serve(*answers):
        it = iter(answers)
        monkeypatch.setattr(reproduce, "recompute", lambda rec, threads=None: next(it))

    serve(stored)
    assert reproduce.recheck(stored, record) == {"status": "equal", "agrees": True}
    serve(off, stored)  # a transient difference: the second recompute is the stored result
    row = reproduce.recheck(stored, record)
    assert row["agrees"] and row["transient"] and row["status"].startswith("equal on a second recompute (the first")
    serve(off, off)  # the same difference twice: a real one
    row = reproduce.recheck(stored, record)
    assert not row["agrees"] and row["status"].startswith("DIFFERENT") and "each other" not in row["status"]
    serve(off, {"x": stored["x"] - np.float32(0.01)})
    row = reproduce.recheck(stored, record)
    assert not row["agrees"] and row["status"].endswith("two recomputes here also differ from each other")


def test_a_stable_difference_on_a_torch_result_without_its_instruction_set_is_not_counted(monkeypatch):
    stored = {"x": np.linspace(0, 1, 5, dtype=np.float32)}
    off = {"x": stored["x"] + np.float32(0.01)}
    here = devices.cpu_type()
    old = {"experiment": "mlp", "device": "cpu", "device_name": here["device_name"], "threads": 1}  # no cpu_capability

    def serve(*answers):
        it = iter(answers)
        monkeypatch.setattr(reproduce, "recompute", lambda rec, threads=None: next(it))

    serve(off, off)  # stable: it may be the other CPU's rounding, so neither agreeing nor different
    row = reproduce.recheck(stored, old)
    assert "agrees" not in row and row["unrecorded_cpu"]
    assert row["status"].startswith("skipped after recomputing: x (by ") and "cpu_capability" in row["status"]
    serve(off, {"x": stored["x"] - np.float32(0.01)})  # unstable here: a real fault whatever the CPU
    assert reproduce.recheck(stored, old)["agrees"] is False
    serve(off, off)  # the instruction set recorded and equal to this machine's: a stable difference counts
    assert reproduce.recheck(stored, {**old, **here})["agrees"] is False
    serve(stored)
    assert reproduce.recheck(stored, old) == {"status": "equal", "agrees": True}


def test_stack_puts_each_field_on_the_grid():
    found = [{"a": np.full(3, i), "b": float(i)} for i in range(6)]
    out = results.stack(found, (2, 3))
    assert out["a"].shape == (2, 3, 3) and out["b"].shape == (2, 3)
    assert out["a"][1, 2, 0] == 5 and out["b"][0, 1] == 1
    with pytest.raises(ValueError, match="cannot fill a grid of shape"):
        results.stack(found, (4, 2))


def test_stack_takes_only_the_named_fields_casts_them_and_names_a_missing_one():
    found = [{"a": np.full(2, i, np.float32), "ragged": np.arange(i + 1)} for i in range(4)]  # "ragged" cannot stack
    out = results.stack(found, (2, 2), ["a"], dtype=float)
    assert list(out) == ["a"] and out["a"].dtype == np.float64 and out["a"][1, 0, 0] == 2
    with pytest.raises(KeyError, match=r"no field\(s\) \['b'\]"):
        results.stack(found, (2, 2), ["a", "b"])
