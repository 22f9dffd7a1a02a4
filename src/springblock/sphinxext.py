"""A small Sphinx extension for the book (listed in ``_config.yml``): fresh pages and offline plotly.

* **Builds key on the scale and on the code.** The chapters execute whenever Sphinx reads them
  (``execute_notebooks: force``), and Sphinx reads a page again only when it changed — or when a
  configuration value marked "env" changed. This extension sets one such value, the *build stamp*:
  the scale and device the chapters run at (``$SPRINGBLOCK_SCALE``, ``$SPRINGBLOCK_DEVICE``) and a
  hash of the package's source. An unchanged rebuild reads nothing and takes seconds; a change in
  ``src/`` or another scale re-executes every chapter, which reads its unchanged results from the
  result cache and recomputes only what the change invalidated.
* **Every script once.** Some of the theme's scripts are added to each page twice; this removes the
  second copy (a script that runs twice throws errors in the browser's console).
* **plotly ships with the book.** The interactive figures are plotly divs without their library;
  the extension writes the installed plotly's JavaScript into the build's static files and loads it
  on every page, so the figures work offline.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def build_stamp() -> str:
    """``<scale>/<device>/<hash of every source file of the package and of the shipped results'
    manifests>`` (at scale "auto" a chapter's scale depends on what is shipped)."""
    h = hashlib.sha256()
    for path in sorted([*PACKAGE_DIR.rglob("*.py"), *PACKAGE_DIR.glob("assets/paper-scale/*.json")]):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    scale = os.environ.get("SPRINGBLOCK_SCALE", "auto")
    device = os.environ.get("SPRINGBLOCK_DEVICE", "cpu")
    return f"{scale}/{device}/{h.hexdigest()[:16]}"


def _stamp(app, config) -> None:
    from .plotting.interactive import BOOK_BUILD

    config.springblock_build = build_stamp()
    os.environ[BOOK_BUILD] = "1"  # the chapters' kernels inherit it: interactive figures emit HTML only


def _plotly(app, config) -> None:
    """Write the installed plotly's JavaScript beside the build and serve it as a static file."""
    import plotly.offline

    from .plotting.interactive import PLOTLY_SCRIPT

    folder = Path(app.outdir).parent / "springblock-static"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / PLOTLY_SCRIPT
    script = plotly.offline.get_plotlyjs()
    if not target.exists() or target.read_text(encoding="utf-8") != script:
        target.write_text(script, encoding="utf-8")
    config.html_static_path.append(str(folder))


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """Load every script once. The theme's extensions add some (thebe's settings, the toggle
    buttons' selector, MathJax) a second time with another priority; a script run twice throws
    errors in the console (MathJax: "Cannot set property Package")."""
    files = context.get("script_files")
    if not files:
        return
    seen, keep = set(), []
    for js in files:
        key = (str(getattr(js, "filename", js) or ""), getattr(js, "attributes", {}).get("body", ""))
        if key not in seen:
            seen.add(key)
            keep.append(js)
    files[:] = keep


def setup(app):
    from .plotting.interactive import PLOTLY_SCRIPT

    app.add_config_value("springblock_build", "", "env")
    app.connect("config-inited", _stamp)
    app.connect("config-inited", _plotly)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.add_js_file(PLOTLY_SCRIPT)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
