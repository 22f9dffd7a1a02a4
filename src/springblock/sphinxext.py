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
* **The build says what it took.** The ``{springblock-build}`` directive (the reproducibility page)
  becomes, once every page has executed, a sentence on where and how long the build executed and a
  table of every page's execution time in words (myst-nb's own table shows its status as emoji,
  which some fonts lack).
* **plotly ships with the book.** The interactive figures are plotly divs without their library;
  the extension writes the installed plotly's JavaScript into the build's static files and loads it
  on every page, so the figures work offline.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective

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


class BuildSummaryNode(nodes.General, nodes.Element):
    """Placeholder for the build summary, filled once every page has executed."""


class BuildSummary(SphinxDirective):
    """``{springblock-build} sentence``: where the book was executed and how long it took;
    ``{springblock-build} table``: how long each page took."""

    required_arguments = 1

    def run(self):
        from myst_nb.sphinx_ import NbMetadataCollector

        part = self.arguments[0]
        if part not in ("sentence", "table"):
            raise self.error(f"springblock-build takes 'sentence' or 'table', got {part!r}")
        NbMetadataCollector.set_doc_data(self.env, self.env.docname, _SUMMARY_KEY, True)
        return [BuildSummaryNode(part=part)]


_SUMMARY_KEY = "springblock_build_summary"


def _pages_to_update(app, env):
    """Pages holding the summary are rewritten whenever any page was executed again."""
    from myst_nb.sphinx_ import NbMetadataCollector

    if not NbMetadataCollector.new_exec_data(env):
        return None
    return [d for d, data in NbMetadataCollector.get_doc_data(env).items() if data.get(_SUMMARY_KEY)]


def execution_rows(metadata) -> list[tuple[str, str, float | None, bool]]:
    """(docname, when it executed, run time in s, succeeded) of every executed page, in name order."""
    from datetime import datetime

    rows = []
    for docname in sorted(metadata):
        data = metadata[docname].get("exec_data")
        if data:
            when = datetime.fromtimestamp(data["mtime"]).strftime("%Y-%m-%d %H:%M") if data.get("mtime") else ""
            rows.append((docname, when, data.get("runtime"), bool(data.get("succeeded"))))
    return rows


def summary_sentence(rows, processor: str, cores: int, scale: str) -> str:
    total = sum(r[2] or 0.0 for r in rows)
    failed = [r[0] for r in rows if not r[3]]
    if scale != "auto":
        where = f"scale {scale}"
    else:
        from . import auto

        where = f"scale auto ({auto.chapters_at(auto.chapter_scales('auto'))}; each chapter says so at its top)"
    out = (f"This build executed {len(rows)} pages at {where} on {processor} with {cores} cores, in "
           f"{total / 60:.1f} minutes of notebook execution.")
    if failed:
        out += f" These pages failed to execute: {', '.join(failed)}."
    return out


class BuildSummaryTransform(SphinxPostTransform):
    default_priority = 8  # before the reference resolvers: the table links to the pages

    def run(self, **kwargs) -> None:
        from myst_nb.sphinx_ import NbMetadataCollector
        from sphinx.addnodes import pending_xref

        from .devices import cpu_model

        for node in self.document.findall(BuildSummaryNode):
            rows = execution_rows(NbMetadataCollector.get_doc_data(self.env))
            if node["part"] == "sentence":
                node.replace_self(nodes.paragraph(text=summary_sentence(rows, cpu_model(), os.cpu_count() or 1,
                                                                        os.environ.get("SPRINGBLOCK_SCALE", "auto"))))
                continue
            table = nodes.table(classes=["colwidths-auto"])
            group = nodes.tgroup(cols=4)
            table += group
            group += [nodes.colspec(colwidth=25) for _ in range(4)]
            head, body = nodes.thead(), nodes.tbody()
            group += [head, body]
            head += nodes.row("", *[nodes.entry("", nodes.paragraph(text=t))
                                    for t in ("page", "executed", "run time (s)", "executed without error")])
            for docname, when, runtime, ok in rows:
                link = pending_xref(refdoc=self.env.docname, reftarget="/" + docname, reftype="doc", refdomain="std",
                                    refexplicit=False, refwarn=True)
                link += nodes.literal(docname, docname)
                cells = [nodes.paragraph("", "", link), nodes.paragraph(text=when),
                         nodes.paragraph(text="–" if runtime is None else f"{runtime:.1f}"),
                         nodes.paragraph(text="yes" if ok else "no")]
                body += nodes.row("", *[nodes.entry("", c) for c in cells])
            node.replace_self(table)


def setup(app):
    from .plotting.interactive import PLOTLY_SCRIPT

    app.add_node(BuildSummaryNode)
    app.add_directive("springblock-build", BuildSummary)
    app.connect("env-updated", _pages_to_update)
    app.add_post_transform(BuildSummaryTransform)

    app.add_config_value("springblock_build", "", "env")
    app.connect("config-inited", _stamp)
    app.connect("config-inited", _plotly)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    app.add_js_file(PLOTLY_SCRIPT)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
