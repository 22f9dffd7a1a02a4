"""The paper's network (spec §2.1), as a plain ``nn.Module`` and as a stack of many copies.

:class:`MLP` is the reference: input BatchNorm, ``hidden`` × [Linear → BatchNorm → LeakyReLU(α) →
Dropout], then a Linear read-out, with PyTorch's default initialisation. Anyone who wants *one*
network (a chapter, a test, a baseline) uses it with ordinary ``torch.nn`` tooling.

:class:`StackedMLP` holds M such networks with stacked parameters and runs their forward and
backward passes together with batched matmuls. Its backward pass is written out by hand (no
autograd graph): at small batches the per-step cost is almost all per-op overhead, and the
hand-written pass needs about half the ops of autograd. All parameters of all networks live in one
``(M, P)`` buffer (one row per network), so the optimiser is a handful of ops on one tensor and
per-network hyper-parameters broadcast as ``(M, 1)`` columns. The reference test
(``tests/test_train.py``) checks it against :class:`MLP` trained with autograd.
"""
from __future__ import annotations

import torch
from torch import nn

BN_EPS = 1e-5  # nn.BatchNorm1d defaults
BN_MOMENTUM = 0.1


class MLP(nn.Module):
    """The paper's MLP: ``x0 = BN(x)``, ``x_l = Dropout(LeakyReLU_α(BN(W_l x_{l-1} + b_l)))``, logits.

    ``hidden`` = L hidden layers (paper: 7, i.e. 8 Linear layers), all ``width`` wide.
    """

    def __init__(self, alpha: float = 0.0, dropout: float = 0.0, hidden: int = 7, width: int = 100,
                 in_dim: int = 100, num_classes: int = 10):
        super().__init__()
        self.alpha, self.p = float(alpha), float(dropout)
        self.input_bn = nn.BatchNorm1d(in_dim)
        # Linear layers are created first-to-last so that a seed fixes their init in that order.
        self.linears = nn.ModuleList(nn.Linear(in_dim if i == 0 else width, width) for i in range(hidden))
        self.bns = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(hidden))
        self.act = nn.LeakyReLU(alpha)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_classes)

    def layers(self, x: torch.Tensor, masks=None) -> list[torch.Tensor]:
        """``[x_0, ..., x_L, logits]``: input after its BN, post-activation (post-dropout) features.

        ``masks`` (optional, shape (L, B, width)) replaces nn.Dropout's own random draw with given
        pre-scaled keep masks (0 or 1/(1-p)); the reference tests use it to feed the engine's draws.
        """
        out = [self.input_bn(x)]
        for i, (lin, bn) in enumerate(zip(self.linears, self.bns)):
            h = self.act(bn(lin(out[-1])))
            out.append(h * masks[i] if masks is not None else self.drop(h))
        out.append(self.head(out[-1]))
        return out

    def forward(self, x: torch.Tensor, masks=None) -> torch.Tensor:
        return self.layers(x, masks)[-1]


def _param_names(hidden: int) -> list[str]:
    """MLP parameter names in the order they are laid out in a StackedMLP row."""
    names = ["input_bn.weight", "input_bn.bias"]
    for i in range(hidden):
        names += [f"linears.{i}.weight", f"linears.{i}.bias", f"bns.{i}.weight", f"bns.{i}.bias"]
    return names + ["head.weight", "head.bias"]


