"""The paper's MLP, as a plain ``nn.Module`` and as a stack of many copies trained together.

:class:`MLP` is the reference network, in one of two normalisations (``norm``):

* ``"batch"`` (every experiment of the paper): input BatchNorm, then ``hidden`` × [Linear →
  BatchNorm → LeakyReLU(α) → Dropout], then a Linear read-out; PyTorch's default initialisation.
* ``"c_sigma"`` (the paper's Eq. 1, which SM S3 compares with): no BatchNorm; each hidden layer is
  ``x_ℓ = √c_σ · LeakyReLU_α(W_ℓ x_{ℓ-1} + b_ℓ)`` with ``c_σ = 2/(1+α²) = 1/E[σ_α(z)²]``, weights
  drawn from N(0, 1/fan_in) and zero biases, so that at initialisation every layer keeps the
  scale of its input (the role BatchNorm plays in the other form).

:class:`StackedMLP` holds M such networks (same shape and normalisation; own parameters, α and
dropout rate) and runs their forward and backward passes together with batched matmuls. Its
backward pass is written out by hand (no autograd graph): at small batches the per-step cost is
almost all per-op overhead, and the hand-written pass needs about half the ops of autograd. All
parameters of all networks live in one ``(M, P)`` buffer (one row per network), so the optimiser
is a handful of ops on one tensor and per-network hyper-parameters broadcast as ``(M, 1)`` columns.
The reference tests check it against :class:`MLP` trained with autograd.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from . import kernels

NORMS = ("batch", "c_sigma")


def c_sigma(alpha: float) -> float:
    """``1 / E[σ_α(z)²]`` for z ~ N(0, 1): ``2 / (1 + α²)`` (2 for ReLU, 1 for the identity)."""
    return 2.0 / (1.0 + alpha * alpha)


class MLP(nn.Module):
    """The paper's MLP; ``hidden`` = L hidden layers (paper: 7, i.e. 8 Linear layers), ``width`` wide."""

    def __init__(self, alpha: float = 0.0, dropout: float = 0.0, hidden: int = 7, width: int = 100,
                 in_dim: int = 100, num_classes: int = 10, norm: str = "batch"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.alpha, self.p, self.norm = float(alpha), float(dropout), norm
        self.scale = 1.0 if norm == "batch" else math.sqrt(c_sigma(self.alpha))
        # Linear layers are created first-to-last so that a seed fixes their init in that order.
        self.linears = nn.ModuleList(nn.Linear(in_dim if i == 0 else width, width) for i in range(hidden))
        self.head = nn.Linear(width, num_classes)
        if norm == "batch":
            self.input_bn = nn.BatchNorm1d(in_dim)
            self.bns = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(hidden))
        else:
            for lin in [*self.linears, self.head]:
                nn.init.normal_(lin.weight, std=lin.in_features ** -0.5)
                nn.init.zeros_(lin.bias)
        self.act = nn.LeakyReLU(alpha)
        self.drop = nn.Dropout(dropout)

    def layers(self, x: torch.Tensor, masks=None) -> list[torch.Tensor]:
        """``[x_0, ..., x_L, logits]``: the input (after its BatchNorm), then the post-activation
        (post-dropout) features of every hidden layer.

        ``masks`` (optional, shape (L, B, width)) replaces nn.Dropout's own random draw with given
        pre-scaled keep masks (0 or 1/(1-p)); the reference tests use it to feed the engine's draws.
        """
        out = [self.input_bn(x) if self.norm == "batch" else x]
        for i, lin in enumerate(self.linears):
            z = lin(out[-1])
            h = self.act(self.bns[i](z)) if self.norm == "batch" else self.act(z) * self.scale
            out.append(h * masks[i] if masks is not None else self.drop(h))
        out.append(self.head(out[-1]))
        return out

    def forward(self, x: torch.Tensor, masks=None) -> torch.Tensor:
        return self.layers(x, masks)[-1]


def _param_names(hidden: int, norm: str) -> list[str]:
    """MLP parameter names in the order they are laid out in a StackedMLP row."""
    bn = norm == "batch"
    names = ["input_bn.weight", "input_bn.bias"] if bn else []
    for i in range(hidden):
        names += [f"linears.{i}.weight", f"linears.{i}.bias"] + ([f"bns.{i}.weight", f"bns.{i}.bias"] if bn else [])
    return names + ["head.weight", "head.bias"]


