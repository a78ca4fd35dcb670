"""What building and loading a result costs, against the numpy operation it cannot beat.

- ``RangeTestResult(lrs=..., losses=...)`` (the smoothed losses derived) against copying the two
  arrays with ``np.array``; and as ``RangeTest.result()`` calls it (every array given) against
  copying those four arrays.
- ``RangeTestResult.load("curve.csv")`` on the file ``save`` writes, against ``np.loadtxt`` of the
  same file; and a Lightning-style ``metrics.csv`` (the rate and the loss on rows of their own,
  blank cells: read row by row) against ``np.loadtxt`` of a clean file with as many steps.

Each pair runs interleaved, round after round, so the slow phases of a shared machine hit both
alike; a row is the median of the per-round ratios (lrfinder's time / numpy's).

    python -m benchmarks.files            # writes benchmarks/files_results.md and BENCHMARKS.md
    python -m benchmarks.files --sizes 10000 100000 --rounds 15
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lrfinder import RangeTestResult

OUT = Path(__file__).parent / "files_results.md"
BENCHMARKS = Path(__file__).parent.parent / "BENCHMARKS.md"
BEGIN, END = "<!-- files:begin -->", "<!-- files:end -->"


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired(ours: Callable[[], object], base: Callable[[], object], rounds: int) -> float:
    """The median over interleaved rounds of ours / base."""
    ours(), base()  # warm caches (the EMA's block weights, the file in the page cache)
    ratios = [_time(ours) / _time(base) for _ in range(rounds)]
    return statistics.median(ratios)


def curve(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    lrs = np.logspace(-7, 1, n)
    return lrs, 2.0 - np.tanh(np.log10(lrs) + 3) + 0.05 * rng.normal(size=n)


def lightning_file(path: Path, lrs: np.ndarray, losses: np.ndarray) -> Path:
    rows = ["epoch,lr-SGD,step,train_loss_step"]
    for i, (lr, loss) in enumerate(zip(lrs.tolist(), losses.tolist(), strict=True)):
        rows += [f",{lr!r},{i},", f"0,,{i},{loss!r}"]
    path.write_text("\n".join(rows) + "\n")
    return path


def run(sizes: list[int], rounds: int) -> list[tuple[str, int, float, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            lrs, losses = curve(n)
            full = RangeTestResult(lrs=lrs, losses=losses)
            smoothed, groups = np.array(full.smoothed_losses), np.array(full.group_lrs)
            rows.append(
                (
                    "RangeTestResult(lrs, losses)",
                    n,
                    paired(
                        lambda: RangeTestResult(lrs=lrs, losses=losses),  # noqa: B023
                        lambda: (np.array(lrs), np.array(losses)),  # noqa: B023
                        rounds,
                    ),
                    "copying the 2 arrays",
                )
            )
            rows.append(
                (
                    "RangeTestResult(every array), as RangeTest.result()",
                    n,
                    paired(
                        lambda: RangeTestResult(
                            lrs=lrs,  # noqa: B023
                            losses=losses,  # noqa: B023
                            smoothed_losses=smoothed,  # noqa: B023
                            group_lrs=groups,  # noqa: B023
                        ),
                        lambda: [np.array(a) for a in (lrs, losses, smoothed, groups)],  # noqa: B023
                        rounds,
                    ),
                    "copying the 4 arrays",
                )
            )
            path = full.save(Path(tmp) / f"curve_{n}.csv")
            load_rounds = max(3, rounds // 3) if n > 100_000 else rounds
            rows.append(
                (
                    "RangeTestResult.load(lrfinder's CSV)",
                    n,
                    paired(
                        lambda: RangeTestResult.load(path),  # noqa: B023
                        lambda: np.loadtxt(path, delimiter=",", skiprows=2),  # noqa: B023
                        load_rounds,
                    ),
                    "np.loadtxt of the same file",
                )
            )
            metrics = lightning_file(Path(tmp) / f"metrics_{n}.csv", lrs, losses)
            rows.append(
                (
                    "RangeTestResult.load(Lightning metrics.csv, blank cells)",
                    n,
                    paired(
                        lambda: RangeTestResult.load(metrics),  # noqa: B023
                        lambda: np.loadtxt(path, delimiter=",", skiprows=2),  # noqa: B023
                        max(3, load_rounds // 3),  # row by row: slow, and told apart anyway
                    ),
                    "np.loadtxt of lrfinder's CSV, as many steps",
                )
            )
    return rows


def table(rows: list[tuple[str, int, float, str]], rounds: int) -> str:
    lines = [
        f"Median of per-round ratios over {rounds} interleaved rounds (a third of them for the "
        "row-by-row file, fewer for CSV files above 10^5 rows); one process.",
        "",
        "| operation | steps | ratio | against |",
        "|---|---|---|---|",
    ]
    lines += [f"| {op} | {n:,} | {ratio:.2f} | {base} |" for op, n, ratio, base in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args()
    text = table(run(args.sizes, args.rounds), args.rounds)
    print(text)
    if args.no_write:
        return
    command = "python -m benchmarks.files " + " ".join(
        ["--sizes", *map(str, args.sizes), "--rounds", str(args.rounds)]
    )
    OUT.write_text(f"# Building and loading results\n\n`{command}`\n\n{text}\n")
    doc = BENCHMARKS.read_text()
    if BEGIN in doc and END in doc:
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END)
        BENCHMARKS.write_text(f"{head}{BEGIN}\n`{command}`\n\n{text}\n{END}{tail}")


if __name__ == "__main__":
    main()
