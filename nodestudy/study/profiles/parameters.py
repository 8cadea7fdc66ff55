"""Notebook and command-line parameters applied to a profile: each value is checked
against the type its field declares, so a bad one stops with one line that names the
parameter and the fix, and a list that arrives as text (papermill's ``-p`` passes
``"[0, 1]"`` as a string) is read as the list it spells."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from typing import Any

from ...core.errors import NodestudyError


def with_overrides(profiles: dict[str, Any], profile: str, overrides: dict[str, Any]) -> Any:
    """``profiles[profile]`` with the overrides that are not None applied, each checked
    against the field's type (one line naming the parameter and the fix if it does
    not fit); lists become tuples so that the result stays hashable."""
    if not isinstance(profile, str) or profile not in profiles:
        raise NodestudyError(f"parameter profile={profile!r}: choose one of {', '.join(profiles)}")
    chosen = profiles[profile]
    types = {f.name: f.type for f in dataclasses.fields(chosen)}
    changes = {
        name: parameter_value(name, types.get(name), value)
        for name, value in overrides.items()
        if value is not None
    }
    return dataclasses.replace(chosen, **changes)


_LIST_TYPES = {"tuple[int, ...]": int, "tuple[float, ...]": float, "tuple[str, ...]": str}
_EXAMPLES = {int: "0, 1, 2", float: "0.1, 0.01", str: '"a", "b"'}


def parameter_value(name: str, kind: str | None, value: Any) -> Any:
    """A parameter's value in the type its field declares. A list given as text, as
    ``papermill -p seeds "[0, 1]"`` passes it, is read as the list it spells."""
    if kind in _LIST_TYPES:
        element = _LIST_TYPES[kind]
        given = value
        if isinstance(value, str) and value.strip().startswith("["):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        if not isinstance(value, list | tuple):
            value = [value]  # one value where a list is expected: a list of one
        if not all(_fits(v, element) for v in value):
            raise NodestudyError(
                f"parameter {name}={given!r}: give a list of {element.__name__} values, e.g. "
                f"papermill -y '{name}: [{_EXAMPLES[element]}]'"
            )
        return tuple(element(v) for v in value)
    if kind in ("int", "float", "int | None", "float | None"):
        element = int if kind.startswith("int") else float
        if not _fits(value, element) or value < 0:
            raise NodestudyError(
                f"parameter {name}={value!r}: give a number >= 0, e.g. -p {name} "
                f"{_EXAMPLES[element].split(',')[-1].strip()}"
            )
        return element(value)
    return value


def _fits(value: Any, element: type) -> bool:
    if element is str:
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return element is float or float(value).is_integer()
