"""The guarded torchvision import (springblock._vision)."""
import importlib
import importlib.abc
import importlib.util
import subprocess
import sys
import types

import pytest
import torch

from springblock import _vision


def test_real_import_and_transforms():
    tv = _vision.import_torchvision()
    assert tv is _vision.import_torchvision()  # cached: the same module object
    TF = importlib.import_module("torchvision.transforms.functional")
    assert TF.resize(torch.rand(2, 1, 28, 28), [10, 10], antialias=True).shape == (2, 1, 10, 10)
    assert hasattr(tv.datasets, "MNIST") and hasattr(tv.datasets, "CIFAR10")


def test_fresh_interpreter():
    # Whatever this pytest process imported before, a clean interpreter must get through the guard.
    code = ("from springblock._vision import import_torchvision as f; tv = f(); "
            "import torchvision.transforms.functional; print(tv.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr


class _FakeTorchvision(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A `torchvision` whose first import fails with ``error`` after leaving a partial submodule."""

    def __init__(self, error):
        self.error, self.calls = error, 0

    def find_spec(self, name, path, target=None):
        return importlib.util.spec_from_loader(name, self) if name == "torchvision" else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        self.calls += 1
        if self.calls == 1:
            sys.modules["torchvision.partial"] = types.ModuleType("torchvision.partial")
            raise self.error
        module.stub_seen = isinstance(sys.modules.get("torchvision._meta_registrations"), types.ModuleType)


@pytest.fixture
def fake_env(monkeypatch):
    """Hide the real torchvision modules, install a fake finder; restore everything afterwards."""
    saved = {k: v for k, v in sys.modules.items() if k == "torchvision" or k.startswith("torchvision.")}
    for k in saved:
        del sys.modules[k]
    monkeypatch.setattr(_vision, "_cached", None)

    def install(error):
        finder = _FakeTorchvision(error)
        monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
        return finder

    yield install
    for k in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
        del sys.modules[k]
    sys.modules.update(saved)


def test_missing_op_error_is_worked_around(fake_env):
    finder = fake_env(RuntimeError("operator torchvision::nms does not exist"))
    tv = _vision.import_torchvision()
    assert finder.calls == 2 and tv.stub_seen
    assert "torchvision.partial" not in sys.modules  # half-imported leftovers purged
    assert _vision.import_torchvision() is tv


def test_other_runtime_error_propagates(fake_env):
    fake_env(RuntimeError("something else broke"))
    with pytest.raises(RuntimeError, match="something else broke"):
        _vision.import_torchvision()
    assert _vision._cached is None
