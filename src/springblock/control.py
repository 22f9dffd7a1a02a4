"""Load-guided training: set the dropout rate from the shape of the load curve while training.

The paper's practical claim is that the linear (equiseparated) load curve goes with the best test
accuracy, and that noise (here dropout) moves a concave curve toward linear and then convex. If
both hold, a feedback loop can *find* the right amount of noise without a grid search:

* every ``every`` epochs (from epoch ``start``) measure the trace load curve D_0..D_L on the clean
  training set (eval mode) and its relative curvature ĉ = c / |D_0 − D_L|;
* :class:`DropoutController` turns the error e = target − ĉ into a rate with a PI law,
  p = p0 + k_p·e + k_i·Σe, held in [p_min, p_max]: concave (ĉ < 0) raises dropout, convex lowers it.

:func:`compare_with_fixed` runs the controller against a grid of fixed rates over seeds, on the
same initial weights and data order per seed. The test set is split in two halves: the fixed rate
is *chosen* on the first (validation) half and every method is *scored* on the second, so the grid
search gets no peek at the numbers it is judged by (the oracle choice on the scoring half is
reported too).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from .cache import ResultCache
from .data import cache_key, load_dataset
from .generalization import (VERSION, _seed_list, evaluate, relative_curvature, seeded, set_dropout,
                             train_module)
from .models import MLP
from .scales import resolve_device


@dataclass
class DropoutController:
    """PI controller from relative curvature to dropout rate.

    ``gain_p``: rate per unit of error (proportional); ``gain_i``: rate per unit of error per update
    (integral); the rate is held in [``p_min``, ``p_max``] (0 ≤ p_min ≤ p0 ≤ p_max < 1) and the
    integral only accumulates while the rate is not held at a bound (no wind-up). ``target``: the
    relative curvature aimed at (0 = linear). A non-finite measurement leaves the rate unchanged.
    """

    gain_p: float = 0.2
    gain_i: float = 0.05
    p_min: float = 0.0
    p_max: float = 0.5
    p0: float = 0.0
    target: float = 0.0
    p: float = field(init=False)
    integral: float = field(init=False, default=0.0)

    def __post_init__(self):
        for name in ("gain_p", "gain_i", "p_min", "p_max", "p0", "target"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number; got {v!r}")
        for name in ("gain_p", "gain_i"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if not 0 <= self.p_min <= self.p_max < 1:
            raise ValueError(f"need 0 <= p_min <= p_max < 1; got p_min={self.p_min!r}, p_max={self.p_max!r}")
        if not self.p_min <= self.p0 <= self.p_max:
            raise ValueError(f"p0 must lie in [p_min, p_max] = [{self.p_min}, {self.p_max}]; got {self.p0!r}")
        self.reset()

    def reset(self) -> None:
        self.p, self.integral = float(self.p0), 0.0

    def update(self, rc: float) -> float:
        """New dropout rate after measuring relative curvature ``rc``."""
        if not math.isfinite(rc):
            return self.p
        e = self.target - rc
        integral = self.integral + e
        raw = self.p0 + self.gain_p * e + self.gain_i * integral
        self.p = min(max(raw, self.p_min), self.p_max)
        if self.p == raw:  # conditional integration: no wind-up while held at a bound
            self.integral = integral
        return self.p


def train_controlled(model, x, y, controller: DropoutController | None, *, every: int = 5, start: int = 10,
                     lr: float = 1e-3, epochs: int = 100, seed: int = 0) -> dict:
    """Train ``model`` (full-batch Adam, :func:`~springblock.generalization.train_module`) while
    ``controller`` sets its dropout rate every ``every`` epochs from epoch ``start`` on; with
    ``controller=None`` the model keeps its own rate (the fixed baseline, measured the same way).

    Returns ``epochs`` (T,) of the measurements, the relative curvature ``rc`` (T,) measured there
    and the rate ``p`` (T,) in force after each.
    """
    for name, v in (("every", every), ("start", start)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    if controller is not None:
        controller.reset()
        set_dropout(model, controller.p)
    log = {"epochs": [], "rc": [], "p": []}

    def on_epoch(epoch, net):
        if epoch < start or (epoch - start) % every:
            return
        rc = float(relative_curvature(evaluate(net, x, y)["load_trace"]))
        if controller is not None:
            set_dropout(net, controller.update(rc))
        log["epochs"].append(epoch)
        log["rc"].append(rc)
        log["p"].append(next((m.p for m in net.modules() if isinstance(m, nn.Dropout)), 0.0))

    train_module(model, x, y, lr=lr, epochs=epochs, seed=seed, on_epoch=on_epoch)
    return {k: np.array(v) for k, v in log.items()}


def compare_with_fixed(dropouts=(0.0, 0.05, 0.1, 0.2), seeds: int = 3, epochs: int = 100, *, every: int = 5,
                       start: int = 10, gain_p: float = 0.2, gain_i: float = 0.05, p_max: float = 0.5,
                       target: float = 0.0, alpha: float = 0.0, lr: float = 1e-3, hidden: int = 7,
                       width: int = 100, n_train: int = 2560, device="cpu", seed: int = 0) -> dict:
    """The controller against fixed dropout rates: paper MLP, MNIST, full-batch Adam; cached.

    Per seed, every run starts from the same weights and sees the same data order. Returns
    ``fixed_acc`` (P, S, 2) and ``ctrl_acc`` (S, 2) — test accuracy on the validation and the
    scoring half —, final relative curvatures ``fixed_rc`` (P, S), ``ctrl_rc`` (S), the controller's
    trajectory ``ctrl_p``/``ctrl_traj_rc`` (S, T) at ``traj_epochs`` (T,), and the comparison:
    ``best_fixed`` (index chosen on validation), ``diff_mean``/``diff_sem`` (controller − chosen
    fixed rate on the scoring half, paired over seeds), ``oracle_fixed`` / ``oracle_diff_mean``
    (the rate that is best on the scoring half itself).
    """
    dev = resolve_device(device)
    data = load_dataset("mnist", n_train=n_train)
    sl = _seed_list(seeds, seed)
    DropoutController(gain_p, gain_i, 0.0, p_max, 0.0, target)  # validate before any work
    for p in dropouts:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ValueError(f"dropouts must be rates in [0, 1); got {p!r}")
    config = dict(version=VERSION, dropouts=list(dropouts), seeds=sl, epochs=epochs, every=every, start=start,
                  gain_p=gain_p, gain_i=gain_i, p_max=p_max, target=target, alpha=alpha, lr=lr, hidden=hidden,
                  width=width, data=cache_key(data), rng_device=dev.type)

    def compute():
        xtr, ytr, xte, yte = (t.to(dev) for t in (data.x_train, data.y_train, data.x_test, data.y_test))
        half = len(xte) // 2
        splits = ((xte[:half], yte[:half]), (xte[half:], yte[half:]))
        P, S = len(dropouts), len(sl)
        out = {"fixed_acc": np.zeros((P, S, 2)), "fixed_rc": np.zeros((P, S)), "ctrl_acc": np.zeros((S, 2)),
               "ctrl_rc": np.zeros(S)}
        trajs = []
        for j, s in enumerate(sl):
            for i, p in enumerate([*dropouts, None]):  # None: the controlled run
                with seeded(s, dev):
                    net = MLP(alpha, p or 0.0, hidden, width, xtr.shape[1], data.num_classes).to(dev)
                ctrl = None if p is not None else DropoutController(gain_p, gain_i, 0.0, p_max, 0.0, target)
                log = train_controlled(net, xtr, ytr, ctrl, every=every, start=start, lr=lr, epochs=epochs, seed=s)
                acc = [evaluate(net, xs, ys)["acc"] for xs, ys in splits]
                rc = float(relative_curvature(evaluate(net, xtr, ytr)["load_trace"]))
                if p is None:
                    out["ctrl_acc"][j], out["ctrl_rc"][j] = acc, rc
                    trajs.append(log)
                else:
                    out["fixed_acc"][i, j], out["fixed_rc"][i, j] = acc, rc
        out["traj_epochs"] = trajs[0]["epochs"]
        out["ctrl_p"] = np.stack([t["p"] for t in trajs])
        out["ctrl_traj_rc"] = np.stack([t["rc"] for t in trajs])
        return out

    out = ResultCache("generalization_control").get_or_compute(config, compute, device=str(dev))
    fixed, ctrl = out["fixed_acc"], out["ctrl_acc"]
    best = int(np.argmax(fixed[:, :, 0].mean(1)))  # chosen on the validation half
    oracle = int(np.argmax(fixed[:, :, 1].mean(1)))
    diff = ctrl[:, 1] - fixed[best, :, 1]
    sem = lambda v: float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan  # noqa: E731
    out.update(dropouts=np.array(dropouts), seeds=np.array(sl), best_fixed=best, oracle_fixed=oracle,
               diff_mean=float(diff.mean()), diff_sem=sem(diff),
               oracle_diff_mean=float((ctrl[:, 1] - fixed[oracle, :, 1]).mean()),
               oracle_diff_sem=sem(ctrl[:, 1] - fixed[oracle, :, 1]))
    return out
