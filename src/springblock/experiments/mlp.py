"""The one experiment behind every MLP of the book: networks trained by the stacked engine,
cached one network per result, so experiments that share a network train it once."""
from __future__ import annotations

from typing import Sequence

import torch

from .. import results, separation, validate
from ..train import MEASURED_KINDS, TrainConfig, check_run, train_networks


def _compute(configs, ctx, emit) -> None:
    groups: dict[tuple, list[int]] = {}
    for j, c in enumerate(configs):
        groups.setdefault((c["record_every"], tuple(c["kinds"])), []).append(j)
    bar = None
    if ctx.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(c["network"]["epochs"] for c in configs), unit="net-epoch",
                   desc=f"{ctx.label}: {len(configs)} network(s)")
    try:
        for (every, kinds), idx in groups.items():
            train_networks([TrainConfig(**configs[j]["network"]) for j in idx], ctx.data, ctx.device,
                           record_every=every, progress=bar if bar is not None else False, kinds=kinds,
                           dtype=getattr(torch, ctx.dtype), on_result=lambda i, r, idx=idx: emit(idx[i], r.arrays()))
    finally:
        if bar is not None:
            bar.close()


EXPERIMENT = results.Experiment("mlp", code=("springblock.experiments.mlp",), compute=_compute, reports_progress=True)


def train(configs: Sequence[TrainConfig], data, *, device="cpu", dtype: torch.dtype = torch.float32,
          record_every: int | None = None, kinds: Sequence[str] = MEASURED_KINDS, progress: bool = True,
          label: str | None = None, executor=None, root=None, cached_only: bool = False) -> list[dict]:
    """Results of ``configs`` on ``data`` (one dict of arrays per network, in order): stored ones
    read, missing ones trained together by the engine and stored as each finishes.

    Each dict holds ``test_acc``, ``train_acc``, ``losses``, ``epochs_run``,
    ``load_{train,test}_{kind}`` (L+1,) and, with ``record_every``, ``history`` (R, L+1) and
    ``history_epochs`` (R,). ``cached_only``: read only, raising
    :class:`springblock.results.MissingResults` if something is not stored.
    """
    configs = list(configs)
    check_run(configs, data, device)  # configs, data and device refused before any work
    record_every = validate.optional_integer("record_every", record_every, 1)
    kinds = [validate.choice("kinds", k, separation.KINDS) for k in kinds]
    cells = [{"network": c.asdict(), "record_every": record_every, "kinds": kinds} for c in configs]
    return results.run(EXPERIMENT, cells, data=data, device=device, dtype=dtype, progress=progress,
                       label=label, executor=executor, root=root, cached_only=cached_only)
