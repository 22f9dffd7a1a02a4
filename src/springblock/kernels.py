"""The one seam between the training engine and torch's private kernels, with public fallbacks.

The engine writes its backward pass by hand and steps all networks' parameters as rows of one
buffer. Three of its operations have fast kernels that torch exposes only privately
(``torch.native_batch_norm`` and ``aten.native_batch_norm_backward``, ``aten.threshold_backward``,
``torch._fused_adam_``). Each is used through this module only, and each has a version written with
public operations that computes the same thing (to round-off). :data:`BACKEND` says which is in
use: ``"native"`` when the private kernels exist and pass a self-check at import, else ``"public"``;
``SPRINGBLOCK_TORCH_OPS=public`` forces the fallback (the tests run the engine both ways). The
choice is part of every engine result's cache key, since the two differ in the last bits.

Reproducibility of the CPU matrix products: ``springblock`` sets ``MKL_CBWR=AUTO,STRICT`` before
torch is first used (MKL's strict conditional numerical reproducibility), which makes every
matrix of a batched product come out bitwise the same whether it is computed alone or with
others. :func:`blas_reproducible` reports whether that mode is active.
"""
from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import torch

BN_EPS, BN_MOMENTUM = 1e-5, 0.1  # nn.BatchNorm1d defaults
_MKL_CBWR_ALL, _MKL_CBWR_STRICT = ~0, 0x10000


def _native_available() -> bool:
    if os.environ.get("SPRINGBLOCK_TORCH_OPS", "native") == "public":
        return False
    try:
        x = torch.randn(1, 3, 5, dtype=torch.float64)
        g, b = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)  # the kernels' signatures
        rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
        y, mean, invstd = torch.native_batch_norm(x, g, b, rm, rv, True, BN_MOMENTUM, BN_EPS)
        torch.ops.aten.native_batch_norm_backward(y, x, g, rm, rv, mean, invstd, True, BN_EPS, [True, True, True])
        torch.ops.aten.threshold_backward(y, x, 0)
        p, gr, m, v = (torch.zeros(4) for _ in range(4))
        torch._fused_adam_([p], [gr], [m], [v], [], [torch.ones(())], lr=1e-3, beta1=0.9, beta2=0.999,
                           weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)
        return True
    except (AttributeError, RuntimeError, TypeError):
        return False


BACKEND = "native" if _native_available() else "public"


# ------------------------------------------------------------------ batch norm, training mode
# Activations of M stacked networks are (M, F, B) ("feature-major", batch last: large batches) or
# (M, B, F) ("batch-major": small batches, where the matrix products are much faster this way).
# Parameters and running statistics are (M, F). The native kernel serves the feature-major layout
# (all M·F channels in one call); the batch-major layout, used for small batches, always takes the
# public formula, which is cheap there.
def _axes(z, batch_axis: int):
    return (z.ndim - 1, 1) if batch_axis in (-1, z.ndim - 1) else (1, 2)  # (batch axis, feature axis)


def batch_norm_train(z, weight, bias, running_mean, running_var, batch_axis: int = -1):
    """BatchNorm of ``z`` over its batch axis, per network and feature, updating the running
    statistics in place as ``nn.BatchNorm1d`` does. Returns ``y`` and what :func:`batch_norm_backward`
    needs."""
    b_ax, f_ax = _axes(z, batch_axis)
    if BACKEND == "native" and b_ax == z.ndim - 1:
        flat = z.reshape(1, -1, z.shape[-1])
        y, mean, invstd = torch.native_batch_norm(flat, weight.reshape(-1), bias.reshape(-1), running_mean.view(-1),
                                                  running_var.view(-1), True, BN_MOMENTUM, BN_EPS)
        return y.view(z.shape), (mean, invstd)
    n = z.shape[b_ax]
    col = lambda t: t.unsqueeze(b_ax)  # (M, F) -> broadcastable against z
    mean = z.mean(b_ax)
    var = (z - col(mean)).square().mean(b_ax)
    invstd = (var + BN_EPS).rsqrt()
    with torch.no_grad():
        running_mean.mul_(1 - BN_MOMENTUM).add_(mean, alpha=BN_MOMENTUM)
        running_var.mul_(1 - BN_MOMENTUM).add_(var * (n / (n - 1)), alpha=BN_MOMENTUM)
    y = (z - col(mean)) * col(invstd * weight) + col(bias)
    return y, (mean, invstd)


