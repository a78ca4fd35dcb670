"""The files users have (lrfinder/_core/_columns.py): Lightning's CSVLogger metrics.csv,
TensorBoard scalar exports joined by step, any table through lr_col/loss_col; each shape loads or
fails with one line that names the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrfinder import RangeTestResult, ResultFileError

LRS = np.logspace(-5, -1, 6)
LOSSES = np.array([2.3, 2.2, 1.9, 1.2, 0.9, 4.0])


def lightning_metrics(*, split: bool, groups: int = 1) -> str:
    """Lightning's CSVLogger as LearningRateMonitor + self.log('train_loss', on_step=True,
    on_epoch=True) write it: the union of every key, blank where a call did not log it."""
    lr_cols = ["lr-SGD"] if groups == 1 else [f"lr-SGD/pg{g + 1}" for g in range(groups)]
    head = ["epoch", *lr_cols, "step", "train_loss_epoch", "train_loss_step", "val_loss"]
    rows = [",".join(head)]
    for step, (lr, loss) in enumerate(zip(LRS, LOSSES, strict=True)):
        rates = [repr(float(lr * 0.5**g)) for g in range(groups)]
        if split:  # the monitor's call, then the training step's, on rows of their own
            rows.append(",".join(["", *rates, str(step), "", "", ""]))
            rows.append(",".join(["0", *[""] * groups, str(step), "", repr(float(loss)), ""]))
        else:
            rows.append(",".join(["0", *rates, str(step), "", repr(float(loss)), ""]))
    rows.append(",".join(["0", *[""] * groups, str(len(LRS) - 1), "1.7", "", "1.5"]))
    return "\n".join(rows) + "\n"


@pytest.mark.parametrize("split", [False, True])
def test_lightning_metrics_csv(split: bool) -> None:
    r = RangeTestResult.from_csv(lightning_metrics(split=split))
    np.testing.assert_array_equal(r.lrs, LRS)
    np.testing.assert_array_equal(r.losses, LOSSES)
    assert r.val_losses is not None and r.val_losses[-1] == 1.5
    assert np.isnan(r.val_losses[:-1]).all() and r.stop_reason == "unknown"


def test_lightning_parameter_groups_keep_their_ratios() -> None:
    r = RangeTestResult.from_csv(lightning_metrics(split=True, groups=2))
    np.testing.assert_array_equal(r.lrs, LRS)
    np.testing.assert_array_equal(r.group_lrs, np.column_stack([LRS, LRS * 0.5]))


def test_several_optimizers_need_lr_col() -> None:
    text = "step,lr-SGD,lr-Adam,train_loss\n0,0.1,0.01,2\n1,0.2,0.02,1\n"
    with pytest.raises(ResultFileError, match=r"several optimizers \(lr-SGD, lr-Adam\).*--lr-col"):
        RangeTestResult.from_csv(text)
    assert RangeTestResult.from_csv(text, lr_col="lr-Adam").lrs.tolist() == [0.01, 0.02]


def test_any_table_through_lr_col_and_loss_col() -> None:
    text = "Rate\tObjective\tMomentum\n0.001\t2.0\t0.9\n0.01\t1.0\t0.9\n"
    with pytest.raises(ResultFileError, match=r"Received columns: \['Rate', 'Objective', "):
        RangeTestResult.from_csv(text)
    r = RangeTestResult.from_csv(text, lr_col="rate", loss_col="Objective")
    assert r.lrs.tolist() == [0.001, 0.01] and r.losses.tolist() == [2.0, 1.0]
    with pytest.raises(ResultFileError, match=r"No column named 'lr' \(--lr-col\)"):
        RangeTestResult.from_csv(text, lr_col="lr", loss_col="Objective")


def test_blank_rates_without_a_step_column_say_what_joins_them() -> None:
    with pytest.raises(ResultFileError, match=r"data row 2 has no `loss`.*needs a `step` column"):
        RangeTestResult.from_csv("lr,loss\n0.1,1\n0.2,\n")


def test_no_step_with_both_a_rate_and_a_loss() -> None:
    text = "step,lr-SGD,train_loss\n0,0.1,\n1,,2.0\n"
    with pytest.raises(ResultFileError, match=r"No step of this CSV logged both `lr-SGD` and"):
        RangeTestResult.from_csv(text)


def scalar_export(path: Path, steps: list[int], values: np.ndarray) -> Path:
    rows = ["Wall time,Step,Value"]
    rows += [f"{1.7e9 + s},{s},{float(v)!r}" for s, v in zip(steps, values, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_tensorboard_scalar_exports_are_joined_by_step(tmp_path: Path) -> None:
    # The loss was logged one step later than the rate, and once more at a repeated step.
    lr = scalar_export(tmp_path / "lr.csv", [0, 1, 2, 3, 4, 5], LRS)
    loss = scalar_export(
        tmp_path / "loss.csv", [1, 2, 3, 4, 5, 5, 6], np.array([*LOSSES[1:], 9.0, 7.0])
    )
    r = RangeTestResult.from_scalars(lr=lr, loss=loss)
    np.testing.assert_array_equal(r.lrs, LRS[1:])
    # step 5 logged twice: the last value counts, as TensorBoard draws it
    np.testing.assert_array_equal(r.losses, [*LOSSES[1:5], 9.0])


def test_one_tensorboard_export_alone_names_the_flags(tmp_path: Path) -> None:
    path = scalar_export(tmp_path / "run-lr.csv", [0, 1], LRS[:2])
    with pytest.raises(ResultFileError, match=r"TensorBoard scalar export.*--lr LR.csv --loss"):
        RangeTestResult.load(path)


def test_exports_that_share_no_step(tmp_path: Path) -> None:
    lr = scalar_export(tmp_path / "lr.csv", [0, 1], LRS[:2])
    loss = scalar_export(tmp_path / "loss.csv", [10, 11], LOSSES[:2])
    with pytest.raises(ResultFileError, match=r"share no step.*rate steps 0..1, loss steps 10"):
        RangeTestResult.from_scalars(lr=lr, loss=loss)
    with pytest.raises(ResultFileError, match=r"--lr \(lr=\) takes a TensorBoard scalar export"):
        RangeTestResult.from_scalars(
            lr=RangeTestResult(lrs=LRS, losses=LOSSES).save(tmp_path / "ours.csv"), loss=loss
        )
