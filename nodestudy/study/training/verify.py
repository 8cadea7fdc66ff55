"""Verifying the run store on this machine: a sample of stored runs is trained again
here and compared, bit for bit, with the stored files.

The store's claim is that a run is the same bits on every x86 CPU in the reproducible
mode (``runtime/numerics.py``). The manifests prove that a stored file is the one that
was trained; only training it again on another machine proves the claim. Each
verification is appended to a committed record (``figures/store_verifications.json``)
with the CPU that made it, so the evidence grows with every machine that runs
``nodestudy verify`` (``make verify``).

What is compared: the weights (and an adapted run's snapshots) tensor by tensor as
bytes, the history as its CSV text, and every metric but those that describe the
machine or the clock (wall time, device, library version, the numerical record, how
many seeds shared the training). A run is trained again in the ensemble it was trained
in (its ``ensemble_seeds``): an MLP member's bits do not depend on its ensemble
(``tests/test_numerics.py``), a convolution's do.
"""

from __future__ import annotations

import datetime
import gzip
import json
import random
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ...core.errors import NodestudyError
from ..config import TrainConfig
from ..runtime import numerics
from ..session import Session
from ..store.cache import RunCache
from ..store.manifest import library_versions, read_manifest
from ..store.runs import HISTORY_FILE, Run
from .sweep import train_runs

#: Metrics that describe how, where and when a run was trained, not its result (runs
#: stored before ``ensemble_seeds`` was recorded lack it).
NOT_RESULTS = (
    "train_seconds",
    "ensemble_size",
    "ensemble_seeds",
    "device",
    "torch_version",
    "numerics",
)


@dataclass(frozen=True)
class Verification:
    """One stored run trained again here, and what differed (nothing, if identical)."""

    key: str
    run: str
    trained_on: str
    identical: bool
    differs: tuple[str, ...]
    seconds: float


def _tensor_bytes(tensors: dict) -> dict[str, bytes]:
    flat: dict[str, bytes] = {}
    for name, value in tensors.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{k}": v for k, v in _tensor_bytes(value).items()})
        else:
            flat[str(name)] = str(value.dtype).encode() + value.detach().cpu().numpy().tobytes()
    return flat


def _result_metrics(run: Run) -> str:
    kept = {k: v for k, v in run.metrics.items() if k not in NOT_RESULTS}
    return json.dumps(kept, sort_keys=True)


def differences(stored: Run, again: Run) -> list[str]:
    """The parts of ``again`` that are not the same bits as ``stored``'s."""
    found = []
    if _tensor_bytes(stored.weights()) != _tensor_bytes(again.weights()):
        found.append("weights")
    if _tensor_bytes(stored.snapshots()) != _tensor_bytes(again.snapshots()):
        found.append("snapshots")
    history = [
        gzip.decompress((run.directory / HISTORY_FILE).read_bytes()) for run in (stored, again)
    ]
    if history[0] != history[1]:
        found.append("history")
    if _result_metrics(stored) != _result_metrics(again):
        found.append("metrics")
    return found


def trained_with(run: Run, stored: list[Run]) -> list[TrainConfig]:
    """The configs ``run`` was trained together with, in their order (a convolution's
    bits depend on its ensemble). Runs stored before the seeds were recorded: the stored
    runs of the same config but seed that shared an ensemble of the same size."""
    seeds = run.metrics.get("ensemble_seeds")
    if not isinstance(seeds, list):
        size = run.metrics.get("ensemble_size", 1)
        base = run.config.without_seed()
        seeds = sorted(
            other.config.seed
            for other in stored
            if other.config.without_seed() == base and other.metrics.get("ensemble_size") == size
        )
        if len(seeds) != size or run.config.seed not in seeds:
            seeds = [run.config.seed]
    return [run.config.replace(seed=seed) for seed in seeds]


def trained_on(run: Run) -> str:
    """The machine that trained a stored run, as its manifest names it."""
    cpu = read_manifest(run.directory).get("trained_on", {}).get("cpu", {})
    return f"{cpu.get('model', '?')} ({cpu.get('vendor', '?')}, {cpu.get('instruction_set', '?')})"


def choose_sample(
    runs: list[Run], size: int, seed: int, max_train_seconds: float | None
) -> list[Run]:
    """``size`` runs drawn with ``seed`` among those whose recorded training took at
    most ``max_train_seconds`` (None: any), so that a verification's cost is bounded."""
    eligible = [
        run
        for run in runs
        if max_train_seconds is None
        or float(run.metrics.get("train_seconds") or 0) * int(run.metrics.get("ensemble_size") or 1)
        <= max_train_seconds
    ]
    return random.Random(seed).sample(eligible, min(size, len(eligible)))


def verify_store(
    store: str | Path,
    sample: int,
    seed: int | None = None,
    max_train_seconds: float | None = 600.0,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``sample`` stored runs of ``store`` again here and compare them bit for
    bit; returns the verification's record (this CPU, the runs, what differed)."""
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise NodestudyError(f"the sample must be a whole number of runs >= 1 (got {sample!r})")
    root = Path(store).expanduser()
    if not root.is_dir():
        raise NodestudyError(f"the run store {str(root)!r} is not a directory")
    runs = RunCache(root).runs()
    if not runs:
        raise NodestudyError(f"the run store {str(root)!r} holds no run of this numerical mode")
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    chosen = choose_sample(runs, sample, seed, max_train_seconds)
    if not chosen:
        raise NodestudyError(
            f"no stored run trained within {max_train_seconds:g} s; raise --max-train-seconds"
        )
    results = []
    for index, run in enumerate(chosen, 1):
        label = f"{run.config.data.short_name} {run.config.solver.label()} seed {run.config.seed}"
        if run.config.adaptation is not None:
            label += " adapted"
        if progress:
            print(f"verify {index}/{len(chosen)}: {label}", flush=True)
        started = time.perf_counter()
        group = trained_with(run, runs)
        with tempfile.TemporaryDirectory(prefix="nodestudy-verify-") as scratch:
            trained = train_runs(group, Session(cache=RunCache(scratch)), progress=False)
            found = differences(run, trained[group.index(run.config)])
        results.append(
            Verification(
                key=run.directory.name,
                run=label,
                trained_on=trained_on(run),
                identical=not found,
                differs=tuple(found),
                seconds=round(time.perf_counter() - started, 1),
            )
        )
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": numerics.cpu_description(),
        "numerics": numerics.record(),
        "versions": library_versions(),
        "store_runs": len(runs),
        "store_megabytes": round(
            sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20, 1
        ),
        "seed": seed,
        "runs": len(results),
        "identical": sum(result.identical for result in results),
        "sampled": [asdict(result) for result in results],
    }


def append_record(path: str | Path, entry: dict[str, Any]) -> Path:
    """Append a verification to the committed record at ``path`` (created if absent)."""
    path = Path(path).expanduser()
    record: dict[str, Any] = {"verifications": []}
    if path.exists():
        try:
            record = json.loads(path.read_text())
        except ValueError:
            raise NodestudyError(
                f"{path} is not a verification record (it does not parse)"
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("verifications"), list):
            raise NodestudyError(f"{path} is not a verification record")
    record["verifications"].append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path
