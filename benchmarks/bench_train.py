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
    python benchmarks/bench_train.py --profile --seeds 10 --epochs 3     # where an epoch's time goes

``--profile`` runs each workload's stacks under ``torch.profiler`` (measurement after training left
out) and sorts the time of every op into matmuls, elementwise passes (BatchNorm, activation,
dropout masks, loss), random draws, the optimizer and data movement (gathers, copies); beside it
the *floor*, measured in the same run: the same matrix products (same shapes, same counts) alone,
and the same random draws alone — what an engine could not go below without changing the numbers.
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


CATEGORIES = {  # op name -> where its time goes
    "matmul": ("aten::bmm", "aten::baddbmm", "aten::mm", "aten::addmm", "aten::matmul"),
    "random": ("aten::random_", "aten::randperm", "aten::randint", "aten::normal_", "aten::randn", "aten::uniform_"),
    "optimizer": ("aten::_fused_adam_", "aten::_fused_adam", "aten::_foreach_add_", "aten::_foreach_add", "aten::addcdiv_",
                  "aten::lerp_"),
    "data movement": ("aten::index", "aten::copy_", "aten::cat", "aten::clone", "aten::contiguous", "aten::gather",
                      "aten::scatter_add_", "aten::fill_", "aten::empty", "aten::zeros", "aten::full"),
}


def _category(name: str) -> str:
    for cat, ops in CATEGORIES.items():
        if name in ops:
            return cat
    return "elementwise"  # BatchNorm, activation and its backward, dropout masks, loss, reductions


def profile(cfgs: list[TrainConfig], mnist, dev, epochs: int) -> None:
    """Print where the training epochs of ``cfgs`` spend their time, beside the floor."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    from springblock import train

    cfgs = [TrainConfig(**{**c.asdict(), "epochs": epochs}) for c in cfgs]
    splits = train.tensors(mnist, dev, torch.float32)
    groups: dict[tuple, list[TrainConfig]] = {}
    for c in cfgs:
        groups.setdefault(c.stack_key() + (c.optimizer,), []).append(c)
    stacks = []
    for (b, *_), members in sorted(groups.items()):
        per = max(1, train.ROWS_PER_CHUNK[dev.type] // b)
        stacks += [members[i:i + per] for i in range(0, len(members), per)]
    built = [train._Stack(s, splits, dev, torch.float32, mnist.num_classes) for s in stacks]
    built[0].epoch()  # warm-up
    # the wall time without the profiler (its per-op bookkeeping is not the engine's cost), then the
    # same epochs again under it, for the shares
    wall = timed(lambda: [st.epoch() for st in built for _ in range(epochs)], dev)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with torch_profile(activities=acts, record_shapes=True) as prof:
        for st in built:
            for _ in range(epochs):
                st.epoch()
    by_cat: dict[str, float] = {}
    mm_shapes: dict[tuple, int] = {}
    draws: dict[tuple, int] = {}
    for ev in prof.key_averages(group_by_input_shape=True):
        cat = _category(ev.key)
        by_cat[cat] = by_cat.get(cat, 0.0) + ev.self_cpu_time_total / 1e6
        if cat == "matmul" and ev.key in ("aten::bmm", "aten::baddbmm"):
            mm_shapes[(ev.key, str(ev.input_shapes))] = ev.count
        if ev.key in ("aten::random_", "aten::randperm"):
            draws[(ev.key, str(ev.input_shapes))] = ev.count
    floor_mm = _replay_matmuls(mm_shapes, dev)
    floor_rand = _replay_draws(draws, dev)
    total = sum(by_cat.values())
    print(f"\nprofile: {len(cfgs)} networks in {len(built)} stack(s), {epochs} epoch(s) each: {wall:.2f} s wall "
          "without the profiler; shares from a second, profiled pass (self time of every op)")
    print("| where the time goes | s (wall × share) | share | floor: the same work alone (s) |")
    print("|---|---|---|---|")
    for cat in ("matmul", "elementwise", "random", "optimizer", "data movement"):
        share = by_cat.get(cat, 0.0) / total
        floor = {"matmul": f"{floor_mm:.2f}", "random": f"{floor_rand:.2f}"}.get(cat, "")
        print(f"| {cat} | {wall * share:.2f} | {100 * share:.0f} % | {floor} |")
    floor = floor_mm + floor_rand
    print(f"| all | {wall:.2f} | 100 % | {floor:.2f}: the engine takes {wall / floor:.2f}× its floor |")


def _replay_matmuls(shapes: dict[tuple, int], dev) -> float:
    """Seconds the profiled batched matrix products take alone: same shapes, same counts."""
    total = 0.0
    for (op, text), count in shapes.items():
        dims = [tuple(d) for d in eval(text) if d]  # the profiler's own repr of shape lists
        args = [torch.randn(*d, device=dev) for d in dims[:3]]
        fn = (lambda: torch.bmm(args[0], args[1])) if op == "aten::bmm" else (lambda: torch.baddbmm(*args))
        fn()
        total += timed(lambda: [fn() for _ in range(count)], dev)
    return total


def _replay_draws(shapes: dict[tuple, int], dev) -> float:
    """Seconds the profiled random draws take alone (int64 words for dropout, permutations)."""
    gen = torch.Generator(device=dev).manual_seed(0)
    total = 0.0
    for (op, text), count in shapes.items():
        dims = [tuple(d) for d in eval(text) if d]
        if op == "aten::random_" and dims:
            buf = torch.empty(dims[0], dtype=torch.int64, device=dev)
            total += timed(lambda: [buf.random_(-2**63, None, generator=gen) for _ in range(count)], dev)
        elif op == "aten::randperm":
            n = 2560
            total += timed(lambda: [torch.randperm(n, generator=gen, device=dev) for _ in range(count)], dev)
    return total


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
    ap.add_argument("--profile", action="store_true", help="only profile the engine's epochs against the floor")
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
    if args.profile:
        for panel in args.panels:
            print(f"\npanel ({fig1.PANELS[panel].letter}) {panel}, {args.seeds} seed(s) per cell:", end="")
            profile(configs(panel, args.alphas, args.columns, args.epochs, args.seeds, n), mnist, dev, args.epochs)
        return
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
