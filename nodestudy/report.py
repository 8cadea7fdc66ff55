"""Machine-readable numbers written beside each figure, so tests, the README and
reviewers read the same values."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd


def _clean(value: Any) -> Any:
    """JSON-safe: NaN becomes null, numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_numbers(numbers: dict[str, Any], directory: str | Path, name: str) -> Path:
    path = Path(directory) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(numbers), indent=2) + "\n")
    return path


def write_table(table: pd.DataFrame, directory: str | Path, name: str) -> Path:
    path = Path(directory) / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.6g")
    return path


def frame_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records."""
    return _clean(table.to_dict(orient="records"))
