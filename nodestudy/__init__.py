"""nodestudy: is the Neural ODE you trained really an ODE?

The library, for any model written in torchdiffeq's conventions (a field
``func(t, z)``, an optional ``head`` from end states to logits, the ``method`` and
``options`` you train with); one entry point per job:

- :func:`check_ode` -> :class:`OdeCheck`: is a trained Neural ODE an ODE?
- :class:`StepSizeAdapter`, :class:`ToleranceAdapter` (rules :class:`StepAdaptation`,
  :class:`ToleranceAdaptation`): adapt the training solver in any training loop so
  that the model stays an ODE;
- :class:`SolverSpec`, :func:`solve`: a solver as one value, and solving with it;
- :func:`count_crossings`: crossing pairs of 1-D or 2-D trajectories;
- :class:`NodestudyError` (:class:`TrainingDiverged`): one line that names the fix.

The reproduction of Ott et al., "ResNet After All? Neural ODEs and Their Numerical
Solution" (ICLR 2021) lives in :mod:`nodestudy.study` (``pip install
'nodestudy[study]'``); importing ``nodestudy`` does not import it.
"""

from .core.adaptation.adapters import StepSizeAdapter, ToleranceAdapter
from .core.adaptation.rules import StepAdaptation, ToleranceAdaptation
from .core.check.procedure import check_ode
from .core.check.report import OdeCheck
from .core.crossings import count_crossings
from .core.errors import NodestudyError, TrainingDiverged
from .core.integrate import solve
from .core.solvers import SolverSpec

__all__ = [
    "NodestudyError",
    "OdeCheck",
    "SolverSpec",
    "StepAdaptation",
    "StepSizeAdapter",
    "ToleranceAdaptation",
    "ToleranceAdapter",
    "TrainingDiverged",
    "check_ode",
    "count_crossings",
    "solve",
]
