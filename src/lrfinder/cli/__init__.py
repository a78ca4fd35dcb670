"""The ``lrfinder`` command: run the demo, and suggest or plot from any saved curve."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .._core._errors import LRFinderError, NoSuggestionError
from .._core._registry import DEFAULT_METHOD, SCHEDULES, Suggestion, methods
from .._core._result import RangeTestResult
from .._core._suggestion import quiet_suggest, quiet_suggest_all
from ._output import image_path, save_figure
from ._schedule import add_schedule_parser

__all__ = ["build_parser", "main"]

RESULT_HELP = "our JSON result, or any CSV with `lr` and `loss` columns"
# Exit codes: every error is one line on stderr, never a traceback.
EXIT_OK = 0
EXIT_ERROR = 1  # bad input: a malformed or unreadable file, a bad option value, a missing extra
EXIT_USAGE = 2  # argparse: unknown command or flag
EXIT_NO_SUGGESTION = 3  # the curve holds no usable rate (the message says why)
EXIT_BUG = 4  # an unexpected exception inside lrfinder: a bug, please report it
EXIT_INTERRUPTED = 130
EXIT_CODES_HELP = """exit codes:
  0    success
  1    error: a malformed or unreadable file, a bad option value, a missing extra
  2    usage: an unknown command or flag
  3    no suggestion: the curve holds no usable rate (the message says why)
  4    internal error: an unexpected exception inside lrfinder (a bug; please report it)
  130  interrupted (Ctrl-C)"""


def _table(result: RangeTestResult) -> str:
    rows = [("method", "lr", "range", "why")]
    for name, s in quiet_suggest_all(result).items():
        label = f"{name} (default)" if name == DEFAULT_METHOD else name
        if isinstance(s, Suggestion):
            rows.append((label, f"{s.lr:.3g}", f"{s.low:.3g}..{s.high:.3g}", s.reason))
        else:
            rows.append((label, "-", "-", f"no suggestion: {s}"))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        for r in rows
    )


def _save_plot(
    result: RangeTestResult | Sequence[RangeTestResult],
    path: Path,
    method_names: Sequence[str] | None,
    labels: Sequence[str] | None = None,
) -> Path:
    from .._plotting._result import plot_result

    path = image_path(path, "lr_find.png")
    fig, _ = plot_result(result, methods=method_names, label=labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path)
    return path


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    result = run_demo(num_steps=args.steps, seed=args.seed, progress=not args.no_progress)
    print(f"Range test on digits: {result.steps} steps, stopped: {result.stop_reason}")
    print(_table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result.save(args.output)
    plot_path = _save_plot(result, args.plot, None)
    print(f"Wrote {args.output} and {plot_path}")
    if args.tune:
        from .._plotting._race import plot_race
        from ._demo import run_tune_demo

        tuned = run_tune_demo(
            num_steps=args.steps,
            total_steps=args.tune_steps,
            seed=args.seed,
            progress=not args.no_progress,
        )
        print(f"Race over a {args.tune_steps}-step training: {tuned}")
        print(
            f"Cost: {tuned.trainings:.2f} trainings ({tuned.steps_spent} steps, range test "
            "included); rounds: "
            + "; ".join(f"{sum(r.raced)} rates x {r.steps} steps" for r in tuned.rounds)
        )
        tuned.save(args.tune_output)
        fig, _ = plot_race(tuned)
        fig.savefig(args.tune_plot, dpi=120)
        print(f"Wrote {args.tune_output} and {args.tune_plot}")
    return 0


def _cmd_suggest(args: argparse.Namespace) -> int:
    result = RangeTestResult.load(args.result)
    if args.all:
        print(_table(result))
        return 0
    s = quiet_suggest(result, args.method, for_schedule=args.for_schedule)
    if args.json:
        print(
            json.dumps(
                {
                    "lr": s.lr,
                    "low": s.low,
                    "high": s.high,
                    "method": s.method,
                    "index": s.index,
                    "reason": s.reason,
                    "confidence": s.confidence,
                    "warnings": list(s.warnings),
                }
            )
        )
    else:
        print(f"{s.lr:.6g}  ({s.method}: {s.reason}; range {s.low:.3g}..{s.high:.3g})")
        for warning in s.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    results = [RangeTestResult.load(p) for p in args.result]
    if len(results) == 1:
        path = _save_plot(results[0], args.output, args.method or None)
    else:
        # Each curve is named in the legend by its file; the shortest names that tell them apart.
        names = [p.stem for p in args.result]
        labels = names if len(set(names)) == len(names) else [str(p) for p in args.result]
        path = _save_plot(results, args.output, args.method or None, labels)
    print(f"Wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrfinder",
        description="Find a learning rate with the range test (Smith 2015/2017), read its curve.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run the range test on bundled digits data (PyTorch)",
        description="Range test of a small MLP with SGD on scikit-learn's "
        "digits data; prints every method's suggestion and writes a plot and "
        "the result.",
    )
    demo.add_argument("--steps", type=int, default=100, help="steps of the sweep (default 100)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--output",
        type=Path,
        default=Path("lr_find.json"),
        help="where to save the result (.json or .csv; default lr_find.json)",
    )
    demo.add_argument(
        "--plot",
        type=Path,
        default=Path("lr_find.png"),
        help="where to save the plot (default lr_find.png)",
    )
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    demo.add_argument(
        "--tune",
        action="store_true",
        help="then race rates around the suggestion on held-out digits (tune_lr)",
    )
    demo.add_argument(
        "--tune-steps",
        type=int,
        default=300,
        help="with --tune: the length of the training the race stands in for (default 300)",
    )
    demo.add_argument(
        "--tune-output",
        type=Path,
        default=Path("lr_tune.json"),
        help="with --tune: where to save the race (default lr_tune.json)",
    )
    demo.add_argument(
        "--tune-plot",
        type=Path,
        default=Path("lr_tune.png"),
        help="with --tune: where to save the race's plot (default lr_tune.png)",
    )
    demo.set_defaults(run=_cmd_demo)

    sug = sub.add_parser(
        "suggest",
        help="suggest a rate from a saved curve",
        description="Suggest a learning rate from a saved range test.",
    )
    sug.add_argument("result", type=Path, help=RESULT_HELP)
    sug.add_argument(
        "--method",
        choices=methods(),
        default=None,
        help=f"suggestion method (default {DEFAULT_METHOD})",
    )
    sug.add_argument(
        "--for-schedule",
        choices=SCHEDULES,
        default="constant",
        help="how the rate will be used: constant, or the peak of a one-cycle schedule",
    )
    sug.add_argument("--all", action="store_true", help="print a table of every method")
    sug.add_argument("--json", action="store_true", help="print the suggestion as JSON")
    sug.set_defaults(run=_cmd_suggest)

    plot = sub.add_parser(
        "plot",
        help="plot a saved curve",
        description="Plot a saved range test: loss against rate, and the loss's rate of change. "
        "Several results are drawn on the same axes (repeats, batch sizes, optimizers).",
    )
    plot.add_argument("result", type=Path, nargs="+", help=f"{RESULT_HELP}; one or more")
    plot.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("lr_find.png"),
        help="image to write (default lr_find.png); a directory gets DIR/lr_find.png, and a "
        "name without a suffix gets .png",
    )
    plot.add_argument(
        "--method",
        action="append",
        choices=methods(),
        help="mark this method's suggestion (repeatable; default: the default)",
    )
    plot.set_defaults(run=_cmd_plot)
    add_schedule_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; errors print one line to stderr and exit non-zero."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except NoSuggestionError as exc:
        print(f"lrfinder: no suggestion: {_one_line(exc)}", file=sys.stderr)
        return EXIT_NO_SUGGESTION
    except (LRFinderError, ImportError, OSError) as exc:
        print(f"lrfinder: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("lrfinder: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug: still one line, and a code that says so
        print(
            f"lrfinder: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(a bug in lrfinder; please report it with the command and the file)",
            file=sys.stderr,
        )
        return EXIT_BUG


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
