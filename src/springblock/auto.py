"""What scale "auto" (the README's book build) means for each chapter: the paper's scale where the
shipped paper-scale results hold what the chapter reads under the current code's keys, else the CPU
budget — resolved per chapter, or per section for chapters made of independent set-ups
(:data:`SECTIONS`), and said on the page (:func:`show`)."""
from __future__ import annotations

from . import scales

# Chapters made of independent set-ups: under "auto" each section resolves on its own experiments,
# so one set-up missing from the shipped results does not send the others to the CPU budget.
SECTIONS = {
    "06_other_networks": (("gen_cnn",), ("gen_linear",), ("gen_regression",)),
    "07_beyond": (("gen_probe",), ("fig4_dynamics",), ("gen_control",)),
}
# An analysis of other results is drawn at the scale of the results it reads.
ANALYSES = {"gen_chainfit": "fig4_dynamics"}


def groups(chapter: str) -> tuple[tuple[str, ...], ...]:
    """The experiment groups of ``chapter`` that resolve "auto" together: its sections, or the whole chapter."""
    return SECTIONS.get(chapter, (scales.CHAPTERS[chapter],))


def sections_note(runs: dict) -> str:
    """The page's note for a sectioned chapter: which sections are drawn at which scale, and why."""
    at = {s: [scales.TITLES[n] for n, r in runs.items() if r.scale == s] for s in ("paper", "default")}
    if not at["default"] or not at["paper"]:
        return resolve(tuple(runs))[1].replace("This chapter", "Every section of this chapter")  # names every missing one
    one = len(at["default"]) == 1
    return (f"The section{'' if len(at['paper']) == 1 else 's'} on {_and(at['paper'])} "
            f"{'is' if len(at['paper']) == 1 else 'are'} drawn at the paper's scale, from the paper-scale results "
            f"that ship with the package; the section{'' if one else 's'} on {_and(at['default'])} "
            f"{'runs' if one else 'run'} at the CPU budget (scale `default`): the shipped results do not hold "
            f"{'it' if one else 'them'} under the current code's keys yet.")


def resolve(experiments: tuple[str, ...]) -> tuple[str, str]:
    """What scale "auto" means for a chapter reading ``experiments``, and the sentence that says why."""
    from . import fill

    if not experiments:
        return "default", "This chapter runs at the CPU budget (scale `default`)."
    rows = fill.status("paper", names=experiments)
    missing = [r.experiment for r in rows if r.missing != 0]
    if not missing:
        return "paper", ("This chapter is drawn at the paper's scale (its grids and seeds), from the paper-scale "
                         "results that ship with the package: nothing was trained to build it.")
    return "default", (f"This chapter runs at the CPU budget (scale `default`): the shipped paper-scale results do "
                       f"not hold {_and([scales.TITLES[m] for m in missing])} under the current code's keys yet.")


MIXED = "paper and default"  # a sectioned chapter whose sections resolved "auto" differently


def chapter_scales(scale: str) -> dict[str, str]:
    """The scale each chapter runs at in a build at ``scale``: "auto" resolves per chapter (per
    section where it has :data:`SECTIONS`, :data:`MIXED` when they differ), as the chapter itself
    does (:func:`resolve`); any other scale is every chapter's."""
    if scale != scales.AUTO:
        return {ch: scale for ch in scales.CHAPTERS}
    out = {}
    for ch in scales.CHAPTERS:
        found = {resolve(group)[0] for group in groups(ch)}
        out[ch] = found.pop() if len(found) == 1 else MIXED
    return out


def scale_of(chapter: str, experiments: tuple[str, ...], scale: str, memo: dict | None = None) -> str:
    """The scale a chapter's reading of ``experiments`` runs at in a build at ``scale`` (what the
    ledger evaluates a claim at): the scale of the chapter's groups that hold them. ``memo``: a dict
    shared by calls made together, so each group is resolved once (a resolve reads the shipped status)."""
    if scale != scales.AUTO:
        return scale
    memo = {} if memo is None else memo

    def at(group):
        if group not in memo:
            memo[group] = resolve(group)[0]
        return memo[group]

    found = {at(g) for g in groups(chapter) if set(g) & set(experiments)} or {at(scales.CHAPTERS[chapter])}
    return "paper" if found == {"paper"} else "default"


def chapters_at(per: dict[str, str]) -> str:
    """``chapter_scales``'s answer in words: "chapters 2–4 at scale paper, chapters 1 and 5–7 at scale default"."""
    groups_: dict[str, list[int]] = {}
    for ch, s in per.items():
        groups_.setdefault(s, []).append(int(ch[:2]))
    return ", ".join(f"{_spans(sorted(ns))} " + ("partly at scale paper" if s == MIXED
                                                  else f"at scale {s}") for s, ns in groups_.items())


def _spans(ns: list[int]) -> str:
    runs, start = [], ns[0]
    for a, b in zip(ns, ns[1:] + [None]):
        if b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}–{a}")
            start = b
    word = "chapter" if len(ns) == 1 else "chapters"
    return f"{word} " + (runs[0] if len(runs) == 1 else ", ".join(runs[:-1]) + " and " + runs[-1])


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def show(note: str) -> None:
    """Put ``note`` on the page when running in a notebook (nothing elsewhere)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        return
    if get_ipython() is not None:
        display(Markdown(f"*{note}*"))
