"""The numerical mode: which code paths torch's CPU kernels take, so that a run's
weights, history and scores are the same bits on every x86 CPU from AVX2 up, Intel's
and AMD's alike.

On a CPU, a product, a convolution or a softmax is computed by code chosen for the
processor (MKL's sgemm, oneDNN's convolutions, ATen's vectorised kernels), and the
paths round differently; training turns last-bit differences into different models.
The ``reproducible`` mode (the study's default, and its only mode for results) pins
every path before torch first computes: MKL to its compatible branch, the one branch
MKL offers with the same bits on every vendor's CPU (its AVX2 branch exists on Intel's
only, and the vendor must not decide a run's bits); oneDNN and ATen to AVX2; one
thread. ``fast`` leaves torch's defaults. ``NODESTUDY_NUMERICS`` chooses
(``make figures NUMERICS=fast``). What the pinning costs, per data set, is measured by
``benchmarks/numerics_cost.py``; which CPUs gave the same bits, by ``nodestudy verify``.

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
        # MKL's compatible branch, strictly: the one branch MKL offers, with the same
        # bits, on every vendor's x86 CPU (its AVX2 branch is Intel's only)
        ("MKL_CBWR", "COMPATIBLE,STRICT"),
        # a user's MKL_ENABLE_INSTRUCTIONS=AVX512 would override MKL_CBWR: capped too
        ("MKL_ENABLE_INSTRUCTIONS", "AVX2"),
        # oneDNN's convolutions (the image models) and ATen's own vector kernels
        # (log_softmax over 10 classes differs between AVX2 and AVX-512) at AVX2
        ("ONEDNN_MAX_CPU_ISA", "AVX2"),
        ("ATEN_CPU_CAPABILITY", "avx2"),
    ),
    threads=1,
    mkl_cbwr=0x10003,  # MKL_CBWR_COMPATIBLE | MKL_CBWR_STRICT
    aten_capability="AVX2",
)
FAST = NumericalMode("fast")
MODES = {mode.name: mode for mode in (REPRODUCIBLE, FAST)}
DEFAULT = REPRODUCIBLE.name


def selected() -> NumericalMode:
    """The mode ``NODESTUDY_NUMERICS`` names (unset: reproducible), whatever the CPU's
    vendor: one mode, one cache key, the same bits on Intel's and AMD's CPUs."""
    name = os.environ.get(VARIABLE, "").strip().lower() or DEFAULT
    if name not in MODES:
        raise NodestudyError(
            f"{VARIABLE}={os.environ[VARIABLE]!r}: choose reproducible (the default: the same "
            "bits on every x86 CPU from AVX2 up, Intel's and AMD's) or fast (torch's own "
            "code paths, faster, other bits on another CPU)"
        )
    return MODES[name]


def cpu_vendor() -> str:
    """The x86 CPU's vendor string (GenuineIntel, AuthenticAMD, ...); "" when this is not
    an x86 CPU or it cannot be read. Recorded with every run; it chooses nothing."""
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


def cpu_description() -> dict[str, Any]:
    """The CPU a run was trained or verified on, as a store's manifest records it: its
    model name, vendor, widest vector instruction set and core count."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    widest = next(
        (isa for isa, flag in (("AVX-512", "avx512f"), ("AVX2", "avx2")) if flag in flags),
        "below AVX2" if flags else "unknown",
    )
    return {
        "model": model,
        "vendor": cpu_vendor(),
        "instruction_set": widest,
        "cores": os.cpu_count(),
    }


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
    if above or unpinned_mkl:
        return (
            f"torch computed before nodestudy.study was imported, so the {mode.name} "
            f"numerical mode is not in effect (ATen {capability}, MKL "
            f"{'?' if mkl is None else hex(mkl)}): import nodestudy.study before any torch "
            f"operation (in a notebook: restart the kernel), or set {VARIABLE}=fast"
        )
    return None



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
