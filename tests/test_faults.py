"""Fault injection: damaged cache entries, killed writers, unwritable places, crafted
data files and checkpoints, failing solvers. Each test injects one fault and checks
that nothing is lost, nothing wrong is served and no code runs."""

import gzip
import hashlib
import json
import os
import pickle
import socket
import stat
import struct

import numpy as np
import pytest
import torch
from study_helpers import config, fake_cifar10, fake_mnist, write_idx
from study_helpers import nodestudy as run_cli

import nodestudy.study.store.runs
from nodestudy import NodestudyError, SolverSpec
from nodestudy.study import DataConfig, RunCache, Session, TrainConfig, load_dataset
from nodestudy.study.analysis.evaluate import accuracy_table
from nodestudy.study.cli.main import main as cli_main
from nodestudy.study.data.images import load_cifar10, load_mnist, read_idx
from nodestudy.study.store.cache import CORRUPT_PREFIX, verify_run
from nodestudy.study.training.sweep import train_runs


class Payload:
    """Unpickling this would create a file: the mark of code run from data."""

    def __init__(self, mark):
        self.mark = str(mark)

    def __reduce__(self):
        return (os.system, (f"touch {self.mark}",))


def stored(cache_dir, **kwargs):
    (run,) = train_runs([config(iterations=5, **kwargs)], progress=False)
    return run


# -- the cache: verified, not trusted ---------------------------------------------------


def damage_weights(run):
    path = run.directory / "weights.pt"
    path.write_bytes(path.read_bytes()[:100])


HISTORY = "history.csv.gz"


def read_history(run) -> str:
    return gzip.decompress((run.directory / HISTORY).read_bytes()).decode()


def write_history(run, text: str) -> None:
    (run.directory / HISTORY).write_bytes(gzip.compress(text.encode()))


def drop_history(run):
    (run.directory / HISTORY).unlink()


def break_metrics(run):
    (run.directory / "metrics.json").write_text('{"test_accuracy": 0.5,')


def shorten_history(run):
    lines = read_history(run).splitlines()
    write_history(run, "\n".join(lines[:3]) + "\n")


def swap_config(run):
    other = config(iterations=6).to_dict()
    (run.directory / "config.json").write_text(json.dumps(other))


def edit_config(**changes):
    def edit(run):
        raw = json.loads((run.directory / "config.json").read_text())
        for dotted, value in changes.items():
            part, name = dotted.split(".")
            raw[part][name] = value
        (run.directory / "config.json").write_text(json.dumps(raw))

    edit.__name__ = "edit_" + "_".join(changes).replace(".", "_")
    return edit


def edit_weights(change):
    def edit(run):
        weights = torch.load(run.directory / "weights.pt", weights_only=True)
        torch.save(change(weights), run.directory / "weights.pt")

    edit.__name__ = change.__name__
    return edit


def renamed_keys(weights):
    return {name.upper(): value for name, value in weights.items()}


def nan_weights(weights):
    return {**weights, "w2": torch.full_like(weights["w2"], float("nan"))}


def wider_weights(weights):
    return {**weights, "b1": torch.zeros(len(weights["b1"]) + 1)}


def write_file(name, text):
    def write(run):
        (run.directory / name).write_text(text)

    write.__name__ = f"write_{name}_{text[:8]}"
    return write


def garbage_history(run):
    rows = read_history(run).count("\n")
    write_history(run, "\n".join(["x;y", *["\x01,2,,"] * (rows - 1)]) + "\n")


# -- edits that leave every file well-formed: only the manifest's digests find them ------


def edit_metrics(**changes):
    def edit(run):
        metrics = json.loads((run.directory / "metrics.json").read_text())
        (run.directory / "metrics.json").write_text(json.dumps({**metrics, **changes}))

    edit.__name__ = "edit_metrics_" + "_".join(changes)
    return edit


def tripled_weights(weights):
    return {name: 3 * value for name, value in weights.items()}


def rewrite_history(run):
    lines = read_history(run).splitlines()
    header, rows = lines[0], lines[1:]
    loss = header.split(",").index("loss")
    rewritten = [
        ",".join("0.001" if i == loss else v for i, v in enumerate(r.split(","))) for r in rows
    ]
    write_history(run, "\n".join([header, *rewritten]) + "\n")


def drop_manifest(run):
    (run.directory / "manifest.json").unlink()


def edit_manifest_digest(run):
    """An edited file whose digest is edited to match: the manifest of another run's
    key, or of these bytes, must still be the key's (a swapped manifest)."""
    manifest = json.loads((run.directory / "manifest.json").read_text())
    manifest["key"] = "0" * 64
    (run.directory / "manifest.json").write_text(json.dumps(manifest))


