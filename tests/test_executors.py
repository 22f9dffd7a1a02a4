"""springblock.executors: sweeps as submitit jobs — local processes, and SLURM as far as a machine
without SLURM allows (a stand-in sbatch/srun/sacct that runs the very jobs submitit submits)."""
import os
import signal
import stat
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from springblock import cli, executors, results, scales
from springblock.experiments import fig1

PANEL = "noise"


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    """The quick noise panel trained in this process, in a cache of its own."""
    root = tmp_path_factory.mktemp("in-process")
    return fig1.run_panel(PANEL, **scales.settings(f"fig1_{PANEL}", "quick"), progress=False, root=root)


def _same(a, b):
    assert np.array_equal(a.test_acc, b.test_acc) and np.array_equal(a.train_acc, b.train_acc)
    for k in a.load:
        assert np.array_equal(a.load[k], b.load[k]), k


def test_split_is_contiguous_and_complete():
    items = list(range(10))
    parts = executors.split(items, 4)
    assert [len(p) for p in parts] == [3, 3, 2, 2] and sum(parts, []) == items
    assert executors.split(items, 50) == [[i] for i in items] and executors.split([1], 3) == [[1]]


def test_local_executor_gives_bitwise_the_in_process_cells(isolated_cache, in_process):
    ex = executors.SubmititExecutor(kind="local", jobs=2, poll_s=0.5)
    res = fig1.run_panel(PANEL, **scales.settings(f"fig1_{PANEL}", "quick"), progress=False, executor=ex)
    _same(res, in_process)
    assert res.computed == res.test_acc.size
    log = results.run_log()
    (entry,) = [e for e in log if "parent" not in e]  # the submitting run: the sweep's real wall time
    assert entry["executor"] == "SubmititExecutor" and entry["computed"] == res.test_acc.size
    jobs = [e for e in log if e.get("parent") == entry["run_id"]]
    assert len(jobs) == 2 and sum(e["computed"] for e in jobs) == res.test_acc.size
    left = Path(os.environ["SPRINGBLOCK_CACHE"]) / "submitit"
    assert not left.exists() or not any(left.iterdir())  # succeeded jobs leave no pickled data behind
    again = fig1.run_panel(PANEL, **scales.settings(f"fig1_{PANEL}", "quick"), progress=False, executor=ex)
    assert again.computed == 0  # rerunning resumes: nothing left to submit


def test_the_jobs_slurm_would_run_give_the_same_cells(isolated_cache, in_process):
    """Build exactly the job arguments the SLURM executor submits and run each job function here."""
    from springblock.experiments import mlp

    cfgs = fig1.panel_configs(PANEL, **scales.settings(f"fig1_{PANEL}", "quick"))
    from springblock.data import load_dataset

    data = load_dataset("mnist")
    cells = [{"network": c.asdict(), "record_every": None, "kinds": ["trace", "pinv"]} for c in cfgs]
    ex = executors.SubmititExecutor(kind="slurm", jobs=3, partition="gpu", gpus_per_job=1, time_min=30)
    jobs = ex.jobs_for(mlp.EXPERIMENT, cells, data=data, device="cpu", dtype="float32", root=isolated_cache, label="t")
    assert len(jobs) == 3 and sum(len(j[1]) for j in jobs) == len(cells)
    for args in jobs:
        executors._job(*args)
    res = fig1.run_panel(PANEL, **scales.settings(f"fig1_{PANEL}", "quick"), progress=False, cached_only=True)
    _same(res, in_process)


# ------------------------------------------------------------------ a stand-in SLURM
SBATCH = '''\
import os, re, subprocess, sys
script = sys.argv[-1]
text = open(script).read()
state = os.environ["FAKE_SLURM_STATE"]
jid = str(1000 + len([f for f in os.listdir(state) if f.endswith(".script")]))
copy = os.path.join(state, jid + ".script")  # sbatch keeps its own copy: submitit removes the file
open(copy, "w").write(text)
m = re.search(r"#SBATCH --array=(\\d+)-(\\d+)", text)
tasks = range(int(m[1]), int(m[2]) + 1) if m else [0]
folder = re.search(r"submitit\\.core\\._submit (\\S+)", text)[1]
for t in tasks:  # like a queue: a task starts once submitit has stored its pickle
    pkl = folder.replace("%j", f"{jid}_{t}") + f"/{jid}_{t}_submitted.pkl"
    env = dict(os.environ, SLURM_JOB_ID=f"{jid}{t}", SLURM_ARRAY_JOB_ID=jid, SLURM_ARRAY_TASK_ID=str(t),
               SLURM_NTASKS="1", SLURM_JOB_NUM_NODES="1", SLURM_NODEID="0", SLURM_PROCID="0", SLURM_LOCALID="0",
               SLURM_JOB_NODELIST="localhost")
    rc = os.path.join(state, f"{jid}_{t}.rc")
    wait = f"while [ ! -f {pkl} ]; do sleep 0.2; done"
    subprocess.Popen(["sh", "-c", f"{wait}; bash {copy}; echo $? > {rc}"], env=env, start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    open(os.path.join(state, f"{jid}_{t}.task"), "w").write("")
print(f"Submitted batch job {jid}")
'''
SRUN = '''\
import os, subprocess, sys
args, out, err = sys.argv[1:], None, None
while args and args[0].startswith("--"):
    opt = args.pop(0)
    if opt in ("--output", "--error"):
        value = args.pop(0)
        for k, v in (("%A", os.environ["SLURM_ARRAY_JOB_ID"]), ("%a", os.environ["SLURM_ARRAY_TASK_ID"]),
                     ("%j", os.environ["SLURM_JOB_ID"]), ("%t", "0")):
            value = value.replace(k, v)
        out, err = (value, err) if opt == "--output" else (out, value)
with open(out, "a") as o, open(err or out, "a") as e:
    sys.exit(subprocess.call(args, stdout=o, stderr=e))
'''
SACCT = '''\
import os, sys
state = os.environ["FAKE_SLURM_STATE"]
print("JobID|State|NodeList")
for f in sorted(os.listdir(state)):
    if f.endswith(".task"):
        name = f[:-5]
        rc = os.path.join(state, name + ".rc")
        s = "RUNNING" if not os.path.exists(rc) else ("COMPLETED" if open(rc).read().strip() == "0" else "FAILED")
        print(f"{name}|{s}|localhost")
'''


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    bin_dir, state = tmp_path / "bin", tmp_path / "slurm-state"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in (("sbatch", SBATCH), ("srun", SRUN), ("sacct", SACCT), ("scancel", "pass\n")):
        path = bin_dir / name
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_STATE", str(state))
    return state


