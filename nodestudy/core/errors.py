"""The one exception type users of nodestudy need to catch.

Every error caused by bad input (an unknown solver, a step count below one, a run
directory that holds no run, a missing data file) is a :class:`NodestudyError` whose
message says what is wrong and how to fix it, so the command line can print it as one
line and notebooks can show it without a traceback into library internals.
"""


class NodestudyError(ValueError):
    """Bad input to nodestudy; the message names the fix."""


class TrainingDiverged(NodestudyError):
    """The loss became NaN or infinite; the message names the run and iteration."""
