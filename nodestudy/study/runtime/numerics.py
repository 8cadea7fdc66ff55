"""The numerical mode: which code paths torch's CPU kernels take, so that a run's
weights, history and scores are the same bits on every Intel x86 CPU from AVX2 up (and
on MKL's branch for every x86 CPU, the compatible mode, elsewhere).

On a CPU, a product, a convolution or a softmax is computed by code chosen for the
processor's instruction set (MKL's sgemm, oneDNN's convolutions, ATen's vectorised
kernels), and the paths round differently; training turns last-bit differences into
different models. The ``reproducible`` mode (the study's default) pins every path to
AVX2 before torch first computes, and fixes the thread count; ``fast`` leaves torch's
defaults. ``NODESTUDY_NUMERICS`` chooses (``make figures NUMERICS=fast``).

MKL offers its AVX2 branch on Intel CPUs only: asked for it on another vendor's (AMD's),
it takes its automatic branch, which is chosen per processor. There the reproducible
mode takes MKL's ``compatible`` branch instead, the one branch MKL offers on every x86
CPU; it is a mode of its own (other bits than Intel's AVX2 branch, its own cache keys),
and can be asked for by name on any x86 CPU.

:func:`apply` runs when :mod:`nodestudy.study` is imported, in every process that
trains or scores (the CLI, notebook kernels, worker processes, which inherit the
environment it sets). The variables are read by MKL, oneDNN and ATen at their first
use, so a process that ran torch before importing the study cannot be pinned;
:func:`in_effect` (asked by the cache and by training) then refuses in one line. The
mode is a property of the process and lives in its environment: nothing else here
holds state.
"""

from __future__ import annotations

import ctypes
import os
import platform
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ...core.errors import NodestudyError

VARIABLE = "NODESTUDY_NUMERICS"


@dataclass(frozen=True)
class NumericalMode:
    """What a mode sets before torch's first operation, and what a process in the mode
    must report afterwards (None: not checked)."""

    name: str
    #: environment variables read by MKL, oneDNN and ATen at their first use
    environment: tuple[tuple[str, str], ...] = ()
    #: torch's intra-op threads (oneDNN's convolutions round by thread count); None:
    #: torch's default
    threads: int | None = None
    #: MKL's conditional-numerical-reproducibility setting, ``mkl_serv_cbwr_get(-1)``
    mkl_cbwr: int | None = None
    #: ``torch.backends.cpu.get_cpu_capability()``
    aten_capability: str | None = None


REPRODUCIBLE = NumericalMode(
    "reproducible",
    environment=(
        # MKL's AVX2 code path, strictly (also for the sizes MKL would otherwise vary)
        ("MKL_CBWR", "AVX2,STRICT"),
        # also needed: MKL_ENABLE_INSTRUCTIONS=AVX512 (a user's) overrides MKL_CBWR
        ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
        ("ONEDNN_MAX_CPU_ISA", "AVX2"),
        # ATen's kernels: log_softmax over 10 classes differs between AVX2 and AVX-512
        ("ATEN_CPU_CAPABILITY", "avx2"),
    ),
    threads=1,
    mkl_cbwr=0x1000A,  # MKL_CBWR_AVX2 | MKL_CBWR_STRICT
    aten_capability="AVX2",
)
COMPATIBLE = NumericalMode(
    "compatible",
    environment=(
        # MKL's compatible branch, strictly: the one it offers on every vendor's x86 CPU
        ("MKL_CBWR", "COMPATIBLE,STRICT"),
        # a user's MKL_ENABLE_INSTRUCTIONS=AVX512 is capped too (the same bits: tested)
        ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
        ("ONEDNN_MAX_CPU_ISA", "AVX2"),
        ("ATEN_CPU_CAPABILITY", "avx2"),
    ),
    threads=1,
    mkl_cbwr=0x10003,  # MKL_CBWR_COMPATIBLE | MKL_CBWR_STRICT
    aten_capability="AVX2",
)
FAST = NumericalMode("fast")
MODES = {mode.name: mode for mode in (REPRODUCIBLE, COMPATIBLE, FAST)}
DEFAULT = REPRODUCIBLE.name


