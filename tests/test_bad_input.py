"""Bad input, table-driven: every case ends in one line that names what to fix (exit
status 2 on the command line, a NodestudyError in notebooks), never in a traceback or
a silently accepted value."""

import pytest

from nodestudy import NodestudyError
from nodestudy.study import profiles
from nodestudy.study.cli.main import main

TRAIN = ["train", "--steps", "2", "--iters", "5"]

CLI_CASES = [
    (["train-study", "--jobs", "0"], "--jobs"),
    (["train-study", "--profile", "huge"], "--profile"),
    (["train-study", "--notebooks", "nonesuch"], "nonesuch"),
    (["train", "--seed", "-1", "--steps", "2", "--iters", "5"], "seed"),
    (["train", "--seed", "abc", "--steps", "2"], "--seed"),
    ([*TRAIN, "--device", "cuda:3"], "device"),
    ([*TRAIN, "--device", "gpu"], "device"),
    ([*TRAIN, "--batch-size", "0"], "batch size"),
    ([*TRAIN, "--batch-size", "100000"], "batch size"),
    ([*TRAIN, "--hidden", "0"], "hidden"),
    ([*TRAIN, "--hidden", "1000000"], "GiB"),
    ([*TRAIN, "--lr", "-1"], "learning rate"),
    ([*TRAIN, "--lr", "nan"], "learning rate"),
    ([*TRAIN, "--lr", "inf"], "learning rate"),
    (["train", "--steps", "2", "--iters", "1000000000000"], "GiB"),
    (["train", "--steps", "2", "--iters", "-5"], "iterations"),
    (["train", "--steps", "0"], "at least 1"),
    (["train", "--steps", "20000", "--iters", "5"], "--steps 16,384 or fewer"),
    (["train", "--adapt", "--max-steps", "100000", "--iters", "5"], "16,384 or fewer"),
    ([*TRAIN, "--cache", ""], "--cache: an empty path"),
    ([*TRAIN, "--cache", " "], "--cache: an empty path"),
    (["train", "--solver", "heun", "--steps", "2"], "unknown solver"),
    (["train", "--solver", "rk4"], "needs --steps"),
    (["train", "--solver", "dopri5", "--tol", "0", "--iters", "5"], "tolerance"),
    (["train", "--solver", "dopri5", "--tol", "nan", "--iters", "5"], "tolerance"),
    (["train", "--solver", "dopri5", "--tol", "inf", "--iters", "5"], "finite number"),
    (["train", "--solver", "dopri5", "--tol", "1e-300", "--iters", "2", "--json"], "larger --tol"),
    (["train", "--solver", "euler", "--steps", "2", "--tol", "1e-3"], "takes no tolerance"),
    (["train", "--solver", "dopri5", "--steps", "3"], "tolerance"),
    (["train", "--data", "moons", "--steps", "2"], "unknown data set"),
    (["train", "--data", "sphere0", "--steps", "2"], "dimension"),
    (["train", "--data", "sphere100000000", "--steps", "2", "--iters", "5"], "GiB"),
    (["train", "--data", "mnist", "--steps", "2"], "MNIST files not found"),
    (["train", "--adapt", "--threshold", "2", "--iters", "5"], "threshold"),
    (["train", "--adapt", "--check-every", "0", "--iters", "5"], "check_every"),
    (["train", "--adapt", "--max-steps", "0", "--iters", "5"], "max_steps"),
    (["train", "--adapt", "--decision", "vote", "--iters", "5"], "decision"),
    (["train", "--adapt", "--measure", "loss", "--iters", "5"], "measure"),
    (["train", "--adapt", "--probe-size", "5000", "--iters", "5"], "probe_size"),
    (["train", "--adapt", "--test-solver", "euler", "--iters", "5"], "higher order"),
    (["train", "--adapt", "--test-solver", "dopri5", "--iters", "5"], "fixed-step"),
    (["train", "--adapt", "--rule", "greedy", "--iters", "5"], "--rule"),
    ([*TRAIN, "--gradient", "adjoint", "--adapt"], "adjoint"),
    ([*TRAIN, "--gradient", "reverse"], "--gradient"),
    (["evaluate", "/no/such/run"], "does not exist"),
    (["evaluate", "."], "holds no finished run"),
    (["evaluate"], "required"),
    (["check", "/no/such/run"], "does not exist"),
    (["check", "."], "holds no finished run"),
    (["check", ".", "--drop-limit", "x"], "--drop-limit"),
    (["frobnicate"], "invalid choice"),
]


@pytest.mark.parametrize(("args", "message"), CLI_CASES, ids=lambda v: " ".join(v)[:40])
def test_the_command_line_refuses_bad_input_in_one_line(cache_dir, capsys, args, message):
    try:
        status = main(args)
    except SystemExit as stop:  # argparse's own errors
        status = stop.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, captured
    assert len(lines) == 1 and message in lines[0], captured.err
    assert "Traceback" not in captured.err


NOTEBOOK_CASES = [
    (profiles.sphere_study, {"seeds": "0,1"}, "seeds"),
    (profiles.sphere_study, {"seeds": [0.5, 1]}, "seeds"),
    (profiles.sphere_study, {"iterations": -3}, "iterations"),
    (profiles.sphere_study, {"iterations": "many"}, "iterations"),
    (profiles.sphere_study, {"euler_steps": ["a"]}, "euler_steps"),
    (profiles.sphere_study, {"compared_rules": [1, 2]}, "compared_rules"),
    (profiles.appendix_study, {"datasets": [3]}, "datasets"),
    (profiles.appendix_study, {"adjoint_steps": "[2, x]"}, "adjoint_steps"),
    (profiles.image_study, {"tolerances": ["tight"]}, "tolerances"),
    (profiles.textbook_study, {"learning_rate": "fast"}, "learning_rate"),
]


@pytest.mark.parametrize(("study", "overrides", "name"), NOTEBOOK_CASES)
def test_notebook_parameters_are_checked_with_the_parameter_named(study, overrides, name):
    with pytest.raises(NodestudyError, match=f"parameter {name}="):
        study("quick", **overrides)


def test_an_unknown_profile_is_refused():
    with pytest.raises(NodestudyError, match="profile"):
        profiles.sphere_study("fast")


def test_lists_pass_as_papermill_passes_them():
    # papermill -p passes "[0, 1]" as text, -y as a list: both mean the list
    assert profiles.sphere_study("quick", seeds="[0, 1]").seeds == (0, 1)
    assert profiles.sphere_study("quick", seeds=[0, 1]).seeds == (0, 1)
    assert profiles.sphere_study("quick", seeds=4).seeds == (4,)
    assert profiles.appendix_study("quick", datasets="sphere3").datasets == ("sphere3",)
