"""find_lr for any loop (lrfinder/_core/_find.py): a step that returns no loss."""

from __future__ import annotations

import pytest

import lrfinder
from lrfinder import LRFinderError


def test_a_step_that_returns_none_is_named_not_the_data() -> None:
    def forgot_to_return(lr: float) -> None:
        _ = (lr - 0.1) ** 2

    with pytest.raises(
        LRFinderError,
        match=r"`step` returned None at the first rate \(1e-07\), so the test recorded no loss.*"
        r"check that it ends with `return loss`",
    ):
        lrfinder.find_lr(forgot_to_return, progress=False)  # type: ignore[arg-type]


def test_the_refinder_names_a_step_that_returns_none() -> None:
    with pytest.raises(LRFinderError, match=r"`step` returned None at the first rate"):
        lrfinder.Refinder(lr=0.01).run(lambda lr: None)
