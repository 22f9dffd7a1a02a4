"""The chain chapter as a live notebook in JupyterLab: the ipywidgets explorer must redraw on a slider move.

The book's HTML has no kernel, so the live explorer (``springblock.widgets.explorer``) only ever runs in
Jupyter. This test starts a private JupyterLab (temporary root, config, settings and workspace folders,
a random token, 127.0.0.1 only), opens ``book/03_spring_block.md`` converted to ``.ipynb``, runs every
cell at scale "quick" with a fresh result cache, finds the explorer's sliders, moves the first one
(μ_r) with the keyboard, and checks that the explorer's figure (a PNG in the widget's output area) is
replaced by a different one. Slow: about a minute or two.

Run: ``.venv/bin/python -m pytest -m browser tests/browser/test_jupyterlab.py``
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browser_support import ROOT, chromium_missing, free_port

CHAPTER = ROOT / "book" / "03_spring_block.md"
SERVER_START_S = 90
KERNEL_READY_S = 90
RUN_ALL_S = 240
WIDGET_UPDATE_S = 60


def _why_skip() -> str | None:
    for mod in ("jupyterlab", "jupytext", "ipywidgets"):
        try:
            __import__(mod)
        except ImportError:
            return f"{mod} is not importable in {sys.executable}"
    if not CHAPTER.is_file():
        return f"no chapter at {CHAPTER}"
    return chromium_missing()


SKIP = _why_skip()
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def _get(url: str, timeout: float = 5.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A private JupyterLab serving a temp folder that holds the chapter as a notebook."""
    import jupytext

    base = tmp_path_factory.mktemp("jupyterlab")
    root, cfg, settings = base / "root", base / "config", base / "settings"
    for d in (root, cfg / "labconfig", settings / "@jupyterlab" / "notebook-extension", base / "workspaces",
              base / "runtime", base / "data"):
        d.mkdir(parents=True, exist_ok=True)
    # no news / update toasts over the notebook, and every cell rendered (no windowing): a stable DOM
    (cfg / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))

    nb = jupytext.read(CHAPTER)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.pop("jupytext", None)
    name = CHAPTER.stem + ".ipynb"
    jupytext.write(nb, root / name)

    port, token = free_port(), secrets.token_hex(24)
    env = dict(os.environ, SPRINGBLOCK_SCALE="quick", SPRINGBLOCK_CACHE=str(base / "cache"),
               SPRINGBLOCK_DEVICE="cpu", JUPYTER_CONFIG_DIR=str(cfg), JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               JUPYTER_DATA_DIR=str(base / "data"), JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
               PYTHONUNBUFFERED="1")
    env.pop("SPRINGBLOCK_BOOK_BUILD", None)
    log = open(base / "server.log", "w")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--ServerApp.open_browser=False", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
           "jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
           "--LabApp.expose_app_in_browser=True"]  # window.jupyterapp, to drive JupyterLab's commands
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        cmd.append("--allow-root")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def server_log() -> str:
        log.flush()
        return (base / "server.log").read_text()[-4000:]

    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode} while starting:\n{server_log()}")
            try:
                if _get(f"{url}/api/status?token={token}", 2) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - t0 > SERVER_START_S:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_S} s:\n{server_log()}")
            time.sleep(0.5)
        yield {"url": url, "token": token, "name": name, "log": server_log, "root": root}
    finally:
        try:  # a clean shutdown stops the kernels too
            req = urllib.request.Request(f"{url}/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(req, timeout=10).close()
            proc.wait(20)
        except Exception:
            pass
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        try:  # anything the server left behind in its own session (a stuck kernel)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        log.close()


# --------------------------------------------------------------------------- JupyterLab page helpers

NOTEBOOK_READY_JS = r"""
async () => {
  const app = window.jupyterapp;
  if (!app) return 'no window.jupyterapp';
  await app.started; await app.restored;
  const panel = app.shell.currentWidget;
  if (!panel || !panel.sessionContext) return 'no notebook panel';
  await panel.context.ready;
  await panel.sessionContext.ready;
  const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return k ? k.status : 'no kernel';
}
"""

# [done, n code cells, n still without execution count, kernel status, cells with [*], errors]
RUN_STATE_JS = r"""
() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets.filter((c) => c.model.type === 'code');
  const pending = cells.filter((c) => c.model.executionCount === null).length;
  const busy = [...document.querySelectorAll('.jp-InputPrompt')].filter((p) => p.textContent.includes('[*]')).length;
  const errors = [];
  cells.forEach((c, i) => {
    for (let j = 0; j < c.model.outputs.length; j++) {
      const o = c.model.outputs.get(j).toJSON();
      if (o.output_type === 'error')
        errors.push(`code cell ${i + 1}: ${o.ename}: ${o.evalue}\n` +
                    (o.traceback || []).join('\n').replace(/\x1b\[[0-9;]*m/g, '').slice(-1500));
    }
  });
  const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const status = k ? k.status : 'no kernel';
  return {done: pending === 0 && busy === 0 && status === 'idle', cells: cells.length, pending, busy, status, errors};
}
"""

# The explorer: the widget view holding sliders and an output area with an image.
EXPLORER_JS = r"""
() => {
  const views = [...document.querySelectorAll(
    '.jp-OutputArea-output .widget-vbox, .jp-OutputArea-output .jupyter-widgets.widget-container')]
      .filter((v) => v.querySelector('.widget-slider') && v.querySelector('.widget-output, .jupyter-widgets-output-area'));
  if (!views.length) return null;
  const v = views[0];
  const img = v.querySelector('.widget-output img, .jupyter-widgets-output-area img');
  return {sliders: v.querySelectorAll('.widget-slider').length, src: img ? img.src : null,
          labels: [...v.querySelectorAll('.widget-slider .widget-label')].map((l) => l.textContent),
          readouts: [...v.querySelectorAll('.widget-slider .widget-readout')].map((r) => r.textContent.trim())};
}
"""


def _poll(page, js, ok, timeout_s, interval_s=0.5, arg=None):
    """Evaluate ``js`` until ``ok(value)``; returns the last value (ok or not) after at most ``timeout_s``."""
    t0 = time.monotonic()
    while True:
        value = page.evaluate(js) if arg is None else page.evaluate(js, arg)
        if ok(value) or time.monotonic() - t0 > timeout_s:
            return value
        page.wait_for_timeout(int(interval_s * 1000))


def test_live_explorer_redraws_when_a_slider_moves(browser, lab):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page_errors = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    shots = os.environ.get("SPRINGBLOCK_SCREENSHOTS")

    def shot(tag):
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            try:
                page.screenshot(path=str(Path(shots) / f"jupyterlab-{tag}.png"))
            except Exception:
                pass

    try:
        page.goto(f"{lab['url']}/lab/tree/{lab['name']}?token={lab['token']}", wait_until="load", timeout=90_000)
        page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)
        status = _poll(page, NOTEBOOK_READY_JS, lambda s: s == "idle", KERNEL_READY_S, 1.0)
        assert status == "idle", f"kernel not idle after {KERNEL_READY_S} s (status {status!r}):\n{lab['log']()}"

        t0 = time.monotonic()
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        state = _poll(page, RUN_STATE_JS, lambda s: s["done"] or s["errors"], RUN_ALL_S, 1.0)
        # an error stops the run; anything still queued then never gets a count
        run_s = time.monotonic() - t0
        assert not state["errors"], "a cell failed in the live notebook:\n" + "\n\n".join(state["errors"])
        assert state["done"], (f"run-all did not finish in {RUN_ALL_S} s: {state['pending']} of {state['cells']} "
                               f"code cells not run, {state['busy']} showing [*], kernel {state['status']}")
        print(f"run all cells: {run_s:.0f} s")

        explorer = _poll(page, EXPLORER_JS, lambda e: bool(e and e["src"]), WIDGET_UPDATE_S)
        if not (explorer and explorer["src"]):
            shot("no-explorer")
        assert explorer, "no ipywidgets explorer (a widget box with sliders and an output area) in the notebook"
        assert explorer["sliders"] >= 4, f"the explorer shows {explorer['sliders']} slider(s): {explorer['labels']}"
        assert explorer["src"], "the explorer's output area shows no image"
        before, readout0 = explorer["src"], explorer["readouts"][0]

        box = page.locator(".jp-OutputArea-output .widget-vbox:has(.widget-slider)").first
        box.scroll_into_view_if_needed()
        slider = box.locator(".widget-slider").first
        handle = slider.locator(".noUi-handle").first
        if handle.count():
            handle.focus()
            for _ in range(5):
                page.keyboard.press("ArrowRight")
        else:  # another slider implementation: drag its range input with the keyboard
            slider.locator("input[type=range]").first.focus()
            for _ in range(5):
                page.keyboard.press("ArrowRight")
        moved = _poll(page, EXPLORER_JS, lambda e: bool(e and e["src"] and e["src"] != before), WIDGET_UPDATE_S)
        shot("after-slider")
        assert moved and moved["readouts"][0] != readout0, (
            f"the first slider ({explorer['labels'][0]}) did not move: readout {readout0!r} -> "
            f"{moved and moved['readouts'][0]!r}")
        assert moved["src"] and moved["src"] != before, (
            f"moving {explorer['labels'][0]} from {readout0} to {moved['readouts'][0]} did not redraw the "
            f"explorer's figure within {WIDGET_UPDATE_S} s")
        # let the queued redraws (one per key press) finish: the last picture must differ from the first too
        settled = _poll(page, RUN_STATE_JS, lambda s: s["status"] == "idle", WIDGET_UPDATE_S, 0.5)
        assert not settled["errors"], "the explorer's redraw failed:\n" + "\n\n".join(settled["errors"])
        final = page.evaluate(EXPLORER_JS)
        assert final and final["src"] and final["src"] != before, "after the redraws settled the figure is the old one"
        assert not page_errors, f"uncaught errors in JupyterLab's page: {page_errors}"
    finally:
        ctx.close()