class StackedMLP:
    """M copies of :class:`MLP` (same shape and ``norm``; own parameters, α and dropout), run together.

    ``theta`` (M, P) holds every parameter of network m in row m; ``grad`` has the same layout.
    ``running`` holds the BatchNorm running means/variances per layer, each (M, features).
    Activations are laid out (M, features, B) — batch last, so BatchNorm's per-feature statistics
    are contiguous reductions and all M·features channels go through one batch-norm kernel — or,
    with ``batch_major=True``, (M, B, features): for small batches the products of a 100×100 weight
    with a few columns are several times faster that way. The two layouts compute the same numbers
    up to round-off; the engine picks one by the batch size alone (:func:`springblock.train.layout`),
    so a network's numbers never depend on its stack-mates.
    """

    def __init__(self, modules: list[MLP], device="cpu", dtype=torch.float32, batch_major: bool = False):
        first = modules[0]
        self.batch_major = batch_major  # activations (M, B, F) instead of (M, F, B): faster for small batches
        self.batch_axis = 1 if batch_major else -1
        if len({(m.norm, len(m.linears), m.linears[0].in_features, m.head.in_features) for m in modules}) > 1:
            raise ValueError("a StackedMLP needs networks of one shape and one normalisation")
        self.norm, self.hidden, self.M = first.norm, len(first.linears), len(modules)
        self.bn = self.norm == "batch"
        self.in_dim, self.width = first.linears[0].in_features, first.linears[0].out_features
        self.num_classes = first.head.out_features
        self.names = _param_names(self.hidden, self.norm)
        states = [m.state_dict() for m in modules]
        shapes = [tuple(states[0][n].shape) for n in self.names]
        self.theta = torch.cat([torch.stack([s[n].reshape(-1) for s in states]) for n in self.names], 1
                               ).to(device, dtype).contiguous()
        self.grad = torch.zeros_like(self.theta)
        offsets = [0]
        for s in shapes:
            offsets.append(offsets[-1] + math.prod(s))
        # (M, *shape) views into the rows: updating theta in place updates every view.
        self.params = {n: self.theta[:, a:b].view(self.M, *s) for n, a, b, s in zip(self.names, offsets, offsets[1:], shapes)}
        self.grads = {n: self.grad[:, a:b].view(self.M, *s) for n, a, b, s in zip(self.names, offsets, offsets[1:], shapes)}
        self.bn_names = (["input_bn"] + [f"bns.{i}" for i in range(self.hidden)]) if self.bn else []
        self.running = [(torch.stack([s[f"{b}.running_mean"] for s in states]).to(device, dtype),
                         torch.stack([s[f"{b}.running_var"] for s in states]).to(device, dtype)) for b in self.bn_names]
        col = lambda v: torch.tensor(v, device=device, dtype=dtype).view(-1, 1, 1)
        self.alpha = col([m.alpha for m in modules])
        self.beta = 1 - self.alpha  # LeakyReLU as α·y + (1 − α)·relu(y), α per network
        self.scale = col([m.scale for m in modules])  # √c_σ without BatchNorm, else 1

    # ---- parameters by layer (layer 0 = the input BatchNorm; hidden layers 1..L; L+1 = head)
    def _bn(self, layer: int, grads: bool = False):
        src = self.grads if grads else self.params
        pre = "input_bn" if layer == 0 else f"bns.{layer - 1}"
        return src[f"{pre}.weight"], src[f"{pre}.bias"]

    def _linear(self, layer: int, grads: bool = False):
        src = self.grads if grads else self.params
        pre = "head" if layer > self.hidden else f"linears.{layer - 1}"
        return src[f"{pre}.weight"], src[f"{pre}.bias"]

    # ---- training-mode pass
    def _bn_train(self, z, layer: int, frozen):
        g, beta = self._bn(layer)
        rm, rv = self.running[layer]
        old = None if frozen is None else (rm.clone(), rv.clone())
        y, saved = kernels.batch_norm_train(z, g, beta, rm, rv, self.batch_axis)
        if old is not None:  # an early-stopped network keeps its running statistics
            rm.copy_(torch.where(frozen, old[0], rm))
            rv.copy_(torch.where(frozen, old[1], rv))
        return y, (z, saved)

    def _bn_backward(self, gy, layer: int, bn_saved):
        z, saved = bn_saved
        g, _ = self._bn(layer)
        gz, gg, gb = kernels.batch_norm_backward(gy, z, g, saved, layer > 0, self.batch_axis)
        ggamma, gbeta = self._bn(layer, grads=True)
        ggamma.copy_(gg)
        gbeta.copy_(gb)
        return gz

    # ---- the three products of a layer, in either layout
    def _affine(self, w, bias, a):
        """z = W a + b for every network."""
        if self.batch_major:
            return torch.baddbmm(bias[:, None, :], a, w.mT)
        return torch.baddbmm(bias[..., None], w, a)

    def _weight_grads(self, layer: int, gz, a) -> None:
        gw, gb = self._linear(layer, grads=True)
        if self.batch_major:
            gw.copy_(gz.mT @ a)
            gb.copy_(gz.sum(1))
        else:
            gw.copy_(gz @ a.mT)
            gb.copy_(gz.sum(-1))

    def _input_grad(self, w, gz):
        return gz @ w if self.batch_major else w.mT @ gz

    def forward_train(self, x, masks=None, frozen=None):
        """Training-mode forward of M networks on their own batches ``x`` (M, in_dim, B), or (M, B,
        in_dim) when batch-major.

        ``masks``: per hidden layer a pre-scaled keep mask shaped like the activations, or None.
        ``frozen``: None, or an (M, 1) bool column of networks whose BN running stats must not move.
        Returns logits (M, C, B) — (M, B, C) when batch-major — and what :meth:`backward` needs.
        """
        a, bn = self._bn_train(x, 0, frozen) if self.bn else (x, None)
        saved = [(bn, None, None)]
        for layer in range(1, self.hidden + 1):
            w, bias = self._linear(layer)
            z = self._affine(w, bias, a)
            saved.append(a)
            y, bn = self._bn_train(z, layer, frozen) if self.bn else (z, None)
            a = torch.addcmul(y * self.alpha, torch.relu(y), self.beta)  # LeakyReLU
            if not self.bn:
                a = a * self.scale
            mask = None if masks is None else masks[layer - 1]
            if mask is not None:
                a = a * mask
            saved.append((bn, y, mask))
        w, bias = self._linear(self.hidden + 1)
        saved.append(a)
        return self._affine(w, bias, a), saved

    def backward(self, saved, glogits) -> None:
        """Write d(loss)/d(theta) into ``self.grad`` given d(loss)/d(logits), shaped like the logits."""
        a = saved.pop()
        self._weight_grads(self.hidden + 1, glogits, a)
        ga = self._input_grad(self._linear(self.hidden + 1)[0], glogits)
        for layer in range(self.hidden, -1, -1):
            bn, y, mask = saved.pop()
            if layer:
                if mask is not None:
                    ga = ga * mask
                if not self.bn:
                    ga = ga * self.scale
                # LeakyReLU backward: α·g + (1 − α)·g·[y > 0]
                ga = torch.addcmul(ga * self.alpha, kernels.relu_backward(ga, y), self.beta)
            gz = self._bn_backward(ga, layer, bn) if self.bn else ga
            if layer == 0:  # no gradient w.r.t. the data is needed
                break
            a = saved.pop()
            self._weight_grads(layer, gz, a)
            if layer > 1 or self.bn:
                ga = self._input_grad(self._linear(layer)[0], gz)
            else:
                break

    # ---- evaluation-mode pass
    @torch.no_grad()
    def forward_eval(self, x, nets: slice = slice(None)) -> list[torch.Tensor]:
        """Eval mode (running BN statistics, no dropout): ``[x_0, ..., x_L, logits]``, each (m, N, ·).

        ``x`` (N, in_dim) is shared by the networks ``nets`` (a slice of the stack, default all).
        """
        p = {n: v[nets] for n, v in self.params.items()}
        alpha, scale = self.alpha[nets], self.scale[nets]
        h = x.expand(alpha.shape[0], *x.shape)
        out = []
        for layer in range(self.hidden + 1):
            if layer:
                lin = f"linears.{layer - 1}"
                h = torch.baddbmm(p[f"{lin}.bias"][:, None], out[-1], p[f"{lin}.weight"].mT)
            if self.bn:
                pre = "input_bn" if layer == 0 else f"bns.{layer - 1}"
                rm, rv = (r[nets] for r in self.running[layer])
                s = p[f"{pre}.weight"] * (rv + kernels.BN_EPS).rsqrt()  # BN in eval mode is one affine map
                h = torch.addcmul((p[f"{pre}.bias"] - rm * s)[:, None], h, s[:, None])
            if layer:
                h = torch.where(h > 0, h, alpha * h)
                if not self.bn:
                    h = h * scale
            out.append(h)
        out.append(torch.baddbmm(p["head.bias"][:, None], out[-1], p["head.weight"].mT))
        return out

    # ---- export
    def module(self, m: int) -> MLP:
        """Network ``m`` as a plain :class:`MLP` on the CPU (parameters and BN running stats)."""
        net = MLP(float(self.alpha[m]), 0.0, self.hidden, self.width, self.in_dim, self.num_classes, self.norm)
        net = net.to(self.theta.dtype)  # before loading, so float64 values are not rounded
        state = {n: self.params[n][m].detach().cpu() for n in self.names}
        for b, (rm, rv) in zip(self.bn_names, self.running):
            state[f"{b}.running_mean"], state[f"{b}.running_var"] = rm[m].cpu(), rv[m].cpu()
        net.load_state_dict(state, strict=False)  # num_batches_tracked is not used (momentum set)
        return net.eval()
