import json
import subprocess
import sys

import pytest
from study_helpers import nodestudy

TRAIN = ["train", "--data", "sphere2", "--solver", "euler", "--steps", "2", "--iters", "20"]


def test_train_and_evaluate_contract(cache_dir):
    result = nodestudy(*TRAIN, "--seed", "3", "--json")
    assert result.returncode == 0, result.stderr
    trained = json.loads(result.stdout)
    for key in ("run", "train_accuracy", "test_accuracy", "nfe_forward"):
        assert key in trained
    assert trained["nfe_forward"] == 2 and not trained["cached"]

    again = json.loads(nodestudy(*TRAIN, "--seed", "3", "--json").stdout)
    assert again["cached"] and again["run"] == trained["run"]

    same = json.loads(nodestudy("evaluate", trained["run"], "--json").stdout)
    assert same["test_accuracy"] == pytest.approx(trained["test_accuracy"])

    result = nodestudy("evaluate", trained["run"], "--solver", "rk4", "--steps", "64", "--json")
    assert result.returncode == 0, result.stderr
    scored = json.loads(result.stdout)
    assert 0 <= scored["test_accuracy"] <= 1 and scored["steps"] == 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--solver", "heun", "--steps", "2"], "unknown solver"),
        (["train", "--data", "moons", "--steps", "2"], "unknown data set"),
        (["train", "--steps", "0"], "at least 1"),
        (["train", "--steps", "2", "--iters", "-5"], "iterations"),
        (["train", "--solver", "rk4"], "needs --steps"),
        (["evaluate", "/no/such/run"], "does not exist"),
        (["evaluate", "."], "holds no finished run"),
        (["evaluate"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line_and_no_traceback(cache_dir, args, message):
    result = nodestudy(*args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and "Traceback" not in result.stderr


def test_console_script_is_installed():
    import shutil

    assert shutil.which("nodestudy") or (
        __import__("pathlib").Path(sys.executable).with_name("nodestudy").exists()
    )


def test_train_three_minima_with_the_adjoint_method(cache_dir):
    args = ["train", "--data", "three_minima", "--solver", "rk4", "--steps", "2", "--iters", "10"]
    result = nodestudy(*args, "--gradient", "adjoint", "--json")
    assert result.returncode == 0, result.stderr
    trained = json.loads(result.stdout)
    assert trained["data"] == "three_minima" and trained["gradient"] == "adjoint"
    assert trained["nfe_forward"] == trained["nfe_backward"] == 8


USER_MODEL = """
import torch

def checkable():
    x = torch.linspace(-1, 1, 401)[:, None]
    x = x[x.abs().squeeze() > 0.01]
    return {"func": lambda t, z: -1.2785 * z, "x": x, "y": (x.abs() > 0.5).long().squeeze(),
            "head": lambda z: 100 * torch.cat([0.139 - z.abs(), z.abs() - 0.139], 1),
            "method": "euler", "options": {"step_size": 1.0}}
"""


def test_check_takes_a_users_model_by_name(tmp_path):
    (tmp_path / "mymodels.py").write_text(USER_MODEL)
    command = [sys.executable, "-m", "nodestudy", "check", "--model", "mymodels:checkable"]
    result = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["run"] == "mymodels:checkable" and report["verdict"] == "invalid"
    assert {"reasons", "comparisons", "table", "safe_steps"} <= set(report)
    missing = subprocess.run(
        [*command[:-1], "mymodels:nothing"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert missing.returncode == 2 and "cannot load" in missing.stderr
    neither = subprocess.run(command[:4], capture_output=True, text=True, timeout=300)
    assert neither.returncode == 2 and "one of them" in neither.stderr
