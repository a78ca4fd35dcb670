"""`lrfinder schedule POLICY`: draw a schedule before training, from flags or a range test."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._core._errors import LRFinderError
from .._core._names import SCHEDULE_ALIASES, SCHEDULE_NAMES, canonical_schedule
from .._core._registry import DEFAULT_METHOD, methods
from ..schedules import _basic as _schedules
from ..schedules import _cyclical as _cyclical
from ..schedules._basic import Schedule
from ..schedules._from import POLICIES, schedule_from
from ._input import add_column_arguments, load_input
from ._output import UsageError, check_image_path, image_path, save_figure

CLI_POLICIES = SCHEDULE_NAMES
_CYCLIC_FLAGS = {"base_lr", "max_lr", "step_size"}
# The flags each schedule reads, from flags and with --from; any other is refused, not ignored.
FLAGS: dict[str, set[str]] = {
    "constant": {"lr"},
    "step_decay": {"lr", "step_size", "gamma"},
    "multistep_decay": {"lr", "milestones", "gamma"},
    "exponential_decay": {"lr", "gamma"},
    "cosine_annealing": {"lr", "t_max", "eta_min"},
    "cosine_warm_restarts": {"lr", "t0", "t_mult", "eta_min"},
    "triangular": _CYCLIC_FLAGS,
    "triangular2": _CYCLIC_FLAGS,
    "exp_range": {*_CYCLIC_FLAGS, "gamma"},
    "one_cycle": {"lr", "max_lr", "pct_start", "div_factor", "final_div_factor", "anneal"}
    | {"three_phase"},
}
_COLUMNS = {"lr_col", "loss_col"}
FROM_FLAGS: dict[str, set[str]] = {
    "constant": {"method", *_COLUMNS},
    "cosine_annealing": {"method", "eta_min", *_COLUMNS},
    "triangular": {"step_size", *_COLUMNS},
    "triangular2": {"step_size", *_COLUMNS},
    "exp_range": {"step_size", "gamma", *_COLUMNS},
    "one_cycle": {"method", "pct_start", "div_factor", "final_div_factor", "anneal"}
    | {"three_phase", *_COLUMNS},
}
OPTIONS = set().union(*FLAGS.values(), *FROM_FLAGS.values())
DEFAULTS: dict[str, Any] = {
    "t_mult": 1,
    "eta_min": 0.0,
    "pct_start": 0.3,
    "div_factor": 25.0,
    "final_div_factor": 1e4,
    "anneal": "cos",
    "three_phase": False,
}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse the flags this schedule would not read (``cosine --max-lr``): a flag that is
    silently ignored is a setting the user believes in and does not get."""
    reads = (FROM_FLAGS if args.source is not None else FLAGS).get(args.policy, set())
    given = sorted(d for d in OPTIONS if getattr(args, d) is not None and d not in reads)
    if not given:
        return
    mode = " --from RESULT" if args.source is not None else ""
    read = ", ".join(_flag(d) for d in sorted(reads)) or "no flag of its own"
    received = " ".join(
        _flag(d) if getattr(args, d) is True else f"{_flag(d)} {getattr(args, d)}" for d in given
    )
    why = " (the curve sets the rates)" if mode and {"lr", "base_lr", "max_lr"} & set(given) else ""
    raise UsageError(
        f"`lrfinder schedule {args.policy_name}{mode}` does not read "
        f"{', '.join(_flag(d) for d in given)}{why}; it reads {read}. Received: {received}"
    )


def _need(args: argparse.Namespace, flag: str) -> Any:
    value = getattr(args, flag.lstrip("-").replace("-", "_"))
    if value is None:
        alternative = (
            " (or --from RESULT to read it off a range test)" if args.policy in POLICIES else ""
        )
        raise LRFinderError(f"`lrfinder schedule {args.policy_name}` needs {flag}{alternative}")
    return value


def _milestones(text: str) -> list[int]:
    try:
        return [int(m) for m in text.split(",") if m.strip()]
    except ValueError:
        raise LRFinderError(
            f"--milestones must be integers separated by commas. Received: {text!r}"
        ) from None


def _or_default(args: argparse.Namespace, dest: str) -> Any:
    value = getattr(args, dest)
    return DEFAULTS[dest] if value is None else value


