"""``python -m nodestudy.study.cli.run_notebook``: papermill's command line (the same options:
-p, -y, -k, --cwd, ...) for ``make figures``, made quiet and followable:

- one line when a notebook starts and one with its wall time when it ends, instead of
  papermill's cell counter;
- a failing notebook says where and why in one line instead of papermill's traceback;
- parameters are checked before a kernel starts: a name the notebook's ``parameters``
  cell does not define (papermill would add it and run on with the default), YAML
  that does not parse, or a notebook that does not exist is one line, status 2;
- the kernel's own log (a warning that its local TCP traffic is unencrypted, shutdown
  notices) stays out of the terminal.

It plugs in through papermill's engine registry (``--engine nodestudy``), papermill's
own way of changing how a notebook is executed.
"""

from __future__ import annotations

import base64
import itertools
import sys
import time
from pathlib import Path

import click
import yaml
from papermill import inspect_notebook
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


#: papermill's parameter options: those followed by a name and a value, and those
#: followed by YAML (inline, base64-encoded, or a file).
NAMED_OPTIONS = {"-p", "--parameters", "-r", "--parameters_raw"}
YAML_OPTIONS = {"-y": "inline", "--parameters_yaml": "inline", "-b": "base64"}
YAML_OPTIONS |= {"--parameters_base64": "base64", "-f": "file", "--parameters_file": "file"}


class BadParameters(Exception):
    """Parameters refused before the notebook runs (one line)."""


def given_parameters(argv: list[str]) -> list[str]:
    """The parameter names a papermill command line sets, in order."""
    names = []
    for option, value in itertools.pairwise(argv):
        if option in NAMED_OPTIONS:
            names.append(value)
        elif option in YAML_OPTIONS:
            try:
                kind = YAML_OPTIONS[option]
                text = value
                if kind == "base64":
                    text = base64.b64decode(value).decode()
                elif kind == "file":
                    text = Path(value).read_text()
                values = yaml.safe_load(text)
            except (yaml.YAMLError, OSError, ValueError) as error:
                first = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise BadParameters(f"{option} {value!r} does not parse ({first})") from None
            if not isinstance(values, dict):
                raise BadParameters(f"{option} {value!r} is not a mapping of names to values")
            names.extend(str(key) for key in values)
    return names


def check_parameters(notebook: str, argv: list[str]) -> None:
    """Refuse parameters the notebook does not define, and a notebook that is not there."""
    if not Path(notebook).is_file():
        raise BadParameters(f"{notebook} does not exist")
    known = set(inspect_notebook(notebook))
    unknown = [name for name in given_parameters(argv) if name not in known]
    if unknown:
        raise BadParameters(
            f"{notebook} has no parameter {', '.join(map(repr, unknown))}; its parameters "
            f"are {', '.join(sorted(known))}"
        )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    notebooks = [a for a in argv if a.endswith(".ipynb")]
    name = Path(notebooks[-1]).stem if notebooks else "notebook"
    try:
        if notebooks:
            check_parameters(notebooks[0], argv)
    except BadParameters as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    print(f"[{time.strftime('%H:%M:%S')}] {name}: running", file=sys.stderr, flush=True)
    quiet = ["--engine", "nodestudy", "--no-progress-bar", "--log-level", "ERROR"]
    try:
        papermill.main(args=[*quiet, *argv], standalone_mode=False)
    except click.ClickException as error:  # papermill's own usage errors
        print(f"{name}: error: {error.format_message()}", file=sys.stderr)
        return 2
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