class StackedMLP:
    """M copies of :class:`MLP` (same shape, own parameters, α and dropout rate), run together.

    ``theta`` (M, P) holds every parameter of network m in row m; ``grad`` has the same layout.
    ``running`` holds the BN running means/variances per layer, each (M, features).
    """

    def __init__(self, modules: list[MLP], device="cpu", dtype=torch.float32):
        first = modules[0]
        self.hidden, self.M = len(first.linears), len(modules)
        self.in_dim, self.width = first.linears[0].in_features, first.linears[0].out_features
        self.num_classes = first.head.out_features
        self.names = _param_names(self.hidden)
        states = [m.state_dict() for m in modules]
        self.shapes = [tuple(states[0][n].shape) for n in self.names]
        sizes = [torch.Size(s).numel() for s in self.shapes]
        self.theta = torch.cat(
            [torch.stack([s[n].reshape(-1) for s in states]) for n in self.names], 1
        ).to(device, dtype).contiguous()
        self.grad = torch.zeros_like(self.theta)
        offsets = [0]
        for n in sizes:
            offsets.append(offsets[-1] + n)
        # (M, *shape) views into the rows: updating theta in place updates every view.
        self.params = {n: self.theta[:, a:b].view(self.M, *s)
                       for n, a, b, s in zip(self.names, offsets, offsets[1:], self.shapes)}
        self.grads = {n: self.grad[:, a:b].view(self.M, *s)
                      for n, a, b, s in zip(self.names, offsets, offsets[1:], self.shapes)}
        bn_names = ["input_bn"] + [f"bns.{i}" for i in range(self.hidden)]
        self.running = [
            (torch.stack([s[f"{b}.running_mean"] for s in states]).to(device, dtype),
             torch.stack([s[f"{b}.running_var"] for s in states]).to(device, dtype))
            for b in bn_names
        ]
        self.alpha = torch.tensor([m.alpha for m in modules], device=device, dtype=dtype).view(-1, 1, 1)
        self.beta = 1 - self.alpha  # LeakyReLU as α·y + (1 − α)·relu(y), α per network

    # ---- helpers -------------------------------------------------------------------
    def _bn_params(self, layer: int):
        if layer == 0:
            return self.params["input_bn.weight"], self.params["input_bn.bias"]
        return self.params[f"bns.{layer - 1}.weight"], self.params[f"bns.{layer - 1}.bias"]

    def _bn_grads(self, layer: int):
        if layer == 0:
            return self.grads["input_bn.weight"], self.grads["input_bn.bias"]
        return self.grads[f"bns.{layer - 1}.weight"], self.grads[f"bns.{layer - 1}.bias"]

    def _linear(self, layer: int):
        if layer > self.hidden:
            return self.params["head.weight"], self.params["head.bias"]
        return self.params[f"linears.{layer - 1}.weight"], self.params[f"linears.{layer - 1}.bias"]

    def _linear_grads(self, layer: int):
        if layer > self.hidden:
            return self.grads["head.weight"], self.grads["head.bias"]
        return self.grads[f"linears.{layer - 1}.weight"], self.grads[f"linears.{layer - 1}.bias"]

    # ---- training-mode pass --------------------------------------------------------
    # Layout (M, features, B): batch last, so BatchNorm's per-feature statistics are contiguous
    # reductions, and all M·features channels go through one native batch-norm kernel (the same
    # kernel nn.BatchNorm1d uses), forward and backward.
    def _bn_train(self, z, layer: int, frozen):
        g, beta = self._bn_params(layer)
        rm, rv = self.running[layer]
        old = None if frozen is None else (rm.clone(), rv.clone())
        y, mean, invstd = torch.native_batch_norm(
            z.view(1, -1, z.shape[-1]), g.reshape(-1), beta.reshape(-1), rm.view(-1), rv.view(-1),
            True, BN_MOMENTUM, BN_EPS)
        if old is not None:  # an early-stopped network keeps its running statistics
            rm.copy_(torch.where(frozen, old[0], rm))
            rv.copy_(torch.where(frozen, old[1], rv))
        return y.view(z.shape), (z, mean, invstd)

    def _bn_backward(self, gy, layer: int, bn_saved):
        z, mean, invstd = bn_saved
        g, _ = self._bn_params(layer)
        rm, rv = self.running[layer]
        gz, gg, gb = torch.ops.aten.native_batch_norm_backward(
            gy.view(1, -1, gy.shape[-1]), z.view(1, -1, z.shape[-1]), g.reshape(-1), rm.view(-1),
            rv.view(-1), mean, invstd, True, BN_EPS, [layer > 0, True, True])
        ggamma, gbeta = self._bn_grads(layer)
        ggamma.copy_(gg.view(ggamma.shape))
        gbeta.copy_(gb.view(gbeta.shape))
        return None if gz is None else gz.view(gy.shape)

    def forward_train(self, x, masks=None, frozen=None):
        """Training-mode forward of M networks on their own batches ``x`` (M, in_dim, B).

        ``masks``: per hidden layer an (M, width, B) pre-scaled keep mask, or None (no dropout).
        ``frozen``: None, or an (M, 1) bool column of networks whose BN running stats must not move.
        Returns logits (M, C, B) and what :meth:`backward` needs.
        """
        a, bn = self._bn_train(x, 0, frozen)
        saved = [(bn, None, None)]
        for layer in range(1, self.hidden + 1):
            w, bias = self._linear(layer)
            z = torch.baddbmm(bias[..., None], w, a)
            saved.append(a)
            y, bn = self._bn_train(z, layer, frozen)
            a = torch.addcmul(y * self.alpha, torch.relu(y), self.beta)  # LeakyReLU
            mask = None if masks is None else masks[layer - 1]
            if mask is not None:
                a = a * mask
            saved.append((bn, y, mask))
        w, bias = self._linear(self.hidden + 1)
        saved.append(a)
        return torch.baddbmm(bias[..., None], w, a), saved

    def backward(self, saved, glogits) -> None:
        """Write d(loss)/d(theta) into ``self.grad`` given d(loss)/d(logits) (M, C, B)."""
        a = saved.pop()
        gw, gb = self._linear_grads(self.hidden + 1)
        gw.copy_(glogits @ a.mT)
        gb.copy_(glogits.sum(-1))
        ga = self._linear(self.hidden + 1)[0].mT @ glogits
        for layer in range(self.hidden, -1, -1):
            bn, y, mask = saved.pop()
            if layer:
                if mask is not None:
                    ga = ga * mask
                # LeakyReLU backward: α·g + (1 − α)·g·[y > 0]
                ga = torch.addcmul(ga * self.alpha, torch.ops.aten.threshold_backward(ga, y, 0), self.beta)
            gz = self._bn_backward(ga, layer, bn)
            if layer == 0:  # no gradient w.r.t. the data is needed
                break
            a = saved.pop()
            gw, gb = self._linear_grads(layer)
            gw.copy_(gz @ a.mT)
            gb.copy_(gz.sum(-1))
            ga = self._linear(layer)[0].mT @ gz

    # ---- evaluation-mode pass ------------------------------------------------------
    @torch.no_grad()
    def forward_eval(self, x, nets: slice = slice(None)) -> list[torch.Tensor]:
        """Eval mode (running BN statistics, no dropout): ``[x_0, ..., x_L, logits]``, each (m, N, ·).

        ``x`` (N, in_dim) is shared by the networks ``nets`` (a slice of the stack, default all).
        """
        p = {n: v[nets] for n, v in self.params.items()}
        alpha = self.alpha[nets]
        h = x.expand(alpha.shape[0], *x.shape)
        out = []
        for layer in range(self.hidden + 1):
            pre = "input_bn" if layer == 0 else f"bns.{layer - 1}"
            if layer:
                lin = f"linears.{layer - 1}"
                h = torch.baddbmm(p[f"{lin}.bias"][:, None], out[-1], p[f"{lin}.weight"].mT)
            rm, rv = (r[nets] for r in self.running[layer])
            scale = p[f"{pre}.weight"] * (rv + BN_EPS).rsqrt()  # BN in eval mode is one affine map
            h = torch.addcmul((p[f"{pre}.bias"] - rm * scale)[:, None], h, scale[:, None])
            out.append(h if layer == 0 else torch.where(h > 0, h, alpha * h))
        out.append(torch.baddbmm(p["head.bias"][:, None], out[-1], p["head.weight"].mT))
        return out

    # ---- export --------------------------------------------------------------------
    def module(self, m: int) -> MLP:
        """Network ``m`` as a plain :class:`MLP` on the CPU (parameters and BN running stats)."""
        net = MLP(float(self.alpha[m]), 0.0, self.hidden, self.width, self.in_dim, self.num_classes)
        net = net.to(self.theta.dtype)  # before loading, so float64 values are not rounded
        state = {n: self.params[n][m].detach().cpu() for n in self.names}
        bn_names = ["input_bn"] + [f"bns.{i}" for i in range(self.hidden)]
        for b, (rm, rv) in zip(bn_names, self.running):
            state[f"{b}.running_mean"], state[f"{b}.running_var"] = rm[m].cpu(), rv[m].cpu()
        net.load_state_dict(state, strict=False)  # num_batches_tracked is not used (momentum set)
        return net.eval()


