"""The README's route to a cluster, run for real: joblib's dask backend over a local
``dask.distributed`` cluster of two worker processes trains the same runs into the
same shared cache as local processes do."""

import pytest
import torch
from joblib import parallel_config

from nodestudy import SolverSpec
from nodestudy.study import DataConfig, RunCache, Session, TrainConfig, train_runs

distributed = pytest.importorskip("distributed")


def tiny_configs():
    return [
        TrainConfig(
            DataConfig(n_train=200, n_test=100), SolverSpec("euler", k), iterations=15, seed=seed
        )
        for k in (1, 2, 4)
        for seed in (0, 1)
    ]


def test_a_dask_cluster_of_two_workers_fills_the_shared_cache_as_local_processes_do(tmp_path):
    local = train_runs(tiny_configs(), Session(n_jobs=2, cache=tmp_path / "local"), progress=False)
    shared = RunCache(tmp_path / "shared")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        parallel_config(backend="dask"),
        distributed.get_task_stream(client) as tasks,
    ):
        on_cluster = train_runs(tiny_configs(), Session(n_jobs=2, cache=shared), progress=False)
    # the training ran on the cluster's workers (not in a silent local fallback)
    assert len({task["worker"] for task in tasks.data}) == 2
    assert len(on_cluster) == len(local) == 6
    for mine, theirs in zip(local, on_cluster):
        assert mine.config == theirs.config
        assert theirs.directory.parent == shared.root
        for name, tensor in mine.weights().items():
            torch.testing.assert_close(theirs.weights()[name], tensor)
        assert mine.history().loss.tolist() == theirs.history().loss.tolist()
    # what the cluster wrote is an ordinary cache: a fresh handle finds every run
    assert all(RunCache(shared.root).get(config) is not None for config in tiny_configs())


def _half_then_wait(item, *, report):
    import time

    if report is not None:
        report(0.5)
    time.sleep(1.5)
    return item * 2


def test_the_progress_line_moves_while_long_items_run(capsys, monkeypatch):
    from nodestudy.study.runtime import parallel

    monkeypatch.setattr(parallel, "SHARE_POLL_SECONDS", 0.2)
    results = parallel.parallel_map(
        _half_then_wait, [1, 2], 2, progress="work", weights=[1.0, 1.0], reports=True
    )
    assert results == [2, 4]
    shown = capsys.readouterr().err
    # both items half done before either finished: the line said 50% with 0 done
    assert "work:  50% of the work, 0/2 done" in shown, shown
    assert parallel.parallel_map(_half_then_wait, [3], 1, reports=True) == [6]  # serial: None
