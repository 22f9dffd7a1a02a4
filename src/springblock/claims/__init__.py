"""The paper's checkable claims, each a small function of computed results → parts with verdicts.

One definition serves three readers: the chapters glue a claim's numbers into their sentences, their
hidden self-checks (:func:`expect`) stop the build when a verdict stops being one the sentence allows,
and the ledger page lists every claim with the paper's statement, our numbers, the evidence, the
budget and the verdict — and the verdict on the claim's *counterfactual*, its inputs rebuilt so that
what the claim states is broken, which must read "not reproduced" (otherwise the check could not fail).

**The verdict grammar.** Every claim is checked in parts, each with one of:

* ``reproduced`` — the numbers show what the part states, beyond their uncertainty;
* ``not reproduced`` — the numbers show the opposite, or an effect too small to be the one stated;
* ``inconclusive`` — this budget cannot decide: the interval straddles the threshold, or there are
  too few seeds (or cells) to know the spread;
* ``not testable here`` — the data cannot be obtained on this machine.

A claim's verdict follows from its parts by :func:`overall`: not reproduced if any part is; else
inconclusive if any part is; else reproduced if any part is; else not testable here.

Claims whose ``kind`` is ``"book"`` check the book's own consistency (its choices, definitions and
demonstrations); they are listed, checked and counterfactual-tested like the paper's, and left out of
the paper's tally.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE = ("reproduced", "not reproduced", "inconclusive",
                                                          "not testable here")
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE)
KINDS = ("paper", "book")
# plain text: the ledger glues it with {glue:text}, which shows markup literally
RULE = ("A claim is “not reproduced” if any of its parts is; otherwise “inconclusive” if any part is; otherwise "
        "“reproduced” if any part is; otherwise “not testable here”.")


@dataclass(frozen=True)
class Part:
    """One tested part of a claim: what it states, its verdict, and the numbers behind it."""

    name: str  # what the part states, in a few words
    verdict: str
    detail: str  # the numbers, one phrase ("mean ĉ −0.21, 95 % interval [−0.25, −0.17], 24 values")

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"part {self.name!r}: verdict {self.verdict!r} is not one of {VERDICTS}")


def overall(parts: Iterable[Part]) -> str:
    """The claim's verdict from its parts' (:data:`RULE`)."""
    verdicts = {p.verdict for p in parts}
    if not verdicts:
        raise ValueError("a claim needs at least one part")
    for v in (NOT_REPRODUCED, INCONCLUSIVE, REPRODUCED):
        if v in verdicts:
            return v
    return NOT_TESTABLE


@dataclass(frozen=True)
class Claim:
    """One checkable statement: where it is in the paper and in the book, and how it is checked."""

    id: str
    figure: str  # "Fig. 1", "SM S4", ... where the paper makes it (the book's own: where it is made)
    statement: str  # the claim, in the book's words
    paper: str  # the paper's number or statement, as the paper gives it
    where: str  # the chapter that tests it (a docname)
    kind: str  # "paper": the paper's claim; "book": the book's own consistency
    evidence: str  # the cells the check rests on (and those left out because they hold by construction)
    inputs: tuple[str, ...]  # the check's arguments (names of results, see springblock.ledger)
    check: Callable[..., tuple] = field(repr=False)
    counterfactual: Callable[..., dict] = field(repr=False)  # inputs -> inputs with the claim broken


@dataclass(frozen=True)
class Outcome:
    """A claim evaluated on results: its parts, verdict, numbers (glued into chapters) and texts."""

    claim: Claim
    parts: tuple[Part, ...]
    ours: str  # one line for the ledger, formatted from the numbers
    numbers: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return overall(self.parts)

    def summary(self) -> str:
        """Each part with its verdict, one line each (the ledger's "parts" cell)."""
        return "; ".join(f"{p.name}: {p.verdict} ({p.detail})" for p in self.parts)


class ClaimError(AssertionError):
    """A chapter's sentence states a verdict that the computed numbers no longer support."""


CLAIMS: dict[str, Claim] = {}


def claim(id: str, figure: str, statement: str, paper_says: str, where: str, *, kind: str = "paper",
          evidence: str, counterfactual: Callable[..., dict]):
    """Register ``check(**inputs) -> (parts, ours, numbers[, texts])`` as the claim ``id``.

    ``counterfactual(**inputs)`` returns the inputs rebuilt so that the claim is broken (the pattern
    reversed or destroyed); the registry's test asserts the check then says "not reproduced"."""
    if kind not in KINDS:
        raise ValueError(f"claim {id}: kind must be one of {KINDS}, got {kind!r}")
    if id in CLAIMS:
        raise ValueError(f"claim {id} is registered twice")

    def register(fn):
        import inspect

        inputs = tuple(inspect.signature(fn).parameters)
        CLAIMS[id] = Claim(id, figure, statement, paper_says, where, kind, evidence, inputs, fn, counterfactual)
        return fn

    return register


def _number(v) -> Any:
    return int(v) if isinstance(v, (bool, int, np.integer)) else float(v)


def evaluate(id: str, **results) -> Outcome:
    """Evaluate the claim ``id`` on the named results."""
    if id not in CLAIMS:
        raise KeyError(f"unknown claim {id!r}; known: {sorted(CLAIMS)}")
    c = CLAIMS[id]
    missing = sorted(set(_required(c)) - set(results))
    if missing:
        raise TypeError(f"claim {id} needs {list(_required(c))}; missing {missing}")
    parts, ours, numbers, *texts = c.check(**{k: results[k] for k in c.inputs if k in results})
    parts = tuple(parts)
    overall(parts)  # at least one part
    return Outcome(c, parts, ours, {k: _number(v) for k, v in numbers.items()}, texts[0] if texts else {})


def _required(c: Claim) -> tuple[str, ...]:
    import inspect

    return tuple(n for n, p in inspect.signature(c.check).parameters.items() if p.default is inspect.Parameter.empty)


def evaluate_counterfactual(id: str, **results) -> Outcome:
    """The claim ``id`` evaluated on its counterfactual: its inputs rebuilt with the claim broken."""
    c = CLAIMS[id]
    return evaluate(id, **c.counterfactual(**{k: results[k] for k in c.inputs if k in results}))


def expect(outcome: Outcome, verdict: str | tuple[str, ...], scale: str) -> None:
    """Fail (at scales default and paper) when the outcome's verdict is not one the prose allows.

    ``verdict``: the verdict the chapter's sentence states, or the verdicts it is written to allow
    (a sentence that glues the verdict itself may allow several). At scale quick the networks train
    for a few epochs and no verdict means anything, so nothing is enforced there.
    """
    allowed = (verdict,) if isinstance(verdict, str) else tuple(verdict)
    bad = [v for v in allowed if v not in VERDICTS]
    if bad or not allowed:
        raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
    if scale != "quick" and outcome.verdict not in allowed:
        raise ClaimError(f"claim {outcome.claim.id} ({outcome.claim.statement}): the text allows {allowed} but the "
                         f"numbers give {outcome.verdict!r} — {outcome.summary()}")


def tally(outcomes: Iterable[Outcome], kind: str = "paper") -> dict[str, int]:
    """How many claims of ``kind`` have each verdict (every verdict listed, zeros included)."""
    counts = dict.fromkeys(VERDICTS, 0)
    for o in outcomes:
        if o.claim.kind == kind:
            counts[o.verdict] += 1
    return counts


# each chapter's module registers its claims on import, in the book's order (the ledger's order)
from . import separation  # noqa: E402,F401,I001
from . import phase_diagram  # noqa: E402,F401
from . import chain  # noqa: E402,F401
from . import accuracy  # noqa: E402,F401
from . import networks  # noqa: E402,F401