# =============================================================================================
# Chapter 5 (generalization): the SM S2 CNN and the plain linear network of Fig. 5(a).
# Both expose ``layers(x) -> [x_0, ..., x_L, logits]`` (features flattened to (N, d)) like MLP,
# so one measurement routine serves all three.
# =============================================================================================
class CNN(nn.Module):
    """SM S2: input BN, ``hidden`` × [conv3×3 → BN → LeakyReLU(α) → MaxPool2 → Upsample×2 → Dropout],
    then a Linear read-out of the flattened maps.

    Pooling followed by nearest upsampling keeps every layer at ``channels × size × size``. The
    upsampled map repeats each pooled value 4 times (a scaled isometry), so D_ℓ (trace and pinv) is
    the same as on the pooled 5×5 maps the authors measure. Inputs may be flat (N, in_channels·size²).
    """

    def __init__(self, channels: int = 16, hidden: int = 7, size: int = 10, in_channels: int = 1,
                 num_classes: int = 10, dropout: float = 0.0, alpha: float = 0.0):
        super().__init__()
        if size % 2:
            raise ValueError(f"size must be even (pool by 2, then upsample by 2 restores it); got {size}")
        self.size, self.in_channels = size, in_channels
        self.input_bn = nn.BatchNorm2d(in_channels)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1),
                          nn.BatchNorm2d(channels), nn.LeakyReLU(alpha), nn.MaxPool2d(2),
                          nn.Upsample(scale_factor=2, mode="nearest"), nn.Dropout(dropout))
            for i in range(hidden))
        self.head = nn.Linear(channels * size * size, num_classes)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = [self.input_bn(x.reshape(-1, self.in_channels, self.size, self.size))]
        for block in self.blocks:
            out.append(block(out[-1]))
        return [o.flatten(1) for o in out] + [self.head(out[-1].flatten(1))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)[-1]


class LinearNet(nn.Module):
    """Fig. 5(a) (the He–Su / Yaras setting): ``hidden`` × [Linear → Dropout], Linear read-out.

    No BatchNorm, identity activation (α = 1). ``init="orthogonal"``: every weight a random
    (semi-)orthogonal matrix and every bias zero (the authors' ``--init_scale orth``);
    ``"default"`` keeps PyTorch's initialisation.
    """

    def __init__(self, hidden: int = 7, width: int = 100, in_dim: int = 100, num_classes: int = 2,
                 dropout: float = 0.0, init: str = "orthogonal"):
        super().__init__()
        if init not in ("orthogonal", "default"):
            raise ValueError(f"init must be 'orthogonal' or 'default'; got {init!r}")
        self.linears = nn.ModuleList(nn.Linear(in_dim if i == 0 else width, width) for i in range(hidden))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_classes)
        if init == "orthogonal":
            for lin in [*self.linears, self.head]:
                nn.init.orthogonal_(lin.weight)
                nn.init.zeros_(lin.bias)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = [x]
        for lin in self.linears:
            out.append(self.drop(lin(out[-1])))
        return out + [self.head(out[-1])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)[-1]
