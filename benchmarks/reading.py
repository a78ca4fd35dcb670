"""What reading a curve costs: each rule, ``suggest_all`` and ``plot_result`` at 10^4 and 10^6
points, as ratios to a vectorised pass over the same curve measured in the same run.

The vectorised pass is the smoothing every reading needs, done by a compiled filter: the
centred, debiased exponential average of the losses (``scipy.signal.lfilter`` forward and
backward, the span ``read_curve`` uses). Every timing runs interleaved with it, round after
round, so the phases of a shared machine hit them alike; medians.

- a rule, *cold*: on a result never read before (its reading included);
- a rule, *warm*: on a result already read (what each rule after the first costs in
  ``suggest_all`` and the plots, which share one reading per result);
- ``plot_result``: the two panels as a figure, and that figure drawn and written to PNG in memory
  (Agg; matplotlib's drawing and layout cost the same at 100 points);
- ``RangeTest``: microseconds a step of the core loop (rate, record, stopping rule) at 10^3 and
  10^6 steps, with the loss of a synthetic curve.

    python -m benchmarks.reading            # writes benchmarks/reading_results.md and BENCHMARKS.md
    python -m benchmarks.reading --quick    # fewer rounds, to check it runs
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

import lrfinder
from lrfinder._core._registry import methods
from lrfinder._core._suggestion import quiet_suggest, quiet_suggest_all
from lrfinder._reading._curve import read_curve, smoothing_span

OUT = Path(__file__).parent / "reading_results.md"
BENCHMARKS_MD = Path(__file__).parent.parent / "BENCHMARKS.md"
SIZES = (10**4, 10**6)


def synthetic_curve(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A range test of ``n`` steps: flat, a fall of one decade's width, then the blow-up, with
    step-to-step noise of 3% of the loss (a small batch's)."""
    rng = np.random.default_rng(seed)
    lrs = np.logspace(-7, 1, n)
    x = np.log10(lrs)
    loss = 2.3 - 1.8 / (1 + np.exp(-3 * (x + 3.5))) + np.where(x > -1.5, (x + 1.5) ** 2, 0.0)
    return lrs, loss * (1 + 0.03 * rng.standard_normal(n))


def vectorised_pass(losses: np.ndarray) -> np.ndarray:
    """The reference: a centred, debiased EMA of the whole curve by a compiled filter."""
    span = smoothing_span(losses.size)
    beta = 1.0 - 2.0 / (span + 1.0)
    debias = 1.0 - beta ** np.minimum(np.arange(1, losses.size + 1), 2000)
    forward = lfilter([1.0 - beta], [1.0, -beta], losses) / debias
    backward = lfilter([1.0 - beta], [1.0, -beta], losses[::-1])[::-1] / debias[::-1]
    return 0.5 * (forward + backward)


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _plot(result: lrfinder.RangeTestResult) -> None:
    fig, _ = lrfinder.plot_result(result)
    fig.savefig(io.BytesIO(), format="png")


def measure_reading(n: int, rounds: int) -> dict[str, list[float]]:
    lrs, losses = synthetic_curve(n)
    tasks: dict[str, Callable[[lrfinder.RangeTestResult], object]] = {}
    for name in methods():
        tasks[f"`{name}` cold"] = lambda r, name=name: _suggest_or_none(r, name)
    for name in methods():
        tasks[f"`{name}` warm"] = lambda r, name=name: _suggest_or_none(r, name)
    tasks["`suggest_all`"] = quiet_suggest_all
    tasks["`read_curve`"] = read_curve
    tasks["`plot_result` (the figure)"] = lrfinder.plot_result
    tasks["`plot_result` + PNG"] = _plot
    times: dict[str, list[float]] = {"vectorised pass": [], **{k: [] for k in tasks}}
    for _ in range(rounds):
        times["vectorised pass"].append(_timed(lambda: vectorised_pass(losses)))
        for label, task in tasks.items():
            # A fresh result each time (built outside the timing), read first when warm.
            result = lrfinder.RangeTestResult(lrs=lrs, losses=losses)
            if label.endswith("warm"):
                read_curve(result)
            times[label].append(_timed(lambda task=task, result=result: task(result)))
            times["vectorised pass"].append(_timed(lambda: vectorised_pass(losses)))
    return times


def _suggest_or_none(result: lrfinder.RangeTestResult, name: str) -> object:
    try:
        return quiet_suggest(result, name)
    except lrfinder.NoSuggestionError as exc:
        return exc


def measure_small_plot(rounds: int) -> float:
    """Median seconds of ``plot_result`` + PNG at 100 points: matplotlib's fixed cost."""
    lrs, losses = synthetic_curve(100)
    return statistics.median(
        _timed(lambda: _plot(lrfinder.RangeTestResult(lrs=lrs, losses=losses)))
        for _ in range(rounds)
    )


def measure_rangetest(steps: int) -> float:
    """Microseconds a step of the core loop over ``steps`` steps (no training: a given loss)."""
    _, losses = synthetic_curve(steps, seed=1)
    feed = (losses / losses.max()).tolist()  # stays below 4 x the best: runs every step
    rt = lrfinder.RangeTest(start_lr=1e-7, end_lr=10.0, num_steps=steps, diverge_threshold=1e9)
    start = time.perf_counter()
    i = 0
    while not rt.done:
        rt.lr  # noqa: B018 - read as a training loop reads it
        rt.record(feed[i])
        i += 1
    return (time.perf_counter() - start) / steps * 1e6


def table(
    results: dict[int, dict[str, list[float]]], core: dict[int, float], small: float, rounds: int
) -> str:
    lines = [
        f"A synthetic range test (`benchmarks/reading.py`), one process, median of {rounds} "
        "interleaved rounds; the vectorised pass is a centred debiased EMA by "
        "`scipy.signal.lfilter` (forward and backward). Cold: a result never read before; warm: "
        "its curve already read (each rule after the first in `suggest_all` and the plots).",
        "",
        "| task | "
        + " | ".join(f"{n:.0e} points: ratio | {n:.0e}: ms" for n in results).replace("e+0", "e")
        + " |",
        "|---|" + "---:|---:|" * len(results),
    ]
    labels = list(next(iter(results.values())))
    for label in labels:
        cells = []
        for times in results.values():
            ref = statistics.median(times["vectorised pass"])
            med = statistics.median(times[label])
            cells += [f"{med / ref:.2f}", f"{med * 1e3:.1f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"`plot_result` + PNG of a 100-point curve, for comparison: {small * 1e3:.0f} ms.",
        "",
        "`RangeTest` (the core loop alone: `rt.lr`, `rt.record(loss)`, `rt.done`): "
        + ", ".join(f"{us:.2f} us a step at {steps:,} steps" for steps, us in core.items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def fill_section(name: str, text: str) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    doc = BENCHMARKS_MD.read_text()
    if begin not in doc or end not in doc:
        return
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    BENCHMARKS_MD.write_text(f"{head}{begin}\n{text}{end}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, to check that it runs")
    args = parser.parse_args()
    rounds = 3 if args.quick else 7
    warnings.simplefilter("ignore", lrfinder.LRFinderWarning)
    results = {n: measure_reading(n, rounds) for n in SIZES}
    core = {steps: measure_rangetest(steps) for steps in (10**3, 10**6)}
    small = measure_small_plot(rounds)
    text = table(results, core, small, rounds)
    print(text)
    if not args.quick:
        OUT.write_text(text)
        fill_section("reading", text)


if __name__ == "__main__":
    main()
