"""The paper's other networks: the SM S2 convolutional network and the Fig. 5(a) linear network.

Both expose ``layers(x) -> [x_0, ..., x_L, output]`` with features flattened to (N, d), like
:class:`springblock.models.MLP`, so one measurement routine serves all of them.
"""
from __future__ import annotations

import torch
from torch import nn


class CNN(nn.Module):
    """SM S2: input BatchNorm, ``hidden`` × [conv3×3 → BN → LeakyReLU(α) → MaxPool2 → nearest
    Upsample×2 → Dropout], then a Linear read-out of the flattened maps.

    Pooling followed by upsampling keeps every layer at ``channels × size × size``. Layer ℓ's
    features are its *pooled* maps (``channels × (size/2)²``), where the authors measure them; the
    upsampled map only repeats each pooled value four times, which leaves D (trace and pinv) as it
    is. Inputs may be flat (N, in_channels·size²).
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
                          nn.BatchNorm2d(channels), nn.LeakyReLU(alpha), nn.MaxPool2d(2))
            for i in range(hidden))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(channels * size * size, num_classes)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = self.input_bn(x.reshape(-1, self.in_channels, self.size, self.size))
        out = [h.flatten(1)]
        for block in self.blocks:
            pooled = block(h)
            out.append(pooled.flatten(1))
            h = self.drop(self.up(pooled))
        return out + [self.head(h.flatten(1))]

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
