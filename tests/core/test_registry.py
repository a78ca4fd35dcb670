"""Suggestion and its warning (lrfinder/_core/_registry.py)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import lrfinder
from lrfinder import LRFinderWarning, RangeTestResult, Suggestion


def _flagged() -> Suggestion:
    return Suggestion(
        lr=5.54e-06,
        index=3,
        method="fall",
        reason="the smoothed loss has done 90% of its fall",
        low=1e-6,
        high=1e-5,
        confidence=0.1234,
        warnings=("Few points: 20 finite losses.", "Too noisy."),
    )


def test_the_printed_form_shows_the_confidence_and_every_warning() -> None:
    assert str(_flagged()) == (
        "5.54e-06 (fall: the smoothed loss has done 90% of its fall), confidence 0.12\n"
        "  warning: Few points: 20 finite losses.\n"
        "  warning: Too noisy."
    )
    clean = Suggestion(lr=0.01, index=0, method="valley", reason="why", low=0.01, high=0.01)
    assert str(clean) == "0.01 (valley: why)"


def test_the_repr_stays_short() -> None:
    assert repr(_flagged()) == "Suggestion(lr=5.54e-06, method='fall', confidence=0.12, warnings=2)"


def test_the_warning_is_a_user_warning_exported_for_filtering() -> None:
    assert issubclass(lrfinder.LRFinderWarning, UserWarning)
    assert "LRFinderWarning" in lrfinder.__all__


def _short() -> RangeTestResult:
    lrs = np.logspace(-5, 0, 20)
    return RangeTestResult(lrs=lrs, losses=2 / (1 + np.exp(3 * (np.log10(lrs) + 2.5))))


def test_an_untrustworthy_suggestion_warns_at_the_callers_line() -> None:
    result = _short()
    with pytest.warns(
        LRFinderWarning, match=r"comes from a curve not to be trusted.*Few points"
    ) as w:
        result.suggestion  # noqa: B018 (the property warns)
    assert w[0].filename == __file__
    with pytest.warns(LRFinderWarning, match=r"\(minimum\)") as w:
        result.suggest("minimum")
    assert w[0].filename == __file__
    with pytest.warns(LRFinderWarning) as w:
        lrfinder.suggest(result)
    assert w[0].filename == __file__


def test_suggest_all_warns_once_and_a_filter_silences_it() -> None:
    with pytest.warns(LRFinderWarning, match=r"\(fall\)") as w:
        lrfinder.suggest_all(_short())
    assert len(w) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRFinderWarning)
        assert lrfinder.suggest(_short()).warnings


# -- register, re-run in a notebook cell -------------------------------------------------------


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    from lrfinder._core import _registry

    saved = dict(_registry._REGISTRY)
    monkeypatch.setattr(_registry, "_REGISTRY", saved)
    return saved


def _cell() -> object:
    """What a notebook cell defining a rule makes each time it runs: a new function object
    with the same module and qualified name."""

    def halfway(result: RangeTestResult, **options: object) -> Suggestion:
        s = lrfinder.suggest(result, "minimum")
        return Suggestion(lr=s.lr / 2, index=s.index, method="halfway", reason="x", low=0, high=1)

    return halfway


def test_running_the_same_registration_twice_is_quiet(registry: dict) -> None:
    first, second = _cell(), _cell()
    assert first is not second
    lrfinder.register("halfway")(first)
    lrfinder.register("halfway")(first)  # the same function: nothing changes
    assert registry["halfway"] is first
    lrfinder.register("halfway")(second)  # the cell ran again: its new definition counts
    assert registry["halfway"] is second and lrfinder.methods().count("halfway") == 1


def test_another_function_under_a_taken_name_needs_overwrite(registry: dict) -> None:
    def fall(result: RangeTestResult, **options: object) -> Suggestion:
        raise AssertionError

    with pytest.raises(
        lrfinder.LRFinderError,
        match=r"named 'fall' is already registered \(lrfinder._reading._fall._fall\); pass "
        r"overwrite=True to replace it with .*test_another_function.*fall, or pick another",
    ):
        lrfinder.register("fall")(fall)
    lrfinder.register("fall", overwrite=True)(fall)
    assert registry["fall"] is fall


def test_a_name_must_be_a_string(registry: dict) -> None:
    with pytest.raises(lrfinder.LRFinderError, match=r"non-empty string. Received: ''"):
        lrfinder.register("")
