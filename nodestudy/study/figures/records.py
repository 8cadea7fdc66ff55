"""Machine-readable numbers written beside each figure, so tests, the README and
reviewers read the same values."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ...core.errors import NodestudyError
from ...core.jsonsafe import json_safe
from ..runtime import numerics
from ..session import Session
from .layouts import check_layout


def output_directory(directory: str | Path) -> Path:
    """``directory``, created if needed, or a one-line error if it cannot hold files."""
    path = Path(directory).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NodestudyError(
            f"figures_dir={str(directory)!r} cannot be created ({error.strerror}); pass a "
            "writable directory"
        ) from None
    if not os.access(path, os.W_OK):
        raise NodestudyError(f"figures_dir={str(directory)!r} is not writable; pass another")
    return path


def write_numbers(
    numbers: dict[str, Any], directory: str | Path, name: str, session: Session | None = None
) -> Path:
    """The figure's numbers as JSON, with the numerical mode they were computed in (the
    cache serves a process only runs of its own mode) and, given the ``session`` that
    computed them, the stored runs they rest on (``RunCache.served_digest``)."""
    extra: dict[str, Any] = {"numerics": numerics.in_effect().name}
    if session is not None:
        extra["store"] = session.cache.served_digest()
    numbers = json_safe({**numbers, **extra})
    check_layout(numbers, name)  # as written: NaN and inf are null by now
    path = output_directory(directory) / f"{name}.json"
    path.write_text(json.dumps(numbers, indent=2, allow_nan=False) + "\n")
    return path


def write_table(table: pd.DataFrame, directory: str | Path, name: str) -> Path:
    path = output_directory(directory) / f"{name}.csv"
    table.to_csv(path, index=False, float_format="%.6g")
    return path


def frame_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records."""
    return json_safe(table.to_dict(orient="records"))
