"""The README's route to a cluster, run for real: joblib's dask backend over a local
``dask.distributed`` cluster of two worker processes trains the same runs into the
same shared cache as local processes do."""

import pytest
import torch
from joblib import parallel_config

from nodestudy import SolverSpec
from nodestudy.study import DataConfig, RunCache, TrainConfig, train_runs

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
    local = train_runs(tiny_configs(), cache=RunCache(tmp_path / "local"), n_jobs=2, progress=False)
    shared = RunCache(tmp_path / "shared")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        parallel_config(backend="dask"),
        distributed.get_task_stream(client) as tasks,
    ):
        on_cluster = train_runs(tiny_configs(), cache=shared, n_jobs=2, progress=False)
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
