"""The book's structure: parameters contract, nbval references complete, TOC complete."""
import json
from pathlib import Path

import jupytext
import pytest

from springblock import nbval_refs, notebooks, scales

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = notebooks.chapters()


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


PAGES = sorted((ROOT / "book").glob("*.md"))
EXECUTED = [p for p in PAGES if "```{code-cell}" in p.read_text()]


def test_seven_chapters_and_the_toc_lists_every_page():
    assert [p.stem[:2] for p in CHAPTERS] == ["01", "02", "03", "04", "05", "06", "07"]
    toc = (ROOT / "_toc.yml").read_text()
    for p in PAGES:
        assert p.stem in toc, f"{p.name} is not in _toc.yml"
    assert (ROOT / "book" / "_toc.yml").resolve() == (ROOT / "_toc.yml").resolve()


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_pages_never_point_readers_to_the_working_notes(path):
    text = path.read_text()
    for word in ("paper-spec", "spec §", "../shared"):
        assert word not in text, f"{path.name} mentions {word!r}"


@pytest.mark.parametrize("path", [p for p in EXECUTED if p not in CHAPTERS], ids=lambda p: p.stem)
def test_other_executed_pages_take_the_same_parameters(path):
    nb = jupytext.read(path)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    names = {}
    exec(cells[0].source, {}, names)
    assert set(names) >= {"device", "scale", "seed"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_one_parameters_cell_with_the_contract(path):
    nb = jupytext.read(path)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell tagged 'parameters'"
    names = {}
    exec(cells[0].source, {}, names)  # the cell only assigns defaults
    assert set(names) >= {"device", "scale", "seed"}
    assert names["device"] in scales.DEVICES and names["scale"] in scales.SCALES + (scales.AUTO,)
    assert any(notebooks.CHECK_MARK in c.source for c in nb.cells), "no nbval-checked cell"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_checked_cell_has_a_reference_output(path):
    ref = ROOT / "tests" / "nbval" / f"{path.stem}.json"
    assert ref.exists(), f"missing {ref}: run python scripts/update_nbval_refs.py {path.stem[:2]}"
    nb = nbval_refs.reference_notebook(path, nbval_refs.read(ref), {"device": "cpu", "scale": "quick", "seed": 0})
    checked = nbval_refs.checked_cells(nb)
    assert checked and all(c.outputs for c in checked), "checked cells must carry reference outputs"
    stored = [c["source"] for c in nbval_refs.read(ref)["cells"]]
    assert stored == [c.source.strip() for c in checked], f"{ref.name} holds outputs of cells the chapter no longer has"
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'scale = \'quick\'' in injected[0].source


def test_a_prose_edit_needs_no_new_reference_and_a_changed_checked_cell_is_refused(tmp_path):
    chapter = CHAPTERS[0]
    refs = nbval_refs.read(ROOT / "tests" / "nbval" / f"{chapter.stem}.json")
    text = chapter.read_text(encoding="utf-8")
    edited = tmp_path / chapter.name
    edited.write_text(text.replace("\n\n", "\n\nA sentence added to the prose.\n\n", 1), encoding="utf-8")
    params = {"device": "cpu", "scale": "quick", "seed": 0}
    assert nbval_refs.checked_cells(nbval_refs.reference_notebook(edited, refs, params))[0].outputs
    first = refs["cells"][0]["source"]
    edited.write_text(text.replace(first, first + "\nprint('one more number')", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="no reference output for checked cell"):
        nbval_refs.reference_notebook(edited, refs, params)


def test_execute_chapters_rejects_unknown_selection(tmp_path):
    with pytest.raises(ValueError, match="only="):
        notebooks.execute_chapters(tmp_path, scale="quick", only=["99_nope"])
    with pytest.raises(ValueError, match="scale"):
        notebooks.execute_chapters(tmp_path, scale="huge")


def _entry(**kw):
    base = dict(experiment="mlp", label="fig1 noise", scale="paper", computed=3, total=4, wall_s=90.0,
                device="cpu", device_name="AMD EPYC", finished="2026-12-02T02:00:00")
    return {**base, **kw}


def test_run_table_sums_real_wall_times_per_scale_and_experiment():
    table = notebooks.run_table([_entry(), _entry(wall_s=30.0, computed=1, finished="2026-12-02T03:00:00"),
                                 _entry(label="fig1 lr", wall_s=600.0)])
    row = table.loc[("paper", "fig1 noise")]
    assert (row["results computed"], row["wall time (min)"], row["runs"]) == (4, 2.0, 2)
    assert row["last finished"] == "2026-12-02 03:00"
    assert table.loc[("paper", "fig1 lr"), "wall time (min)"] == 10.0
    assert list(table.columns) == list(notebooks.RUN_COLUMNS.values())
    assert "nothing was computed" in notebooks.run_table([]).iloc[0, 0]


def test_run_table_counts_executor_jobs_in_the_run_that_submitted_them():
    """Jobs run at the same time as their submitting run: their lines add neither time nor results."""
    entries = [_entry(computed=1, wall_s=80.0, parent="r1"), _entry(computed=2, wall_s=85.0, parent="r1"),
               _entry(computed=3, wall_s=90.0, run_id="r1"), _entry(label="fig1 lr", wall_s=60.0, run_id=None)]
    table = notebooks.run_table(entries)
    row = table.loc[("paper", "fig1 noise")]
    assert (row["results computed"], row["wall time (min)"], row["runs"], row["submitit jobs"]) == (3, 1.5, 1, 2)
    assert table.loc[("paper", "fig1 lr"), "submitit jobs"] == 0
    assert notebooks.submitted(entries) == entries[2:]


def test_recorded_runs_reads_every_record_and_names_a_broken_one(tmp_path):
    assert notebooks.recorded_runs(tmp_path) == {}
    (tmp_path / "paper-scale-cpu.jsonl").write_text(json.dumps(_entry()) + "\n\n" + json.dumps(_entry(label="x")) + "\n")
    (tmp_path / "a.jsonl").write_text(json.dumps(_entry(scale="default")) + "\n")
    runs = notebooks.recorded_runs(tmp_path)
    assert list(runs) == ["a", "paper-scale-cpu"] and [e["label"] for e in runs["paper-scale-cpu"]] == ["fig1 noise", "x"]
    (tmp_path / "b.jsonl").write_text('{"label": \n')
    with pytest.raises(ValueError, match=r"b\.jsonl: not a run record"):
        notebooks.recorded_runs(tmp_path)


def _direct_calls(source: str) -> list[str]:
    """Calls of a named experiment's function in ``source`` that bypass experiments.compute."""
    import re

    from springblock import experiments

    runners = {tuple(scales.EXPERIMENTS[name].feeds.split(":")) for name in experiments.names()}
    return [call for module, function in sorted(runners)
            for call in re.findall(rf"\b{module.rsplit('.', 1)[1]}\.{function}\(", source)]


def test_the_direct_call_finder_sees_a_direct_call():
    assert sorted(_direct_calls('x = chain_grids.phase_diagram(**cfg)\ny = fig1.run_panel("noise")')) == [
        "chain_grids.phase_diagram(", "fig1.run_panel("]
    assert _direct_calls('x = experiments.compute("chain_phase", run)\nplotting.fig2_simulation(sim)') == []


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_reach_experiments_only_through_the_one_entry_point(path):
    calls = [call for c in code_cells(jupytext.read(path)) for call in _direct_calls(c.source)]
    assert calls == [], f"{path.name} calls {calls}: use experiments.compute(name, run) instead"


def test_plural_counts_read_as_prose():
    assert [notebooks.plural(n, "seed") for n in (1, 2, 1920)] == ["1 seed", "2 seeds", "1,920 seeds"]


def test_a_figure_whose_panels_share_a_budget_names_it_once():
    panels = [f"fig1_{p}" for p in ("noise", "lr", "dropout", "batch")]
    assert notebooks.budgets_phrase(panels, "paper", "(a)–(d)") == "Budget, every panel: the full settings of scale paper"
    default = notebooks.budgets_phrase(panels, "default", "(a)–(d)")
    assert default.startswith("Budget, every panel: scale default") and default.count("scale default") == 1
    quick = notebooks.budgets_phrase(panels, "quick", "(a)–(d)")  # the panels' epochs differ at quick
    assert quick.startswith("Budgets, panels (a)–(d): ") and quick.count("scale quick") == 4
    assert notebooks.columns_phrase(8, 8) == "all 8 of their columns"
    assert notebooks.columns_phrase(4, 8) == "4 of their 8 columns"


def _definitions(source: str) -> list[str]:
    """Functions, classes and lambdas defined in a code cell (IPython magics left out)."""
    import ast

    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return [getattr(node, "name", "lambda") for node in ast.walk(ast.parse(code))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]


def test_the_definition_finder_sees_functions_and_lambdas():
    assert _definitions("def f(x):\n    return x\ng = lambda y: y\n%matplotlib inline") == ["f", "lambda"]
    assert _definitions("plotting.fig1_figure(panels)") == []


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_pages_only_call_plot_and_explain(path):
    found = [d for c in code_cells(jupytext.read(path)) for d in _definitions(c.source)]
    assert found == [], f"{path.name} defines {found}: numerics and helpers belong in src/springblock/"


def test_a_probed_model_and_its_layer_selection_are_named_in_words():
    from torch import nn

    from springblock import notebooks
    from springblock.experiments import torchvision_probe

    for arch, name, layers in (("resnet18", "ResNet", "the submodules 1.relu, 1.layer1, 1.layer2, 1.layer3 "
                                                        "and 1.layer4"), ("mlp", "MLP", "its ReLU layers")):
        net, selection = torchvision_probe.torchvision_model(arch)
        assert notebooks.model_name(net) == name and notebooks.layer_selection(selection) == layers
    assert notebooks.model_name(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))) == "Sequential"
    assert notebooks.layer_selection(["fc"]) == "the submodule fc"
