"""Load curves of any ``torch.nn.Module``: hook chosen layers, flatten, measure D_ℓ.

A thin bridge from a user's network to :func:`springblock.separation.load_curve`::

    from springblock import probe
    probe.list_layers(model)                                   # see what can be chosen
    res = probe.load_curve(model, x, y, layers=nn.ReLU)        # by type
    res = probe.load_curve(model, x, y, layers="features.*")   # by name / glob
    res.names, res.load, res.dims

Layer ℓ's features are the module's output on the N inputs, flattened to (N, d_ℓ), taken in eval
mode (BatchNorm uses running statistics, dropout is off) under ``torch.no_grad``. With
``include_input=True`` the flattened input is layer 0, so the curve is (D_0, ..., D_L) with
D_ℓ = log(Tr Σ_w / Tr Σ_b) (Eq. 3) or another ``kind``. The paper's D_0 is measured after the
input BatchNorm: to match it, select that module first and pass ``include_input=False``.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
from torch import nn

from springblock import separation, shape, validate

__all__ = ["Layer", "ProbeResult", "list_layers", "select_layers", "layer_features", "load_curve"]

REPEATED = ("error", "last", "first")


class Layer(NamedTuple):
    """One submodule: its qualified name (as in ``model.named_modules()``) and class name."""

    name: str
    type: str


@dataclass(frozen=True)
class ProbeResult:
    """Load curve of a model. ``names[ℓ]``, ``dims[ℓ]`` describe entry ℓ of ``load`` (shape (L+1,))."""

    names: tuple[str, ...]  # "input" first when the input was included
    load: torch.Tensor  # (L+1,): D_0, ..., D_L
    dims: tuple[int, ...]  # flattened feature dimension d_ℓ of each entry
    kind: str

    def curvature(self) -> float:
        """The authors' curvature c = (D_0 − D_1) − (D_{L−1} − D_L) of this curve (needs L ≥ 2)."""
        return float(shape.curvature(self.load.double().cpu().numpy()))


def list_layers(model: nn.Module, types=None) -> list[Layer]:
    """All submodules of ``model`` (the root excluded) in definition order, as (name, type) pairs.

    ``types``: a class or tuple of classes to keep only instances of them. Every name returned is
    valid in ``layers=`` of :func:`load_curve`.
    """
    _check_model(model)
    if types is not None:
        types = _check_types(types)
    return [
        Layer(name, type(m).__name__)
        for name, m in model.named_modules()
        if name and (types is None or isinstance(m, types))
    ]


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")


def _check_types(types) -> tuple[type, ...]:
    t = types if isinstance(types, tuple) else (types,)
    if not t or not all(isinstance(c, type) and issubclass(c, nn.Module) for c in t):
        raise TypeError(f"types must be an nn.Module subclass or a tuple of them; got {types!r}")
    return t


_GLOB_CHARS = re.compile(r"[*?\[]")


def _glob_regex(pattern: str) -> re.Pattern:
    """Translate a module-name glob: ``*`` and ``?`` stay within one dotted part, ``**`` crosses dots.

    So "features.*" means the direct children of ``features``; "features.**" means all its
    descendants; "[...]" is a character class as in fnmatch.
    """
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append(r"[^.]*")
            i += 1
        elif ch == "?":
            out.append(r"[^.]")
            i += 1
        elif ch == "[":
            # A class "[...]" as in fnmatch ("[!...]" negates; a "]" right after "[" or "[!" is literal).
            k = i + 1 + (pattern[i + 1 : i + 2] == "!")
            j = pattern.find("]", k + 1)
            if j < 0:
                out.append(re.escape(ch))  # unclosed: a literal "["
                i += 1
                continue
            body = pattern[i + 1 : j]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out) + r"\Z")


