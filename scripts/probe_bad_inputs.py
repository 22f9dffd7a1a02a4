"""Feed the package bad inputs and count what each one gets: the measurement behind the issue
"Results that survive hostile archives, stuck writers and collapsed features".

Every case is one input the package should refuse (out-of-range or ill-typed numbers, empty
strings, missing or wrong-kind paths, unknown names, options that do nothing in context, archives
that are not archives), given to the ``springblock`` command or to a public function. Each runs in
its own subprocess, in a fresh temporary folder, with ``SPRINGBLOCK_CACHE`` and
``SPRINGBLOCK_SHIPPED`` pointing at fresh empty folders (no real cache or shipped result is
touched), under a timeout and a memory cap, and is counted as one of

* ``clear error`` -- refused by one line that names the parameter, option or file (CLI: a non-zero
  exit without a Python traceback; API: an exception whose message names the input);
* ``warning``     -- accepted, with a warning that names the input;
* ``traceback``   -- a raw traceback, a crash, or an exception whose message does not name the
  input (a bare ``KeyError: 'x'``, ``IndexError``, ``OverflowError``, ``MemoryError``, ...);
* ``silent``      -- accepted without a word (it ran, or exited 0, or was still working at the
  timeout) although the input was bad.

Run it from the repository root::

    .venv/bin/python scripts/probe_bad_inputs.py --jobs 2            # every case
    .venv/bin/python scripts/probe_bad_inputs.py --only "cache import"   # the cases whose name holds this

It prints one row per case and a tally per outcome, and exits 0 whatever it finds.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

OUTCOMES = ("clear error", "warning", "traceback", "silent")
TIMEOUT_S = 60
MEMORY_CAP = 6 * 2**30  # address space per case: a huge size fails fast instead of swapping the machine out
HUGE = str(2**70)
MARK = "@@probe-result@@"


# ---------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    category: str  # "cli run", "api chain", ...
    name: str
    kind: str  # "cli" (argv of `springblock`) or "api" (a Python snippet)
    what: tuple[str, ...] | str  # the argv, or the snippet (its last expression is shown when it returns)
    names: tuple[str, ...]  # a clear message holds one of these (case-insensitive)


def cli(category: str, args: str, names) -> Case:
    """``springblock ARGS``; ``{tmp}`` in ARGS is the case's own temporary folder."""
    argv = tuple(shlex.split(args))
    return Case(f"cli {category}", "springblock " + args, "cli", argv, _tuple(names))


def api(category: str, name: str, code: str, names) -> Case:
    return Case(f"api {category}", name, "api", textwrap.dedent(code).strip(), _tuple(names))


def _tuple(names) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


Q = "chain_eq7 --scale quick --quiet"  # a cheap experiment: if a bad option is let through, little work follows
FIG1 = "fig1 --scale quick --quiet"

