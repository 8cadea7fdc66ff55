"""How much memory this process may use: the machine's physical memory, or its
container's limit where that is smaller (cgroup v2 ``memory.max``, v1
``memory.limit_in_bytes``; "max" means none). A run killed by the container at its
limit (status 137) is what this prevents: sizes are compared with this number."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ...core.errors import NodestudyError

#: Where a container's memory limit is read: cgroup v2, then v1.
CGROUP_LIMIT_FILES = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)
#: The share of the available memory that one run, or all parallel jobs together,
#: may plan to use (the rest: Python, torch and the estimate's error).
USABLE = 0.8


def total_memory() -> int | None:
    """This machine's physical memory in bytes, where the OS says (else None)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def container_limit(files: Sequence[Path] | None = None) -> int | None:
    """The container's memory limit in bytes, None where there is none."""
    for path in CGROUP_LIMIT_FILES if files is None else files:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text == "max":
            return None
        if text.isdigit():
            return int(text)
    return None


def available_memory() -> int | None:
    """The smaller of the machine's memory and its container's limit (None: unknown)."""
    known = [size for size in (total_memory(), container_limit()) if size is not None]
    return min(known) if known else None


def too_large(what: str, need: int, available: int) -> NodestudyError:
    """The one-line refusal of a size that does not fit."""
    where = "its container" if available == container_limit() else "this machine"
    return NodestudyError(
        f"{what} needs at least {need / 2**30:.1f} GiB; {where} allows "
        f"{available / 2**30:.1f} GiB: use smaller sizes"
    )


def require_bytes(what: str, need: int) -> None:
    """One line if ``need`` bytes cannot fit in the memory available."""
    available = available_memory()
    if available is not None and need > USABLE * available:
        raise too_large(what, need, available)