#: One line per kind of damage: a cache entry so damaged is never served.
DAMAGES = [
    damage_weights,
    drop_history,
    break_metrics,
    shorten_history,
    swap_config,
    garbage_history,
    edit_config(**{"solver.steps": 64}),
    edit_config(**{"model.hidden_channels": 8}),
    edit_weights(renamed_keys),
    edit_weights(nan_weights),
    edit_weights(wider_weights),
    write_file("metrics.json", "{}"),
    write_file("metrics.json", ""),
    write_file("metrics.json", '{"train_accuracy": null, "test_accuracy": 0.5, "diverged": false}'),
    write_file("metrics.json", "[1, 2]"),
    edit_metrics(test_accuracy=0.99),
    edit_metrics(diverged=True),
    edit_weights(tripled_weights),
    rewrite_history,
    drop_manifest,
    edit_manifest_digest,
]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda damage: damage.__name__)
def test_a_damaged_entry_is_moved_aside_and_trained_again_not_served(cache_dir, damage):
    run = stored(cache_dir)
    damage(run)
    with pytest.warns(UserWarning, match="trained again"):
        (again,) = train_runs([config(iterations=5)], progress=False)
    assert again.directory == run.directory
    verify_run(again.directory, config(iterations=5))  # whole and readable again
    assert len(list(cache_dir.glob(f"{CORRUPT_PREFIX}*"))) == 1  # kept for inspection
    (third,) = train_runs([config(iterations=5)], progress=False)  # not fatal on rerun
    assert third.metrics == again.metrics


def test_a_damaged_entry_in_a_cache_that_cannot_change_is_reported_in_one_line(
    cache_dir, monkeypatch
):
    run = stored(cache_dir)
    damage_weights(run)

    def refuse(self, target):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(type(run.directory), "rename", refuse)
    with pytest.raises(NodestudyError, match=r"delete .* or point NODESTUDY_CACHE"):
        RunCache().get(config(iterations=5))


def test_evaluating_a_damaged_run_directly_says_so_in_one_line(cache_dir):
    run = stored(cache_dir)
    damage_weights(run)
    result = run_cli("evaluate", str(run.directory))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "SHA-256 differs" in result.stderr


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda damage: damage.__name__)
@pytest.mark.parametrize("command", ["evaluate", "check"])
def test_a_damaged_run_passed_by_hand_is_refused_not_scored(cache_dir, damage, command, capsys):
    run = stored(cache_dir)
    damage(run)
    assert cli_main([command, str(run.directory)]) == 2
    error = capsys.readouterr().err
    assert "delete the directory and train the run again" in error
    assert len(error.strip().splitlines()) == 1


def edit_score(run):
    memo = json.loads((run.directory / "scores.json").read_text())
    memo["scores"] = {key: 0.99 for key in memo["scores"]}
    (run.directory / "scores.json").write_text(json.dumps(memo))


def unparsable_scores(run):
    (run.directory / "scores.json").write_text("{not json")


def scores_of_other_weights(run):
    memo = json.loads((run.directory / "scores.json").read_text())
    body = {"weights_sha256": "0" * 64, "scores": memo["scores"]}
    seal = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    (run.directory / "scores.json").write_text(json.dumps({**body, "sha256": seal}))


@pytest.mark.parametrize("damage", [unparsable_scores, edit_score, scores_of_other_weights])
def test_a_damaged_or_edited_score_memo_is_moved_aside_and_recomputed(cache_dir, damage):
    run = stored(cache_dir)
    first = accuracy_table([run], lambda c: [c.solver])
    damage(run)
    with pytest.warns(UserWarning, match="its scores are recomputed"):
        assert run.scores() == {}
    assert len(list(run.directory.glob(".corrupt-scores.json-*"))) == 1
    again = accuracy_table([run], lambda c: [c.solver])
    assert again.equals(first)
    assert 0.99 not in set(again.accuracy)
    assert run.scores()  # rewritten whole


def test_a_read_only_cache_can_still_be_scored(cache_dir, monkeypatch):
    run = stored(cache_dir)
    before = sorted(p.name for p in run.directory.iterdir())

    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(nodestudy.study.store.runs.tempfile, "mkstemp", refuse)
    with pytest.warns(UserWarning, match="read-only"):
        table = accuracy_table([run], lambda c: [c.solver, SolverSpec("rk4", 8)])
    assert len(table) == 2 and table.accuracy.between(0, 1).all()
    assert sorted(p.name for p in run.directory.iterdir()) == before  # nothing written


