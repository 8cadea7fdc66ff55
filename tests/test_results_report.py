"""The README's and docs/results.md's result tables are generated from figures/*.json:
a test that they are what the committed figures say, and that the generator keeps a
seed that did not learn out of every number it states."""

import json
from pathlib import Path

import pytest

from nodestudy.study import CRITICAL_STEP_DEFINITION
from nodestudy.study.figures.results_tables import critical_table, main, rewrite

ROOT = Path(__file__).parent.parent


def test_the_committed_documents_state_what_the_committed_figures_hold():
    documents = [str(ROOT / name) for name in ("README.md", "docs/results.md", "docs/design.md")]
    assert main(["--check", "--figures", str(ROOT / "figures"), *documents]) == 0


def critical_row(**values):
    row = {
        "data": "sphere10",
        "train_method": "euler",
        "gradient": "backprop",
        "critical_steps": 64.0,
        "critical_steps_min": 32.0,
        "critical_steps_max": 64.0,
        "seeds_valid_from_critical": 3,
        "learned_seeds": 3,
        "seeds": 4,
        "reason": "",
    }
    return {**row, **values}


def write_figures(folder, critical, summary):
    folder.mkdir(exist_ok=True)
    numbers = {  # the whole of the figure's layout, as its notebook writes it
        "profile": "quick",
        "seeds": [0, 1, 2, 3],
        "iterations": 3000,
        "reference": "rk4 K=512",
        "drop_limit": 0.03,
        "learning_rates": {},
        "critical": critical,
        "summary": summary,
        "critical_definition": CRITICAL_STEP_DEFINITION,
    }
    (folder / "figA_collapse_datasets.json").write_text(json.dumps(numbers))


def test_a_critical_step_is_stated_with_its_learned_seeds_or_not_at_all(tmp_path):
    summary = [
        {
            "data": "sphere10",
            "train_method": "euler",
            "train_steps": 1,
            "drop_mean": 0.25,
            "learned_seeds": 3,
        },
        {
            "data": "sphere10",
            "train_method": "euler",
            "train_steps": 128,
            "drop_mean": 0.01,
            "learned_seeds": 3,
        },
        {
            "data": "three_minima",
            "train_method": "euler",
            "train_steps": 1,
            "drop_mean": None,
            "learned_seeds": 0,
        },
    ]
    no_step = critical_row(
        data="three_minima",
        critical_steps=None,
        critical_steps_min=None,
        critical_steps_max=None,
        learned_seeds=0,
        reason="0 of 4 seeds learned at K=128",
    )
    write_figures(tmp_path, [critical_row(), no_step], summary)
    table = critical_table(tmp_path)
    assert (
        "| sphere10 | euler | K = 64, seeds 32–64; 3 of 3 learned seeds valid from it, 4 trained "
        "| not stated | K = 1: 0.250; K = 128: 0.010 |" in table
    )
    beyond = critical_table_of(tmp_path, critical_row(critical_steps_max=None, learned_seeds=4,
                                                      seeds_valid_from_critical=3))  # fmt: skip
    assert "K = 64, seeds 32–beyond the grid; 3 of 4 learned seeds valid from it" in beyond
    assert (
        "| three_minima | euler | none (0 of 4 seeds learned at K=128) | not stated "
        "| K = 1: no learned seed |" in table
    )
    sphere2 = critical_table_of(tmp_path, critical_row(data="sphere2"))
    assert (
        "| sphere2 | euler | K = 64, seeds 32–64; 3 of 3 learned seeds valid from it, " in sphere2
    )
    assert "4 trained | K = 64–128 |" in sphere2  # the paper's, beside ours


def critical_table_of(folder, row):
    write_figures(folder, [row], [])
    return critical_table(folder)


def test_a_changed_number_makes_the_document_stale(tmp_path):
    write_figures(tmp_path, [critical_row()], [])
    document = tmp_path / "doc.md"
    document.write_text(
        "before\n<!-- results:critical -->\nold\n<!-- /results:critical -->\nafter\n"
    )
    assert main(["--check", "--figures", str(tmp_path), str(document)]) == 1
    assert main(["--figures", str(tmp_path), str(document)]) == 0
    assert main(["--check", "--figures", str(tmp_path), str(document)]) == 0
    assert "K = 64" in document.read_text() and document.read_text().startswith("before\n")
    write_figures(tmp_path, [critical_row(critical_steps=128.0, critical_steps_max=128.0)], [])
    assert main(["--check", "--figures", str(tmp_path), str(document)]) == 1
    assert rewrite(document.read_text(), tmp_path) != document.read_text()


def test_a_number_in_prose_is_filled_from_the_json_and_goes_stale_with_it(tmp_path):
    from nodestudy import NodestudyError
    from nodestudy.study.figures.results_values import fill_values

    write_figures(tmp_path, [critical_row()], [])
    marked = (
        "K = <!-- v figA_collapse_datasets.critical[data=sphere10].critical_steps k -->"
        "?<!-- /v -->, <!-- v count(figA_collapse_datasets.critical[train_method=euler]) -->"
        "?<!-- /v --> sweep, drop <!-- v figA_collapse_datasets.critical.0.critical_steps_min "
        ".1f -->?<!-- /v -->"
    )
    shown = [part.split("-->")[-1] for part in fill_values(marked, tmp_path).split("<!-- /v")]
    assert shown[:3] == ["64", "1", "32.0"]
    document = tmp_path / "doc.md"
    document.write_text(fill_values(marked, tmp_path) + "\n")
    assert main(["--check", "--figures", str(tmp_path), str(document)]) == 0
    write_figures(tmp_path, [critical_row(critical_steps=128.0)], [])
    assert main(["--check", "--figures", str(tmp_path), str(document)]) == 1
    with pytest.raises(NodestudyError, match=r"\[data=sphere3\] matches 0 records"):
        fill_values(marked.replace("data=sphere10", "data=sphere3"), tmp_path)
    with pytest.raises(NodestudyError, match="no 'nowhere' there"):
        fill_values("<!-- v figA_collapse_datasets.nowhere -->?<!-- /v -->", tmp_path)


