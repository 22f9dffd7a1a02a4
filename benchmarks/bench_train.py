"""Speed of the stacked training engine against training the same networks one at a time.

Workloads from Fig. 1, each run both ways in this process on the same data (the paper's MNIST
split, already in memory on the chosen device):

* a full-batch panel: the dropout panel's networks (α rows × dropout columns, batch 2560);
* the batch-size panel: α rows × batch sizes (10 … 1280), i.e. many small Adam steps.

The baseline is :func:`springblock.loops.train_reference`: one ``nn.Module`` per network, autograd
and ``torch.optim.Adam``, consuming the same random numbers (it is the engine's correctness
reference, so both sides do the same work, measurement included). The engine trains every network
of the workload. The baseline's cost per network does not depend on α, so by default it trains one
network per column (α cycling over the rows) and the table scales its time to the whole workload,
saying so; ``--loop-all`` trains them all. Early stopping is off, so time is linear in ``--epochs``.

With ``--jobs N`` (default 2 on a CPU) the engine also trains each workload split into N local
processes through ``springblock run``'s executor (``--executor local``: submitit, each job on its
share of the cores, storing into a throw-away result cache): whether processes of one thread each
use a CPU's cores better than one process with a thread per core depends on the workload (the size
of the stacks against the jobs' start-up), so the table measures it.

Next to the times the table gives the achieved training throughput (6 × weights × samples × epochs
floating-point operations: forward 2, backward 4 per weight and sample; the end-of-run measurement
not counted) and, for scale, this device's dense-matmul throughput measured in the same run.

    python benchmarks/bench_train.py                                     # CPU: both panels, 1 seed, 20 epochs
    python benchmarks/bench_train.py --seeds 10 --epochs 100 --loop-all  # the paper's panels, exactly
    python benchmarks/bench_train.py --device cuda --seeds 10 --full-fig1
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

import torch

from springblock import data, devices, results, scales
from springblock.executors import SubmititExecutor
from springblock.experiments import fig1, mlp
from springblock.loops import train_reference
from springblock.train import TrainConfig, init_module, train_networks


def configs(panel: str, alphas: int, columns: int, epochs: int, seeds: int, n_train: int) -> list[TrainConfig]:
    """The panel's paper grid thinned to ``alphas`` rows × ``columns`` columns, (α, column, seed) order."""
    s = scales.settings(f"fig1_{panel}", "paper")
    a = s["alphas"][:: max(1, len(s["alphas"]) // alphas)][:alphas]
    v = s["values"][:: max(1, len(s["values"]) // columns)][:columns]
    cfgs = fig1.panel_configs(panel, alphas=a, values=v, seeds=seeds, epochs=epochs, n_train=n_train)
    return [TrainConfig(**{**c.asdict(), "early_stop": False}) for c in cfgs]


def timed(fn, dev) -> float:
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t


def matmul_gflops(dev, n: int = 2048, repeat: int = 5) -> float:
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    a @ b
    t = min(timed(lambda: a @ b, dev) for _ in range(repeat))
    return 2 * n**3 / t / 1e9


def training_flops(cfgs: list[TrainConfig], in_dim: int, classes: int, n_train: int) -> float:
    weights = sum(p.numel() for n, p in init_module(cfgs[0], in_dim, classes).named_parameters() if "weight" in n)
    return sum(6.0 * weights * n_train * c.epochs for c in cfgs)


def engine_in_jobs(cfgs: list[TrainConfig], mnist, dev, jobs: int) -> float:
    """Wall time of ``cfgs`` trained by ``jobs`` local submitit jobs into an empty result cache."""
    cells = [{"network": c.asdict(), "record_every": None, "kinds": ["trace", "pinv"]} for c in cfgs]
    with tempfile.TemporaryDirectory() as root:
        return timed(lambda: results.run(mlp.EXPERIMENT, cells, data=mnist, device=dev, root=root, progress=False,
                                         executor=SubmititExecutor(kind="local", jobs=jobs)), dev)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=scales.DEVICES)
    ap.add_argument("--alphas", type=int, default=6, help="α rows per panel (≤ 6)")
    ap.add_argument("--columns", type=int, default=8, help="columns per panel (≤ 8)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per cell")
    ap.add_argument("--epochs", type=int, default=20, help="epochs per network (both sides)")
    ap.add_argument("--loop-all", action="store_true", help="baseline trains every network (default: one per column)")
    ap.add_argument("--panels", nargs="+", default=["dropout", "batch"], choices=list(fig1.PANELS),
                    help="workloads to time")
    ap.add_argument("--jobs", type=int, default=None,
                    help="also time the engine in this many local jobs (default: 2 on a CPU, 0 on a GPU; 0 = off)")
    ap.add_argument("--full-fig1", action="store_true", help="also time all of Fig. 1 at paper scale (engine)")
    args = ap.parse_args()

    dev = devices.resolve_device(args.device)
    jobs = args.jobs if args.jobs is not None else (2 if dev.type == "cpu" else 0)
    if jobs < 0:
        raise SystemExit(f"--jobs must be >= 0, got {jobs}")
    mnist = data.load_dataset("mnist")
    n, in_dim = mnist.x_train.shape
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
    peak = matmul_gflops(dev)
    print(f"device: {dev} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores; data: {mnist.description}")
    print(f"dense fp32 matmul 2048²: {peak:.0f} GFLOP/s (this run)")
    print(f"epochs per network: {args.epochs} (early stop off); baseline = loops.train_reference, one network at a time")
    if jobs:
        print(f"engine in {jobs} jobs: `--executor local --jobs {jobs}` (submitit), "
              f"{SubmititExecutor(kind='local', jobs=jobs).threads(jobs)} thread(s) each, results stored in a temporary cache")
    print()
    jcol = f"{jobs} jobs (s)" if jobs else ""
    print(f"| {'workload':52s} | {'nets':>4s} | {'loop (s)':>8s} | {'engine (s)':>10s} | "
          f"{'loop GFLOP/s':>12s} | {'engine GFLOP/s':>14s} | {'of matmul':>9s} | ratio |"
          + (f" {jcol:>11s} | ratio |" if jobs else ""))
    print(f"|{'-' * 54}|{'-' * 6}|{'-' * 10}|{'-' * 12}|{'-' * 14}|{'-' * 16}|{'-' * 11}|-------|"
          + (f"{'-' * 13}|-------|" if jobs else ""))
    for panel in args.panels:
        label = f"panel ({fig1.PANELS[panel].letter}) {panel}, {args.seeds} seed{'s' * (args.seeds > 1)}"
        cfgs = configs(panel, args.alphas, args.columns, args.epochs, args.seeds, n)
        train_networks(cfgs[:2], mnist, dev, progress=False)  # warm-up (allocator, kernels)
        t_engine = timed(lambda: train_networks(cfgs, mnist, dev, progress=False), dev)
        field = fig1.PANELS[panel].field
        V = len({getattr(c, field) for c in cfgs})
        A, S = len(cfgs) // (V * args.seeds), args.seeds
        # configs are ordered (α, column, seed): one network per column, α cycling over the rows
        sample = cfgs if args.loop_all else [cfgs[((j % A) * V + j) * S] for j in range(V)]
        t_loop = timed(lambda: [train_reference(c, mnist, dev) for c in sample], dev) * len(cfgs) / len(sample)
        if not args.loop_all:
            label += f" (loop: {len(sample)} timed, scaled)"
        flops = training_flops(cfgs, in_dim, mnist.num_classes, n) / 1e9
        extra = ""
        if jobs:
            t_jobs = engine_in_jobs(cfgs, mnist, dev, jobs)
            extra = f" {t_jobs:11.2f} | {t_loop / t_jobs:4.1f}× |"
        print(f"| {label:52s} | {len(cfgs):4d} | {t_loop:8.2f} | {t_engine:10.2f} | {flops / t_loop:12.1f} | "
              f"{flops / t_engine:14.1f} | {100 * flops / t_engine / peak:8.0f}% | {t_loop / t_engine:4.1f}× |" + extra)
    if args.full_fig1:
        cfgs = [c for p in fig1.PANELS for c in fig1.panel_configs(p, n_train=n, **{
            k: v for k, v in scales.settings(f"fig1_{p}", "paper").items() if k != "seed"})]
        t = timed(lambda: train_networks(cfgs, mnist, dev, progress=False), dev)
        print(f"\nall of Fig. 1 at paper scale ({len(cfgs)} networks, paper epochs, early stop on): {t:.1f} s")


if __name__ == "__main__":
    main()
