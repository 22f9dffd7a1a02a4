"""A small sweep run in a child process by tests/test_faults.py, so that it can be killed.

    python tests/faultjob.py sweep        the sweep, normally
    python tests/faultjob.py slow-saves   the sweep, pausing 1 s after every stored result
    python tests/faultjob.py stuck-write  the sweep, hanging in the middle of writing its first result
    python tests/faultjob.py terminable   slow-saves, with SIGTERM handled as the command line does
"""
from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np

from springblock import cache, data
from springblock.experiments import mlp
from springblock.train import TrainConfig

# Four stacks (the epoch count is part of the stack key), so results are stored one after another.
CONFIGS = [TrainConfig(alpha=a, epochs=e, batch_size=b, dropout=p, seed=s)
           for a, e, b, p, s in [(0.0, 1, 320, 0.0, 1), (0.4, 2, 32, 0.1, 2), (1.0, 3, 320, 0.0, 3), (0.2, 4, 160, 0.2, 4)]]


def small_data():
    full = data.load_dataset("mnist")
    return dataclasses.replace(full, x_train=full.x_train[:320], y_train=full.y_train[:320], x_test=full.x_test[:400],
                               y_test=full.y_test[:400], x_val=None, y_val=None, spec=None)


def main(mode: str) -> None:
    if mode == "terminable":
        from springblock import cli

        cli.stop_on_sigterm()
    if mode in ("slow-saves", "terminable"):
        save = cache.Store.save

        def slow(self, *a, **k):
            out = save(self, *a, **k)
            print("saved", flush=True)
            time.sleep(1.0)
            return out

        cache.Store.save = slow
    elif mode == "stuck-write":
        real = np.savez_compressed

        def stuck(fh, **arrays):
            real(fh, **arrays)
            fh.flush()
            print("writing", flush=True)
            time.sleep(600)  # killed here: a temporary file is left half-way

        np.savez_compressed = stuck
    mlp.train(CONFIGS, small_data(), progress=False, label="fault job")
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
