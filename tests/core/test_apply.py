"""Suggestion.apply: the framework read off the target, the rate checked, errors that say what."""

from __future__ import annotations

import math

import pytest

from lrfinder import LRFinderError, Suggestion
from lrfinder._core import _apply


def _suggestion(lr: float = 0.05) -> Suggestion:
    return Suggestion(lr=lr, index=0, method="fall", reason="test", low=lr / 2, high=lr * 2)


def test_the_framework_is_read_off_the_targets_classes() -> None:
    fake_torch = type("SGD", (), {"__module__": "torch.optim.sgd"})
    mine = type("Mine", (fake_torch,), {"__module__": "__main__"})
    assert _apply.framework_of(fake_torch()) == "torch"
    assert _apply.framework_of(mine()) == "torch"  # a user's subclass of a framework's class
    assert _apply.framework_of(object()) is None


def test_apply_dispatches_to_the_registered_applier(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    monkeypatch.setitem(_apply._APPLIERS, "optax", lambda target, lr: seen.append(lr) or "new")
    state = type("InjectHyperparamsState", (), {"__module__": "optax._src.schedule"})()
    assert _suggestion(0.05).apply(state) == "new"
    assert seen == [0.05]


def test_apply_to_an_unknown_target_names_what_it_takes() -> None:
    with pytest.raises(
        LRFinderError,
        match=r"`apply` sets the rate of a PyTorch optimizer.*Received a dict.*lrfinder.optax.apply",
    ):
        _suggestion().apply({"lr": 0.1})


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan, "0.1", True, None])
def test_the_rate_must_be_a_positive_number(bad: object) -> None:
    with pytest.raises(LRFinderError, match=r"must be a finite number above 0.*Received"):
        _apply.rate_of(bad)


def test_the_rate_of_a_suggestion_or_anything_with_lr() -> None:
    assert _apply.rate_of(_suggestion(0.3)) == 0.3
    assert _apply.rate_of(2) == 2.0
