"""Command line: ``nodestudy train``, ``nodestudy evaluate`` and ``nodestudy check``.

Bad input exits with status 2 and one line saying what is wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .adapt import start_from_heuristic
from .cache import RunCache
from .checks import check_run
from .config import (
    DEFAULT_TEST_METHOD,
    Adaptation,
    DataConfig,
    ModelConfig,
    StepAdaptation,
    ToleranceAdaptation,
    TrainConfig,
)
from .core.adaptation_rules import NAMED_RULES
from .core.errors import NodestudyError, TrainingDiverged
from .core.solvers import FIXED_STEP_METHODS, METHODS, SolverSpec
from .data import load_dataset
from .devices import checked_device
from .evaluate import accuracy
from .runs import open_run
from .sweep import train_runs


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"nodestudy: error: {message} (see `{self.prog} --help`)\n")


def _solver_spec(method: str, steps: int | None, tol: float | None) -> SolverSpec:
    if method in METHODS and steps is None and tol is None:
        raise NodestudyError(
            f"solver {method!r} needs --steps K (fixed-step) or --tol TOL (adaptive)"
        )
    return SolverSpec(method, steps, tol)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nodestudy", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model (or load it from the cache)")
    train.add_argument(
        "--data", default="sphere2", help="data set: sphere2 (default), sphereD, three_minima"
    )
    train.add_argument("--solver", default="euler", help=f"one of {', '.join(METHODS)}")
    train.add_argument("--steps", type=int, help="K, the number of fixed steps (h = 1/K)")
    train.add_argument("--tol", type=float, help="rtol = atol of an adaptive solver")
    train.add_argument("--iters", type=int, default=10_000, help="training iterations")
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--hidden", type=int, default=32, help="hidden channels of the field")
    train.add_argument(
        "--gradient",
        default="backprop",
        choices=("backprop", "adjoint"),
        help="backpropagation through the solver (default) or the adjoint method",
    )
    train.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    train.add_argument("--cache", help="cache directory (default: $NODESTUDY_CACHE)")
    train.add_argument("--json", action="store_true", help="print one JSON object")
    adapt = train.add_argument_group(
        "adaptation",
        "--adapt adapts the step size (fixed-step solvers; without --steps the start comes "
        "from the starting-step heuristic) or the tolerance (adaptive solvers; --tol is the "
        "start, default 1e-6) during training. --rule picks the paper's rule (default) or a "
        "variant (probe, paired, flips; see the README); the other options override it.",
    )
    adapt.add_argument("--adapt", action="store_true", help="adapt the training solver")
    adapt.add_argument("--rule", default="paper", choices=tuple(NAMED_RULES), help="named rule")
    adapt.add_argument(
        "--test-solver",
        help="solver of smaller error (default: euler->midpoint, "
        "midpoint->rk4, fehlberg2->dopri5, dopri5->dopri5)",
    )
    defaults = {f.name: f.default for f in dataclasses.fields(StepAdaptation)}
    for flag, kind, meaning in (
        ("check-every", int, "iterations between checks"),
        (
            "threshold",
            float,
            "disagreement that shrinks the step (a limit for --decision interval)",
        ),
        ("shrink", float, "factor on disagreement"),
        ("grow", float, "factor tried on agreement"),
        ("error-ratio", float, "test error this many times smaller (fixed-step)"),
        ("max-steps", int, "never more steps than this (fixed-step)"),
        ("probe-size", int, "check on this many held-out training points, not the batch"),
        ("decision", str, "threshold (the paper) or interval (paired 95%% interval)"),
        ("measure", str, "accuracy (the paper) or predictions (share that changes)"),
    ):
        default = defaults[flag.replace("-", "_")]
        adapt.add_argument(f"--{flag}", type=kind, help=f"{meaning} (default: {default})")
    evaluate = commands.add_parser("evaluate", help="score a trained run under a solver")
    evaluate.add_argument("run", help="a run directory, as printed by `nodestudy train`")
    evaluate.add_argument("--solver", help="test solver (default: the training solver)")
    evaluate.add_argument("--steps", type=int, help="K for a fixed-step test solver")
    evaluate.add_argument("--tol", type=float, help="tolerance for an adaptive test solver")
    evaluate.add_argument("--split", default="test", choices=("test", "train"))
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    check = commands.add_parser(
        "check", help="is a stored run's model an ODE? (validity check, see check_ode)"
    )
    check.add_argument("run", help="a run directory, as printed by `nodestudy train`")
    check.add_argument("--split", default="test", choices=("test", "train"))
    check.add_argument(
        "--drop-limit", type=float, default=0.03, help="accuracy drop that matters in practice"
    )
    check.add_argument(
        "--confidence", type=float, default=0.95, help="level of the paired interval"
    )
    check.add_argument("--device", default="cpu")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _check(args: argparse.Namespace) -> dict:
    checked_device(args.device)
    result = check_run(
        open_run(args.run),
        split=args.split,
        device=args.device,
        drop_limit=args.drop_limit,
        confidence=args.confidence,
    )
    return {"run": str(Path(args.run)), **result.to_dict()}


def _train(args: argparse.Namespace) -> dict:
    data = DataConfig.from_name(args.data)
    adaptation, solver = _adaptation(args)
    config = TrainConfig(
        data=data,
        solver=solver,
        model=ModelConfig(hidden_channels=args.hidden),
        iterations=args.iters,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        adaptation=adaptation,
        gradient=args.gradient,
    )
    if isinstance(adaptation, StepAdaptation) and args.steps is None:
        config = start_from_heuristic(config)
        solver = config.solver
    cache = RunCache(args.cache)
    cached = cache.get(config) is not None
    (run,) = train_runs([config], cache=cache, device=args.device, progress=not args.json)
    if run.diverged:
        raise TrainingDiverged(
            f"training diverged at iteration {run.metrics['diverged_at_iteration']} "
            f"({run.metrics.get('diverged_reason') or 'non-finite loss'}); the run is stored "
            f"at {run.directory}; try a smaller --lr, more --steps or a tighter --tol"
        )
    return {
        "run": str(run.directory),
        "cached": cached,
        "data": data.short_name,
        "solver": solver.method,
        "steps": solver.steps,
        "tol": solver.tol,
        "iterations": config.iterations,
        "seed": config.seed,
        "adapted": adaptation is not None,
        "gradient": config.gradient,
        "final_steps": run.final_solver.steps,
        "final_tol": run.final_solver.tol,
        **{
            key: run.metrics.get(key)
            for key in (
                "train_accuracy",
                "test_accuracy",
                "nfe_forward",
                "nfe_forward_training",
                "nfe_check",
                "nfe_backward",
                "train_seconds",
            )
        },
    }


def _adaptation(args: argparse.Namespace) -> tuple[Adaptation | None, SolverSpec]:
    """The adaptation rule (or None) and the starting solver the arguments describe:
    the named rule, with the options given on the command line replacing its fields."""
    if not args.adapt:
        return None, _solver_spec(args.solver, args.steps, args.tol)
    given = {
        name: getattr(args, name)
        for name in (
            "check_every",
            "threshold",
            "shrink",
            "grow",
            "probe_size",
            "decision",
            "measure",
        )
        if getattr(args, name) is not None
    }
    if args.solver in FIXED_STEP_METHODS:
        if args.tol is not None:
            raise NodestudyError(f"solver {args.solver!r} is fixed-step: drop --tol")
        given.update(
            {
                name: getattr(args, name)
                for name in ("error_ratio", "max_steps")
                if getattr(args, name) is not None
            }
        )
        test_method = args.test_solver or DEFAULT_TEST_METHOD.get(args.solver, "rk4")
        rule = StepAdaptation.named(args.rule, test_method=test_method, **given)
        return rule, SolverSpec(args.solver, args.steps if args.steps is not None else 1)
    test_method = args.test_solver or DEFAULT_TEST_METHOD.get(args.solver, "dopri5")
    rule = ToleranceAdaptation(test_method=test_method, **{**NAMED_RULES[args.rule], **given})
    return rule, SolverSpec(args.solver, args.steps, args.tol if args.tol is not None else 1e-6)


def _evaluate(args: argparse.Namespace) -> dict:
    run = open_run(args.run)
    if run.diverged:
        raise TrainingDiverged(
            f"run {run.directory} diverged during training (iteration "
            f"{run.metrics.get('diverged_at_iteration')}: "
            f"{run.metrics.get('diverged_reason') or 'non-finite loss'}); there is no model "
            "to evaluate"
        )
    checked_device(args.device)
    if args.solver is None and args.steps is None and args.tol is None:
        solver = run.final_solver
    else:
        solver = _solver_spec(args.solver or run.config.solver.method, args.steps, args.tol)
    x, y = load_dataset(run.config.data).split(args.split)
    model = run.model(device=args.device)
    score = float(accuracy(model, x, y, solver)[0])
    return {
        "run": str(run.directory),
        "solver": solver.method,
        "steps": solver.steps,
        "tol": solver.tol,
        "split": args.split,
        f"{args.split}_accuracy": score,
        "train_solver": run.config.solver.method,
        "train_steps": run.config.solver.steps,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    commands = {"train": _train, "evaluate": _evaluate, "check": _check}
    try:
        result = commands[args.command](args)
    except NodestudyError as error:
        print(f"nodestudy: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nodestudy: interrupted; finished runs are kept in the cache", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, allow_nan=False))
    elif args.command == "check":
        print(f"{result['run']}: {result['verdict']}")
        for reason in result["reasons"]:
            print(f"  - {reason}")
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")
    return 0
