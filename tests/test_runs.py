import json

import pytest
from study_helpers import config

import nodestudy.study.training.sweep
from nodestudy import NodestudyError, SolverSpec
from nodestudy.study import RunCache, Session, open_run
from nodestudy.study.training.sweep import ensemble_groups, train_runs


def test_a_cache_hit_returns_the_stored_run_without_training(cache_dir, monkeypatch):
    (first,) = train_runs([config()], progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(nodestudy.study.training.sweep, "train_ensemble", no_training)
    (second,) = train_runs([config()], progress=False)
    assert second.directory == first.directory
    assert second.metrics == first.metrics
    assert first.directory.parent == cache_dir


def test_the_key_covers_the_whole_config():
    base = config()
    variants = [
        config(seed=1),
        config(steps=3),
        config(iterations=31),
        config(learning_rate=2e-4),
        config(method="rk4"),
    ]
    keys = {base.key(), *(v.key() for v in variants)}
    assert len(keys) == 1 + len(variants)
    assert config().key() == base.key()


def test_the_cache_key_of_a_known_config_is_pinned():
    """A silent change of the key (a renamed field, a new default, another hash of the
    canonical JSON) would orphan every stored run: it must be a deliberate change, made
    with RESULTS_VERSION and this test."""
    from nodestudy.study import DataConfig, TrainConfig
    from nodestudy.study.config import StepAdaptation

    study_run = TrainConfig(
        DataConfig.from_name("sphere2"), SolverSpec("euler", 2), iterations=3000, seed=0
    )
    assert study_run.key()[:24] == "209512af2074022c679c459d"
    assert study_run.replace(adaptation=StepAdaptation()).key()[:24] == "29b36dc7e857809aa4477f15"
    assert study_run.key("fast")[:24] == "ca5f621c3c62019e4647a55f"


def test_a_step_adapted_run_s_key_names_how_the_rule_was_applied_and_old_runs_are_refused():
    from nodestudy.study import DataConfig, TrainConfig
    from nodestudy.study.config import StepAdaptation, ToleranceAdaptation

    stepped = TrainConfig(DataConfig(), SolverSpec("euler", 2), adaptation=StepAdaptation())
    assert stepped.to_dict()["adaptation"]["version"] == 2
    assert TrainConfig.from_dict(stepped.to_dict()) == stepped
    tolerant = TrainConfig(
        DataConfig(), SolverSpec("dopri5", tol=1e-3), adaptation=ToleranceAdaptation()
    )
    assert "version" not in tolerant.to_dict()["adaptation"]
    assert TrainConfig.from_dict(tolerant.to_dict()) == tolerant
    old = stepped.to_dict()
    old["adaptation"]["version"] = 1
    with pytest.raises(NodestudyError, match=r"step-adaptation version 1; .* train it again"):
        TrainConfig.from_dict(old)


def test_an_interrupted_write_leaves_nothing_behind(cache_dir, monkeypatch):
    import nodestudy.study.store.runs

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nodestudy.study.store.runs.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_runs([config(iterations=5)], progress=False)
    assert RunCache().get(config(iterations=5)) is None
    assert list(cache_dir.iterdir()) == []


def test_finished_runs_survive_a_later_failure(cache_dir, monkeypatch):
    import nodestudy.study.store.runs

    (kept,) = train_runs([config(iterations=5)], progress=False)
    real_save = nodestudy.study.store.runs.torch.save

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nodestudy.study.store.runs.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_runs([config(iterations=5), config(iterations=6)], progress=False)
    monkeypatch.setattr(nodestudy.study.store.runs.torch, "save", real_save)
    assert open_run(kept.directory).metrics == kept.metrics
    assert [run.config for run in RunCache().runs()] == [kept.config]


def test_stored_run_reads_back(cache_dir):
    (run,) = train_runs([config(iterations=7)], progress=False)
    again = open_run(run.directory)
    assert again.config == run.config
    assert len(again.history()) == 7
    assert json.loads((run.directory / "config.json").read_text())["solver"]["steps"] == 2


def test_open_run_explains_what_is_wrong(tmp_path):
    with pytest.raises(NodestudyError, match="does not exist"):
        open_run(tmp_path / "nope")
    with pytest.raises(NodestudyError, match="holds no finished run"):
        open_run(tmp_path)


def test_seeds_are_grouped_into_ensembles_but_adaptive_runs_are_not():
    fixed = [config(seed=s) for s in range(3)] + [config(steps=4)]
    adaptive = [config(seed=s).replace(solver=SolverSpec("dopri5", tol=1e-3)) for s in range(2)]
    groups = ensemble_groups(fixed + adaptive)
    assert sorted(len(g) for g in groups) == [1, 1, 1, 3]


def test_parallel_workers_give_the_same_runs_as_one_process(tmp_path):
    configs = [config(steps=k, iterations=10, seed=s) for k in (1, 2) for s in (0, 1)]
    serial = train_runs(configs, Session(cache=tmp_path / "a"), progress=False)
    parallel = train_runs(configs, Session(n_jobs=2, cache=tmp_path / "b"), progress=False)
    for one, other in zip(serial, parallel):
        assert one.config == other.config
        assert one.metrics["test_accuracy"] == pytest.approx(other.metrics["test_accuracy"])
        assert one.history()["loss"].tolist() == pytest.approx(other.history()["loss"].tolist())


def _scored_twice(tmp_path, n_jobs):
    """Train four runs, copy the cache before any scoring, and score both copies:
    one serially, one with ``n_jobs`` workers."""
    import shutil

    from nodestudy.study import accuracy_table

    configs = [config(steps=k, iterations=5, seed=s) for k in (1, 2) for s in (0, 1)]
    runs = train_runs(configs, Session(cache=tmp_path / "a"), progress=False)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    copies = [RunCache(tmp_path / "b").get(c) for c in configs]

    def solvers(c):
        return [c.solver, SolverSpec("rk4", 8)]

    return accuracy_table(runs, solvers), accuracy_table(copies, solvers, Session(n_jobs=n_jobs))


def test_parallel_evaluation_gives_the_same_table(tmp_path):
    serial, parallel = _scored_twice(tmp_path, n_jobs=2)
    assert len(serial) == 8
    assert serial.drop(columns="run").equals(parallel.drop(columns="run"))


def test_scores_are_memoised_in_the_run_and_only_new_solvers_are_computed(tmp_path, monkeypatch):
    import nodestudy.study.analysis.evaluate
    from nodestudy.study import accuracy_table

    configs = [config(steps=k, iterations=5, seed=s) for k in (1, 2) for s in (0, 1)]
    runs = train_runs(configs, Session(cache=tmp_path), progress=False)
    first = accuracy_table(runs, lambda c: [c.solver])

    computed = []
    real_accuracy = nodestudy.study.analysis.evaluate.accuracy

    def counted_accuracy(model, x, y, spec, **kwargs):
        computed.append(spec)
        return real_accuracy(model, x, y, spec, **kwargs)

    monkeypatch.setattr(nodestudy.study.analysis.evaluate, "accuracy", counted_accuracy)
    reopened = [RunCache(tmp_path).get(c) for c in configs]
    again = accuracy_table(reopened, lambda c: [c.solver])
    assert computed == []
    assert again.equals(first)

    wider = accuracy_table(reopened, lambda c: [c.solver, SolverSpec("midpoint", 3)])
    assert computed == [SolverSpec("midpoint", 3)] * 2  # one batched solve per K
    assert wider[wider.test_method == "euler"].reset_index(drop=True).equals(first)


def test_memoised_snapshot_scores_equal_computed_ones(tmp_path, monkeypatch):
    import nodestudy.study.analysis.evaluate
    from nodestudy.study.analysis.evaluate import snapshot_accuracy_table
    from nodestudy.study.config import StepAdaptation

    adapted = config(iterations=10, adaptation=StepAdaptation(check_every=5))
    (run,) = train_runs([adapted], Session(cache=tmp_path), progress=False)
    assert len(run.snapshots()) == 10  # an adapted run keeps its weights during training

    def solvers(run, iteration):
        return [SolverSpec("euler", 2), SolverSpec("rk4", 4)]

    first = snapshot_accuracy_table([run], solvers)
    assert sorted(first.iteration.unique()) == sorted(run.snapshots())

    def no_evaluation(*args, **kwargs):
        raise AssertionError("a memoised score was computed again")

    monkeypatch.setattr(nodestudy.study.analysis.evaluate, "accuracy", no_evaluation)
    assert snapshot_accuracy_table([run], solvers).equals(first)


def test_only_an_adapted_run_keeps_weights_during_training(tmp_path):
    """Snapshots are stored where a figure reads them (Figure 5), so that the store
    stays small: a fixed-step run has none, and its manifest lists none."""
    (run,) = train_runs([config(iterations=10)], Session(cache=tmp_path), progress=False)
    assert run.snapshots() == {}
    manifest = json.loads((run.directory / "manifest.json").read_text())
    assert sorted(manifest["files"]) == [
        "config.json",
        "history.csv.gz",
        "metrics.json",
        "weights.pt",
    ]


def _square(x: int) -> int:
    return x * x


def test_progress_advances_by_work_so_the_time_left_holds_when_the_costliest_go_first(capsys):
    from nodestudy.study.runtime.parallel import parallel_map

    assert parallel_map(_square, [3, 1], progress="work", weights=[3.0, 1.0]) == [9, 1]
    shown = capsys.readouterr().err
    assert "work:  75% of the work, 1/2 done" in shown
    assert "work: 100% of the work, 2/2 done" in shown


def test_a_parallel_sweep_reports_runs_and_work_done(cache_dir, capsys):
    configs = [config(steps=k, seed=s, iterations=5) for k in (1, 2) for s in (0, 1)]
    train_runs(configs, Session(n_jobs=2))
    shown = capsys.readouterr().err
    assert "training 4 runs as 2 ensembles" in shown
    assert "100% of the work, 2/2 done" in shown


# -- the session: where runs are computed and kept -----------------------------------------


def test_a_session_reads_its_cache_root_when_made_not_when_imported(tmp_path, monkeypatch):
    monkeypatch.setenv("NODESTUDY_CACHE", str(tmp_path / "first"))
    first = Session()
    monkeypatch.setenv("NODESTUDY_CACHE", str(tmp_path / "second"))
    assert first.cache.root == tmp_path / "first"
    assert Session().cache.root == tmp_path / "second"
    assert Session(cache=tmp_path / "given").cache.root == tmp_path / "given"
    (run,) = train_runs([config(iterations=5)], Session(cache=tmp_path / "given"), progress=False)
    assert run.directory.parent == tmp_path / "given"


@pytest.mark.parametrize(
    "settings, named",
    [
        ({"device": "cuda:7"}, "device"),
        ({"device": "gpu"}, "device"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"n_jobs": 1.5}, "n_jobs"),
        ({"n_jobs": True}, "n_jobs"),
        ({"n_jobs": -2}, "n_jobs"),
        ({"cache": 3}, "cache"),
        ({"cache": " "}, "cache"),
    ],
)
def test_a_session_refuses_bad_settings_in_one_line_when_made(settings, named):
    with pytest.raises(NodestudyError, match=named) as error:
        Session(**settings)
    assert "\n" not in str(error.value)


def test_a_session_is_frozen_and_takes_a_torch_device():
    import dataclasses

    import torch

    session = Session(device=torch.device("cpu"), n_jobs=2, cache="/somewhere/runs")
    assert session.device == "cpu"
    assert "<RunCache /somewhere/runs (" in repr(session)
    with pytest.raises(dataclasses.FrozenInstanceError):
        session.n_jobs = 3


def test_a_session_s_cache_may_be_none_a_path_or_a_home_folder_and_sessions_compare_by_value(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("NODESTUDY_CACHE", str(tmp_path / "default"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Session(cache=None).cache.root == tmp_path / "default"
    assert Session(cache="~/runs").cache.root == tmp_path / "runs"
    assert Session(cache=tmp_path / "a") == Session(cache=str(tmp_path / "a"))
    assert Session(cache=tmp_path / "a") != Session(cache=tmp_path / "b")
    assert len({Session(cache=tmp_path / "a"), Session(cache=tmp_path / "a")}) == 1


def test_what_is_not_a_session_is_refused_in_one_line(tmp_path):
    with pytest.raises(NodestudyError, match="expected a Session, got RunCache"):
        train_runs([config(iterations=5)], RunCache(tmp_path), progress=False)
