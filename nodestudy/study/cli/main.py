"""Command line: ``nodestudy train``, ``evaluate``, ``check`` and ``train-study``.

Bad input exits with status 2 and one line saying what is wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ...core.adaptation.rules import NAMED_RULES
from ...core.check.procedure import check_ode
from ...core.errors import NodestudyError, TrainingDiverged
from ...core.solvers import FIXED_STEP_METHODS, METHODS, SolverSpec
from ..analysis.evaluate import accuracy
from ..analysis.verdicts import check_run
from ..config import (
    DEFAULT_TEST_METHOD,
    Adaptation,
    DataConfig,
    ModelConfig,
    StepAdaptation,
    ToleranceAdaptation,
    TrainConfig,
)
from ..data.datasets import load_dataset
from ..experiments.plan import study_configs
from ..experiments.textbook import load_user_model
from ..runtime.devices import available_device
from ..session import Session
from ..store.cache import default_cache_root, open_verified
from ..training.run_adapter import start_from_heuristic
from ..training.sweep import train_runs, train_within
from ..training.verify import append_record, verify_store
from .parser import build_parser


def _solver_spec(method: str, steps: int | None, tol: float | None) -> SolverSpec:
    if method in METHODS and steps is None and tol is None:
        raise NodestudyError(
            f"solver {method!r} needs --steps K (fixed-step) or --tol TOL (adaptive)"
        )
    return SolverSpec(method, steps, tol)


def _train_study(args: argparse.Namespace) -> dict:
    if args.jobs == 0 or args.jobs < -1:
        raise NodestudyError(f"--jobs must be at least 1, or -1 for one per core (got {args.jobs})")
    if args.budget is not None and not args.budget > 0:
        raise NodestudyError(f"--budget must be a number of seconds above 0 (got {args.budget})")
    configs = study_configs(args.profile, args.notebooks)
    session = Session(device=args.device, n_jobs=args.jobs)
    missing = [config for config in configs if session.cache.get(config) is None]
    budget = "" if args.budget is None else f", within {args.budget:g} s"
    print(
        f"train-study ({args.profile}): {len(configs)} runs, {len(configs) - len(missing)} "
        f"stored in {session.cache.root}, {len(missing)} to train with {args.jobs} "
        f"process(es){budget}",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    trained = train_within(missing, session, args.budget)
    left = len(missing) - trained
    if left:
        print(
            f"train-study: the budget is spent; {trained} runs trained and stored, {left} left "
            "(run it again to go on)",
            file=sys.stderr,
            flush=True,
        )
    return {
        "profile": args.profile,
        "runs": len(configs),
        "trained": trained,
        "left": left,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _verify(args: argparse.Namespace) -> dict:
    entry = verify_store(
        args.store or default_cache_root(),
        args.sample,
        seed=args.seed,
        max_train_seconds=args.max_train_seconds,
        progress=not args.json,
    )
    if args.record:
        append_record(args.record, entry)
    differing = [s["run"] for s in entry["sampled"] if not s["identical"]]
    if differing:
        print(
            f"nodestudy: {len(differing)} of {entry['runs']} runs are not the stored bits on "
            f"this CPU: {', '.join(differing)}",
            file=sys.stderr,
        )
    elif not args.json:
        print(
            f"{entry['identical']} of {entry['runs']} sampled runs identical to the stored bits "
            f"on {entry['cpu']['model']} ({entry['cpu']['vendor']}, "
            f"{entry['cpu']['instruction_set']})"
            + (f"; recorded in {args.record}" if args.record else ""),
            file=sys.stderr,
        )
    return {**entry, "exit_status": 1 if differing else 0}


def _check(args: argparse.Namespace) -> dict:
    if args.device is not None:
        available_device(args.device)
    if (args.run is None) == (args.model is None):
        raise NodestudyError(
            "check takes a run directory or --model package.module:function (one of them)"
        )
    if args.model is not None:
        arguments = {
            "drop_limit": args.drop_limit,
            "confidence": args.confidence,
            **({} if args.device is None else {"device": args.device}),
            **load_user_model(args.model),
        }
        return {"run": args.model, **check_ode(**arguments).to_dict()}
    result = check_run(
        open_verified(args.run),
        split=args.split,
        device=args.device or "cpu",
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
    session = Session(device=args.device, cache=args.cache)
    cached = session.cache.get(config) is not None
    (run,) = train_runs([config], session, progress=not args.json)
    if run.diverged:
        reason = run.metrics.get("diverged_reason") or "non-finite loss"
        raise TrainingDiverged(
            f"training diverged at iteration {run.metrics['diverged_at_iteration']} "
            f"({reason}); the run is stored at {run.directory}; {_divergence_fix(reason)}"
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


def _divergence_fix(reason: str) -> str:
    """What to change after a divergence: a tolerance the solver cannot reach wants a
    larger one; a loss that blew up wants a gentler step."""
    if "underflow" in reason:
        return "the solver cannot reach this tolerance: use a larger --tol"
    return "try a smaller --lr, more --steps or a tighter --tol"


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
    run = open_verified(args.run)
    if run.diverged:
        raise TrainingDiverged(
            f"run {run.directory} diverged during training (iteration "
            f"{run.metrics.get('diverged_at_iteration')}: "
            f"{run.metrics.get('diverged_reason') or 'non-finite loss'}); there is no model "
            "to evaluate"
        )
    available_device(args.device)
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
    args = build_parser().parse_args(argv)
    commands = {
        "train": _train,
        "evaluate": _evaluate,
        "check": _check,
        "train-study": _train_study,
        "verify": _verify,
    }
    try:
        result = commands[args.command](args)
    except NodestudyError as error:
        print(f"nodestudy: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nodestudy: interrupted; finished runs are kept in the cache", file=sys.stderr)
        return 130
    status = result.pop("exit_status", 0)
    if args.json:
        print(json.dumps(result, allow_nan=False))
    elif args.command == "verify":
        pass  # its one line is printed
    elif args.command == "check":
        print(f"{result['run']}: {result['verdict']}")
        for reason in result["reasons"]:
            print(f"  - {reason}")
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")
    return status
