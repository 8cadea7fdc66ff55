"""The model-agnostic core of nodestudy: it knows nothing of the study.

It works on any Neural ODE written in torchdiffeq's conventions: a vector field
``func(t, z)``, an optional ``encode(x) -> z0`` and ``head(z_T) -> logits``, and a
solver named by ``method``, ``options``, ``rtol`` and ``atol``.

- :mod:`.solvers`: solving, solver specs, torchdiffeq's terms and grids;
- :mod:`.scoring`: end states, predictions and accuracy under a solver;
- :mod:`.check`: :func:`check_ode`, is a trained model an ODE? (its pieces in one sub-package);
- :mod:`.stats`, :mod:`.crossings`: paired tests and intervals, crossing trajectories;
- :mod:`.adaptation`: adapting the training solver in any loop (rules and adapters).

Nothing here imports the study layer (data, the paper's model, the run cache,
sweeps, profiles, plots); ``tests/test_layers.py`` keeps it so.
"""

from .adaptation.adapters import StepSizeAdapter, ToleranceAdapter
from .adaptation.rules import StepAdaptation, ToleranceAdaptation
from .check.procedure import check_ode
from .check.report import OdeCheck
from .errors import NodestudyError, TrainingDiverged
from .integrate import Solution, solve
from .scoring import EndStates, accuracy_with_nfe, predictions, solved_chunks
from .solvers import METHODS, SolverSpec

__all__ = [
    "METHODS",
    "EndStates",
    "NodestudyError",
    "OdeCheck",
    "Solution",
    "SolverSpec",
    "StepAdaptation",
    "StepSizeAdapter",
    "ToleranceAdaptation",
    "ToleranceAdapter",
    "TrainingDiverged",
    "accuracy_with_nfe",
    "check_ode",
    "predictions",
    "solve",
    "solved_chunks",
]
