"""Shared helpers for the browser tests: Debian's chromium driven by Playwright (never Playwright's own
browsers: there is no internet), one Playwright and one browser per session.

Run them explicitly (pyproject deselects the marker by default)::

    .venv/bin/python -m pytest -m browser tests/browser/
"""
from __future__ import annotations

import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, chromium_missing


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the session; every test opens its own fresh context in it."""
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
