"""The cache of finished runs: one directory per training config, keyed by its hash.

Every figure is computed from this cache, so an entry is *verified*, not trusted,
before it is served (:func:`verify_run`): its config and numerical mode must be the
ones its key names, and its files complete and readable. A cache serves only runs of
the numerical mode this process computes in (``runtime/numerics.py``): the key holds
the mode, and the run's metadata records it. A damaged entry is moved aside to
``.corrupt-<key>-<time>`` (kept for inspection, never served again) and the run is
trained again; in a cache that cannot be written, the one-line error names the
directory and the fix.

Runs are written into ``.partial-<key>-<host>-<pid>-*`` and renamed into place, so an
interrupted writer leaves nothing half-written under a run's name; partial
directories whose writer on this host has died are removed (:meth:`clean_partials`).
Run directories get the permissions the umask allows (not the 0700 of a temporary
directory), so a shared cache stays readable by the group.

The cache root is ``$NODESTUDY_CACHE``, else ``$XDG_CACHE_HOME/nodestudy/runs``
(``~/.cache/nodestudy/runs``).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import socket
import tempfile
import time
import warnings
from pathlib import Path

import torch

from ...core.errors import NodestudyError
from ...core.jsonsafe import json_safe
from ..config import TrainConfig
from ..runtime import numerics
from .integrity import check_contents
from .manifest import MANIFEST_FILE, check_files, manifest, sha256
from .runs import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    SNAPSHOTS_FILE,
    WEIGHTS_FILE,
    Run,
    TrainedMember,
    current_umask,
    open_run,
)
from .space import reported_full_disk

REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE, HISTORY_FILE, METRICS_FILE)
PARTIAL_PREFIX, CORRUPT_PREFIX = ".partial-", ".corrupt-"


class CorruptRun(NodestudyError):
    """A run directory that must not be served."""


def default_cache_root() -> Path:
    if env := os.environ.get("NODESTUDY_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nodestudy" / "runs"


def verify_run(path: Path, expected: TrainConfig | None = None, mode: str | None = None) -> Run:
    """Open a run directory and check it can be served: every file present and the
    bytes its manifest's SHA-256 names, the config and numerical mode the key names
    (and ``expected`` and ``mode``, if given), the weights loadable and the history one
    row per iteration. Raises :class:`CorruptRun`."""
    missing = [name for name in (*REQUIRED_FILES, MANIFEST_FILE) if not (path / name).is_file()]
    if missing:
        raise CorruptRun(f"{path} is incomplete (missing {', '.join(missing)})")
    try:
        run = open_run(path)
    except NodestudyError as error:
        raise CorruptRun(str(error)) from None
    try:
        stored_key = check_files(path, REQUIRED_FILES)["key"]
    except NodestudyError as error:
        raise CorruptRun(str(error)) from None
    recorded = run.metrics.get("numerics")
    if not isinstance(recorded, dict) or recorded.get("mode") not in numerics.MODES:
        raise CorruptRun(f"{path}: metrics.json records no numerical mode")
    if run.config.key(recorded["mode"]) != stored_key or (
        expected is not None and run.config != expected
    ):
        raise CorruptRun(
            f"{path} holds the run of another config (config.json is not the config its "
            "name, the config's key, stands for)"
        )
    if mode is not None and recorded["mode"] != mode:
        raise CorruptRun(f"{path} holds a run of the {recorded['mode']} numerical mode")
    try:
        weights = torch.load(path / WEIGHTS_FILE, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated zip, or not a checkpoint at all
        raise CorruptRun(f"{path}: weights.pt is unreadable ({type(error).__name__})") from None
    try:
        check_contents(path, run.config, run.metrics, weights)
    except NodestudyError as error:
        raise CorruptRun(str(error)) from None
    try:
        rows = gzip.decompress((path / HISTORY_FILE).read_bytes()).count(b"\n") - 1
    except (OSError, EOFError, gzip.BadGzipFile):
        raise CorruptRun(f"{path}: {HISTORY_FILE} is not a whole gzip file") from None
    if rows != run.config.iterations:
        raise CorruptRun(
            f"{path}: {HISTORY_FILE} has {rows} rows for {run.config.iterations} iterations"
        )
    return run


def open_verified(directory: str | Path) -> Run:
    """A run directory passed in by hand (``nodestudy evaluate DIR``), verified as a
    cache entry is; a damaged one is refused in one line, never scored."""
    path = Path(directory)
    open_run(path)  # "does not exist" / "holds no finished run" first
    try:
        return verify_run(path)
    except CorruptRun as error:
        raise NodestudyError(
            f"{error}; it is not served: delete the directory and train the run again"
        ) from None


class RunCache:
    """Finished runs on disk, looked up by config, of the numerical mode this process
    computes in (a one-line error if it computes in none: torch ran before
    :mod:`nodestudy.study` was imported)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_root()
        self.numerics = numerics.in_effect().name
        self._verified: dict[Path, float] = {}
        #: key -> manifest digest of every run this cache has served: what the numbers
        #: computed since rest on (``served_digest``)
        self._served: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<RunCache {self.root} ({self.numerics} mode)>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunCache):
            return NotImplemented
        return (self.root, self.numerics) == (other.root, other.numerics)

    def __hash__(self) -> int:
        return hash((self.root, self.numerics))

    def path(self, config: TrainConfig) -> Path:
        return self.root / config.key(self.numerics)[:24]

    def get(self, config: TrainConfig) -> Run | None:
        """The stored run of ``config``, verified; None when there is none (a damaged
        entry is moved aside, so it is trained again)."""
        path = self.path(config)
        if not path.exists():
            return None
        stamp = path.stat().st_mtime
        if self._verified.get(path) == stamp:
            return open_run(path)
        try:
            run = verify_run(path, config, self.numerics)
        except CorruptRun as error:
            self._quarantine(path, str(error))
            return None
        self._verified[path] = stamp
        self._served[config.key(self.numerics)] = sha256((path / MANIFEST_FILE).read_bytes())
        return run

    def served_digest(self) -> dict[str, object]:
        """How many runs this cache has served and one SHA-256 over their keys and
        manifests: a figure's numbers record it, naming exactly the stored runs they
        were computed from (the same runs give the same digest, on any machine)."""
        lines = "".join(f"{key} {digest}\n" for key, digest in sorted(self._served.items()))
        return {"runs": len(self._served), "sha256": sha256(lines.encode())}

    def _quarantine(self, path: Path, reason: str) -> None:
        aside = path.with_name(f"{CORRUPT_PREFIX}{path.name}-{int(time.time())}")
        try:
            path.rename(aside)
        except OSError:
            raise NodestudyError(
                f"{reason}, and the cache cannot be changed: delete {path} (the run is then "
                "trained again) or point NODESTUDY_CACHE at a writable directory"
            ) from None
        warnings.warn(
            f"nodestudy: {reason}; moved to {aside.name}, the run is trained again",
            stacklevel=3,
        )

    def ensure_writable(self) -> None:
        """Fail now, in one line, if runs could not be stored here after training."""
        if self.root.exists() and not self.root.is_dir():
            raise NodestudyError(
                f"the run cache {self.root} is a file, not a directory; set NODESTUDY_CACHE "
                "to a directory"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as error:
            raise NodestudyError(
                f"the run cache {self.root} is not writable ({error.strerror}); set "
                "NODESTUDY_CACHE to a writable directory"
            ) from None

    def put(self, member: TrainedMember) -> Run:
        """Store a finished run atomically; an existing entry wins and is kept."""
        final = self.path(member.config)
        if member.metrics["numerics"]["mode"] != self.numerics:
            raise NodestudyError(
                f"a run trained in the {member.metrics['numerics']['mode']} numerical mode "
                f"cannot be stored as a {self.numerics} one"
            )
        if (existing := self.get(member.config)) is not None:
            return existing
        files = _serialised(member, self.numerics)
        need = sum(len(content) for content in files.values())
        self.root.mkdir(parents=True, exist_ok=True)
        prefix = f"{PARTIAL_PREFIX}{final.name}-{socket.gethostname()}-{os.getpid()}-"
        staging = None
        try:
            with reported_full_disk(self.root, need, "a finished run"):
                staging = Path(tempfile.mkdtemp(prefix=prefix, dir=self.root))
                for name, content in files.items():
                    (staging / name).write_bytes(content)
            staging.chmod(0o777 & ~current_umask())
            try:
                staging.rename(final)
            except OSError:
                if self.get(member.config) is None:  # not a lost race: a real error
                    raise
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        return open_run(final)

    def runs(self) -> list[Run]:
        """Every finished run of this mode in the cache that verifies (damaged ones,
        and runs of the other mode, are skipped)."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(".") or not path.is_dir():
                continue
            try:
                found.append(verify_run(path, mode=self.numerics))
            except CorruptRun:
                continue
        return found

    def clean_partials(self) -> list[Path]:
        """Remove the partial directories of writers on this host that are no longer
        running (killed mid-write); returns what was removed."""
        if not self.root.is_dir():
            return []
        removed = []
        host = socket.gethostname()
        for path in self.root.glob(f"{PARTIAL_PREFIX}*"):
            # .partial-<key>-<host>-<pid>-<random>: the host may hold dashes, the rest not
            parts = path.name[len(PARTIAL_PREFIX) :].split("-", 1)[-1].rsplit("-", 2)
            if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
                continue
            if not _alive(int(parts[1])):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed


def _serialised(member: TrainedMember, mode: str) -> dict[str, bytes]:
    """A run's files as bytes, made before anything is written: a full disk then
    shows as the OSError of a plain write, not as a torch serialiser's own error."""
    weights, snapshots = io.BytesIO(), io.BytesIO()
    torch.save(member.weights, weights)
    torch.save(member.snapshots, snapshots)
    metrics = json.dumps(json_safe(member.metrics), indent=2, allow_nan=False)
    history = member.history.to_csv(index=False).encode()
    files = {
        CONFIG_FILE: json.dumps(member.config.to_dict(), indent=2).encode(),
        WEIGHTS_FILE: weights.getvalue(),
        # mtime 0: the same history gives the same bytes
        HISTORY_FILE: gzip.compress(history, compresslevel=9, mtime=0),
        METRICS_FILE: metrics.encode(),
    }
    if member.snapshots:  # an adapted run's (``train.py``)
        files[SNAPSHOTS_FILE] = snapshots.getvalue()
    listed = manifest(member.config.key(mode), files, member.metrics)
    return {**files, MANIFEST_FILE: json.dumps(listed, indent=1).encode()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
