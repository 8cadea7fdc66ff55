"""Resources, one mechanism each: memory (an estimate calibrated against a measured
peak, the container's limit, parallel jobs planned against it, sizes refused before
any data), disk (free space checked before training, a full disk met while writing is
one line and leaves no temporary file) and work (one bound on every study solve)."""

import errno
import json
import os
import subprocess
import sys
import textwrap

import pytest
from study_helpers import config

import nodestudy.study.budget as budget
import nodestudy.study.data.datasets as datasets
import nodestudy.study.store.space as space
from nodestudy import NodestudyError
from nodestudy.study.cli.main import main
from nodestudy.study.runtime import memory
from nodestudy.study.training.sweep import train_runs

GiB = 2**30

# -- memory ------------------------------------------------------------------------------

PEAK = textwrap.dedent(
    """
    import json, sys
    from nodestudy import SolverSpec
    from nodestudy.study import DataConfig, TrainConfig
    from nodestudy.study.budget import estimated_bytes
    from nodestudy.study.training.train import train_ensemble

    config = TrainConfig(DataConfig(), SolverSpec("euler", int(sys.argv[1])), iterations=2)
    list(train_ensemble([config], progress=False))
    # VmHWM, this process's own high-water mark: ru_maxrss would carry the parent's
    # (pytest's) size over the fork and exec
    status = open("/proc/self/status").read().split("VmHWM:")[1]
    peak = int(status.split()[0]) * 1024
    print(json.dumps([peak, estimated_bytes(config)]))
    """
)
#: The estimate may be off from the measured peak by at most this factor either way.
ESTIMATE_FACTOR = 1.5


def peak_and_estimate(steps):
    """A fresh process's peak memory after training at ``steps``, and the estimate."""
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(steps)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's VmHWM")
def test_the_memory_estimate_is_within_a_stated_factor_of_a_measured_peak():
    # the same run at one step holds the imports, the data and torch's own memory:
    # the difference of the two peaks is what the steps themselves need
    base_peak, base_estimate = peak_and_estimate(1)
    peak, estimate = peak_and_estimate(300)
    measured, estimated = peak - base_peak, estimate - base_estimate
    assert measured > 10 * 2**20  # the run's own activations, tens of MiB, not noise
    assert 1 / ESTIMATE_FACTOR < estimated / measured < ESTIMATE_FACTOR, (measured, estimated)


@pytest.mark.parametrize(
    ("content", "limit"),
    [("max\n", None), ("4294967296\n", 4 * GiB), (None, None), ("garbage", None)],
)
def test_the_containers_limit_is_read_from_the_cgroup_file(tmp_path, content, limit):
    path = tmp_path / "memory.max"
    if content is not None:
        path.write_text(content)
    assert memory.container_limit([path]) == limit


def test_a_container_limit_below_a_runs_need_is_refused_naming_the_container(
    cache_dir, tmp_path, monkeypatch
):
    limit = tmp_path / "memory.max"
    limit.write_text(str(64 * 2**20))
    monkeypatch.setattr(memory, "CGROUP_LIMIT_FILES", (limit,))
    with pytest.raises(NodestudyError, match=r"its container allows 0\.1 GiB"):
        train_runs([config(steps=1000, iterations=5)], progress=False)


def test_parallel_jobs_are_planned_against_the_memory(monkeypatch, capsys):
    groups = [[config(steps=2000, seed=seed)] for seed in range(4)]
    each = budget.estimated_bytes(groups[0][0])
    monkeypatch.setattr(budget, "available_memory", lambda: int(2.5 * each / budget.USABLE))
    assert budget.planned_jobs(groups, 4) == 2
    assert "2 parallel job(s), not 4" in capsys.readouterr().err
    assert budget.planned_jobs(groups, 2) == 2
    assert budget.planned_jobs(groups, 1) == 1
    monkeypatch.setattr(budget, "available_memory", lambda: int(0.5 * each / budget.USABLE))
    with pytest.raises(NodestudyError, match="GiB"):
        budget.require_memory(groups)


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--data", "sphere1000000000", "--steps", "2", "--iters", "5"],
        ["train", "--data", "sphere100000", "--adapt", "--iters", "5"],
    ],
    ids=["huge sphere", "adapted sphere100000"],
)
def test_sizes_are_refused_before_any_data_is_generated(cache_dir, monkeypatch, capsys, args):
    def generated(*_, **__):
        raise AssertionError("data generated before the size was checked")

    monkeypatch.setattr(datasets, "concentric_spheres", generated)
    monkeypatch.setattr(budget, "available_memory", lambda: 8 * GiB)
    assert main(args) == 2
    assert "Traceback" not in capsys.readouterr().err


# -- disk ----------------------------------------------------------------------------------


def test_training_on_a_full_disk_is_refused_before_the_work(cache_dir, monkeypatch):
    monkeypatch.setattr(space, "free_bytes", lambda directory: 2**20)
    with pytest.raises(NodestudyError, match=f"no space left in {cache_dir}.*MiB needed"):
        train_runs([config(iterations=5)], progress=False)
    assert not any(cache_dir.iterdir())


def full_disk(*_, **__):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_disk_that_fills_while_a_run_is_stored_is_one_line_and_leaves_nothing(
    cache_dir, monkeypatch
):
    monkeypatch.setattr(type(cache_dir), "write_bytes", full_disk)
    with pytest.raises(NodestudyError, match=f"no space left in {cache_dir}") as refusal:
        train_runs([config(iterations=5)], progress=False)
    assert "\n" not in str(refusal.value) and "unexpected pos" not in str(refusal.value)
    assert not list(cache_dir.glob(".partial-*"))


def test_a_disk_that_fills_while_scores_are_memoised_leaves_no_temporary_file(
    cache_dir, monkeypatch
):
    (run,) = train_runs([config(iterations=5)], progress=False)
    monkeypatch.setattr(os, "fdopen", full_disk)
    with pytest.warns(UserWarning, match=f"no space left in {run.directory}"):
        run.add_scores({"x": 0.5})
    assert not list(run.directory.glob(".scores-*"))
    assert run.scores() == {}


# -- work ----------------------------------------------------------------------------------


@pytest.fixture
def stored_run(cache_dir):
    (run,) = train_runs([config(iterations=5)], progress=False)
    return run


#: Solves whose work is unbounded or whose tolerance cannot be met: one line each.
WORK_CASES = [
    (["--steps", "10000000"], "131,072 or fewer"),
    (["--steps", "131073"], "131,072 or fewer"),
    (["--solver", "dopri5", "--tol", "inf"], "finite number"),
    (["--solver", "dopri5", "--tol", "1e-300"], "larger --tol"),
    (["--solver", "dopri5", "--tol", "2"], "finite number"),
]


@pytest.mark.parametrize(("args", "message"), WORK_CASES, ids=lambda v: " ".join(v)[:30])
def test_evaluate_refuses_unbounded_work_in_one_line(stored_run, capsys, args, message):
    assert main(["evaluate", str(stored_run.directory), "--json", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_evaluate_within_the_bound_still_scores(stored_run, capsys):
    assert main(["evaluate", str(stored_run.directory), "--json", "--steps", "64"]) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["test_accuracy"] <= 1