def test_a_killed_writers_partial_directory_is_cleaned_up_a_live_ones_kept(cache_dir):
    stored(cache_dir)
    host = socket.gethostname()
    dead = cache_dir / f".partial-{'a' * 24}-{host}-999999999-x1"
    live = cache_dir / f".partial-{'b' * 24}-{host}-{os.getpid()}-x2"
    for path in (dead, live):
        path.mkdir()
        (path / "weights.pt").write_bytes(b"half")
    train_runs([config(iterations=5, seed=1)], progress=False)
    assert not dead.exists() and live.exists()


def test_run_directories_are_readable_by_the_group(cache_dir):
    old = os.umask(0o022)
    try:
        run = stored(cache_dir)
    finally:
        os.umask(old)
    mode = run.directory.stat().st_mode
    assert mode & stat.S_IRGRP and mode & stat.S_IXGRP


def test_an_unusable_cache_location_fails_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for root in (blocker, blocker / "runs"):
        with pytest.raises(NodestudyError, match="run cache"):
            train_runs([config(iterations=5)], Session(cache=root), progress=False)


def test_a_device_that_does_not_exist_fails_before_training(cache_dir, monkeypatch):
    import nodestudy.study.training.sweep

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the device")

    monkeypatch.setattr(nodestudy.study.training.sweep, "train_ensemble", no_training)
    for device in ("cuda:7", "gpu"):
        with pytest.raises(NodestudyError, match="device"):
            train_runs([config(iterations=5)], Session(device=device), progress=False)


# -- divergence and failures are results -------------------------------------------------


def test_a_failing_adaptive_solver_is_stored_as_diverged_and_the_sweep_goes_on(
    cache_dir, monkeypatch
):
    import torchdiffeq

    real = torchdiffeq.odeint
    calls = {"n": 0}

    def underflow_after_a_while(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise AssertionError("underflow in dt 1e-20")
        return real(*args, **kwargs)

    monkeypatch.setattr(torchdiffeq, "odeint", underflow_after_a_while)
    adaptive = config(iterations=10).replace(solver=SolverSpec("dopri5", tol=1e-3))
    fixed = config(iterations=10)
    runs = train_runs([adaptive, fixed], progress=False)
    failed, fine = runs
    assert failed.diverged and failed.metrics["diverged_at_iteration"] == 4
    assert "underflow" in failed.metrics["diverged_reason"]
    assert not fine.diverged
    json.loads((failed.directory / "metrics.json").read_text(), parse_constant=_refuse)
    result = run_cli("evaluate", str(failed.directory))
    assert result.returncode == 2 and "diverged" in result.stderr


def test_one_failing_configuration_does_not_stop_the_rest_of_a_sweep(cache_dir, monkeypatch):
    import nodestudy.study.training.sweep

    real = nodestudy.study.training.sweep.train_ensemble

    def fail_for_three_steps(group, **kwargs):
        if group[0].solver.steps == 3:
            raise RuntimeError("out of memory (injected)")
        return real(group, **kwargs)

    monkeypatch.setattr(nodestudy.study.training.sweep, "train_ensemble", fail_for_three_steps)
    configs = [config(steps=3, iterations=5), config(steps=2, iterations=5)]
    with pytest.raises(NodestudyError, match=r"1 of 2 training groups failed.*injected"):
        train_runs(configs, progress=False)
    assert RunCache().get(configs[1]) is not None and RunCache().get(configs[0]) is None


def _refuse(name):
    raise AssertionError(f"metrics.json holds {name}")


# -- no code from data files or checkpoints -------------------------------------------


def test_a_crafted_cifar10_batch_runs_nothing_and_fails_in_one_line(tmp_path):
    fake_cifar10(tmp_path)
    mark = tmp_path / "ran"
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    batch.write_bytes(pickle.dumps({b"data": Payload(mark), b"labels": [0]}, protocol=2))
    with pytest.raises(NodestudyError, match=r"not a CIFAR10 batch.*(os|posix)\.system"):
        load_cifar10(tmp_path)
    assert not mark.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_crafted_checkpoint_runs_nothing(cache_dir):
    run = stored(cache_dir)
    mark = cache_dir / "ran"
    with open(run.directory / "weights.pt", "wb") as file:
        pickle.dump({"w1": Payload(mark)}, file)
    with pytest.raises(NodestudyError, match="unreadable"):
        run.weights()
    with pytest.warns(UserWarning, match="trained again"):
        RunCache().get(config(iterations=5))
    assert not mark.exists()


# -- loaders check what they read -----------------------------------------------------


def test_truncated_idx_headers_and_gzip_streams_fail_in_one_line(tmp_path):
    header_only = tmp_path / "short-idx"
    header_only.write_bytes(bytes([0, 0, 0x08, 3, 0, 0]))
    with pytest.raises(NodestudyError, match="header is truncated"):
        read_idx(header_only)
    full = tmp_path / "full.gz"
    write_idx(full, np.zeros((4, 28, 28)), gz=True)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(full.read_bytes()[:-20])
    with pytest.raises(NodestudyError, match="cannot be read"):
        read_idx(cut)


def test_labels_out_of_range_or_in_the_wrong_number_are_refused(tmp_path):
    fake_mnist(tmp_path, gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(20, 12))
    with pytest.raises(NodestudyError, match=r"must lie in 0\.\.9"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(19))
    with pytest.raises(NodestudyError, match="disagree"):
        load_mnist(tmp_path)


def test_runs_trained_on_other_files_have_other_keys(tmp_path, monkeypatch):
    fake_mnist(tmp_path)
    monkeypatch.setenv("NODESTUDY_DATA", str(tmp_path))
    before = DataConfig.from_name("mnist", n_train=16, n_test=8)
    assert before.files is not None
    images = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(images, "rb") as file:
        raw = bytearray(file.read())
    raw[-1] ^= 0xFF  # one pixel of one image changed
    with gzip.open(images, "wb") as file:
        file.write(bytes(raw))
    after = DataConfig.from_name("mnist", n_train=16, n_test=8)
    solver = SolverSpec("euler", 2)
    assert TrainConfig(before, solver).key() != TrainConfig(after, solver).key()
    # no cache_clear: the memo of the first load must not hide the change
    with pytest.raises(NodestudyError, match="not the ones this config was made with"):
        load_dataset(before)
    assert len(load_dataset(after).y_train) == 16


def test_generated_data_keeps_its_keys_without_a_fingerprint():
    assert "files" not in config().to_dict()["data"]
    assert torch.equal(load_dataset(DataConfig()).y_test, load_dataset(DataConfig()).y_test)


# -- data values checked on load: one line per kind of bad file ------------------------

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(">i2"): 0x0B, np.dtype(">f4"): 0x0D}