CLI_CASES = [
    cli("top", "", ("command", "required")),
    cli("top", "frobnicate", "frobnicate"),
    # run: the experiment and the run parameters
    cli("run", "run", "experiment"),
    cli("run", "run nosuch", "nosuch"),
    cli("run", "run ''", "experiment"),
    cli("run", "run --list fig1", "--list"),
    cli("run", "run --list --seeds 3", "--list"),
    cli("run", "run fig4 --panel noise --scale quick", "--panel"),
    cli("run", "run chain_eq7 --panel noise --scale quick", "--panel"),
    cli("run", "run fig1 --panel noise noise --scale quick", "--panel"),
    cli("run", "run fig1 --panel", "--panel"),
    cli("run", "run fig1 --panel conv", "--panel"),
    cli("run", f"run {FIG1} --seeds 0", "--seeds"),
    cli("run", f"run {FIG1} --seeds -1", "--seeds"),
    cli("run", f"run {FIG1} --seeds abc", "--seeds"),
    cli("run", f"run {FIG1} --seeds ''", "--seeds"),
    cli("run", f"run {FIG1} --seeds 1.5", "--seeds"),
    cli("run", f"run {FIG1} --seeds {HUGE}", "seeds"),
    cli("run", "run fig1 --seeds 30000000", "seeds"),
    cli("run", f"run {Q} --seeds 3", "seeds"),
    cli("run", f"run {FIG1} --seed -1", "seed"),
    cli("run", f"run {FIG1} --seed {HUGE}", "seed"),
    cli("run", f"run {FIG1} --seed 4294967296", "seed"),
    cli("run", f"run {FIG1} --seed nan", "--seed"),
    cli("run", f"run {FIG1} --seed abc", "--seed"),
    cli("run", "run fig1 --scale huge", "--scale"),
    cli("run", "run fig1 --scale ''", "--scale"),
    cli("run", "run fig1 --scale quick --device tpu", "--device"),
    cli("run", "run fig1 --scale quick --device cuda", ("device", "cuda")),
    cli("run", f"run {Q} --cache-dir ''", "--cache-dir"),
    cli("run", f"run {Q} --cache-dir '   '", "--cache-dir"),
    cli("run", f"run {Q} --cache-dir {{tmp}}/afile", "afile"),
    # run: the executor options, each where it does nothing or is out of range
    cli("run executor", f"run {Q} --jobs 4", "--jobs"),
    cli("run executor", f"run {Q} --jobs abc", "--jobs"),
    cli("run executor", f"run {Q} --executor local --jobs 0", "--jobs"),
    cli("run executor", f"run {Q} --executor local --jobs -2", "--jobs"),
    cli("run executor", f"run {Q} --partition gpu", "--partition"),
    cli("run executor", f"run {Q} --executor local --partition gpu", "--partition"),
    cli("run executor", f"run {Q} --executor local --time 0", "--time"),
    cli("run executor", f"run {Q} --executor slurm --time -5", "--time"),
    cli("run executor", f"run {Q} --executor local --time {HUGE}", "--time"),
    cli("run executor", f"run {Q} --gpus-per-job 1", "--gpus-per-job"),
    cli("run executor", f"run {Q} --executor local --gpus-per-job 1", "--gpus-per-job"),
    cli("run executor", f"run {Q} --executor local --gpus-per-job -1", "--gpus-per-job"),
    cli("run executor", f"run {Q} --executor local --cpus-per-job 0", "--cpus-per-job"),
    cli("run executor", f"run {Q} --executor local --cpus-per-job 999", "--cpus-per-job"),
    cli("run executor", f"run {Q} --mem-gb -1", "--mem-gb"),
    cli("run executor", f"run {Q} --executor slurm --mem-gb -1", "--mem-gb"),
    cli("run executor", f"run {Q} --executor local --mem-gb 4", "--mem-gb"),
    cli("run executor", f"run {Q} --log-dir {{tmp}}/logs", "--log-dir"),
    cli("run executor", f"run {Q} --executor local --log-dir ''", "--log-dir"),
    cli("run executor", f"run {Q} --executor local --log-dir {{tmp}}/afile", ("--log-dir", "afile")),
    cli("run executor", f"run {Q} --executor slurm --partition gpu", ("slurm", "sbatch")),
    cli("run executor", f"run {Q} --executor pbs", "--executor"),
    # plot
    cli("plot", "plot fig2 --out x.png", "fig2"),
    cli("plot", "plot chain_eq7 --out x.png", "chain_eq7"),
    cli("plot", "plot fig1", "--out"),
    cli("plot", "plot fig1 --out {tmp}/adir", ("--out", "folder")),
    cli("plot", "plot fig1 --out {tmp}/new/", ("--out", "folder")),
    cli("plot", "plot fig1 --out x.txt", "--out"),
    cli("plot", "plot fig1 --out ''", "--out"),
    cli("plot", "plot fig1 --out {tmp}/missing/x.png", ("--out", "missing")),
    cli("plot", "plot fig1 --out {tmp}/afile/x.png", ("--out", "afile")),
    cli("plot", "plot fig1 --out x.png --split val", "--split"),
    cli("plot", "plot fig4 --panel noise --out x.png", "--panel"),
    cli("plot", "plot fig1 --out x.png --seeds 0", "--seeds"),
    cli("plot", "plot fig1 --out x.png --seed -1", "seed"),
    cli("plot", "plot fig1 --out x.png --device tpu", "--device"),
    cli("plot", "plot fig1 --out x.png --cache-dir {tmp}/missing", ("--cache-dir", "missing")),
    cli("plot", "plot fig1 --out x.png --cache-dir {tmp}/afile", ("--cache-dir", "afile")),
    # fill (SPRINGBLOCK_SHIPPED is a temporary folder, so a fill that is let through writes nothing real)
    cli("fill", "fill --seed 1 --only chain_eq7", "--seed"),
    cli("fill", "fill --seed -1 --only chain_eq7", "--seed"),
    cli("fill", "fill --budget 0 --only chain_eq7", "--budget"),
    cli("fill", "fill --budget=-5m --only chain_eq7", "--budget"),  # "=": argparse takes a bare -5m for an option
    cli("fill", "fill --budget abc --only chain_eq7", "--budget"),
    cli("fill", "fill --budget nan --only chain_eq7", "--budget"),
    cli("fill", "fill --budget inf --only chain_eq7", "--budget"),
    cli("fill", "fill --budget 1e400s --only chain_eq7", "--budget"),
    cli("fill", "fill --only nosuch", ("--only", "nosuch", "names")),
    cli("fill", "fill --only", "--only"),
    cli("fill", "fill --device cuda --only chain_eq7", ("device", "cuda")),
    cli("fill", "fill --scale huge --only chain_eq7", "--scale"),
    cli("fill", "fill --executor process --jobs 2 --only chain_eq7", "--jobs"),
    cli("fill", "fill --executor local --mem-gb 8 --only chain_eq7", "--mem-gb"),
    cli("fill", "fill --executor local --jobs 0 --only chain_eq7", "--jobs"),
    cli("fill", "fill --executor process --cache-dir {tmp}/afile --only chain_eq7", ("--cache-dir", "afile")),
    # shipped
    cli("shipped", "shipped", "action"),
    cli("shipped", "shipped status --scale huge", "--scale"),
    cli("shipped", "shipped --cache-dir {tmp}/missing status", ("--cache-dir", "missing")),
    cli("shipped", "shipped --cache-dir {tmp}/afile status", ("--cache-dir", "afile")),
    cli("shipped", "shipped --cache-dir {tmp}/missing verify", "--cache-dir"),
    cli("shipped", "shipped verify --per-experiment 0", "--per-experiment"),
    cli("shipped", "shipped verify --per-experiment abc", "--per-experiment"),
    cli("shipped", "shipped verify --seed -1", "--seed"),
    cli("shipped", f"shipped verify --seed {HUGE}", "--seed"),
    cli("shipped", "shipped verify --max-seconds 0", "--max-seconds"),
    cli("shipped", "shipped verify --max-seconds -1", "--max-seconds"),
    cli("shipped", "shipped verify --max-seconds nan", "--max-seconds"),
    cli("shipped", "shipped verify --max-seconds inf", "--max-seconds"),
    cli("shipped", "shipped verify --only nosuch", ("nosuch", "--only", "experiments")),
    cli("shipped", "shipped verify --only", "--only"),
    # book
    cli("book", "book --scale huge", "--scale"),
    cli("book", "book --device cuda --only 01", ("device", "cuda")),
    cli("book", "book --seed -1 --only 01", "seed"),
    cli("book", "book --scale quick --only nosuch", ("only", "nosuch")),
    cli("book", "book --scale quick --only 01 --out {tmp}/afile", ("--out", "afile")),
    cli("book", "book --scale quick --only 01 --out ''", "--out"),
    # cache: the folder and the sample
    cli("cache", "cache", "action"),
    cli("cache", "cache --cache-dir '' ls", "--cache-dir"),
    cli("cache", "cache --cache-dir {tmp}/missing ls", ("--cache-dir", "missing")),
    cli("cache", "cache --cache-dir {tmp}/afile ls", ("--cache-dir", "afile")),
    cli("cache", "cache --cache-dir {tmp}/missing prune", ("--cache-dir", "missing")),
    cli("cache", "cache verify --sample 0", "--sample"),
    cli("cache", "cache verify --sample -1", "--sample"),
    cli("cache", "cache verify --sample abc", "--sample"),
    cli("cache", "cache verify --all --sample 3", ("--all", "--sample")),
    cli("cache", "cache verify --seed -1", "--seed"),
    cli("cache", "cache export out.zip", ("archive", "out.zip")),
    cli("cache", "cache export ''", "archive"),
    cli("cache", "cache export {tmp}/afile/out.tar.gz", "afile"),
    cli("cache", "cache export {tmp}/dir.tar.gz", "dir.tar.gz"),
    # cache import: things that are not springblock archives
    cli("cache import", "cache import {tmp}/missing.tar.gz", "missing.tar.gz"),
    cli("cache import", "cache import ''", ("archive", "path", "''")),
    cli("cache import", "cache import {tmp}/empty.tar.gz", "empty.tar.gz"),
    cli("cache import", "cache import {tmp}/text.tar.gz", "text.tar.gz"),
    cli("cache import", "cache import {tmp}/gzip-text.tar.gz", "gzip-text.tar.gz"),
    cli("cache import", "cache import {tmp}/truncated.tar.gz", "truncated.tar.gz"),
    cli("cache import", "cache import {tmp}/dir.tar.gz", "dir.tar.gz"),
    cli("cache import", "cache import {tmp}/zip.tar.gz", "zip.tar.gz"),
    cli("cache import", "cache import {tmp}/bz2.tar.gz", "bz2.tar.gz"),
    cli("cache import", "cache import {tmp}/foreign.tar.gz", ("refused", "notes.txt")),
    cli("cache import", "cache import {tmp}/traversal.tar.gz", ("refused", "escaped")),
    cli("cache import", "cache import {tmp}/link.tar.gz", ("refused", "link")),
    cli("cache import", "cache import {tmp}/garbage-result.tar.gz", ("refused", "chain/")),
]

