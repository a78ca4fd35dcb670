"""A range test's curve as a pandas DataFrame, for people who plot or analyse it themselves.

pandas is optional and imported only here, when a frame is asked for; the core itself stays
numpy-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._result import RangeTestResult


def require_pandas(what: str) -> Any:
    """``import pandas``, or an :class:`ImportError` that says how to install it."""
    try:
        import pandas
    except ModuleNotFoundError as exc:
        raise ImportError(
            f"`{what}` needs pandas, which could not be imported ({exc}). Install it with: "
            'pip install "lrfinder[pandas]" (or pip install pandas). Without pandas, '
            "`result.to_csv()` gives the same table as text.",
            name=exc.name,
        ) from exc
    return pandas


def curve_frame(result: RangeTestResult) -> Any:
    """One row per step: ``lr``, ``loss``, ``smoothed_loss``, ``lr_group_<g>`` for every
    parameter group, and ``val_loss`` when the test measured one; the index is ``step``.

    The columns are those of :meth:`RangeTestResult.to_csv`, as float64 copies (the result's
    arrays are read-only); NaN and inf losses are kept as recorded.
    """
    pd = require_pandas("RangeTestResult.to_pandas")
    columns: dict[str, Any] = {
        "lr": result.lrs.copy(),
        "loss": result.losses.copy(),
        "smoothed_loss": result.smoothed_losses.copy(),
    }
    for g in range(result.group_lrs.shape[1]):
        columns[f"lr_group_{g}"] = result.group_lrs[:, g].copy()
    if result.val_losses is not None:
        columns["val_loss"] = result.val_losses.copy()
    return pd.DataFrame(columns, index=pd.RangeIndex(result.steps, name="step"))
