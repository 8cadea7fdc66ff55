"""``%load_ext nodestudy``: errors from bad input show as one line in notebooks.

A :class:`~nodestudy.NodestudyError` says what is wrong and how to fix it; a traceback
into the package's internals around it only hides that line. The extension makes
IPython print the error's message alone (other exceptions keep their tracebacks).
"""

from __future__ import annotations

from ...core.errors import NodestudyError


def _one_line(shell, kind, error, traceback, tb_offset=None):
    shell.showtraceback((kind, error, traceback), exception_only=True)


def load_ipython_extension(ipython) -> None:
    ipython.set_custom_exc((NodestudyError,), _one_line)
