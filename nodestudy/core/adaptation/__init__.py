"""Training-time solver adaptation for any training loop: the rules as frozen data
(``rules.py``: :class:`StepAdaptation`, :class:`ToleranceAdaptation`), what the adapters
share (``base.py``) and the adapters themselves (``adapters.py``:
:class:`StepSizeAdapter` for fixed-step solvers, :class:`ToleranceAdapter` for adaptive
ones)."""

from .adapters import StepSizeAdapter, ToleranceAdapter
from .rules import StepAdaptation, ToleranceAdaptation

__all__ = ["StepAdaptation", "StepSizeAdapter", "ToleranceAdaptation", "ToleranceAdapter"]
