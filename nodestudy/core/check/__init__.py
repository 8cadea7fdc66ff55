"""The check: is a trained Neural ODE an ODE flow, or a ResNet that only works with its
training solver?

:func:`check_ode` (``procedure.py``) runs it and returns an :class:`OdeCheck`
(``report.py``). The pieces, in the order the check uses them: ``inputs.py`` (what a
user passed, checked), ``preflight.py`` (what can be said before solving),
``problem.py`` (the model as one problem: data, solvers, answers), ``outcomes.py``
(what a point's answer is: a class, a loss, the states; the solvers' roles),
``compare.py`` (two solvers' answers, point by point), ``decision.py`` (the verdict),
``summary.py`` (safe steps, observed order, crossings) and ``plot.py``.
"""

from .outcomes import Measure, Role
from .procedure import check_ode
from .report import OdeCheck

__all__ = ["Measure", "OdeCheck", "Role", "check_ode"]
