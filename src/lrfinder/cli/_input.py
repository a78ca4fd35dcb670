"""The curve a command reads: a saved result, a table from any tool, a TensorBoard run, or two
TensorBoard scalar exports joined by step; its warnings as one line each on stderr."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from .._core._errors import LRFinderWarning
from .._core._result import RangeTestResult
from ._output import UsageError

RESULT_HELP = (
    "our JSON or CSV result, a CSV/TSV with rate and loss columns (Lightning's metrics.csv "
    "too), or a TensorBoard run (events file or folder; needs lrfinder[tensorboard])"
)


def add_input_arguments(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    """The positional RESULT (one or more when ``several``) and the flags that say how to read
    it."""
    if several:
        parser.add_argument("result", type=Path, nargs="*", help=f"{RESULT_HELP}; one or more")
    else:
        parser.add_argument("result", type=Path, nargs="?", help=RESULT_HELP)
    add_column_arguments(parser)
    parser.add_argument(
        "--lr",
        dest="lr_file",
        type=Path,
        metavar="FILE",
        help="with --loss, instead of RESULT: TensorBoard scalar exports (Wall time,Step,Value) "
        "of the rate and of the loss, joined by step",
    )
    parser.add_argument("--loss", dest="loss_file", type=Path, metavar="FILE", help="see --lr")


def add_column_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lr-col", metavar="NAME", help="the column (or TensorBoard tag) holding the rate"
    )
    parser.add_argument(
        "--loss-col", metavar="NAME", help="the column (or TensorBoard tag) holding the loss"
    )


def load_input(args: argparse.Namespace, source: Path | None = None) -> RangeTestResult:
    """Load what the flags name; each :class:`LRFinderWarning` is printed as one line."""
    lr_file, loss_file = getattr(args, "lr_file", None), getattr(args, "loss_file", None)
    path = args.result if source is None else source
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LRFinderWarning)
        if lr_file is not None or loss_file is not None:
            result = _scalars(path, lr_file, loss_file, args)
        elif path is None:
            raise UsageError(
                "Name the curve to read: a RESULT file, or --lr FILE --loss FILE (two "
                "TensorBoard scalar exports)."
            )
        else:
            result = RangeTestResult.load(path, lr_col=args.lr_col, loss_col=args.loss_col)
    report(caught)
    return result


def _scalars(
    path: Path | None, lr_file: Path | None, loss_file: Path | None, args: argparse.Namespace
) -> RangeTestResult:
    if path is not None:
        raise UsageError(f"Pass either RESULT or --lr FILE --loss FILE, not both. Received: {path}")
    if lr_file is None or loss_file is None:
        missing = "--loss" if loss_file is None else "--lr"
        raise UsageError(f"--lr and --loss go together: {missing} FILE is missing.")
    if args.lr_col is not None or args.loss_col is not None:
        raise UsageError(
            "--lr-col / --loss-col name columns of one file; with --lr and --loss each file "
            "holds one scalar (its Value column)."
        )
    return RangeTestResult.from_scalars(lr=lr_file, loss=loss_file)


def report(caught: list[Any]) -> None:
    """Print lrfinder's warnings as ``lrfinder: warning: ...`` lines; re-issue any other."""
    for w in caught:
        if issubclass(w.category, LRFinderWarning):
            print(f"lrfinder: warning: {' '.join(str(w.message).split())}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