def batch_norm_backward(gy, z, weight, saved, need_input_grad: bool, batch_axis: int = -1):
    """Gradients (dz or None, dweight, dbias) of :func:`batch_norm_train`, dweight and dbias (M, F)."""
    mean, invstd = saved
    b_ax, f_ax = _axes(z, batch_axis)
    if BACKEND == "native" and b_ax == z.ndim - 1:
        gz, gg, gb = torch.ops.aten.native_batch_norm_backward(
            gy.reshape(1, -1, gy.shape[-1]), z.reshape(1, -1, z.shape[-1]), weight.reshape(-1), None, None, mean,
            invstd, True, BN_EPS, [need_input_grad, True, True])
        return (None if gz is None else gz.view(gy.shape)), gg.view(weight.shape), gb.view(weight.shape)
    col = lambda t: t.unsqueeze(b_ax)
    xhat = (z - col(mean)) * col(invstd)
    gbias = gy.sum(b_ax)
    gweight = (gy * xhat).sum(b_ax)
    gz = None
    if need_input_grad:
        n = z.shape[b_ax]
        gz = col(weight * invstd) * (gy - (col(gbias) + xhat * col(gweight)) / n)
    return gz, gweight, gbias


def relu_backward(grad, y):
    """``grad · [y > 0]``."""
    if BACKEND == "native":
        return torch.ops.aten.threshold_backward(grad, y, 0)
    return grad * (y > 0)


# ------------------------------------------------------------------ Adam on rows of a buffer
def adam_step(params, grads, exp_avgs, exp_avg_sqs, steps, lr: float, betas, eps: float) -> None:
    """One ``torch.optim.Adam`` step (no weight decay) on lists of tensors sharing one ``lr``;
    ``steps`` are 0-d float tensors, incremented here."""
    if BACKEND == "native":
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=betas[0], beta2=betas[1],
                           weight_decay=0.0, eps=eps, amsgrad=False, maximize=False)
        return
    for p, g, m, v, t in zip(params, grads, exp_avgs, exp_avg_sqs, steps):
        t.add_(1)
        step = float(t)
        m.lerp_(g, 1 - betas[0])
        v.mul_(betas[1]).addcmul_(g, g, value=1 - betas[1])
        denom = (v.sqrt() / (1 - betas[1] ** step) ** 0.5).add_(eps)
        p.addcdiv_(m, denom, value=-lr / (1 - betas[0] ** step))


# ------------------------------------------------------------------ reproducible BLAS
@functools.lru_cache(maxsize=1)
def _cbwr() -> int | None:
    """MKL's conditional-numerical-reproducibility setting in force (fixed for the process once MKL
    has started), or None when torch does not use MKL here."""
    lib = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        get = ctypes.CDLL(str(lib)).mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    get.argtypes, get.restype = [ctypes.c_int], ctypes.c_int
    return int(get(_MKL_CBWR_ALL))


def blas_reproducible() -> bool | None:
    """True when MKL's strict reproducibility mode is active, False when it is off, None when torch
    does not use MKL here (its other BLAS libraries make no such promise either way)."""
    mode = _cbwr()
    return None if mode is None else bool(mode & _MKL_CBWR_STRICT)


def blas_mode() -> str:
    """The CPU BLAS mode results are computed under, as it enters every engine key: MKL's setting
    ("mkl 0x10002" is AUTO,STRICT) or "no mkl"."""
    mode = _cbwr()
    return "no mkl" if mode is None else f"mkl {mode:#x}"
