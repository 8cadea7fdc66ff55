"""Disk space: checked before work whose result must be stored, and a full disk met
while writing turned into one line that names the directory and the space needed
(the caller removes what it had half-written).

``free_bytes`` is the one place free space is read, so tests can simulate a full disk.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ...core.errors import NodestudyError

#: Kept free beyond what a write needs: a disk filled to the last byte breaks other writers.
MARGIN = 16 * 2**20
#: The errors that mean "no room": a full disk, or a full quota.
NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


def free_bytes(directory: Path) -> int:
    """Free bytes on the file system of ``directory`` (or of its nearest existing parent)."""
    path = Path(directory).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def no_room(directory: Path, need: int, what: str) -> NodestudyError:
    return NodestudyError(
        f"no space left in {directory} for {what} (about {_size(need)} needed, with "
        f"{_size(MARGIN)} to spare); free space there or point NODESTUDY_CACHE at another disk"
    )


def require_space(directory: Path, need: int, what: str) -> None:
    """One line, before the work, if ``directory``'s disk cannot hold ``need`` bytes."""
    if free_bytes(directory) < need + MARGIN:
        raise no_room(directory, need, what)


@contextmanager
def reported_full_disk(directory: Path, need: int, what: str) -> Iterator[None]:
    """Turn a full disk met inside the block into :func:`no_room`'s one line."""
    try:
        yield
    except OSError as error:
        if error.errno in NO_ROOM:
            raise no_room(directory, need, what) from None
        raise


def _size(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{max(n, 1) / 2**20:.1f} MiB"
