"""The run store: what a stored run holds (a manifest with each file's SHA-256 and the
machine that trained it), training within a time budget that a later call continues,
`nodestudy verify` retraining stored runs and comparing them bit for bit, and the
figures' record of the runs they rest on."""

import hashlib
import json

import torch
from study_helpers import config
from study_helpers import nodestudy as run_cli

from nodestudy.study import RunCache, Session, train_runs
from nodestudy.study.figures.records import write_numbers
from nodestudy.study.training.verify import verify_store


def test_a_stored_run_lists_each_file_s_digest_and_the_machine_that_trained_it(cache_dir):
    (run,) = train_runs([config(iterations=5)], progress=False)
    manifest = json.loads((run.directory / "manifest.json").read_text())
    assert manifest["key"] == config(iterations=5).key()
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((run.directory / name).read_bytes()).hexdigest() == digest
    machine = manifest["trained_on"]
    assert machine["cpu"]["instruction_set"] in ("AVX2", "AVX-512", "below AVX2", "unknown")
    assert machine["numerics"]["mode"] == "reproducible"
    assert {"torch", "torchdiffeq", "python"} <= machine["versions"].keys()
    assert machine["train_seconds"] > 0


def test_a_stored_run_is_never_rewritten(cache_dir):
    (run,) = train_runs([config(iterations=5)], progress=False)
    before = {p.name: p.read_bytes() for p in run.directory.iterdir()}
    (again,) = train_runs([config(iterations=5)], progress=False)
    assert {p.name: p.read_bytes() for p in again.directory.iterdir()} == before


def test_training_within_a_budget_stops_and_a_later_call_goes_on(cache_dir):
    """No group starts once the budget is spent; the next call trains the rest."""
    import nodestudy.study.experiments.plan as plan

    first = run_cli(
        "train-study",
        "--profile",
        "smoke",
        "--notebooks",
        "sphere_collapse",
        "--budget",
        "1e-9",
        "--json",
    )
    assert first.returncode == 0, first.stderr
    done = json.loads(first.stdout)
    assert done["trained"] >= 1 and done["left"] >= 1
    assert "the budget is spent" in first.stderr
    second = run_cli(
        "train-study", "--profile", "smoke", "--notebooks", "sphere_collapse", "--json"
    )
    rest = json.loads(second.stdout)
    assert rest["trained"] == done["left"] and rest["left"] == 0
    assert len(RunCache().runs()) == len(plan.study_configs("smoke", ["sphere_collapse"]))


def test_verify_retrains_a_sample_bit_for_bit_and_appends_to_the_record(cache_dir, tmp_path):
    train_runs([config(iterations=5, seed=s) for s in (0, 1)], progress=False)
    record = tmp_path / "record.json"
    for _ in range(2):
        done = run_cli("verify", "--sample", "2", "--seed", "3", "--record", str(record))
        assert done.returncode == 0, done.stderr
        assert "2 of 2 sampled runs identical" in done.stderr
    entries = json.loads(record.read_text())["verifications"]
    assert len(entries) == 2  # appended, not replaced
    assert entries[0]["identical"] == entries[0]["runs"] == 2
    assert entries[0]["cpu"]["vendor"] and entries[0]["numerics"]["mode"] == "reproducible"


def test_verify_finds_a_stored_run_that_is_not_what_this_machine_trains(cache_dir):
    """A store whose files and manifest agree, but whose weights are not what the
    config trains to (another machine's path, or a forgery): verify says so."""
    (run,) = train_runs([config(iterations=5)], progress=False)
    weights = torch.load(run.directory / "weights.pt", weights_only=True)
    weights["w2"] = weights["w2"] + 2.0**-20
    torch.save(weights, run.directory / "weights.pt")
    manifest = json.loads((run.directory / "manifest.json").read_text())
    digest = hashlib.sha256((run.directory / "weights.pt").read_bytes()).hexdigest()
    manifest["files"]["weights.pt"] = digest
    (run.directory / "manifest.json").write_text(json.dumps(manifest))
    entry = verify_store(cache_dir, 1, seed=0, progress=False)
    assert entry["identical"] == 0 and entry["sampled"][0]["differs"] == ("weights",)
    done = run_cli("verify", "--sample", "1")
    assert done.returncode == 1
    assert "1 of 1 runs are not the stored bits on this CPU" in done.stderr


def test_verify_refuses_bad_input_in_one_line(cache_dir, tmp_path):
    for arguments, message in [
        (["--sample", "0"], "whole number of runs >= 1"),
        (["--store", str(tmp_path / "absent")], "is not a directory"),
        (["--store", str(tmp_path)], "holds no run"),
    ]:
        done = run_cli("verify", *arguments)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr


def test_a_figure_records_the_stored_runs_it_rests_on(cache_dir, tmp_path):
    configs = [config(iterations=5, seed=s) for s in (0, 1)]
    digests = []
    for _ in range(2):
        session = Session()
        train_runs(configs, session, progress=False)
        path = write_numbers({"comparisons": {}}, tmp_path, "numerics_machines", session)
        digests.append(json.loads(path.read_text())["store"])
    assert digests[0] == digests[1] and digests[0]["runs"] == 2  # the same runs, the same digest
    session = Session()
    train_runs(configs[:1], session, progress=False)
    path = write_numbers({"comparisons": {}}, tmp_path, "numerics_machines", session)
    assert json.loads(path.read_text())["store"]["sha256"] != digests[0]["sha256"]


def test_a_run_stored_before_its_ensemble_was_recorded_verifies_identical(cache_dir):
    """Runs trained before metrics.json held ``ensemble_seeds`` are retrained in the
    ensemble the store implies (same config but seed, same ensemble size) and compared
    on their results, not on how the training was described."""
    runs = train_runs([config(iterations=5, seed=s) for s in (0, 1)], progress=False)
    for run in runs:
        metrics = json.loads((run.directory / "metrics.json").read_text())
        del metrics["ensemble_seeds"]
        content = json.dumps(metrics, indent=2).encode()
        (run.directory / "metrics.json").write_bytes(content)
        manifest = json.loads((run.directory / "manifest.json").read_text())
        manifest["files"]["metrics.json"] = hashlib.sha256(content).hexdigest()
        (run.directory / "manifest.json").write_text(json.dumps(manifest))
    entry = verify_store(cache_dir, 2, seed=0, progress=False)
    assert entry["identical"] == 2, entry["sampled"]
