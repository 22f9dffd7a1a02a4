"""Speed of the batched spring–block simulator against a per-run Python loop.

The workload is the Fig. 3 phase diagram at paper size: 6 friction rows × 7 noise columns = 42
cells, 20 realisations each, 10⁴ overdamped steps (L = 7, dt = 0.01, independent Gaussian noise).

The baseline is what the authors' notebook does for one chain: a Python loop over steps with an
inner Python loop over blocks (noise drawn per step as a small NumPy vector). Running it for all
840 chains would take minutes, so a few runs are timed and the per-run time is multiplied by the
number of runs; the table says so.

    python benchmarks/bench_chain.py            # full table
    python benchmarks/bench_chain.py --repeat 1 # fewer repeats of the vectorised runs
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from springblock import chain

MU_R = np.array([0.0, 0.007, 0.014, 0.021, 0.028, 0.035])  # rows (spec §4.4)
SIGMA = np.array([0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2])  # columns
MU_L, L, DT, STEPS, REALISATIONS = 0.04, 7, 0.01, 10_000, 20


def notebook_run(mu_r, mu_l, sigma, rng, L=L, k=1.0, y=1.0, dt=DT, steps=STEPS):
    """One chain the way the authors' notebook runs it: NumPy arrays indexed element by element,
    one scalar noise draw per block and step, the load stored every step (written for this
    benchmark, same structure)."""
    x = np.zeros(L)
    history = []
    for _ in range(steps):
        new = np.zeros_like(x)
        for i in range(L):
            left = x[i - 1] if i > 0 else 0.0
            right = x[i + 1] if i < L - 1 else y
            F = k * (right - 2 * x[i] + left) + sigma * rng.standard_normal()
            mu = mu_l if F < 0 else mu_r
            new[i] = x[i] + (0.0 if np.abs(F) <= mu else dt * (F - mu * np.sign(F)))
        history.append(y - new)
        x = new
    return history[-1]


def lean_run(mu_r, mu_l, sigma, rng, L=L, k=1.0, y=1.0, dt=DT, steps=STEPS):
    """A leaner per-run loop: Python floats, one noise vector per step, no stored trajectory."""
    x = [0.0] * (L + 2)
    x[-1] = y
    for _ in range(steps):
        xi = rng.standard_normal(L).tolist()
        new = x[:]
        for i in range(1, L + 1):
            F = k * (x[i + 1] - 2 * x[i] + x[i - 1]) + sigma * xi[i - 1]
            if F > mu_r:
                new[i] = x[i] + dt * (F - mu_r)
            elif F < -mu_l:
                new[i] = x[i] + dt * (F + mu_l)
        x = new
    return [y - v for v in x[:-1]]


def ratio(r):
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="repeats of each vectorised run (best is kept)")
    ap.add_argument("--loop-runs", type=int, default=3, help="baseline runs actually timed")
    args = ap.parse_args()

    runs = MU_R.size * SIGMA.size * REALISATIONS
    rng = np.random.default_rng(0)
    cells = [(m, s) for m in MU_R for s in SIGMA]

    def per_run(fn):  # mean over a few cells spread over the grid (noise-free and noisy)
        start = time.perf_counter()
        for i in range(args.loop_runs):
            m, s = cells[(i * 17 + 3) % len(cells)]
            fn(m, MU_L, s, rng)
        return (time.perf_counter() - start) / args.loop_runs

    t_nb, t_lean = per_run(notebook_run), per_run(lean_run)
    baseline = t_nb * runs

    def grid(dtype):
        return chain.simulate(L=L, mu_r=MU_R[:, None], mu_l=MU_L, sigma=SIGMA, dt=DT, steps=STEPS,
                              realisations=REALISATIONS, seed=0, dtype=dtype)

    note = f"× {runs} runs, extrapolated from {args.loop_runs} timed runs"
    rows = [("per-run loop, authors' notebook style", baseline, f"{t_nb * 1e3:.0f} ms/run {note}"),
            ("per-run loop, lean pure Python", t_lean * runs, f"{t_lean * 1e3:.0f} ms/run {note}")]
    for dtype in ("float64", "float32"):
        t = best_of(lambda: grid(dtype), args.repeat)
        rows.append((f"chain.simulate, {dtype}", t, f"one batched call, best of {args.repeat}"))

    print(f"Fig. 3 grid: {MU_R.size}×{SIGMA.size} cells × {REALISATIONS} realisations × {STEPS} steps, L={L}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}, python {platform.python_version()}")
    print()
    print(f"| {'method':38s} | {'time (s)':>8s} | {'vs notebook':>11s} | {'vs lean':>7s} | note")
    print(f"|{'-' * 40}|{'-' * 10}|{'-' * 13}|{'-' * 9}|------")
    for name, t, note in rows:
        print(f"| {name:38s} | {t:8.3f} | {ratio(baseline / t):>11s} | {ratio(t_lean * runs / t):>7s} | {note}")
    print()
    print("targets: ≤ 0.5 s for the grid and ≥ 100× over the per-run loop")


if __name__ == "__main__":
    main()
