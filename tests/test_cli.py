import json
import subprocess
import sys

import pytest


def nodestudy(*args):
    return subprocess.run(
        [sys.executable, "-m", "nodestudy", *args], capture_output=True, text=True, timeout=300
    )


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
