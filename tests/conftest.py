"""Shared fixtures: every test gets its own empty result cache; small real datasets for the engine."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from springblock import data, shipped


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """A fresh result cache per test (never the developer's), no shipped results (a test that wants
    them ships its own), no scale or device from the shell."""
    root = tmp_path / "cache"
    monkeypatch.setenv("SPRINGBLOCK_CACHE", str(root))
    monkeypatch.setenv("SPRINGBLOCK_SHIPPED", str(tmp_path / "no-shipped-results"))
    shipped._index.cache_clear()
    shipped._archive.cache_clear()
    for var in ("SPRINGBLOCK_SCALE", "SPRINGBLOCK_DEVICE", "SPRINGBLOCK_BOOK_BUILD"):
        monkeypatch.delenv(var, raising=False)
    return root


@pytest.fixture(scope="session")
def mnist():
    """The paper's MNIST split as shipped (2560 / 2560 / 10000)."""
    return data.load_dataset("mnist")


@pytest.fixture(scope="session")
def small(mnist):
    """A small slice of the real data for fast engine tests: 320 training and 400 test digits."""
    return dataclasses.replace(mnist, x_train=mnist.x_train[:320], y_train=mnist.y_train[:320],
                               x_test=mnist.x_test[:400], y_test=mnist.y_test[:400], x_val=None, y_val=None,
                               spec=None, description="MNIST, 320/400 slice (tests)")


def cuda_available() -> bool:
    return torch.cuda.is_available()
