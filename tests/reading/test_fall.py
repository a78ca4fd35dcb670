"""The default suggestion, ``fall``: synthetic curves with a known answer, and odd input."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrfinder
import lrfinder._reading._fall as fall_module
from lrfinder import LRFinderError, LRFinderWarning, NoSuggestionError, RangeTestResult, suggest
from lrfinder._core._suggestion import SPREAD_WARN
from lrfinder.cli import main


def falling_curve(
    *, centre: float, steep: float = 3.0, noise: float = 0.0, seed: int = 0, n: int = 120
) -> RangeTestResult:
    """2 / (1 + exp(steep * (log10(lr) - centre))), flat at the bottom, then a blow-up 3.5
    decades past the centre; with ``noise`` Gaussian noise of that size added."""
    lrs = np.logspace(-7, 1, n)
    x = np.log10(lrs)
    losses = 2.0 / (1.0 + np.exp(steep * (x - centre))) + np.where(
        x > centre + 3.5, 10.0 ** (2 * (x - centre - 3.5)) - 1.0, 0.0
    )
    losses = losses + noise * np.random.default_rng(seed).standard_normal(n)
    return RangeTestResult(lrs=lrs, losses=losses)


def known_answer(centre: float, steep: float, schedule: str) -> float:
    # The sigmoid has done a fraction f of its fall from 2 to 0 where
    # exp(steep * (x - centre)) = f / (1 - f) (9 for 90%, 19 for 95%).
    f = fall_module.FALL_FRACTION[schedule]
    return 10 ** (centre + math.log(f / (1 - f)) / steep + fall_module.OFFSET[schedule])


def decades(a: float, b: float) -> float:
    return abs(math.log10(a / b))


def test_fall_is_the_default() -> None:
    curve = falling_curve(centre=-3.0)
    assert lrfinder.DEFAULT_METHOD == "fall"
    assert curve.suggestion == suggest(curve) == suggest(curve, "fall")


@pytest.mark.parametrize("schedule", ["constant", "one_cycle"])
@pytest.mark.parametrize(("centre", "steep"), [(-4.5, 3.0), (-3.5, 2.0), (-3.0, 4.0)])
def test_rate_where_ninety_percent_of_the_fall_is_done(
    centre: float, steep: float, schedule: str
) -> None:
    s = suggest(falling_curve(centre=centre, steep=steep), for_schedule=schedule)
    # Within the resolution of the centred average (half a decade wide).
    assert decades(s.lr, known_answer(centre, steep, schedule)) < 0.2
    assert s.low <= s.lr <= s.high
    assert s.method == "fall" and schedule in s.reason
    assert s.confidence is not None and s.confidence > 0.8
    assert s.warnings == ()


def test_onecycle_peak_follows_its_fraction_and_offset() -> None:
    steep = 3.0
    curve = falling_curve(centre=-3.0, steep=steep)
    ratio = suggest(curve, for_schedule="one_cycle").lr / suggest(curve).lr
    expected = known_answer(-3.0, steep, "one_cycle") / known_answer(-3.0, steep, "constant")
    # Both crossings are read off the same smoothed curve, so their ratio is nearly exact.
    assert decades(ratio, expected) < 0.05
    assert ratio > 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_moves_it_little_and_lowers_confidence(seed: int) -> None:
    clean = suggest(falling_curve(centre=-3.0))
    noisy = suggest(falling_curve(centre=-3.0, noise=0.05, seed=seed))
    assert decades(noisy.lr, known_answer(-3.0, 3.0, "constant")) < 0.25
    assert noisy.confidence is not None and clean.confidence is not None
    assert noisy.confidence < clean.confidence


def test_too_noisy_curve_warns() -> None:
    with pytest.warns(LRFinderWarning, match="Too noisy"):
        s = suggest(falling_curve(centre=-3.0, noise=2.5, seed=3))
    assert any(w.startswith("Too noisy") for w in s.warnings)
    assert s.confidence is not None and s.confidence < 0.5


def test_few_points_warn() -> None:
    with pytest.warns(LRFinderWarning, match=r"Few points: 24 finite losses.*raise `num_steps`"):
        s = suggest(falling_curve(centre=-3.0, n=24))
    assert any(w.startswith("Few points: 24 finite losses") for w in s.warnings)


def test_diverged_at_once_warns() -> None:
    lrs = np.logspace(-3, 1, 60)
    losses = np.concatenate([[2.0, 1.0, 0.9, 0.8, 0.7], np.linspace(1.0, 1.6, 55)])
    with pytest.warns(LRFinderWarning, match="diverged almost at once"):
        s = suggest((lrs, losses))
    assert any(w.startswith("The loss diverged almost at once") for w in s.warnings)


def test_blowup_does_not_hide_the_fall() -> None:
    # A blow-up to 1e6 must not leak back over the minimum through the centred average.
    base = falling_curve(centre=-3.0)
    losses = base.losses.copy()
    losses[-3:] = [1e3, 1e5, 1e6]
    s = suggest(RangeTestResult(lrs=base.lrs, losses=losses))
    assert decades(s.lr, known_answer(-3.0, 3.0, "constant")) < 0.2


def cut_short_curve(*, centre: float, blowup: float, n: int = 120) -> RangeTestResult:
    """The falling sigmoid of ``falling_curve`` (steepness 2), but the loss turns up
    ``blowup`` decades past its centre, long before the fall levels off (SGD+momentum on a
    plain MLP)."""
    lrs = np.logspace(-7, 1, n)
    x = np.log10(lrs)
    fall = 2.0 / (1.0 + np.exp(2.0 * (x - centre)))
    rise = np.where(x > centre + blowup, 10.0 ** (3 * (x - centre - blowup)) - 1.0, 0.0)
    return RangeTestResult(lrs=lrs, losses=fall + rise)


@pytest.mark.parametrize("schedule", ["constant", "one_cycle"])
@pytest.mark.parametrize("centre", [-4.0, -2.5])
def test_fall_cut_short_by_the_blowup_is_capped_below_the_lowest_point(
    centre: float, schedule: str
) -> None:
    curve = cut_short_curve(centre=centre, blowup=0.5)
    s = suggest(curve, for_schedule=schedule)
    margin = fall_module.MARGIN[schedule]
    # The cap is the margin below the lowest smoothed point, where `minimum` reads (before
    # dividing by 10); the centred average moves that point a little below the raw curve's.
    lowest = suggest(curve, "minimum", divisor=1.0).lr
    assert decades(s.lr, lowest / 10**margin) < 1e-9
    raw_lowest = float(curve.lrs[int(np.argmin(curve.losses))])
    assert raw_lowest / 10 ** (margin + 0.5) < s.lr < raw_lowest / 10**margin
    assert s.reason.startswith(f"{10**-margin:.2g} x the rate at the lowest smoothed loss")
    assert s.low <= s.lr <= s.high


def test_cap_keeps_its_margin_per_use() -> None:
    curve = cut_short_curve(centre=-3.0, blowup=0.3)
    ratio = suggest(curve, for_schedule="one_cycle").lr / suggest(curve).lr
    margins = fall_module.MARGIN
    # Both are capped from the same lowest point, so the ratio is the margins' difference.
    assert decades(ratio, 10 ** (margins["constant"] - margins["one_cycle"])) < 1e-9


@pytest.mark.parametrize("schedule", ["constant", "one_cycle"])
def test_cap_leaves_a_fall_that_levels_off_alone(schedule: str) -> None:
    # The fall levels off 3.5 decades before the blow-up: the crossing is far below the cap.
    s = suggest(falling_curve(centre=-3.0), for_schedule=schedule)
    assert s.reason.startswith("the smoothed loss has done")
    assert decades(s.lr, known_answer(-3.0, 3.0, schedule)) < 0.2


def test_flat_then_blowup_is_a_low_confidence_guess_below_the_blowup() -> None:
    lrs = np.logspace(-7, 1, 100)
    rng = np.random.default_rng(0)
    losses = 1.386 + 0.01 * rng.standard_normal(100) + np.where(lrs > 1.0, lrs, 0.0)
    with pytest.warns(LRFinderWarning, match="Flat curve"):
        s = suggest((lrs, losses))
    edge = float(lrs[np.argmax(lrs > 1.0)])
    assert decades(s.lr, edge / 10**fall_module.BLOWUP_DECADES) < 0.2
    assert s.confidence == 0.1
    assert s.warnings[0].startswith("Flat curve")


def test_truly_flat_curve_raises() -> None:
    with pytest.raises(NoSuggestionError, match=r"The curve is flat.*Raise `end_lr`"):
        suggest((np.logspace(-5, 0, 40), np.ones(40)))


def test_repeats_report_the_median_and_spread() -> None:
    runs = [falling_curve(centre=c) for c in (-3.2, -3.0, -2.7)]
    one = [suggest(r).lr for r in runs]
    with pytest.warns(LRFinderWarning, match="The 3 sweeps disagree: their rates spread over 0.21"):
        s = suggest(runs)
    assert s.lr == pytest.approx(float(np.median(one)))
    assert s.spread == pytest.approx(float(np.std(np.log10(one))))
    assert s.reason.startswith("median of 3 sweeps")
    assert suggest(runs[0]).spread is None


def test_repeats_that_disagree_warn() -> None:
    runs = [falling_curve(centre=c) for c in (-4.0, -3.0, -2.0)]
    with pytest.warns(LRFinderWarning, match="The 3 sweeps disagree"):
        s = suggest(runs)
    assert s.spread is not None and s.spread > SPREAD_WARN
    assert any(w.startswith("The 3 sweeps disagree") for w in s.warnings)


def test_neither_curve_nor_results_is_refused() -> None:
    with pytest.raises(LRFinderError, match=r"an \(lrs, losses\) pair, or a list of results"):
        suggest([])


def test_for_schedule_is_checked() -> None:
    curve = falling_curve(centre=-3.0)
    with pytest.raises(LRFinderError, match=r"`for_schedule` must be one of constant, one_cycle"):
        suggest(curve, for_schedule="cosine")
    with pytest.raises(LRFinderError, match=r"`minimum` suggests the same rate for every"):
        suggest(curve, "minimum", for_schedule="one_cycle")
    assert suggest(curve, "minimum", for_schedule="constant") == suggest(curve, "minimum")


def test_command_line_reads_for_schedule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    curve = falling_curve(centre=-3.0)
    path = curve.save(tmp_path / "curve.json")
    assert main(["suggest", str(path), "--for-schedule", "onecycle", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lr"] == suggest(curve, for_schedule="one_cycle").lr
    assert main(["suggest", str(path), "--method", "valley", "--for-schedule", "one_cycle"]) == 1
    assert "`valley` suggests the same rate for every schedule" in capsys.readouterr().err


finite_or_not = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)


@settings(max_examples=150, deadline=None)
@given(
    losses=st.lists(finite_or_not, min_size=1, max_size=150),
    schedule=st.sampled_from(["constant", "one_cycle"]),
    start=st.floats(min_value=-9, max_value=-1),
    width=st.floats(min_value=0.5, max_value=10),
)
def test_never_crashes_on_arbitrary_curves(
    losses: list[float], schedule: str, start: float, width: float
) -> None:
    lrs = np.logspace(start, start + width, len(losses))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LRFinderWarning)
        try:
            s = suggest((lrs, losses), for_schedule=schedule)
        except NoSuggestionError:
            return
    assert len([w for w in caught if w.category is LRFinderWarning]) == bool(s.warnings)
    assert lrs[0] <= s.low <= s.lr <= s.high <= lrs[-1] * (1 + 1e-12)
    assert s.confidence is not None and 0.0 <= s.confidence <= 1.0


@pytest.mark.parametrize(
    ("stop", "said"), [("diverged", "the blow-up"), ("data_exhausted", "that point")]
)
def test_the_cap_names_the_blow_up_only_where_there_was_one(stop: str, said: str) -> None:
    # A steep fall straight into the lowest point: the 90% crossing sits at its edge, capped.
    lrs = np.logspace(-5, 0, 60)
    losses = np.where(lrs < 1e-1, 2.3 - 1.8 * (np.log10(lrs) + 5) / 4, 0.5 + 40 * (lrs - 0.1))
    s = lrfinder.suggest(RangeTestResult(lrs=lrs, losses=losses, stop_reason=stop), "fall")
    assert "a cap" in s.reason and s.reason.split("; for")[0].endswith(said)
