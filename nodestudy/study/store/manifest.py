"""A run's manifest: the SHA-256 of each of its files, and where and how it was trained.

The run store (``runs/`` in the repository, or any cache directory) keeps every
finished run as files that never change; ``manifest.json`` beside them names each
file's digest, so that a byte edited, truncated or swapped after training is found
before the run is served (:func:`check_files`), and says which machine trained the run
(its CPU, vendor, widest instruction set, numerical mode, library versions and wall
time), so that a run's bits can be traced to the machine that made them.

The one file of a run directory that changes is the score memo (``scores.json``):
derived data, memoised as scores are asked for. It is tied to the weights it was
computed from by their digest and carries a digest of its own contents
(:func:`sealed_scores`, :func:`unsealed_scores`), so that an edited memo is refused,
not served.
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...core.errors import NodestudyError
from ..runtime import numerics

MANIFEST_FILE = "manifest.json"
#: The score memo: the one file of a run directory that changes (see above).
SCORES_FILE = "scores.json"
#: The manifest's layout; bump when it changes (older manifests are then refused).
MANIFEST_FORMAT = 1


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def library_versions() -> dict[str, str]:
    """The versions that decide a run's arithmetic, beside the CPU."""
    import torchdiffeq

    try:
        nodestudy = metadata.version("nodestudy")
    except metadata.PackageNotFoundError:  # run from a source tree
        nodestudy = "unknown"
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchdiffeq": getattr(torchdiffeq, "__version__", "unknown"),
        "numpy": np.__version__,
        "nodestudy": nodestudy,
    }


def manifest(key: str, files: dict[str, bytes], metrics: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a run about to be stored under ``key`` with ``files``."""
    return {
        "format": MANIFEST_FORMAT,
        "key": key,
        "files": {name: sha256(content) for name, content in sorted(files.items())},
        "trained_on": {
            "cpu": numerics.cpu_description(),
            "numerics": metrics.get("numerics"),
            "versions": library_versions(),
            "train_seconds": metrics.get("train_seconds"),
            "ensemble_size": metrics.get("ensemble_size"),
        },
    }


def read_manifest(path: Path) -> dict[str, Any]:
    """A run directory's manifest; a one-line error when it is missing or malformed."""
    try:
        content = json.loads((path / MANIFEST_FILE).read_text())
    except FileNotFoundError:
        raise NodestudyError(
            f"{path} has no {MANIFEST_FILE}: its files cannot be verified"
        ) from None
    except (OSError, ValueError) as error:
        raise NodestudyError(
            f"{path}: {MANIFEST_FILE} does not parse ({type(error).__name__})"
        ) from None
    if (
        not isinstance(content, dict)
        or content.get("format") != MANIFEST_FORMAT
        or not isinstance(content.get("files"), dict)
        or not isinstance(content.get("key"), str)
    ):
        raise NodestudyError(f"{path}: {MANIFEST_FILE} is not a format-{MANIFEST_FORMAT} manifest")
    return content


def check_files(path: Path, required: tuple[str, ...]) -> dict[str, Any]:
    """Every file the manifest lists is there with the digest it lists, the required
    ones are listed, and the manifest is the run the directory is named for (the key's
    first 24 hex digits); returns the manifest."""
    content = read_manifest(path)
    if content["key"][:24] != path.name:
        raise NodestudyError(f"{path}: {MANIFEST_FILE} is the manifest of another run")
    files = content["files"]
    unlisted = [name for name in required if name not in files]
    if unlisted:
        raise NodestudyError(f"{path}: {MANIFEST_FILE} does not list {', '.join(unlisted)}")
    for name, digest in files.items():
        if name in (MANIFEST_FILE, SCORES_FILE) or "/" in name or name.startswith("."):
            raise NodestudyError(f"{path}: {MANIFEST_FILE} lists {name!r}, not a run's file")
        try:
            actual = sha256((path / name).read_bytes())
        except OSError:
            raise NodestudyError(f"{path} is incomplete (missing {name})") from None
        if actual != digest:
            raise NodestudyError(
                f"{path}: {name} is not the file that was stored (its SHA-256 differs from "
                f"the manifest's)"
            )
    return content


def sealed_scores(scores: dict[str, float], weights_digest: str) -> bytes:
    """The score memo's file: the scores, the digest of the weights they were computed
    from, and a digest of both."""
    body = {"weights_sha256": weights_digest, "scores": dict(sorted(scores.items()))}
    seal = sha256(json.dumps(body, sort_keys=True).encode())
    return json.dumps({**body, "sha256": seal}, indent=0, sort_keys=True).encode()


def unsealed_scores(content: bytes, weights_digest: str) -> dict[str, float]:
    """The scores of a memo file; a one-line error when it is not a whole memo of these
    weights (edited, damaged, or computed from other weights)."""
    try:
        memo = json.loads(content)
    except ValueError:
        raise NodestudyError("the score memo does not parse") from None
    if not isinstance(memo, dict) or not isinstance(memo.get("scores"), dict):
        raise NodestudyError("the score memo is not a memo of scores")
    body = {"weights_sha256": memo.get("weights_sha256"), "scores": memo["scores"]}
    if memo.get("sha256") != sha256(json.dumps(body, sort_keys=True).encode()):
        raise NodestudyError("the score memo was edited after it was written (its digest differs)")
    if memo["weights_sha256"] != weights_digest:
        raise NodestudyError("the score memo was computed from other weights")
    scores = memo["scores"]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in scores.values()):
        raise NodestudyError("the score memo holds values that are not numbers")
    return scores
