"""The command line's grammar: one sub-parser per command, its defaults taken from the
config classes (one default, one place)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import NoReturn

from ...core.adaptation.rules import NAMED_RULES
from ...core.solvers import METHODS
from ..config import ModelConfig, StepAdaptation, TrainConfig

DESCRIPTION = "nodestudy: train, score and check Neural ODEs; train the study's runs"


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"nodestudy: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nodestudy", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_adaptation_options(_add_train(commands))
    _add_evaluate(commands)
    _add_check(commands)
    _add_train_study(commands)
    _add_verify(commands)
    return parser


def _directory(text: str) -> str:
    """A directory path; an empty one would silently mean the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name a directory")
    return text


def _defaults(config_class: type) -> dict:
    """The defaults of a config class's fields: the CLI's defaults, kept in one place."""
    return {f.name: f.default for f in dataclasses.fields(config_class)}


def _add_train(commands) -> argparse.ArgumentParser:
    run, model = _defaults(TrainConfig), _defaults(ModelConfig)
    train = commands.add_parser("train", help="train a model (or load it from the cache)")
    train.add_argument(
        "--data", default="sphere2", help="data set: sphere2 (default), sphereD, three_minima"
    )
    train.add_argument("--solver", default="euler", help=f"one of {', '.join(METHODS)}")
    train.add_argument("--steps", type=int, help="K, the number of fixed steps (h = 1/K)")
    train.add_argument("--tol", type=float, help="rtol = atol of an adaptive solver")
    train.add_argument("--iters", type=int, default=run["iterations"], help="training iterations")
    train.add_argument("--batch-size", type=int, default=run["batch_size"])
    train.add_argument("--lr", type=float, default=run["learning_rate"], help="Adam learning rate")
    train.add_argument("--seed", type=int, default=run["seed"])
    train.add_argument(
        "--hidden", type=int, default=model["hidden_channels"], help="hidden channels of the field"
    )
    train.add_argument(
        "--gradient",
        default="backprop",
        choices=("backprop", "adjoint"),
        help="backpropagation through the solver (default) or the adjoint method",
    )
    train.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    train.add_argument(
        "--cache", type=_directory, help="cache directory (default: $NODESTUDY_CACHE)"
    )
    train.add_argument("--json", action="store_true", help="print one JSON object")
    return train


def _add_adaptation_options(train: argparse.ArgumentParser) -> None:
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


def _add_evaluate(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="score a trained run under a solver")
    evaluate.add_argument("run", help="a run directory, as printed by `nodestudy train`")
    evaluate.add_argument("--solver", help="test solver (default: the training solver)")
    evaluate.add_argument("--steps", type=int, help="K for a fixed-step test solver")
    evaluate.add_argument("--tol", type=float, help="tolerance for an adaptive test solver")
    evaluate.add_argument("--split", default="test", choices=("test", "train"))
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")


def _add_check(commands) -> None:
    check = commands.add_parser(
        "check",
        help="is a stored run's model, or your own, an ODE? (validity check, see check_ode)",
    )
    check.add_argument("run", nargs="?", help="a run directory, as printed by `nodestudy train`")
    check.add_argument(
        "--model",
        help="your model instead of a run: 'package.module:function', the function "
        "returning check_ode's keyword arguments (func, x, y, head, method, options, ...)",
    )
    check.add_argument("--split", default="test", choices=("test", "train"))
    check.add_argument(
        "--drop-limit", type=float, default=0.03, help="accuracy drop that matters in practice"
    )
    check.add_argument(
        "--confidence", type=float, default=0.95, help="level of the paired interval"
    )
    check.add_argument(
        "--device", help="default: cpu for a run, the model's parameters' device for --model"
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")


def _add_train_study(commands) -> None:
    plan = commands.add_parser(
        "train-study",
        help="train every run the study's notebooks need, in one planned pass",
    )
    plan.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    plan.add_argument(
        "--notebooks", nargs="*", help="only the runs of these notebooks (default: all)"
    )
    plan.add_argument("--jobs", type=int, default=1, help="parallel training processes")
    plan.add_argument(
        "--budget",
        type=float,
        help="seconds: start no training group after this long, so that the stored runs "
        "can be committed; a later call goes on where this one stopped (default: no limit)",
    )
    plan.add_argument("--device", default="cpu")
    plan.add_argument("--json", action="store_true", help="print one JSON object")


def _add_verify(commands) -> None:
    verify = commands.add_parser(
        "verify",
        help="train a sample of the run store's runs again here and compare them bit for bit",
    )
    verify.add_argument(
        "--store", type=_directory, help="the run store (default: $NODESTUDY_CACHE)"
    )
    verify.add_argument("--sample", type=int, default=5, help="how many runs (default 5)")
    verify.add_argument("--seed", type=int, help="draws the sample (default: a random one)")
    verify.add_argument(
        "--max-train-seconds",
        type=float,
        default=600.0,
        help="draw only runs whose training took at most this long (default 600)",
    )
    verify.add_argument("--record", help="append the result, with this CPU, to this JSON record")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
