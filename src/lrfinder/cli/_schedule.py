"""`lrfinder schedule POLICY`: draw a schedule before training, from flags or a range test."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._core._errors import LRFinderError
from .._core._registry import DEFAULT_METHOD, methods
from .._core._result import RangeTestResult
from ..schedules import _basic as _schedules
from ..schedules import _cyclical as _cyclical
from ..schedules._basic import Schedule
from ..schedules._from import POLICIES, schedule_from
from ._output import image_path, save_figure

CLI_POLICIES = (
    "constant",
    "step",
    "multistep",
    "exponential",
    "cosine",
    "warm_restarts",
    *_cyclical.CYCLIC_MODES,
    "one_cycle",
)


def _need(args: argparse.Namespace, flag: str) -> Any:
    value = getattr(args, flag.lstrip("-").replace("-", "_"))
    if value is None:
        alternative = (
            " (or --from RESULT to read it off a range test)" if args.policy in POLICIES else ""
        )
        raise LRFinderError(f"`lrfinder schedule {args.policy}` needs {flag}{alternative}")
    return value


def _milestones(text: str) -> list[int]:
    try:
        return [int(m) for m in text.split(",") if m.strip()]
    except ValueError:
        raise LRFinderError(
            f"--milestones must be integers separated by commas. Received: {text!r}"
        ) from None


def _one_cycle_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "pct_start": args.pct_start,
        "anneal_strategy": args.anneal,
        "three_phase": args.three_phase,
    }


def _from_flags(args: argparse.Namespace) -> tuple[Schedule, Schedule | None]:
    p, steps = args.policy, args.train_steps
    if p == "one_cycle":
        peak = args.max_lr if args.max_lr is not None else _need(args, "--lr")
        shape = _one_cycle_options(args)
        lr = _cyclical.one_cycle(
            peak,
            total_steps=steps,
            div_factor=args.div_factor,
            final_div_factor=args.final_div_factor,
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
    if p == "step":
        return _schedules.step_decay(rate, step_size=_need(args, "--step-size"), gamma=gamma), None
    if p == "multistep":
        marks = _milestones(_need(args, "--milestones"))
        return _schedules.multistep_decay(rate, milestones=marks, gamma=gamma), None
    if p == "exponential":
        return _schedules.exponential_decay(rate, gamma=_need(args, "--gamma")), None
    if p == "cosine":
        t_max = args.t_max or steps
        return _schedules.cosine_annealing(rate, T_max=t_max, eta_min=args.eta_min), None
    t_0 = _need(args, "--t0")
    return _schedules.cosine_warm_restarts(
        rate, T_0=t_0, T_mult=args.t_mult, eta_min=args.eta_min
    ), None


def _from_result(args: argparse.Namespace) -> tuple[Schedule, Schedule | None, str]:
    if args.policy not in POLICIES:
        raise LRFinderError(
            f"--from builds only {', '.join(POLICIES)}. Received: policy={args.policy!r}"
        )
    result = RangeTestResult.load(args.source)
    options: dict[str, Any] = {}
    if args.policy == "one_cycle":
        options = {
            **_one_cycle_options(args),
            "div_factor": args.div_factor,
            "final_div_factor": args.final_div_factor,
        }
    elif args.policy in _cyclical.CYCLIC_MODES:
        options = {"gamma": 1.0 if args.gamma is None else args.gamma}
        if args.step_size is not None:
            options["step_size"] = args.step_size
    elif args.policy == "cosine":
        options = {"eta_min": args.eta_min}
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
    p.add_argument("policy", choices=CLI_POLICIES, help="the schedule")
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
    p.add_argument("--t-mult", type=int, default=1, help="warm_restarts: cycle growth factor")
    p.add_argument("--eta-min", type=float, default=0.0, help="cosine: the lowest rate")
    p.add_argument("--pct-start", type=float, default=0.3, help="one_cycle: share rising")
    p.add_argument("--div-factor", type=float, default=25.0, help="one_cycle: max_lr / start")
    p.add_argument("--final-div-factor", type=float, default=1e4, help="one_cycle: start / end")
    p.add_argument("--anneal", choices=_cyclical.ANNEAL_STRATEGIES, default="cos")
    p.add_argument("--three-phase", action="store_true", help="one_cycle: three phases")
    p.add_argument("--warmup", type=int, default=0, help="linear warm-up steps in front")
    p.add_argument("--log", action="store_true", help="log-scale rate axis")
    p.set_defaults(run=_cmd_schedule)