def selected(vendor: str | None = None) -> NumericalMode:
    """The mode ``NODESTUDY_NUMERICS`` names (unset: reproducible); reproducible on an
    x86 CPU that is not Intel's (``vendor``: None reads this one's) is the compatible
    mode, MKL's AVX2 branch being Intel's only."""
    name = os.environ.get(VARIABLE, "").strip().lower() or DEFAULT
    if name not in MODES:
        raise NodestudyError(
            f"{VARIABLE}={os.environ[VARIABLE]!r}: choose reproducible (the default: the same "
            "bits on every Intel x86 CPU from AVX2 up), compatible (MKL's branch for every "
            "x86 CPU, the default on AMD's) or fast (torch's own code paths, faster)"
        )
    vendor = cpu_vendor() if vendor is None else vendor
    if name == REPRODUCIBLE.name and vendor not in ("GenuineIntel", ""):
        return COMPATIBLE
    return MODES[name]


def cpu_vendor() -> str:
    """The x86 CPU's vendor string (GenuineIntel, AuthenticAMD, ...); "" when this is not
    an x86 CPU or it cannot be read (then no vendor-specific choice is made)."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def apply() -> None:
    """Set the selected mode's environment and thread count; warn in one line when it
    cannot take effect (torch computed before the study was imported)."""
    try:
        mode = selected()
    except NodestudyError as error:
        warnings.warn(f"nodestudy: {error}", stacklevel=2)
        return
    os.environ[VARIABLE] = mode.name
    os.environ.update(dict(mode.environment))
    if mode.threads is not None:
        torch.set_num_threads(mode.threads)
    if problem := _problem(mode):
        warnings.warn(f"nodestudy: {problem}", stacklevel=2)


def in_effect() -> NumericalMode:
    """The selected mode, verified in this process; a one-line error naming the fix
    when the process computes on another path."""
    mode = selected()
    if problem := _problem(mode):
        raise NodestudyError(problem)
    return mode


def record() -> dict[str, Any]:
    """What a run's metadata says about its arithmetic: the mode and what the process
    reported (MKL's setting, None without MKL; ATen's capability; threads; the CPU)."""
    mkl = _mkl_cbwr()
    return {
        "mode": in_effect().name,
        "mkl_cbwr": None if mkl is None else hex(mkl),
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "cpu_vendor": cpu_vendor(),
    }


def _problem(mode: NumericalMode) -> str | None:
    """Why this process does not compute in ``mode``, or None. A CPU or build that
    cannot take the pinned path (no AVX2, no MKL: ARM) is no problem here: its runs are
    repeatable on it, and the README says how far they are from x86's."""
    if mode.threads is not None and torch.get_num_threads() != mode.threads:
        return (
            f"the {mode.name} numerical mode trains on {mode.threads} thread(s), this process "
            f"on {torch.get_num_threads()}: leave torch.set_num_threads alone, or set "
            f"{VARIABLE}=fast"
        )
    capability = torch.backends.cpu.get_cpu_capability()
    mkl = _mkl_cbwr()
    above = mode.aten_capability is not None and capability.startswith("AVX512")
    unpinned_mkl = (
        mode.mkl_cbwr is not None
        and mkl is not None
        and capability == mode.aten_capability
        and mkl != mode.mkl_cbwr
    )
    if mode is REPRODUCIBLE and unpinned_mkl and not above and mkl & _MKL_CBWR_STRICT:
        # MKL read the mode's setting and took another branch: it offers none such here
        return (
            f"MKL does not take the {mode.name} numerical mode's branch on this CPU (it "
            f"reports {hex(mkl)}, not {hex(mode.mkl_cbwr)}): set {VARIABLE}=compatible "
            "(MKL's branch for every x86 CPU) or fast"
        )
    if above or unpinned_mkl:
        return (
            f"torch computed before nodestudy.study was imported, so the {mode.name} "
            f"numerical mode is not in effect (ATen {capability}, MKL "
            f"{'?' if mkl is None else hex(mkl)}): import nodestudy.study before any torch "
            f"operation (in a notebook: restart the kernel), or set {VARIABLE}=fast"
        )
    return None


_MKL_CBWR_STRICT = 0x10000


def _mkl_cbwr() -> int | None:
    """MKL's conditional-numerical-reproducibility setting, or None in a torch without
    MKL. Asking fixes it from the environment if MKL has not run yet."""
    library = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    try:
        get = ctypes.CDLL(str(library)).mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return None
    get.restype = ctypes.c_int
    return get(ctypes.c_int(-1)) & 0xFFFFFFFF
