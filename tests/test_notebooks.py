"""Every notebook runs through papermill with the smoke profile, so none can rot."""

import json
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))

#: Files each notebook must write into figures_dir.
EXPECTED_OUTPUTS = {
    "sphere_collapse": [
        "fig4a_sphere2_euler.png",
        "fig4a_sphere2_euler.pdf",
        "fig4b_sphere2_rk4.png",
        "fig4_sphere2_collapse.png",
        "fig4_sphere2_accuracy.csv",
        "fig4_sphere2.json",
    ],
    "sphere_adaptation": [
        "fig5_sphere2_adaptation.png",
        "fig5_sphere2_adaptation.pdf",
        "fig5_sphere2_tolerance.png",
        "fig5_sphere2_rules.png",
        "fig5_sphere2_rules.csv",
        "table1_sphere2.csv",
        "fig5_sphere2_snapshots.csv",
        "fig5_sphere2.json",
    ],
    "collapse_datasets": [
        "figA_collapse_datasets.png",
        "figA_collapse_datasets.pdf",
        "figA_collapse_datasets.json",
        "figA_collapse_datasets_drops.csv",
    ],
    "adaptation_solvers": [
        "figA_adaptation_solvers.png",
        "figA_adaptation_solvers.pdf",
        "figA_adaptation_solvers.csv",
        "figA_adaptation_solvers.json",
    ],
    "adjoint": ["figA_adjoint.png", "figA_adjoint.pdf", "figA_adjoint.json", "figA_adjoint.csv"],
    "image_collapse": [
        "fig4a_digits_euler.png",
        "fig4a_digits_euler.pdf",
        "fig4_digits_collapse.png",
        "fig4_digits_accuracy.csv",
        "fig4_digits.json",
    ],
    "tolerance_collapse": [
        f"fig4cd_{data}{suffix}"
        for data in ("sphere2", "digits")
        for suffix in ("_tolerance.png", "_tolerance.pdf", "_accuracy.csv", ".json")
    ],
    "image_adaptation": [
        "fig5_digits_adaptation.png",
        "fig5_digits_adaptation.pdf",
        "fig5_digits_rules.png",
        "table1_digits.csv",
        "fig5_digits_snapshots.csv",
        "fig5_digits.json",
    ],
    "check_your_model": [
        "check_textbook.png",
        "check_textbook.pdf",
        "check_textbook.json",
        "check_textbook_tables.csv",
        "adapt_textbook.png",
        "adapt_textbook.csv",
    ],
    "fan": ["fig3_fan.png", "fig3_fan.pdf", "fig3_fan.json", "fig3_fan_separability.csv"],
    "sphere_fine_vs_coarse": [
        "fig1_sphere2_fine_vs_coarse.png",
        "fig1_sphere2_fine_vs_coarse.pdf",
        "fig2_sphere2_decision_regions.png",
        "fig1_sphere2.json",
    ],
}


def test_every_notebook_has_expectations():
    assert {nb.stem for nb in NOTEBOOKS} == set(EXPECTED_OUTPUTS)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_have_a_parameters_cell_and_no_outputs(notebook):
    book = nbformat.read(notebook, as_version=4)
    tagged = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert "profile" in tagged[0].source and "device" in tagged[0].source
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_with_tiny_parameters(notebook, tmp_path, cache_dir):
    figures = tmp_path / "figures"
    papermill.execute_notebook(
        str(notebook),
        str(tmp_path / notebook.name),
        parameters={"profile": "smoke", "figures_dir": str(figures)},
        kernel_name="python3",
        cwd=str(notebook.parent),
        progress_bar=False,
    )
    for name in EXPECTED_OUTPUTS[notebook.stem]:
        assert (figures / name).stat().st_size > 0, name
    from nodestudy.study import CRITICAL_STEP_DEFINITION
    from nodestudy.study.experiments.plan import UNCACHED_NOTEBOOKS

    for path in figures.glob("*.json"):
        numbers = json.loads(path.read_text())
        assert numbers["profile"] == "smoke"
        assert numbers["numerics"] == "reproducible", path.name
        if notebook.stem not in UNCACHED_NOTEBOOKS:  # it names the stored runs it rests on
            assert numbers["store"]["runs"] > 0 and len(numbers["store"]["sha256"]) == 64
        if "critical" in numbers or "grid_critical_steps" in numbers:  # never without it
            assert numbers["critical_definition"] == CRITICAL_STEP_DEFINITION, path.name


def readme_papermill_lines():
    root = Path(__file__).parent.parent
    text = "\n".join((root / name).read_text() for name in ("README.md", "docs/design.md"))
    lines = [line for line in text.splitlines() if line.startswith("../.venv/bin/papermill ")]
    assert lines, "the documented papermill examples have moved; update this test"
    return lines


@pytest.mark.parametrize("line", readme_papermill_lines(), ids=lambda line: line.split()[1])
def test_the_readme_papermill_examples_pass_their_parameters_as_the_notebooks_expect(
    line, monkeypatch
):
    import dataclasses
    import shlex

    import papermill.cli

    from nodestudy.study import profiles
    from nodestudy.study.profiles import parameters

    recorded = {}
    monkeypatch.setattr(
        papermill.cli, "execute_notebook", lambda *a, **kw: recorded.update(kw["parameters"])
    )
    arguments = shlex.split(line)[1:]
    notebook = Path(__file__).parent.parent / "notebooks" / arguments[0]
    papermill.cli.papermill.main(args=arguments, standalone_mode=False)
    declared = papermill.inspect_notebook(str(notebook))
    assert set(recorded) <= set(declared), set(recorded) - set(declared)
    fields = {
        f.name: f.type
        for study in (profiles.Study, profiles.AppendixStudy, profiles.TextbookStudy)
        for f in dataclasses.fields(study)
    }
    for name, value in recorded.items():
        checked = parameters.parameter_value(name, fields.get(name), value)
        if isinstance(value, list):  # a list arrives as a list and stays one
            assert isinstance(checked, tuple) and len(checked) == len(value)