def select_layers(model: nn.Module, layers=None) -> list[tuple[str, nn.Module]]:
    """Resolve a layer selection to ``[(name, module), ...]``.

    Exact names keep the given order; globs and types add their matches in model order.

    ``layers``:

    * ``None``: the model's direct children (e.g. ``conv1, bn1, ..., layer1..layer4, fc`` of a
      torchvision ResNet; every stage of an ``nn.Sequential``).
    * a name or glob, or a list of them: exact qualified names (``"layer3.1.conv2"``) or globs
      (``"features.*"``, ``"blocks.**.act"``, ``"layer[1-4]"``).
    * a class or tuple of classes (``nn.ReLU``): every instance, outermost only. A match nested
      inside another match is skipped, so ``nn.Sequential`` on a ResNet gives ``layer1..layer4`` and
      not the ``downsample`` Sequentials inside them.

    Raises ``KeyError`` for an unknown name (with close names), ``ValueError`` when nothing matches
    or when two names refer to the same module object.
    """
    _check_model(model)
    named = [(n, m) for n, m in model.named_modules() if n]
    if layers is None:
        chosen = list(model.named_children())
        if not chosen:
            raise ValueError(f"{type(model).__name__} has no submodules to probe; pass layers=...")
        return chosen
    by_type = isinstance(layers, tuple) and layers and all(isinstance(c, type) for c in layers)
    if isinstance(layers, type) or by_type:
        return _by_type(model, named, _check_types(layers))
    patterns = [layers] if isinstance(layers, str) else list(layers) if isinstance(layers, Sequence) else None
    if patterns is None or not patterns or not all(isinstance(p, str) for p in patterns):
        raise TypeError(
            "layers must be None, a name/glob string, a non-empty list of them, or an nn.Module class "
            f"(or tuple of classes); got {layers!r}"
        )
    return _unique(_by_names(model, named, patterns))


def _by_type(model, named, types) -> list[tuple[str, nn.Module]]:
    """Every instance of ``types``, outermost only, in model order."""
    chosen, inside = [], ()
    for n, m in named:
        if inside and any(n.startswith(p + ".") for p in inside):
            continue  # nested inside an earlier match: outermost only
        if isinstance(m, types):
            chosen.append((n, m))
            inside += (n,)
    if not chosen:
        present = sorted({type(m).__name__ for _, m in named})
        raise ValueError(f"no layer of type {' or '.join(t.__name__ for t in types)} in {type(model).__name__}; "
                         f"types present: {', '.join(present)}")
    return chosen


def _by_names(model, named, patterns) -> list[tuple[str, nn.Module]]:
    """Exact names in the given order; globs add their matches in model order."""
    names = [n for n, _ in named]
    chosen = []
    for p in patterns:
        if _GLOB_CHARS.search(p):
            rx = _glob_regex(p)
            hits = [(n, m) for n, m in named if rx.match(n)]
            if not hits:
                raise ValueError(f"layer pattern {p!r} matched no module; {_hint(p, names)}")
            chosen += hits
        else:
            try:
                # get_submodule also reaches a module registered under a second (aliased) name,
                # which named_modules() lists only once.
                m = model.get_submodule(p) if p else None
            except AttributeError:
                m = None
            if m is None:
                raise KeyError(f"no layer named {p!r} in {type(model).__name__}; {_hint(p, names)}") from None
            chosen.append((p, m))
    return chosen


def _unique(chosen) -> list[tuple[str, nn.Module]]:
    """Drop a module matched twice under one name; refuse one module under two names."""
    seen: dict[int, str] = {}
    out = []
    for n, m in chosen:
        if id(m) in seen:
            if seen[id(m)] == n:
                continue  # matched by two patterns: keep the first position
            raise ValueError(f"layers {seen[id(m)]!r} and {n!r} are the same module object; choose one")
        seen[id(m)] = n
        out.append((n, m))
    return out


def _hint(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    if close:
        return "close names: " + ", ".join(close)
    return f"see springblock.probe.list_layers(model) for the {len(names)} available names"


def _device(model: nn.Module):
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return None


@torch.no_grad()
def layer_features(
    model: nn.Module,
    inputs,
    layers=None,
    batch_size: int | None = None,
    include_input: bool = True,
    repeated: str = "error",
) -> tuple[tuple[str, ...], list[torch.Tensor]]:
    """Flattened outputs of the selected layers on ``inputs`` (N, ...): names and (N, d_ℓ) tensors.

    The model runs in eval mode under ``torch.no_grad``, ``batch_size`` samples at a time (all at
    once if None), and the batches are concatenated. Every submodule's train/eval flag is restored
    afterwards and the hooks are removed, also on error. Inputs go to the device of the model's
    parameters; features stay where the model produced them.

    ``repeated``: what to do when a hooked module runs more than once in one forward pass (a module
    reused at several places, e.g. the single ``relu`` of a torchvision ``BasicBlock``).
    "error" (default) raises; "last" / "first" keeps that call's output.
    """
    _check_model(model)
    validate.choice("repeated", repeated, REPEATED)
    x = torch.as_tensor(inputs)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"inputs must have shape (N, ...) with N >= 1; got {tuple(x.shape)}")
    n = x.shape[0]
    batch_size = n if batch_size is None else validate.integer("batch_size", batch_size, 1)
    chosen = select_layers(model, layers)
    dev = _device(model)
    outputs = _Outputs(chosen, repeated)
    modes = {m: m.training for m in model.modules()}
    handles = [m.register_forward_hook(outputs.hook(i)) for i, (_, m) in enumerate(chosen)]
    feats: list[list[torch.Tensor]] = [[] for _ in chosen]
    try:
        model.eval()
        for start in range(0, n, batch_size):
            xb = x[start : start + batch_size]
            model(xb.to(dev) if dev is not None else xb)
            for f, out in zip(feats, outputs.take(xb.shape[0])):
                f.append(out)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode  # per module: a model may mix train and eval submodules
    names = tuple(nm for nm, _ in chosen)
    tensors = [torch.cat(f) if len(f) > 1 else f[0] for f in feats]
    if include_input:
        names = ("input",) + names
        tensors = [x.reshape(n, -1)] + tensors
    return names, tensors