# Shared set-ups of the API snippets
NP = "import numpy as np\n"
SIM = "from springblock import chain\n"
TH = "from springblock import theory\n"
SH = "from springblock import shape\n"
SEP = "import numpy as np\nfrom springblock import separation as sep\n" \
      "x = np.random.default_rng(0).normal(size=(10, 5))\ny = np.arange(10) % 2\n"
LD = "from springblock.data import load_dataset\n"
TC = "from springblock.train import TrainConfig\n"
EXP = "from springblock import experiments\nfrom springblock.results import RunContext\n"
QUICK = "RunContext(scale='quick')"
SC = "from springblock import scales\n"
FIG = "from springblock.experiments import fig1\n"
PANEL = FIG + NP + """\
A, V, S, L = 2, 2, 2, 8
load = {f"{s}_{k}": np.random.default_rng(0).random((A, V, S, L)) for s in ("train", "test") for k in ("trace", "pinv")}
r = fig1.PanelResult(fig1.PANELS["noise"], np.array([0.0, 1.0]), np.array([0.5, 0.0]), np.array([1, 2]),
                     np.zeros((A, V, S)), np.zeros((A, V, S)), load, np.zeros((A, V, S)))
"""
PANEL_ARGS = "alphas=[0.0], values=[0.0], seeds=1, epochs=1, progress=False"
EMPTY_DATA = NP + """\
from types import SimpleNamespace
data = SimpleNamespace(x_train=np.zeros((0, 100), np.float32), y_train=np.zeros(0, np.int64),
                       x_test=np.zeros((5, 100), np.float32), y_test=np.arange(5) % 2, num_classes=10)
"""