def _one_cycle_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "pct_start": _or_default(args, "pct_start"),
        "anneal_strategy": _or_default(args, "anneal"),
        "three_phase": _or_default(args, "three_phase"),
    }


def _from_flags(args: argparse.Namespace) -> tuple[Schedule, Schedule | None]:
    p, steps = args.policy, args.train_steps
    if p == "one_cycle":
        if args.max_lr is not None and args.lr is not None:
            raise UsageError(
                "`lrfinder schedule one_cycle` takes its peak once: --max-lr or --lr. "
                f"Received: --max-lr {args.max_lr} --lr {args.lr}"
            )
        peak = args.max_lr if args.max_lr is not None else _need(args, "--lr")
        shape = _one_cycle_options(args)
        lr = _cyclical.one_cycle(
            peak,
            total_steps=steps,
            div_factor=_or_default(args, "div_factor"),
            final_div_factor=_or_default(args, "final_div_factor"),
            **shape,
        )
        return lr, _cyclical.one_cycle_momentum(total_steps=steps, **shape)
    if p in _cyclical.CYCLIC_MODES:
        step_size = args.step_size or max(1, steps // 2)
        gamma = 1.0 if args.gamma is None else args.gamma
        bounds = _need(args, "--base-lr"), _need(args, "--max-lr")
        return _cyclical.cyclic(*bounds, step_size=step_size, mode=p, gamma=gamma), None
    rate = _need(args, "--lr")
    gamma = 0.1 if args.gamma is None else args.gamma
    if p == "constant":
        return _schedules.constant(rate), None
    if p == "step_decay":
        return _schedules.step_decay(rate, step_size=_need(args, "--step-size"), gamma=gamma), None
    if p == "multistep_decay":
        marks = _milestones(_need(args, "--milestones"))
        return _schedules.multistep_decay(rate, milestones=marks, gamma=gamma), None
    if p == "exponential_decay":
        return _schedules.exponential_decay(rate, gamma=_need(args, "--gamma")), None
    eta_min = _or_default(args, "eta_min")
    if p == "cosine_annealing":
        t_max = args.t_max or steps
        return _schedules.cosine_annealing(rate, T_max=t_max, eta_min=eta_min), None
    t_0 = _need(args, "--t0")
    return _schedules.cosine_warm_restarts(
        rate, T_0=t_0, T_mult=_or_default(args, "t_mult"), eta_min=eta_min
    ), None


def _from_result(args: argparse.Namespace) -> tuple[Schedule, Schedule | None, str]:
    result = load_input(args, args.source)
    options: dict[str, Any] = {}
    if args.policy == "one_cycle":
        options = {
            **_one_cycle_options(args),
            "div_factor": _or_default(args, "div_factor"),
            "final_div_factor": _or_default(args, "final_div_factor"),
        }
    elif args.policy in _cyclical.CYCLIC_MODES:
        options = {"gamma": 1.0 if args.gamma is None else args.gamma}
        if args.step_size is not None:
            options["step_size"] = args.step_size
    elif args.policy == "cosine_annealing":
        options = {"eta_min": _or_default(args, "eta_min")}
    choice = schedule_from(
        result, args.policy, total_steps=args.train_steps, method=args.method, **options
    )
    return choice.schedule, choice.momentum, str(choice)


def _title(summary: str) -> str:
    """The summary's first line, with the bounds when there are some: ``..., max_lr=0.03``."""
    first, *bounds = summary.splitlines()
    values = [line.split(":")[0].strip().replace(" = ", "=") for line in bounds]
    return f"{first}: {', '.join(values)}" if values else first


def _cmd_schedule(args: argparse.Namespace) -> int:
    # Messages keep the user's spelling; the code reads the one name.
    args.policy_name, args.policy = args.policy, canonical_schedule(args.policy)
    if args.steps < 1:
        raise LRFinderError(
            "--steps must be at least 1: the training steps to plot. "
            f"Received: --steps {args.steps}"
        )
    if args.source is not None and args.policy not in POLICIES:
        raise LRFinderError(
            f"--from builds only {', '.join(POLICIES)}. Received: policy={args.policy_name!r}"
        )
    _check_flags(args)
    check_image_path(args.output, "schedule.png", "-o")
    if not 0 <= args.warmup < args.steps:
        raise LRFinderError(
            "--warmup must be 0 or more and below --steps. "
            f"Received: --warmup {args.warmup}, --steps {args.steps}"
        )
    # The policy covers the steps after the warm-up, so it still ends where training ends.
    args.train_steps = args.steps - args.warmup
    if args.source is not None:
        schedule, momentum, summary = _from_result(args)
    else:
        schedule, momentum = _from_flags(args)
        summary = f"{args.policy} over {args.train_steps} steps"
    if args.warmup:
        schedule = _schedules.linear_warmup(schedule, steps=args.warmup)
        if momentum is not None:
            hold = _schedules.constant(momentum(0))
            momentum = _schedules.join([hold, momentum], boundaries=[args.warmup])
        first, *rest = summary.splitlines()
        summary = "\n".join([f"{first}, after {args.warmup} warm-up steps", *rest])
    from .._plotting._schedule import plot_schedule

    fig, _ = plot_schedule(
        schedule, args.steps, momentum=momentum, log=args.log, title=_title(summary)
    )
    path = image_path(args.output, "schedule.png")
    save_figure(fig, path)
    print(summary)
    print(f"Wrote {path}")
    return 0


def add_schedule_parser(sub: Any) -> None:
    """Add the ``schedule`` subcommand to the ``lrfinder`` parser's subparsers."""
    p = sub.add_parser(
        "schedule",
        help="plot a learning-rate schedule, from flags or from a saved range test",
        description="Plot a schedule before training with it. Give its rates as flags, or "
        "--from a saved range test to read the bounds off the curve (Smith 2015/2017; "
        "one-cycle: Smith & Topin 2018).",
    )
    p.add_argument(
        "policy",
        metavar="SCHEDULE",
        choices=(*CLI_POLICIES, *SCHEDULE_ALIASES),
        help=f"the schedule, named as its factory in lrfinder.schedules: {', '.join(CLI_POLICIES)} "
        f"(the older {', '.join(SCHEDULE_ALIASES)} are accepted)",
    )
    p.add_argument("--steps", type=int, required=True, help="training steps to plot")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("schedule.png"),
        help="image to write (default schedule.png); a directory gets DIR/schedule.png",
    )
    p.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="a saved range test (JSON, or CSV with lr,loss) to take the bounds from",
    )
    p.add_argument(
        "--method",
        choices=methods(),
        help=f"suggestion for the peak with --from (default {DEFAULT_METHOD})",
    )
    p.add_argument("--lr", type=float, help="the rate (constant, decays, cosine)")
    p.add_argument("--base-lr", type=float, help="lower bound of a cyclical schedule")
    p.add_argument("--max-lr", type=float, help="upper bound (cyclical) or peak (one_cycle)")
    p.add_argument("--gamma", type=float, help="decay factor (default 0.1; cyclical: 1.0)")
    p.add_argument("--step-size", type=int, help="steps per decay, or per half cycle")
    p.add_argument("--milestones", help="multistep: steps to decay at, e.g. 3000,6000")
    p.add_argument("--t-max", type=int, help="cosine: steps to anneal over (default --steps)")
    p.add_argument("--t0", type=int, help="warm_restarts: steps of the first cycle")
    p.add_argument("--t-mult", type=int, help="cosine_warm_restarts: cycle growth (default 1)")
    p.add_argument("--eta-min", type=float, help="cosine_*: the lowest rate (default 0)")
    p.add_argument("--pct-start", type=float, help="one_cycle: share rising (default 0.3)")
    p.add_argument("--div-factor", type=float, help="one_cycle: max_lr / start (default 25)")
    p.add_argument("--final-div-factor", type=float, help="one_cycle: start / end (default 1e4)")
    p.add_argument(
        "--anneal", choices=_cyclical.ANNEAL_STRATEGIES, help="one_cycle: cos (default) or linear"
    )
    p.add_argument(
        "--three-phase", action="store_true", default=None, help="one_cycle: three phases"
    )
    add_column_arguments(p)
    p.add_argument("--warmup", type=int, default=0, help="linear warm-up steps in front")
    p.add_argument("--log", action="store_true", help="log-scale rate axis")
    p.set_defaults(run=_cmd_schedule)
