"""Speed of the stacked training engine against training the same networks one at a time.

Two workloads from Fig. 1, each run both ways in this process on the same data (already in
memory, on the chosen device):

* a full-batch panel: the dropout panel's networks (α rows × dropout columns, batch 2560);
* the batch-size panel: α rows × batch sizes (10 … 1280), i.e. many small Adam steps.

The baseline is :func:`springblock.train.train_reference`: one ``nn.Module`` per network, autograd
and ``torch.optim.Adam``, consuming the same random numbers (it is the engine's correctness
reference, so both sides do exactly the same work, measurement included). The engine trains every
network of the workload. The baseline's cost per network does not depend on α, so by default it
trains one network per column (α cycling over the rows) and the table scales its time to the
whole workload, saying so; ``--loop-all`` trains them all. Early stopping is off, so time is
linear in ``--epochs`` (the paper trains 100; a few epochs under-state the engine's advantage,
because the eval-mode measurement at the end costs the same on both sides). ``--full-fig1``
also trains all of Fig. 1 at paper scale with the engine alone (meant for a GPU).

    python benchmarks/bench_train.py                                 # CPU: both panels, 1 seed, 20 epochs
    python benchmarks/bench_train.py --seeds 10 --epochs 100 --loop-all  # the paper's panels, exactly
    python benchmarks/bench_train.py --device cuda --seeds 10 --full-fig1
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from springblock import data, scales, sweep, train


def configs(panel: str, alphas: int, columns: int, epochs: int, seeds: int, n_train: int):
    p = sweep.PANELS[panel]
    a = sweep.ALPHAS[:: max(1, len(sweep.ALPHAS) // alphas)][:alphas]
    step = max(1, len(p.values) // columns)
    v = p.values[::step][:columns]
    return [train.TrainConfig(alpha=al, epochs=epochs, seed=s + 1, early_stop=False,
                              **{"batch_size": n_train, p.field: val})
            for al in a for val in v for s in range(seeds)]


def timed(fn):
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", choices=scales.DEVICES)
    ap.add_argument("--alphas", type=int, default=6, help="α rows per panel (≤ 6)")
    ap.add_argument("--columns", type=int, default=8, help="columns per panel (≤ 8)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per cell")
    ap.add_argument("--epochs", type=int, default=20, help="epochs per network (both sides)")
    ap.add_argument("--loop-all", action="store_true", help="baseline trains every network (default: one per column)")
    ap.add_argument("--panels", nargs="+", default=["dropout", "batch"], choices=["dropout", "batch"],
                    help="workloads to time")
    ap.add_argument("--full-fig1", action="store_true", help="also time all of Fig. 1 at paper scale (engine)")
    args = ap.parse_args()

    dev = scales.resolve_device(args.device)
    mnist = data.load_dataset("mnist")
    n = len(mnist.x_train)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or platform.machine())
    print(f"device: {dev} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores; data: {mnist.description}")
    print(f"epochs per network: {args.epochs} (early stop off); baseline = train.train_reference, one network at a time")
    print()
    print(f"| {'workload':50s} | {'nets':>4s} | {'loop (s)':>8s} | {'engine (s)':>10s} | "
          f"{'loop nets/s':>11s} | {'engine nets/s':>13s} | ratio |")
    print(f"|{'-' * 52}|{'-' * 6}|{'-' * 10}|{'-' * 12}|{'-' * 13}|{'-' * 15}|-------|")
    labels = {"dropout": "full-batch panel (dropout)", "batch": "batch-size panel"}
    for panel in args.panels:
        label = f"{labels[panel]}, {args.seeds} seed{'s' * (args.seeds > 1)}"
        cfgs = configs(panel, args.alphas, args.columns, args.epochs, args.seeds, n)
        train.train_networks(cfgs[:2], mnist, dev, progress=False)  # warm-up (allocator, kernels)
        t_engine = timed(lambda: train.train_networks(cfgs, mnist, dev, progress=False))
        V = len({getattr(c, sweep.PANELS[panel].field) for c in cfgs})
        A, S = len(cfgs) // (V * args.seeds), args.seeds
        # configs are ordered (α, column, seed): one network per column, α cycling over the rows
        sample = cfgs if args.loop_all else [cfgs[((j % A) * V + j) * S] for j in range(V)]
        t_loop = timed(lambda: [train.train_reference(c, mnist, dev) for c in sample]) * len(cfgs) / len(sample)
        if not args.loop_all:
            label += f" (loop: {len(sample)} timed, scaled)"
        m = len(cfgs)
        print(f"| {label:50s} | {m:4d} | {t_loop:8.2f} | {t_engine:10.2f} | {m / t_loop:11.2f} | "
              f"{m / t_engine:13.2f} | {t_loop / t_engine:4.1f}× |")
    if args.full_fig1:
        cfgs = [c for name in sweep.PANELS for c in sweep.panel_configs(name, "paper", n_train=n)[3]]
        t = timed(lambda: train.train_networks(cfgs, mnist, dev, progress=False))
        print(f"\nall of Fig. 1 at paper scale ({len(cfgs)} networks, paper epochs, early stop on): {t:.1f} s")
    print("\ntargets: batch-size panel ≥ 5× on a 2-core CPU; on a GPU ≥ 50× per panel and Fig. 1 in ≤ 3 min")


if __name__ == "__main__":
    main()
