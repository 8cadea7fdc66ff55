"""Single numbers in the documents' prose, generated from ``figures/*.json``.

A number a sentence states is written as ``<!-- v PATH FORMAT -->0.006<!-- /v -->``:
the comment (invisible where Markdown is rendered) says where the number comes from,
the text between is what a reader sees, and :func:`fill_values` rewrites that text
from the JSON, so a rerun that changes the number changes the sentence.

``PATH`` starts with a figure's JSON name and walks into it with dots: a key
(``iterations``), a position in a list (``seeds.0``) or the one record of a list whose
fields have the given values (``by_training_steps[train_method=euler,train_steps=128]``;
values may hold spaces, ``table1[method=step adaptation]``); a key in braces is taken
literally (``separability.{euler, h = 0.0032}``);
``count(...)`` counts records instead of reading one. ``FORMAT`` is a Python format
spec (``.3f``, ``,``, ``d``) or ``k`` (a step count, ``128``); a list is joined with
", ". A path that does not resolve is an error naming it, never a silent blank.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ...core.errors import NodestudyError
from .results_text import k_text, load_numbers, number_text

VALUE = re.compile(
    r"<!-- v (?P<path>(?:[^\s\[{]|\[[^\]]*\]|{[^}]*})+)(?: (?P<format>\S+))? -->"
    r"(?P<text>.*?)<!-- /v -->"
)
_PART = re.compile(r"{[^}]*}|(?:[^.\[{]|\[[^\]]*\])+")
_SELECT = re.compile(r"^(?P<key>\w+)\[(?P<filters>[^\]]+)\]$")


def _matches(record: dict, filters: str) -> bool:
    for condition in filters.split(","):
        field, _, wanted = condition.partition("=")
        value = record.get(field)
        if isinstance(value, float | int) and not isinstance(value, bool):
            try:
                if float(wanted) != float(value):
                    return False
            except ValueError:
                return False
        elif str(value) != wanted:
            return False
    return True


def _step(value: Any, part: str, path: str) -> Any:
    selected = _SELECT.match(part)
    if selected:
        records = value.get(selected["key"]) if isinstance(value, dict) else None
        if not isinstance(records, list):
            raise NodestudyError(f"{path}: {selected['key']!r} is not a list of records")
        found = [r for r in records if isinstance(r, dict) and _matches(r, selected["filters"])]
        if len(found) != 1:
            raise NodestudyError(f"{path}: [{selected['filters']}] matches {len(found)} records")
        return found[0]
    if part.startswith("{") and part.endswith("}"):
        part = part[1:-1]  # a literal key, e.g. {euler, h = 0.0032}
    if isinstance(value, list) and part.isdigit() and int(part) < len(value):
        return value[int(part)]
    if isinstance(value, dict) and part in value:
        return value[part]
    raise NodestudyError(f"{path}: no {part!r} there")


def resolve(path: str, figures: Path) -> Any:
    """The value ``path`` names (see the module docstring)."""
    counting = path.startswith("count(") and path.endswith(")")
    inner = path[len("count(") : -1] if counting else path
    name, *parts = _PART.findall(inner)  # dots inside [...] (0.1) split nothing
    value: Any = load_numbers(figures, name)
    if value is None:
        raise NodestudyError(f"{path}: figures/{name}.json does not exist")
    for part in parts[:-1] if counting else parts:
        value = _step(value, part, path)
    if counting:
        selected = _SELECT.match(parts[-1])
        if not selected:
            raise NodestudyError(f"{path}: count() takes a selection, e.g. runs[learned=True]")
        records = value.get(selected["key"], []) if isinstance(value, dict) else []
        return sum(_matches(r, selected["filters"]) for r in records)
    return value


def formatted(value: Any, spec: str | None) -> str:
    if isinstance(value, list):
        return ", ".join(formatted(v, spec) for v in value)
    if spec == "k":
        return k_text(value)
    if isinstance(value, float) and spec and spec.endswith("f"):
        return number_text(value, spec).replace("-", "−")
    return number_text(value, spec or "")


def fill_values(text: str, figures: Path) -> str:
    """``text`` with every marked number generated anew from ``figures``."""

    def fill(match: re.Match) -> str:
        shown = formatted(resolve(match["path"], figures), match["format"])
        spec = f" {match['format']}" if match["format"] else ""
        return f"<!-- v {match['path']}{spec} -->{shown}<!-- /v -->"

    return VALUE.sub(fill, text)