API_CASES = [
    # experiments.compute / analyse and the RunContext they take
    api("experiments", "compute unknown name", EXP + "experiments.compute('nosuch')", ("name", "nosuch")),
    api("experiments", "compute unknown setting", EXP + "experiments.compute('chain_eq7', foo=1)", "foo"),
    api("experiments", "compute ctx as a string", EXP + "experiments.compute('chain_eq7', 'quick')", "ctx"),
    api("experiments", "compute an analysis by name", EXP + "experiments.compute('gen_accuracy')",
        ("name", "gen_accuracy")),
    api("experiments", "compute fig1 seeds=0", EXP + f"experiments.compute('fig1_noise', {QUICK}, seeds=0)",
        "seeds"),
    api("experiments", "compute fig1 epochs=0", EXP + f"experiments.compute('fig1_noise', {QUICK}, epochs=0)",
        "epochs"),
    api("experiments", "compute fig1 alphas=()", EXP + f"experiments.compute('fig1_noise', {QUICK}, alphas=())",
        "alphas"),
    api("experiments", "compute chain_eq7 steps=-1", EXP + "experiments.compute('chain_eq7', steps=-1)", "steps"),
    api("experiments", "compute chain_eq7 dt=nan", EXP + "experiments.compute('chain_eq7', dt=float('nan'))", "dt"),
    api("experiments", "analyse unknown name", EXP + "experiments.analyse('nosuch', None)", ("name", "nosuch")),
    api("run context", "RunContext(scale='huge')", EXP + "experiments.compute('chain_fig2', RunContext(scale='huge'))",
        "scale"),
    api("run context", "RunContext(seed=-1)",
        EXP + "experiments.compute('chain_fig2', RunContext(scale='quick', seed=-1))", "seed"),
    api("run context", "RunContext(device='tpu')",
        EXP + "experiments.compute('separation', RunContext(scale='quick', device='tpu', progress=False))", "device"),
    api("run context", "RunContext(root=a file)",
        EXP + "experiments.compute('chain_fig2', RunContext(scale='quick', root='{tmp}/afile'))", "afile"),
    api("run context", "RunContext(executor='local')",
        EXP + "experiments.compute('chain_fig2', RunContext(scale='quick', executor='local'))", "executor"),
    api("run context", "RunContext(cached_only='no')",
        EXP + "experiments.compute('chain_fig2', RunContext(scale='quick', cached_only='no'))", "cached_only"),
    api("run context", "RunContext(progress='no')",
        EXP + "experiments.compute('chain_eq7', RunContext(scale='quick', progress='no'))", "progress"),
    # chain.simulate (10 steps: cheap when a bad value is let through)
    api("chain", "simulate k=-1", SIM + "chain.simulate(k=-1, steps=10)", "k"),
    api("chain", "simulate k=0", SIM + "chain.simulate(k=0, steps=10)", "k"),
    api("chain", "simulate k=nan", SIM + "chain.simulate(k=float('nan'), steps=10)", "k"),
    api("chain", "simulate mu_r=-0.1", SIM + "chain.simulate(mu_r=-0.1, steps=10)", "mu_r"),
    api("chain", "simulate mu_l=nan", SIM + "chain.simulate(mu_l=float('nan'), steps=10)", "mu_l"),
    api("chain", "simulate sigma=-1", SIM + "chain.simulate(sigma=-1, steps=10)", "sigma"),
    api("chain", "simulate sigma=inf", SIM + "chain.simulate(sigma=float('inf'), steps=10)", "sigma"),
    api("chain", "simulate dt=0", SIM + "chain.simulate(dt=0, steps=10)", "dt"),
    api("chain", "simulate dt=-0.01", SIM + "chain.simulate(dt=-0.01, steps=10)", "dt"),
    api("chain", "simulate dt=nan", SIM + "chain.simulate(dt=float('nan'), steps=10)", "dt"),
    api("chain", "simulate dt=1 (unstable)", SIM + "chain.simulate(dt=1.0, steps=10)", "dt"),
    api("chain", "simulate steps=-1", SIM + "chain.simulate(steps=-1)", "steps"),
    api("chain", "simulate steps=1.5", SIM + "chain.simulate(steps=1.5)", "steps"),
    api("chain", "simulate steps=2**70", SIM + "chain.simulate(steps=2**70)", "steps"),
    api("chain", "simulate L=0", SIM + "chain.simulate(L=0, steps=10)", "L"),
    api("chain", "simulate L=-3", SIM + "chain.simulate(L=-3, steps=10)", "L"),
    api("chain", "simulate L='7'", SIM + "chain.simulate(L='7', steps=10)", "L"),
    api("chain", "simulate L=2**40", SIM + "chain.simulate(L=2**40, steps=10)", "L"),
    api("chain", "simulate realisations=0", SIM + "chain.simulate(realisations=0, steps=10)", "realisations"),
    api("chain", "simulate realisations=2**40", SIM + "chain.simulate(realisations=2**40, steps=10)", "realisations"),
    api("chain", "simulate dynamics='third'", SIM + "chain.simulate(dynamics='third', steps=10)", "dynamics"),
    api("chain", "simulate noise='cauchy'", SIM + "chain.simulate(noise='cauchy', sigma=0.1, steps=10)", "noise"),
    api("chain", "simulate dtype='float16'", SIM + "chain.simulate(dtype='float16', steps=10)", "dtype"),
    api("chain", "simulate seed=-1", SIM + "chain.simulate(seed=-1, steps=10)", "seed"),
    api("chain", "simulate record_every=0", SIM + "chain.simulate(record_every=0, steps=10)", "record_every"),
    api("chain", "simulate y=nan", SIM + "chain.simulate(y=float('nan'), steps=10)", "y"),
    api("chain", "simulate gamma=-1", SIM + "chain.simulate(dynamics='second_order', gamma=-1, steps=10)", "gamma"),
    api("chain", "simulate decay=-1", SIM + "chain.simulate(decay=-1, sigma=0.1, steps=10)", "decay"),
    api("chain", "simulate truncate=0", SIM + "chain.simulate(truncate=0, steps=10)", "truncate"),
    api("chain", "simulate synchronous='yes'", SIM + "chain.simulate(synchronous='yes', steps=10)", "synchronous"),
    api("chain", "simulate grids that do not broadcast",
        SIM + "chain.simulate(mu_r=[0, 0.01], sigma=[0, 0.1, 0.2], steps=10)", ("broadcast", "mu_r", "sigma")),
    api("chain", "max_stable_dt k=-1", SIM + "chain.max_stable_dt(7, k=-1)", "k"),
    api("chain", "max_stable_dt L=0", SIM + "chain.max_stable_dt(0)", "L"),
    # theory
    api("theory", "friction_bound L=0", TH + "theory.friction_bound(0)", "L"),
    api("theory", "friction_bound L=2.5", TH + "theory.friction_bound(2.5)", "L"),
    api("theory", "friction_bound k=0", TH + "theory.friction_bound(7, k=0)", "k"),
    api("theory", "equilibrium k=-1", TH + "theory.equilibrium(7, k=-1)", "k"),
    api("theory", "equilibrium mu_r=nan", TH + "theory.equilibrium(7, mu_r=float('nan'))", "mu_r"),
    api("theory", "uniform_force_load L=2**70", TH + "theory.uniform_force_load(2**70)", "L"),
    api("theory", "predicted_curvature L=-1", TH + "theory.predicted_curvature(-1)", "L"),
    api("theory", "stuck_blocks mu_r=-0.1", TH + "theory.stuck_blocks(7, mu_r=-0.1)", "mu_r"),
    api("theory", "mean_drift sigma=-1", TH + "theory.mean_drift(0.1, -1)", "sigma"),
    api("theory", "mean_drift noise='cauchy'", TH + "theory.mean_drift(0.1, 0.1, noise='cauchy')", "noise"),
    api("theory", "effective_friction truncate=0", TH + "theory.effective_friction(0.1, 0.1, truncate=0)", "truncate"),
    api("theory", "freeze_friction bound=-1", TH + "theory.freeze_friction(0.1, 0.1, -1)", "bound"),
    api("theory", "energy of a string", TH + "theory.energy('abc')", "load"),
    api("theory", "energy k=0", TH + "theory.energy([1.0, 0.5, 0.0], k=0)", "k"),
    api("theory", "friction_from_load of one point", TH + "theory.friction_from_load([1.0])", "load"),
    api("theory", "load_from_positions of a string", TH + "theory.load_from_positions('abc')", "x"),
    api("theory", "energy_closed_form L=0", TH + "theory.energy_closed_form(0)", "L"),
    # shape
    api("shape", "relative_curvature of 2 points", SH + "shape.relative_curvature([1.0, 0.5])", "load"),
    api("shape", "relative_curvature of []", SH + "shape.relative_curvature([])", "load"),
    api("shape", "relative_curvature of a string", SH + "shape.relative_curvature('abc')", "load"),
    api("shape", "relative_curvature of strings", SH + "shape.relative_curvature(['3', 'b', '1'])", "load"),
    api("shape", "relative_curvature of a scalar", SH + "shape.relative_curvature(3.0)", "load"),
    api("shape", "relative_curvature of ragged curves", SH + "shape.relative_curvature([[3, 2, 1], [2, 1]])", "load"),
    api("shape", "verdict tol=-1", SH + "shape.verdict([3.0, 2.0, 1.0, 0.0], tol=-1)", "tol"),
    api("shape", "shape_of tol=nan", SH + "shape.shape_of(0.1, tol=float('nan'))", "tol"),
    api("shape", "linear_band L=1", SH + "shape.linear_band(1)", "L"),
    # separation
    api("separation", "data_separation labels of another length", SEP + "sep.data_separation(x, y[:9])", "labels"),
    api("separation", "data_separation label >= num_classes",
        SEP + "y[0] = 5\nsep.data_separation(x, y, num_classes=2)", "labels"),
    api("separation", "data_separation one class only", SEP + "sep.data_separation(x, np.zeros(10, int))",
        ("class", "labels")),
    api("separation", "data_separation empty features", SEP + "sep.data_separation(np.zeros((0, 5)), np.zeros(0, int))",
        ("features", "labels")),
    api("separation", "data_separation features of width 0", SEP + "sep.data_separation(np.zeros((10, 0)), y)",
        "features"),
    api("separation", "data_separation NaN features", SEP + "x[0, 0] = np.nan\nsep.data_separation(x, y)", "features"),
    api("separation", "data_separation features of a string", SEP + "sep.data_separation('abc', y)", "features"),
    api("separation", "data_separation kind='foo'", SEP + "sep.data_separation(x, y, kind='foo')", "kind"),
    api("separation", "data_separation num_classes=1", SEP + "sep.data_separation(x, np.zeros(10, int), num_classes=1)",
        "num_classes"),
    api("separation", "data_separation float labels", SEP + "sep.data_separation(x, y.astype(float))", "labels"),
    api("separation", "data_separation negative labels", SEP + "sep.data_separation(x, y - 1)", "labels"),
    api("separation", "data_separation 1-D features", SEP + "sep.data_separation(x[:, 0], y)", "features"),
    api("separation", "load_curve of no layers", SEP + "sep.load_curve([], y)", "layer_features"),
    api("separation", "regression_load targets of another length", SEP + "sep.regression_load([x], np.zeros(9))",
        "targets"),
    api("separation", "between_class_projection k=0", SEP + "sep.between_class_projection(x, y, k=0)", "k"),
    # data.load_dataset
    api("data", "load_dataset name='imagenet'", LD + "load_dataset('imagenet')", "name"),
    api("data", "load_dataset name='MNIST'", LD + "load_dataset('MNIST')", "name"),
    api("data", "load_dataset size=0", LD + "load_dataset(size=0)", "size"),
    api("data", "load_dataset size=29", LD + "load_dataset(size=29)", "size"),
    api("data", "load_dataset size=10.0", LD + "load_dataset(size=10.0)", "size"),
    api("data", "load_dataset n_train=0", LD + "load_dataset(n_train=0)", "n_train"),
    api("data", "load_dataset n_train=-5", LD + "load_dataset(n_train=-5)", "n_train"),
    api("data", "load_dataset n_train=2**70", LD + "load_dataset(n_train=2**70)", "n_train"),
    api("data", "load_dataset source='web'", LD + "load_dataset(source='web')", "source"),
    api("data", "load_dataset seed=-1", LD + "load_dataset(seed=-1)", "seed"),
    api("data", "load_dataset antialias='yes'", LD + "load_dataset(antialias='yes')", "antialias"),
    api("data", "load_dataset root=a file", LD + "load_dataset(source='torchvision', root='{tmp}/afile')", "afile"),
    # train.TrainConfig (and what a bad one does downstream)
    api("train", "TrainConfig alpha=-0.1", TC + "TrainConfig(alpha=-0.1)", "alpha"),
    api("train", "TrainConfig alpha=1.5", TC + "TrainConfig(alpha=1.5)", "alpha"),
    api("train", "TrainConfig alpha=nan", TC + "TrainConfig(alpha=float('nan'))", "alpha"),
    api("train", "TrainConfig alpha='0.5'", TC + "TrainConfig(alpha='0.5')", "alpha"),
    api("train", "TrainConfig dropout=1.0", TC + "TrainConfig(dropout=1.0)", "dropout"),
    api("train", "TrainConfig lr=0", TC + "TrainConfig(lr=0)", "lr"),
    api("train", "TrainConfig lr=-1e-3", TC + "TrainConfig(lr=-1e-3)", "lr"),
    api("train", "TrainConfig lr=inf", TC + "TrainConfig(lr=float('inf'))", "lr"),
    api("train", "TrainConfig epochs=0", TC + "TrainConfig(epochs=0)", "epochs"),
    api("train", "TrainConfig batch_size=1", TC + "TrainConfig(batch_size=1)", "batch_size"),
    api("train", "TrainConfig noise=1.5", TC + "TrainConfig(noise=1.5)", "noise"),
    api("train", "TrainConfig hidden=0", TC + "TrainConfig(hidden=0)", "hidden"),
    api("train", "TrainConfig width=0", TC + "TrainConfig(width=0)", "width"),
    api("train", "TrainConfig optimizer='rmsprop'", TC + "TrainConfig(optimizer='rmsprop')", "optimizer"),
    api("train", "TrainConfig norm='layer'", TC + "TrainConfig(norm='layer')", "norm"),
    api("train", "TrainConfig early_stop='yes'", TC + "TrainConfig(early_stop='yes')", "early_stop"),
    api("train", "TrainConfig seed=2**70, then its initial weights",
        TC + "from springblock.train import init_module\ninit_module(TrainConfig(seed=2**70), 100, 10)", "seed"),
    api("train", "train_networks device='tpu'",
        TC + LD + "from springblock.train import train_networks\n"
        "train_networks([TrainConfig(epochs=1)], load_dataset(), device='tpu', progress=False)", "device"),
    api("train", "train_networks record_every=0",
        TC + LD + "from springblock.train import train_networks\n"
        "train_networks([TrainConfig(epochs=1)], load_dataset(), record_every=0, progress=False)", "record_every"),
    # experiments.fig1
    api("fig1", "run_panel unknown panel", FIG + f"fig1.run_panel('nosuch', {PANEL_ARGS})", "panel"),
    api("fig1", "run_panel empty alphas", FIG + "fig1.run_panel('noise', alphas=[], values=[0.0], seeds=1, epochs=1)",
        "alphas"),
    api("fig1", "run_panel empty values", FIG + "fig1.run_panel('noise', alphas=[0.0], values=[], seeds=1, epochs=1)",
        "values"),
    api("fig1", "run_panel alphas=[2.0]",
        FIG + "fig1.run_panel('noise', alphas=[2.0], values=[0.0], seeds=1, epochs=1)", "alpha"),
    api("fig1", "run_panel dropout values=[1.0]",
        FIG + "fig1.run_panel('dropout', alphas=[0.0], values=[1.0], seeds=1, epochs=1)", "dropout"),
    api("fig1", "run_panel seeds=0", FIG + "fig1.run_panel('noise', alphas=[0.0], values=[0.0], seeds=0, epochs=1)",
        "seeds"),
    api("fig1", "run_panel epochs=0", FIG + "fig1.run_panel('noise', alphas=[0.0], values=[0.0], seeds=1, epochs=0)",
        "epochs"),
    api("fig1", "run_panel norm='layer'", FIG + f"fig1.run_panel('noise', norm='layer', {PANEL_ARGS})", "norm"),
    api("fig1", "run_panel empty training set", FIG + EMPTY_DATA + f"fig1.run_panel('noise', data=data, {PANEL_ARGS})",
        "x_train"),
    api("fig1", "run_dynamics unknown TrainConfig field",
        FIG + "fig1.run_dynamics(settings={'b': {'lrr': 1e-3}}, alpha=0.0, seeds=1, epochs=1, record_every=1)", "lrr"),
    api("fig1", "PanelResult.mean_load kind='inverse'", PANEL + "r.mean_load(kind='inverse')", "kind"),
    api("fig1", "PanelResult.mean_load split='val'", PANEL + "r.mean_load(split='val')", "split"),
    api("fig1", "PanelResult.mean_load seeds=0", PANEL + "r.mean_load(seeds=0)", "seeds"),
    api("fig1", "PanelResult.cell_label row 99", PANEL + "r.cell_label((99, 0))", "row"),
    # scales
    api("scales", "check device='tpu'", SC + "scales.check(device='tpu')", "device"),
    api("scales", "check device='cuda' (no CUDA)", SC + "scales.check(device='cuda')", "device"),
    api("scales", "check scale='huge'", SC + "scales.check(scale='huge')", "scale"),
    api("scales", "check seed=-1", SC + "scales.check(seed=-1)", "seed"),
    api("scales", "check seed=2**32", SC + "scales.check(seed=2**32)", "seed"),
    api("scales", "check seed=1.5", SC + "scales.check(seed=1.5)", "seed"),
    api("scales", "check unknown experiment", SC + "scales.check(experiments=('nosuch',))",
        "experiments"),
    api("scales", "settings unknown name", SC + "scales.settings('nosuch', 'quick')", "name"),
    api("scales", "settings scale='huge'", SC + "scales.settings('fig1_noise', 'huge')", "scale"),
    # the cache's functions
    api("cache", "inventory.import_ of a text file", "from springblock import inventory\n"
        "inventory.import_('{tmp}/text.tar.gz')", "text.tar.gz"),
    api("cache", "inventory.verify sample=0", "from springblock import inventory\ninventory.verify(0)", "sample"),
    api("cache", "inventory.export into a file's folder", "from springblock import inventory\n"
        "inventory.export('{tmp}/afile/out.tar.gz')", "afile"),
    api("cache", "results.stack of no results", "from springblock import results\nresults.stack([], (2, 2))", "stack"),
    api("cache", "SubmititExecutor kind='pbs'", "from springblock.executors import SubmititExecutor\n"
        "SubmititExecutor(kind='pbs')", "kind"),
    api("cache", "SubmititExecutor jobs=0", "from springblock.executors import SubmititExecutor\n"
        "SubmititExecutor(kind='local', jobs=0)", "jobs"),
]