#: Headers of tables that describe (rules, figures) or time the build (the build's wall
#: times, measured by benchmarks/make_figures_time.py), not results.
DESCRIPTIVE_HEADERS = ("| rule | checks on |", "| file | notebook |", "| command | wall time |")


def hand_written_table_rows(text):
    """Rows of result tables with a digit outside the generated blocks and marked numbers."""
    import re

    outside = re.sub(r"<!-- results:([\w:]+) -->.*?<!-- /results:\1 -->", "", text, flags=re.S)
    outside = re.sub(r"<!-- v .*?<!-- /v -->", "", outside)
    rows, header = [], None
    for line in outside.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        header = header or line
        if header.startswith(DESCRIPTIVE_HEADERS) or set(line) <= set("|- "):
            continue
        if re.search(r"\d", line):
            rows.append(line)
    return rows


def test_no_result_table_in_the_documents_is_typed_by_hand():
    for document in ("README.md", "docs/results.md"):
        rows = hand_written_table_rows((ROOT / document).read_text())
        assert rows == [], f"{document}: {rows}"


def test_a_critical_step_from_numbers_made_before_the_definition_says_so(tmp_path):
    from nodestudy.study.figures.results_text import PREVIOUS_DEFINITION

    write_figures(tmp_path, [critical_row()], [])
    assert PREVIOUS_DEFINITION not in critical_table(tmp_path)
    numbers = json.loads((tmp_path / "figA_collapse_datasets.json").read_text())
    del numbers["critical_definition"]
    (tmp_path / "figA_collapse_datasets.json").write_text(json.dumps(numbers))
    assert PREVIOUS_DEFINITION in critical_table(tmp_path)


def test_figure_1_at_both_profiles_stands_beside_the_paper_s_numbers(tmp_path):
    from nodestudy.study.figures.results_profiles import profiles_table

    def side(seeds, crossings, at):
        return {
            "train_steps": 2,
            "seeds": seeds,
            "crossing_pairs_per_seed": crossings,
            "accuracy_by_test_steps": [
                {"test_method": "euler", "test_steps": k, "mean": m, "std": 0.01}
                for k, m in at.items()
            ],
        }

    quick = {
        "iterations": 3000,
        "coarse": side([0, 1, 2], [10, 20, 30], {1: 0.6, 2: 0.98, 4: 0.5, 4096: 0.49}),
        "fine": side([0, 1, 2], [0, 1, 0], {64: 0.96, 4096: 0.97}),
    }
    (tmp_path / "fig1_sphere2.json").write_text(json.dumps(quick))
    table = profiles_table(tmp_path)
    assert "| trained | 3 seeds, 3,000 iterations | not run | one model each |" in table
    assert "| 0.980 ± 0.010 | not run | about 0.98 |" in table
    assert "| 0.960–0.970 (means) | not run | 0.97–0.98 |" in table
    (tmp_path / "paper").mkdir()
    paper = {**quick, "iterations": 10_000}
    (tmp_path / "paper" / "fig1_sphere2.json").write_text(json.dumps(paper))
    assert "| 3 seeds, 3,000 iterations | 3 seeds, 10,000 iterations |" in profiles_table(tmp_path)


def test_numbers_that_do_not_fit_their_figure_s_layout_are_refused_where_written(tmp_path, capsys):
    from nodestudy import NodestudyError
    from nodestudy.study.figures import records

    fig1 = {"fine": {}, "coarse": {}, "profile": "smoke", "iterations": 20, "wall_seconds": 1.0}
    records.write_numbers(fig1, tmp_path, "fig1_sphere2")
    with pytest.raises(NodestudyError, match=r"fig1_sphere2\.json does not fit its layout: coarse"):
        records.write_numbers({**fig1, "coarse": None}, tmp_path, "fig1_sphere2")
    renamed = {k: v for k, v in fig1.items() if k != "iterations"} | {"iters": 20}
    with pytest.raises(NodestudyError, match="missing iterations; unknown iters"):
        records.write_numbers(renamed, tmp_path, "fig1_sphere2")
    with pytest.raises(NodestudyError, match="no layout for the figure numbers 'fig9_x'"):
        records.write_numbers(fig1, tmp_path, "fig9_x")
    # the documents' generator refuses a figures folder holding one that does not fit
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "fig1_sphere2.json").write_text(json.dumps(renamed))
    assert main(["--check", "--figures", str(tmp_path), str(ROOT / "README.md")]) == 2
    assert "error: paper/fig1_sphere2.json does not fit" in capsys.readouterr().err
    # what JSON holds is checked: an infinite learned bar (no seed learned) is written, and
    # read back, as null
    from nodestudy.study.figures.layouts import LAYOUTS, check_folder

    examples = {dict: {}, list: [], str: "", int: 1, float: 1.0, type(None): None}
    fig5 = {
        key: examples[kind if isinstance(kind, type) else kind[0]]
        for key, kind in LAYOUTS["fig5_{data}"].required.items()
    }
    written = records.write_numbers({**fig5, "learned_bar": float("inf")}, tmp_path, "fig5_x")
    assert json.loads(written.read_text())["learned_bar"] is None
    (tmp_path / "paper" / "fig1_sphere2.json").unlink()
    check_folder(tmp_path)
