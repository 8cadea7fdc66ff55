"""Torch devices named by users, checked before anything trains."""

from __future__ import annotations

import torch

from ...core.errors import NodestudyError


def available_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch device, or a one-line error if this machine has no such
    device (so a typo fails before training, not after)."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise NodestudyError(
            f"unknown device {device!r}; use cpu, cuda, cuda:1, mps, ..."
        ) from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise NodestudyError(
                f"device {device!r}: this machine has no CUDA GPU visible to torch "
                f"{torch.__version__}; use cpu, or install a CUDA build (TORCH_SPEC, TORCH_INDEX)"
            )
        if parsed.index is not None and parsed.index >= count:
            raise NodestudyError(
                f"device {device!r}: only {count} GPU(s) here (cuda:0 ... cuda:{count - 1})"
            )
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise NodestudyError(f"device {device!r}: MPS is not available on this machine; use cpu")
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise NodestudyError(f"device {device!r} is not supported; use cpu, cuda or mps")
    return parsed