CASES = CLI_CASES + API_CASES


# ---------------------------------------------------------------------------------------------
# Fixtures: the files a case names as {tmp}/NAME, made in its own folder
# ---------------------------------------------------------------------------------------------
def _tar(path: Path, members: list[tuple[str, bytes | None, str | None]], mode: str = "w:gz") -> None:
    """A tar archive of (name, content, link target) members: content for a file, a target for a symlink."""
    with tarfile.open(path, mode) as tar:
        for name, content, target in members:
            info = tarfile.TarInfo(name)
            if target is not None:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))


def _truncated(path: Path) -> None:
    _tar(path, [(f"chain/{'0' * 32}.npz", os.urandom(200_000), None)])  # random bytes: gzip cannot shrink them
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", "hello\n")


FIXTURES = {
    "afile": lambda p: p.write_text("a file, not a folder\n"),
    "adir": lambda p: p.mkdir(),
    "dir.tar.gz": lambda p: p.mkdir(),
    "empty.tar.gz": lambda p: p.write_bytes(b""),
    "text.tar.gz": lambda p: p.write_text("this is not an archive\n"),
    "gzip-text.tar.gz": lambda p: p.write_bytes(gzip.compress(b"this is gzip, but not a tar\n" * 10)),
    "truncated.tar.gz": _truncated,
    "zip.tar.gz": _zip,
    "bz2.tar.gz": lambda p: _tar(p, [("notes.txt", b"hello\n", None)], "w:bz2"),
    "foreign.tar.gz": lambda p: _tar(p, [("notes.txt", b"hello\n", None)]),
    "traversal.tar.gz": lambda p: _tar(p, [("../../escaped.npz", b"PK\x05\x06" + b"\0" * 18, None)]),
    "link.tar.gz": lambda p: _tar(p, [(f"chain/{'1' * 32}.npz", None, "/etc/passwd")]),
    "garbage-result.tar.gz": lambda p: _tar(p, [(f"chain/{'2' * 32}.npz", b"not an npz file" * 50, None)]),
}


