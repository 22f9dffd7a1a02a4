"""The ledger page's claim cards: one HTML card per claim, its verdict first (a phone shows it
before anything else), then the paper's statement, ours, the parts, the evidence, the budget, where
the settings come from, the counterfactual's verdict, the verdict at the other scale and the
chapter that tests it."""
from __future__ import annotations

import html
from pathlib import Path

from . import claims

CSS = {claims.REPRODUCED: "verdict-reproduced", claims.NOT_REPRODUCED: "verdict-not",
       claims.INCONCLUSIVE: "verdict-partly", claims.NOT_TESTABLE: "verdict-untestable"}


def chapter_title(doc: str, book: Path) -> str:
    """A chapter's title, from the first heading of ``book/<doc>.md`` (its name if it has none)."""
    for line in (book / f"{doc}.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return doc


def verdict(v) -> str:
    return "—" if v is None else f"<span class='{CSS[v]}'>{v}</span>"


def _scale_name(scale: str) -> str:
    return "the paper's scale" if scale == "paper" else f"scale {scale}"


def card(row, book: Path) -> str:
    """One claim's card (``row``: a :class:`springblock.ledger.Row`)."""
    o, c = row.outcome, row.outcome.claim
    parts = "".join(f"<li>{html.escape(p.name)}: {verdict(p.verdict)} <span class='claim-detail'>({html.escape(p.detail)})"
                    f"</span></li>" for p in o.parts)
    other = verdict(row.other) + (" <strong>(differs)</strong>" if row.differs else "") if row.other \
        else "not stored in this build"
    control = ("not reproduced, as it must be" if row.counterfactual == claims.NOT_REPRODUCED
               else f"<span class='verdict-not'>{row.counterfactual}: this check could not fail</span>")
    figure = " · ".join(t for t in (html.escape(c.figure) if c.figure != "book" else "",
                                    "the book's own check" if c.kind == "book" else "") if t)
    return (f"<div class='claim-card'><div class='claim-head'>{verdict(o.verdict)} <span class='claim-fig'>{figure}"
            f" · at {_scale_name(row.scale)}</span></div><p class='claim-statement'>{html.escape(c.statement)}</p><dl>"
            f"<dt>the paper</dt><dd>{html.escape(c.paper)}</dd><dt>ours</dt><dd>{html.escape(o.ours)}</dd>"
            f"<dt>parts</dt><dd><ul>{parts}</ul></dd><dt>evidence</dt><dd>{html.escape(c.evidence)}</dd>"
            f"<dt>budget</dt><dd>{html.escape(row.budget)}</dd><dt>settings from</dt><dd>{html.escape(row.provenance)}</dd>"
            f"<dt>counterfactual</dt><dd>{control}</dd><dt>at {_scale_name(row.other_scale)}</dt><dd>{other}</dd>"
            f"<dt>tested in</dt><dd><a href='{c.where}.html'>{html.escape(chapter_title(c.where, book))}</a></dd>"
            "</dl></div>")


def cards(rows, book: Path | None = None) -> str:
    """Every row's card, in the ledger's order."""
    from .notebooks import book_dir

    book = book_dir() if book is None else Path(book)
    return "<div class='claim-cards'>" + "".join(card(r, book) for r in rows) + "</div>"