def write_typed_idx(path, array):
    """An IDX file of the array's own type (uint8, int16 or float32), uncompressed."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype], array.ndim])
    path.write_bytes(header + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())


def nan_pixels():
    images = np.zeros((20, 28, 28), dtype=">f4")
    images[3, 4, 5] = np.nan
    return "t10k-images-idx3-ubyte", images


def huge_pixels():
    return "t10k-images-idx3-ubyte", np.full((20, 28, 28), 4000, dtype=">i2")


def tiny_images():
    return "t10k-images-idx3-ubyte", np.zeros((20, 1, 1), dtype=np.uint8)


def nan_labels():
    labels = np.zeros(20, dtype=">f4")
    labels[0] = np.nan
    return "t10k-labels-idx1-ubyte", labels


def fractional_labels():
    return "t10k-labels-idx1-ubyte", np.full(20, 4.7, dtype=">f4")


@pytest.mark.parametrize(
    ("bad_file", "message"),
    [
        (nan_pixels, "NaN or infinite pixels"),
        (huge_pixels, "outside 0..255"),
        (tiny_images, "1x1, not 28x28"),
        (nan_labels, "NaN or infinite"),
        (fractional_labels, "fractions"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[:20],
)
def test_mnist_files_with_wrong_values_are_refused_naming_the_file(tmp_path, bad_file, message):
    fake_mnist(tmp_path, gz=False)
    name, array = bad_file()
    write_typed_idx(tmp_path / name, array)
    with pytest.raises(NodestudyError, match=message) as refusal:
        load_mnist(tmp_path)
    assert name in str(refusal.value) and "original download" in str(refusal.value)


@pytest.mark.parametrize("labels", [{"a": 1}, "0123", 7])
def test_cifar10_labels_that_are_not_a_list_are_refused(tmp_path, labels):
    fake_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "test_batch"
    images = np.zeros((8, 3072), dtype=np.uint8)
    batch.write_bytes(pickle.dumps({b"data": images, b"labels": labels}, protocol=2))
    with pytest.raises(NodestudyError, match="test_batch: labels are a"):
        load_cifar10(tmp_path)


def test_a_gzip_file_that_inflates_beyond_its_header_is_refused_unread(tmp_path):
    bomb = tmp_path / "bomb.gz"
    header = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10)
    with gzip.open(bomb, "wb") as file:
        file.write(header + bytes(10))
        for _ in range(64):
            file.write(bytes(2**20))  # 64 MiB more than the header promises
    with pytest.raises(NodestudyError, match=r"promises shape \(10,\) \(10 bytes\) but more"):
        read_idx(bomb)


def test_a_header_promising_more_than_memory_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge-idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**30, 28, 28))
    with pytest.raises(NodestudyError, match="GiB"):
        read_idx(path)
