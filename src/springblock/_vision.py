"""The one guarded place where torchvision is imported.

The only torchvision paired with torch 2.13 is a CUDA build. On a CPU-only torch its compiled
ops cannot load and ``import torchvision`` dies in ``torchvision._meta_registrations`` with
``RuntimeError: operator torchvision::nms does not exist``. Everything this package needs
(datasets' downloaders, ``transforms.functional``) is pure Python, so on exactly that error we
stub out the meta registrations and import again. Where torchvision imports cleanly this does
nothing.
"""
from __future__ import annotations

import sys
import types
from types import ModuleType

_MISSING_OP = "operator torchvision::nms does not exist"
_STUB = "torchvision._meta_registrations"
_cached: ModuleType | None = None


def _purge() -> None:
    """Drop the half-imported ``torchvision*`` modules so the retry starts from scratch."""
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]


def import_torchvision() -> ModuleType:
    """Return the ``torchvision`` module, working around the CPU-torch op-loading failure."""
    global _cached
    if _cached is not None:
        return _cached
    try:
        import torchvision
    except RuntimeError as err:
        if _MISSING_OP not in str(err):
            raise
        _purge()
        # The stub only replaces registrations of meta kernels for ops that do not exist here.
        sys.modules[_STUB] = types.ModuleType(_STUB)
        import torchvision
    _cached = torchvision
    return torchvision