def make_fixtures(text: str, tmp: Path) -> None:
    for name in sorted(set(re.findall(r"\{tmp\}/([\w.\-]+)", text))):
        if name in FIXTURES:
            FIXTURES[name](tmp / name)


# ---------------------------------------------------------------------------------------------
# Running one case
# ---------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    case: Case
    outcome: str
    message: str
    seconds: float


@dataclass
class Ran:
    """What a case's subprocess did."""

    rc: int | None  # None: still running at the timeout (killed)
    stdout: str
    stderr: str


# Runs inside the case's subprocess: the snippet, then one marker line saying what happened.
HARNESS = f"""
import ast, json, sys, warnings
code = sys.argv[1]
out = {{"status": "ok"}}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        tree = ast.parse(code)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        env = {{"__name__": "__probe__"}}
        exec(compile(tree, "<case>", "exec"), env)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "<case>", "eval"), env)
            out["value"] = repr(value)[:200]
    except BaseException as err:
        out = {{"status": "raised", "type": type(err).__name__, "message": str(err)}}
out["warnings"] = [f"{{w.category.__name__}}: {{w.message}}" for w in caught]
print({MARK!r} + json.dumps(out), flush=True)
"""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _kill_tree(pid: int) -> None:
    """Kill a timed-out case and every process it started (a submitit local job outlives its parent)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=10)


def _spawn(argv: list[str], tmp: Path, timeout: float) -> Ran:
    env = dict(os.environ, SPRINGBLOCK_CACHE=str(tmp / "cache"), SPRINGBLOCK_SHIPPED=str(tmp / "shipped"),
               MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for name in ("cache", "shipped"):
        (tmp / name).mkdir()
    proc = subprocess.Popen(argv, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", preexec_fn=_limit_memory)
    try:
        out, err = proc.communicate(timeout=timeout)
        return Ran(proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        out, err = proc.communicate()
        return Ran(None, out, err)


def _entry_point() -> list[str]:
    """The ``springblock`` console script (pyproject's ``springblock = springblock.cli:main``)."""
    script = Path(sys.executable).with_name("springblock")
    if script.exists():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from springblock.cli import main; sys.exit(main())"]


def run_cli(case: Case, tmp: Path, timeout: float) -> Ran:
    return _spawn(_entry_point() + [a.replace("{tmp}", str(tmp)) for a in case.what], tmp, timeout)


def run_api(case: Case, tmp: Path, timeout: float) -> Ran:
    return _spawn([sys.executable, "-c", HARNESS, case.what.replace("{tmp}", str(tmp))], tmp, timeout)


RUNNERS = {"cli": run_cli, "api": run_api}


# ---------------------------------------------------------------------------------------------
# Classifying what it got
# ---------------------------------------------------------------------------------------------
# Exceptions that are never a refusal by name, whatever they say: the input got into the arithmetic.
RAW = {"IndexError", "OverflowError", "MemoryError", "_ArrayMemoryError", "ZeroDivisionError", "AttributeError",
       "ReadError", "BadZipFile", "AssertionError", "RecursionError", "NameError", "UnboundLocalError",
       "StopIteration", "UnicodeDecodeError", "EOFError", "PicklingError", "UnpicklingError"}


def _names(text: str, names: tuple[str, ...]) -> bool:
    """Whether ``text`` names one of ``names`` as a word ("L" is not the l of "allowed", "seed" not "seeds")."""
    for n in names:
        pattern = (r"(?<![\w-])" if n[0].isalnum() or n[0] == "_" else "") + re.escape(n) \
            + (r"(?![\w-])" if n[-1].isalnum() or n[-1] == "_" else "")
        if re.search(pattern, text, 0 if len(n) == 1 else re.IGNORECASE):
            return True
    return False


def _without_usage(text: str) -> list[str]:
    """Lines of stderr without argparse's usage block (which lists every option: it names them all)."""
    out, in_usage = [], False
    for line in text.splitlines():
        if line.startswith("usage:"):
            in_usage = True
            continue
        if in_usage and (line.startswith(" ") or not line.strip()):
            continue
        in_usage = False
        if line.strip():
            out.append(line.strip())
    return out


def classify_cli(case: Case, ran: Ran, timeout: float) -> tuple[str, str]:
    if ran.rc is None:
        return "silent", f"still running at the {timeout:.0f} s timeout: it started work"
    err, out = _without_usage(ran.stderr), [line.strip() for line in ran.stdout.splitlines() if line.strip()]
    if "Traceback (most recent call last)" in ran.stderr or ran.rc < 0:
        last = err[-1] if err else f"killed by signal {-ran.rc}"
        return "traceback", f"[rc={ran.rc}] {last}"
    if ran.rc == 0:
        warned = [line for line in err + out if "warning" in line.lower() and _names(line, case.names)]
        if warned:
            return "warning", warned[0]
        return "silent", f"exit 0: {(out or err or ['(no output)'])[0]}"
    lines = [line for line in err if "error" in line.lower()] or err or out
    shown = lines[-1] if lines else "(no message)"
    said = "\n".join(err + out)
    if not _names(said, case.names):
        return "traceback", f"[rc={ran.rc}, does not name {' / '.join(case.names)}] {shown}"
    if ran.rc != 2:
        refused = [line for line in out if "refused" in line.lower()]
        shown = f"[rc={ran.rc}] " + (refused[-1] if refused else shown)
    return "clear error", shown


def classify_api(case: Case, ran: Ran, timeout: float) -> tuple[str, str]:
    if ran.rc is None:
        return "silent", f"still running at the {timeout:.0f} s timeout: it started work"
    marked = [line for line in ran.stdout.splitlines() if line.startswith(MARK)]
    if not marked:  # killed, or crashed before the harness could report
        lines = _without_usage(ran.stderr)
        return "traceback", f"[rc={ran.rc}, no result] {lines[-1] if lines else '(no output)'}"
    res = json.loads(marked[-1][len(MARK):])
    if res["status"] == "ok":
        named = [w for w in res["warnings"] if _names(w, case.names)]
        if named:
            return "warning", named[0]
        said = f"; warned: {res['warnings'][0]}" if res["warnings"] else ""
        return "silent", f"returned {res.get('value', 'None')}{said}"
    shown = f"{res['type']}: {res['message'].splitlines()[0] if res['message'] else ''}"
    bare_key = res["type"] == "KeyError" and " " not in res["message"].strip("'\"")
    if res["type"] in RAW or bare_key:
        return "traceback", shown
    if not _names(res["message"], case.names):
        return "traceback", f"[does not name {' / '.join(case.names)}] {shown}"
    return "clear error", shown


CLASSIFIERS = {"cli": classify_cli, "api": classify_api}


def probe(case: Case, timeout: float) -> Outcome:
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="springblock-probe-"))
    try:
        make_fixtures(case.what if case.kind == "api" else " ".join(case.what), tmp)
        ran = RUNNERS[case.kind](case, tmp, timeout)
        outcome, message = CLASSIFIERS[case.kind](case, ran, timeout)
        message = message.replace(str(tmp), "{tmp}")  # the same text on every run
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Outcome(case, outcome, message, time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def report(results: list[Outcome], wall_s: float) -> None:
    cat_w = max(len(r.case.category) for r in results)
    name_w = min(70, max(len(r.case.name) for r in results))
    print(f"{'category':<{cat_w}}  {'case':<{name_w}}  {'outcome':<11}  message")
    for r in results:
        name = _cut(r.case.name, name_w)
        print(f"{r.case.category:<{cat_w}}  {name:<{name_w}}  {r.outcome:<11}  {_cut(r.message, 100)}")
    print()
    counts = {o: sum(r.outcome == o for r in results) for o in OUTCOMES}
    print("tally: " + ", ".join(f"{o} {n}" for o, n in counts.items()) + f" (of {len(results)} cases, {wall_s:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=None, help="only the cases whose category or name holds this substring")
    p.add_argument("--jobs", type=int, default=1, help="cases run at once (default: 1)")
    p.add_argument("--timeout", type=float, default=TIMEOUT_S, help=f"seconds per case (default: {TIMEOUT_S})")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error(f"--jobs must be >= 1, got {args.jobs}")
    if not args.timeout > 0:
        p.error(f"--timeout must be > 0, got {args.timeout}")
    cases = [c for c in CASES if args.only is None or args.only.lower() in f"{c.category} {c.name}".lower()]
    if not cases:
        p.error(f"--only {args.only!r} matches no case")

    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    done: dict[int, Outcome] = {}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool, tqdm(total=len(cases), unit="case", file=sys.stderr) as bar:
        futures = {pool.submit(probe, c, args.timeout): i for i, c in enumerate(cases)}
        for fut in as_completed(futures):
            done[futures[fut]] = fut.result()
            bar.update(1)
    report([done[i] for i in range(len(cases))], time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