def test_cli_slurm_executor_submits_a_job_array_and_resumes(isolated_cache, in_process, fake_slurm, capsys):
    argv = ["run", "fig1", "--panel", PANEL, "--scale", "quick", "--quiet", "--executor", "slurm", "--jobs", "2",
            "--partition", "gpu", "--gpus-per-job", "1", "--time", "45", "--mem-gb", "8"]
    assert cli.main(argv) == 0
    scripts = list(fake_slurm.glob("*.script"))
    assert len(scripts) == 1  # one submission: a job array of two tasks
    text = scripts[0].read_text()
    for flag in ("#SBATCH --array=0-1", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --time=45",
                 "#SBATCH --mem=8GB", "srun --unbuffered"):
        assert flag in text, flag
    assert "4/4 cells trained" in capsys.readouterr().out
    res = fig1.run_panel(PANEL, **scales.settings(f"fig1_{PANEL}", "quick"), progress=False, cached_only=True)
    _same(res, in_process)
    assert cli.main(argv) == 0 and len(list(fake_slurm.glob("*.script"))) == 1  # resumed: nothing submitted


def test_jobs_get_their_share_of_the_cores(monkeypatch):
    """Local jobs all run at once: each gets cores // jobs torch threads unless told; SLURM jobs
    take --cpus-per-job as given (the scheduler owns the node)."""
    monkeypatch.setattr(executors.os, "cpu_count", lambda: 8)
    items = list(range(10))
    threads = lambda ex: [args[-1] for args in ex.jobs_for(None, items, data=None, device="cpu", dtype="float32",
                                                           root="r", label="t")]
    assert threads(executors.SubmititExecutor(kind="local", jobs=2)) == [4, 4]
    assert threads(executors.SubmititExecutor(kind="local", jobs=3)) == [2, 2, 2]
    assert threads(executors.SubmititExecutor(kind="local", jobs=20)) == [1] * 10  # one job per item
    assert threads(executors.SubmititExecutor(kind="local", jobs=2, cpus_per_job=3)) == [3, 3]
    assert threads(executors.SubmititExecutor(kind="slurm", jobs=2)) == [None, None]
    with pytest.raises(ValueError, match="cpus_per_job"):
        executors.SubmititExecutor(kind="local", cpus_per_job=0)


class _FakeJob:
    job_id = "1"

    def __init__(self):
        self.cancelled = False

    def done(self):
        return False

    def cancel(self, check=True):
        self.cancelled = True


@pytest.mark.parametrize("kind, cancelled", [("local", True), ("slurm", False)])
def test_a_stopped_command_stops_its_local_jobs_and_leaves_slurm_jobs_running(kind, cancelled, monkeypatch,
                                                                               isolated_cache):
    """Ctrl-C (or SIGTERM, which the command line turns into the same) while waiting: local jobs are
    cancelled with the command, SLURM jobs go on filling the shared cache."""
    from springblock.data import load_dataset
    from springblock.experiments import mlp

    fake = [_FakeJob(), _FakeJob()]
    ex = executors.SubmititExecutor(kind=kind, jobs=2, poll_s=0.0)
    monkeypatch.setattr(ex, "executor", lambda root: type("E", (), {"map_array": lambda self, *a: fake})())

    def interrupt(*_):  # Ctrl-C while the jobs run (not by patching time.sleep: libraries keep references)
        raise KeyboardInterrupt

    monkeypatch.setattr(ex, "_wait", interrupt)
    cfgs = fig1.panel_configs(PANEL, **scales.settings(f"fig1_{PANEL}", "quick"))
    cells = [{"network": c.asdict(), "record_every": None, "kinds": ["trace", "pinv"]} for c in cfgs]
    with pytest.raises(KeyboardInterrupt):
        ex.compute(mlp.EXPERIMENT, cells, data=load_dataset("mnist"), device="cpu", dtype="float32",
                   root=isolated_cache, progress=False, label="t")
    assert [j.cancelled for j in fake] == [cancelled, cancelled]


def test_stopping_local_jobs_ends_their_whole_process_tree(tmp_path):
    """A job's controller and the process it started, both ignoring SIGINT (as processes of a command
    started in the background do): neither may outlive the stop."""
    import subprocess

    import psutil

    pidfile = tmp_path / "pid"
    deaf = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    script = (deaf + "import subprocess, sys; "
              f"c = subprocess.Popen([sys.executable, '-c', {deaf + 'time.sleep(60)'!r}]); "
              f"open({str(pidfile)!r}, 'w').write(str(c.pid)); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", script])
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.05)
    child = int(pidfile.read_text())

    job = _FakeJob()
    job._process = proc
    job.cancel = lambda check=True: proc.send_signal(signal.SIGINT)
    executors._stop_local([job], grace_s=0.5)
    assert proc.poll() is not None
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE
