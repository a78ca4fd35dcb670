"""The ``lrfinder`` command: run the demo, and suggest or plot from any saved curve."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from .._core._errors import LRFinderError, NoSuggestionError
from .._core._names import canonical_schedule
from .._core._registry import _SCHEDULE_AWARE, DEFAULT_METHOD, SCHEDULES, Suggestion, methods
from .._core._result import RangeTestResult
from .._core._suggestion import quiet_suggest
from ._input import add_input_arguments, load_input
from ._output import UsageError, check_image_path, image_path, save_figure
from ._schedule import add_schedule_parser

__all__ = ["build_parser", "main"]

# Exit codes: every error is one line on stderr, never a traceback.
EXIT_OK = 0
EXIT_ERROR = 1  # bad input: a malformed or unreadable file, a bad option value, a missing extra
EXIT_USAGE = 2  # argparse: unknown command or flag
EXIT_NO_SUGGESTION = 3  # the curve holds no usable rate (the message says why)
EXIT_BUG = 4  # an unexpected exception inside lrfinder: a bug, please report it
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader went away
EXIT_CODES_HELP = """exit codes:
  0    success
  1    error: a malformed or unreadable file, a bad option value, a missing extra
  2    usage: an unknown command or flag, flags that do not fit together, an image
       format that cannot be written
  3    no suggestion: the curve holds no usable rate (the message says why)
  4    internal error: an unexpected exception inside lrfinder (a bug; please report it)
  130  interrupted (Ctrl-C)
  141  the output was closed early (e.g. piped into head): nothing is printed"""


def _version() -> str:
    try:
        return metadata.version("lrfinder")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _all(
    result: RangeTestResult, for_schedule: str = "constant"
) -> dict[str, Suggestion | NoSuggestionError]:
    """Every method's suggestion for ``for_schedule``: the methods that tell schedules apart
    read it, the others suggest their one rate."""
    out: dict[str, Suggestion | NoSuggestionError] = {}
    for name in methods():
        use = for_schedule if name in _SCHEDULE_AWARE else "constant"
        try:
            out[name] = quiet_suggest(result, name, for_schedule=use)
        except NoSuggestionError as exc:
            out[name] = exc
    return out


def _as_json(s: Suggestion) -> dict[str, Any]:
    return {
        "lr": s.lr,
        "low": s.low,
        "high": s.high,
        "method": s.method,
        "index": s.index,
        "reason": s.reason,
        "confidence": s.confidence,
        "warnings": list(s.warnings),
    }


def _table(result: RangeTestResult, for_schedule: str = "constant") -> str:
    rows = [("method", "lr", "range", "why")]
    for name, s in _all(result, for_schedule).items():
        label = f"{name} (default)" if name == DEFAULT_METHOD else name
        if isinstance(s, Suggestion):
            why = s.reason
            if for_schedule != "constant" and name not in _SCHEDULE_AWARE:
                why += " (one rate for every schedule)"
            rows.append((label, f"{s.lr:.3g}", f"{s.low:.3g}..{s.high:.3g}", why))
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

    check_image_path(args.plot, "lr_find.png", "--plot")
    if args.tune:
        check_image_path(args.tune_plot, "lr_tune.png", "--tune-plot")
    # With --tune the range test runs on the batches the race trains on, and the race reads it.
    result = run_demo(
        num_steps=args.steps, seed=args.seed, progress=not args.no_progress, hold_out=args.tune
    )
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
            result,
            total_steps=args.tune_steps,
            seed=args.seed,
            progress=not args.no_progress,
        )
        print(f"Race over a {args.tune_steps}-step training: {tuned}")
        print(
            f"Cost: {tuned.trainings:.2f} trainings ({tuned.steps_spent} steps, range test "
            "included); rounds: "
            + "; ".join(
                f"{sum(r.raced)} rates x {r.steps} steps"
                + (" (going on from the round before)" if r.resumed else "")
                for r in tuned.rounds
            )
        )
        tuned.save(args.tune_output)
        fig, _ = plot_race(tuned)
        fig.savefig(args.tune_plot, dpi=120)
        print(f"Wrote {args.tune_output} and {args.tune_plot}")
    return 0


def _cmd_suggest(args: argparse.Namespace) -> int:
    if args.all and args.method is not None:
        raise UsageError(
            f"--all prints every method; --method picks one. Received both: --method {args.method}"
        )
    result = load_input(args)
    if args.all:
        if not args.json:
            print(_table(result, args.for_schedule))
            return 0
        table = {
            name: _as_json(s) if isinstance(s, Suggestion) else {"no_suggestion": str(s)}
            for name, s in _all(result, args.for_schedule).items()
        }
        print(
            json.dumps(
                {"for_schedule": args.for_schedule, "default": DEFAULT_METHOD, "methods": table}
            )
        )
        return 0
    s = quiet_suggest(result, args.method, for_schedule=args.for_schedule)
    if args.json:
        print(json.dumps(_as_json(s)))
    else:
        print(f"{s.lr:.6g}  ({s.method}: {s.reason}; range {s.low:.3g}..{s.high:.3g})")
        for warning in s.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    check_image_path(args.output, "lr_find.png", "-o")
    if len(args.result) <= 1:
        source = args.result[0] if args.result else None
        path = _save_plot(load_input(args, source), args.output, args.method or None)
    else:
        if args.lr_file is not None or args.loss_file is not None:
            raise UsageError("Pass several RESULT files, or --lr FILE --loss FILE, not both.")
        results = [load_input(args, p) for p in args.result]
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
    parser.add_argument("--version", action="version", version=f"lrfinder {_version()}")
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
        help="then race rates around the suggestion on held-out digits (tune_lr); the range "
        "test then runs on the other batches, and the race reads it",
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
    add_input_arguments(sug)
    sug.add_argument(
        "--method",
        choices=methods(),
        default=None,
        help=f"suggestion method (default {DEFAULT_METHOD})",
    )
    sug.add_argument(
        "--for-schedule",
        type=canonical_schedule,
        choices=SCHEDULES,
        default="constant",
        help="how the rate will be used: constant, or the peak of a one_cycle schedule "
        "(also with --all)",
    )
    sug.add_argument("--all", action="store_true", help="print a table of every method")
    sug.add_argument(
        "--json", action="store_true", help="print the suggestion (with --all: every one) as JSON"
    )
    sug.set_defaults(run=_cmd_suggest)

    plot = sub.add_parser(
        "plot",
        help="plot a saved curve",
        description="Plot a saved range test: loss against rate, and the loss's rate of change. "
        "Several results are drawn on the same axes (repeats, batch sizes, optimizers).",
    )
    add_input_arguments(plot, several=True)
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
        code = int(args.run(args))
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except UsageError as exc:
        print(f"lrfinder: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
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


def _silence_stdout() -> None:
    """The reader of stdout went away (``lrfinder ... | head``): exit quietly, as Unix tools do.
    What is still buffered must not be flushed at exit, which would print a second error."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (captured in a test)
        pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
