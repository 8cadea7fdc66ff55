"""Machine-readable numbers written beside each figure, so tests, the README and
reviewers read the same values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from .core.jsonsafe import json_safe


def write_numbers(numbers: dict[str, Any], directory: str | Path, name: str) -> Path:
    path = Path(directory) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(numbers), indent=2) + "\n")
    return path


def write_table(table: pd.DataFrame, directory: str | Path, name: str) -> Path:
    path = Path(directory) / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.6g")
    return path


def frame_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records."""
    return json_safe(table.to_dict(orient="records"))