class _Outputs:
    """Forward hooks that keep one output per hooked layer and forward pass, checked when taken."""

    def __init__(self, chosen, repeated: str):
        self.names = [name for name, _ in chosen]
        self.repeated = repeated
        self.counts = [0] * len(chosen)
        self.kept: list[torch.Tensor | None] = [None] * len(chosen)

    def hook(self, i: int):
        def record(module, args, output):
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"layer {self.names[i]!r} returned {type(output).__name__}, not a tensor; "
                                "hook one of its submodules instead")
            self.counts[i] += 1
            if self.counts[i] == 1 or self.repeated == "last":
                # a copy: a later in-place op (ReLU(inplace=True) after a BatchNorm) would change it
                self.kept[i] = output.detach().clone()

        return record

    def take(self, batch: int) -> list[torch.Tensor]:
        """This forward pass's (batch, d_ℓ) outputs, in layer order; resets for the next pass."""
        out = []
        for i, name in enumerate(self.names):
            if self.counts[i] == 0:
                raise RuntimeError(f"layer {name!r} was not called in the forward pass: no output")
            if self.counts[i] > 1 and self.repeated == "error":
                raise RuntimeError(
                    f"layer {name!r} was called {self.counts[i]} times in one forward pass (a shared or reused "
                    "module, e.g. one ReLU applied at several places); its output is ambiguous. Pass "
                    "repeated='last' (or 'first') to keep one call, or hook a module that runs once")
            y, self.kept[i] = self.kept[i], None
            if y.ndim < 1 or y.shape[0] != batch:
                raise RuntimeError(f"layer {name!r} output has shape {tuple(y.shape)}; its first axis is not "
                                   f"the batch of {batch} samples")
            out.append(y.reshape(batch, -1))
        self.counts = [0] * len(self.names)
        return out


def load_curve(
    model: nn.Module,
    inputs,
    labels,
    layers=None,
    kind: str = "trace",
    batch_size: int | None = None,
    include_input: bool = True,
    repeated: str = "error",
    num_classes: int | None = None,
) -> ProbeResult:
    """Load curve (D_0, ..., D_L) of ``model`` on ``inputs`` (N, ...) with class ``labels`` (N,).

    Features come from :func:`layer_features` (eval mode, hooks, flattened to (N, d_ℓ)); see
    :func:`select_layers` for ``layers``. D_ℓ = ``separation.data_separation(features_ℓ, labels,
    kind)``: "trace" log(Tr Σ_w / Tr Σ_b) (Eq. 3), "pinv" log Tr(Σ_w Σ_b⁺) (Eq. 9), "inverse".
    """
    if kind not in separation.KINDS:
        raise ValueError(f"kind must be one of {separation.KINDS}; got {kind!r}")
    names, feats = layer_features(model, inputs, layers, batch_size, include_input, repeated)
    lab = torch.as_tensor(labels)
    # Features of different layers may sit on different devices (model parallel); compute each on
    # its own device and gather on the CPU.
    devices = {f.device for f in feats}
    if len(devices) == 1:
        load = separation.load_curve(feats, lab.to(feats[0].device), kind, num_classes)
    else:
        load = torch.stack(
            [separation.data_separation(f, lab.to(f.device), kind, num_classes).cpu() for f in feats]
        )
    return ProbeResult(names=names, load=load, dims=tuple(f.shape[1] for f in feats), kind=kind)
