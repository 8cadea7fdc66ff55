"""``python -m nodestudy.study.cli.run_notebook``: papermill's command line (the same options:
-p, -y, -k, --cwd, ...) for ``make figures``, made quiet and followable:

- one line when a notebook starts and one with its wall time when it ends, instead of
  papermill's cell counter;
- a failing notebook says where and why in one line instead of papermill's traceback;
- the kernel's own log (a warning that its local TCP traffic is unencrypted, shutdown
  notices) stays out of the terminal.

It plugs in through papermill's engine registry (``--engine nodestudy``), papermill's
own way of changing how a notebook is executed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from papermill.cli import papermill
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError

#: The kernel's own log (start-up notices such as "running over TCP without
#: encryption" for a kernel that only listens on this machine, and shutdown chatter)
#: is not the notebook's output; errors in cells still reach the notebook and the
#: one-line failure message.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


class QuietEngine(NBClientEngine):
    """papermill's nbclient engine, with the kernel's own log silenced."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        kwargs.setdefault("extra_arguments", KERNEL_ARGUMENTS)
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register("nodestudy", QuietEngine)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    notebooks = [a for a in argv if a.endswith(".ipynb")]
    name = Path(notebooks[-1]).stem if notebooks else "notebook"
    started = time.perf_counter()
    print(f"[{time.strftime('%H:%M:%S')}] {name}: running", file=sys.stderr, flush=True)
    quiet = ["--engine", "nodestudy", "--no-progress-bar", "--log-level", "ERROR"]
    try:
        papermill.main(args=[*quiet, *argv], standalone_mode=False)
    except PapermillExecutionError as error:
        print(
            f"{notebooks[0] if notebooks else name}: cell {error.exec_count} failed: "
            f"{error.ename}: {error.evalue}",
            file=sys.stderr,
        )
        return 1
    minutes, seconds = divmod(round(time.perf_counter() - started), 60)
    print(
        f"[{time.strftime('%H:%M:%S')}] {name}: done in {minutes} min {seconds} s",
        file=sys.stderr,
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
