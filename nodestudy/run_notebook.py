"""``python -m nodestudy.run_notebook``: papermill's command line (the same options:
-p, -y, -k, --cwd, ...), but a notebook that fails says where and why in one line
instead of papermill's own traceback. ``make figures`` runs notebooks through it."""

from __future__ import annotations

import sys

from papermill.cli import papermill
from papermill.exceptions import PapermillExecutionError


def main(argv: list[str] | None = None) -> int:
    try:
        papermill.main(args=argv, standalone_mode=False)
    except PapermillExecutionError as error:
        notebook = next((a for a in (argv or sys.argv[1:]) if a.endswith(".ipynb")), "notebook")
        print(
            f"{notebook}: cell {error.exec_count} failed: {error.ename}: {error.evalue}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
