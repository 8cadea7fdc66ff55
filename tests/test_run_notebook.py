"""``make figures`` runs each notebook through ``nodestudy.study.cli.run_notebook``: a person sees
which notebook runs and how long it took, and nothing else (no cell counter, no
kernel log); a failure is one line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run_notebook(*args, cache_dir):
    env = {**os.environ, "NODESTUDY_CACHE": str(cache_dir), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "nodestudy.study.cli.run_notebook",
        "--cwd",
        "notebooks",
        "-k",
        "python3",
    ]
    return subprocess.run(
        [*command, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.notebook
def test_the_mnist5k_run_of_image_collapse_says_what_runs_and_nothing_else(tmp_path, cache_dir):
    figures = tmp_path / "figures"
    output = tmp_path / "image_collapse_mnist5k.ipynb"
    done = run_notebook(
        *("-p", "profile", "smoke", "-p", "dataset", "mnist5k", "-p", "figures_dir", figures),
        *("notebooks/image_collapse.ipynb", output),
        cache_dir=cache_dir,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith("image_collapse_mnist5k: running")
    assert "image_collapse_mnist5k: done in" in lines[1]
    numbers = json.loads((figures / "fig4_mnist5k.json").read_text())
    assert numbers["data"] == "mnist5k"
    assert {"learned_seeds", "reason"} <= set(numbers["critical"][0])


def test_a_failing_notebook_is_one_line_naming_the_cell(tmp_path, cache_dir):
    done = run_notebook(
        *("-p", "profile", "smoke", "-p", "seeds", "[-1]", "-p", "figures_dir", tmp_path),
        *("notebooks/sphere_collapse.ipynb", tmp_path / "out.ipynb"),
        cache_dir=cache_dir,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("notebooks/sphere_collapse.ipynb: cell ") and "seed" in last


@pytest.mark.notebook
def test_train_study_trains_what_the_notebooks_then_find_in_the_cache(tmp_path, cache_dir):
    notebooks = ["sphere_collapse", "collapse_datasets"]
    env = {**os.environ, "NODESTUDY_CACHE": str(cache_dir), "OMP_NUM_THREADS": "1"}
    planned = subprocess.run(
        [
            sys.executable,
            "-m",
            "nodestudy",
            "train-study",
            "--profile",
            "smoke",
            "--json",
            "--notebooks",
            *notebooks,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert planned.returncode == 0, planned.stderr
    trained = json.loads(planned.stdout.strip().splitlines()[-1])
    assert trained["trained"] == trained["runs"] > 0
    stored = sorted(p.name for p in cache_dir.iterdir())
    assert len(stored) == trained["runs"]
    for name in notebooks:
        done = run_notebook(
            *("-p", "profile", "smoke", "-p", "figures_dir", tmp_path),
            *(f"notebooks/{name}.ipynb", tmp_path / f"{name}.ipynb"),
            cache_dir=cache_dir,
        )
        assert done.returncode == 0, done.stderr
    # the notebooks trained nothing more: every run they used was planned
    assert sorted(p.name for p in cache_dir.iterdir()) == stored


#: Parameters refused before any kernel starts: one line, status 2 (a misspelt name
#: would otherwise be added by papermill and the notebook run with the default).
PARAMETER_CASES = [
    (["-p", "iteratoins", "3"], "has no parameter 'iteratoins'; its parameters are"),
    (["-r", "seed", "3"], "has no parameter 'seed'"),
    (["-y", "{iterations:"], "does not parse"),
    (["-y", "[1, 2]"], "not a mapping"),
    (["-f", "/no/such/params.yaml"], "does not parse"),
    (["-b", "!!!"], "not a mapping"),
    (["--frobnicate"], "No such option"),
]


@pytest.mark.parametrize(
    ("args", "message"), PARAMETER_CASES, ids=[" ".join(args) for args, _ in PARAMETER_CASES]
)
def test_bad_notebook_parameters_are_one_line_before_the_notebook_runs(
    tmp_path, capsys, args, message
):
    from nodestudy.study.cli.run_notebook import main

    notebook = str(ROOT / "notebooks" / "sphere_collapse.ipynb")
    status = main([*args, notebook, str(tmp_path / "out.ipynb")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and message in err[-1], err
    assert not any("Traceback" in line for line in err)
    assert not (tmp_path / "out.ipynb").exists()


def test_a_notebook_that_does_not_exist_is_one_line(tmp_path, capsys):
    from nodestudy.study.cli.run_notebook import main

    assert main([str(tmp_path / "nonesuch.ipynb"), str(tmp_path / "out.ipynb")]) == 2
    assert capsys.readouterr().err.strip().endswith("nonesuch.ipynb does not exist")
