"""The result of a range test: a frozen record that saves to and loads from JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings as _warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ._checks import check_real
from ._columns import curve_fields, join_by_step, scalar_series
from ._display import html, present
from ._errors import LRFinderError, LRFinderWarning, ResultFileError
from ._files import read_text
from ._registry import Suggestion, apply, warn_untrusted
from ._smoothing import ema
from ._table import META_PREFIX, read_table
from ._tensorboard import is_events, read_events

RESULT_FORMAT = "lrfinder.RangeTestResult"
RESULT_VERSION = 1
STOP_REASONS: tuple[str, ...] = (
    "completed",  # the sweep reached end_lr
    "diverged",  # the smoothed loss rose above diverge_threshold x its best
    "nonfinite",  # a loss was NaN or inf
    "data_exhausted",  # a one-shot iterator ran out of batches
    "stopped",  # the training loop ended the test early
    "unknown",  # imported from a CSV logged elsewhere
)
# A range test of a million steps with a few groups is well under this; anything larger is refused
# before parsing, so a hostile file cannot exhaust memory.
MAX_FILE_BYTES = 256 * 1024 * 1024
DEFAULT_SMOOTH_BETA = 0.95

PathLike = str | os.PathLike[str]


def _readonly(values: Any, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.array(values, dtype=float)
    except (TypeError, ValueError, OverflowError) as exc:
        raise LRFinderError(f"`{name}` must hold numbers only. Received: {exc}") from None
    if arr.ndim != ndim:
        raise LRFinderError(f"`{name}` must have {ndim} dimension(s). Received shape {arr.shape}")
    arr.flags.writeable = False
    return arr


def _sort_order(lrs: np.ndarray) -> np.ndarray | None:
    """None when the rates increase (every range test lrfinder records); else the order that
    sorts them, with an :class:`LRFinderWarning` saying so. Repeated rates are refused: a range
    test holds one loss per rate, and no order of the rows would say which loss belongs where."""
    if lrs.size < 2 or bool((lrs[1:] > lrs[:-1]).all()):
        return None
    order = np.argsort(lrs, kind="stable")
    ranked = lrs[order]
    repeated = ranked[1:] == ranked[:-1]
    if repeated.any():
        rate = float(ranked[1:][repeated][0])
        steps = np.flatnonzero(lrs == rate)
        raise LRFinderError(
            "Every learning rate must appear once: a range test records one loss per rate. "
            f"Received lr={rate:g} at steps {', '.join(map(str, steps[:3].tolist()))}"
            f"{' and more' if steps.size > 3 else ''} ({int(repeated.sum())} repeated in all); "
            "keep one row per rate, e.g. the steps of a single sweep."
        )
    how = (
        "in decreasing order"
        if bool((lrs[1:] < lrs[:-1]).all())
        else f"out of order at {int((lrs[1:] < lrs[:-1]).sum())} of {lrs.size - 1} steps"
    )
    _warnings.warn(
        f"The learning rates were not increasing ({how}), so the rows were sorted by rate. "
        "A range test sweeps the rate upwards; if the file's rate column is not that sweep, "
        "pass the right one (lr_col=, --lr-col).",
        LRFinderWarning,
        stacklevel=4,
    )
    return order


def _take(values: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    if order is None:
        return values
    out = values[order]
    out.flags.writeable = False
    return out


# Deeper settings than this are refused: nothing lrfinder writes nests more than a few levels,
# and a check by recursion must stay far from Python's recursion limit.
MAX_DEPTH = 32


def _plain(value: Any, name: str, depth: int = 0) -> Any:
    """Check that a settings value is plain JSON data (no objects to execute or pickle)."""
    if depth > MAX_DEPTH:
        raise LRFinderError(
            f"`{name}` nests lists or dicts more than {MAX_DEPTH} levels deep; settings are "
            "flat options."
        )
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (np.integer, np.floating)):
        return _plain(value.item(), name, depth)
    if isinstance(value, (list, tuple)):
        return [_plain(v, name, depth + 1) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, name, depth + 1) for k, v in value.items()}
    raise LRFinderError(
        f"`{name}` may hold only numbers, strings, booleans, None, lists and dicts. "
        f"Received a {type(value).__name__}: {value!r}"
    )


def check_header(data: Any, *, kind: str, fmt: str, newest: int) -> None:
    """Check the envelope of a saved ``kind`` (a JSON object with our ``format`` and a
    ``version`` this lrfinder reads); raise :class:`ResultFileError` saying what is wrong."""
    if not isinstance(data, dict):
        raise ResultFileError(f"A {kind} must be a JSON object. Received a {type(data).__name__}")
    if data.get("format") != fmt:
        raise ResultFileError(
            f"Not an lrfinder {kind}: `format` must be {fmt!r}. "
            f"Received: format={data.get('format')!r}"
        )
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ResultFileError(f"`version` must be a positive integer. Received: {version!r}")
    if version > newest:
        raise ResultFileError(
            f"This {kind} was written by a newer lrfinder (format version {version}; this one "
            f"reads up to {newest}). Upgrade lrfinder to read it."
        )


class _Derived:
    """The ``smoothed_losses`` field: given, or derived from the losses on first read.

    Most results that are built without it (a curve logged elsewhere, a file, a validation
    curve) are read by rules that never look at it, so the average is not computed until then.
    A data descriptor, so the dataclass's ``__init__`` (``object.__setattr__``) goes through it.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return None  # the field's default: derive
        value = obj.__dict__.get(self.slot)
        if value is None:
            value = _causal_smoothing(obj.losses, obj.__dict__["_smooth_beta"])
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.slot] = value


def _causal_smoothing(losses: np.ndarray, beta: float) -> np.ndarray:
    """The stopping rule's average of ``losses``, read-only: the finite prefix is smoothed, and
    nothing after a NaN/inf loss is averaged."""
    # min and max are finite only when every loss is: a cheap test of the usual case.
    if math.isfinite(losses.min()) and math.isfinite(losses.max()):
        smoothed = ema(losses, beta)
    else:
        smoothed = np.full_like(losses, np.nan)
        stop = int(np.argmin(np.isfinite(losses)))
        smoothed[:stop] = ema(losses[:stop], beta)
    smoothed.flags.writeable = False
    return smoothed


@dataclass(frozen=True, eq=False)
class RangeTestResult:
    """What a learning-rate range test recorded, one entry per training step.

    Attributes:
        lrs: the rate of each step (of the first parameter group when there are several),
            increasing: every rate finite, above 0 and different. Rows given in another order
            (reversed, shuffled) are sorted by rate, every per-step field with its row, and an
            :class:`LRFinderWarning` says so; a repeated rate is an error.
        losses: the raw loss each step produced at that rate; NaN/inf kept as recorded.
        smoothed_losses: the causal, debiased moving average the stopping rule used; when not
            given, the same average of ``losses`` (``settings['smooth_beta']``, default 0.95),
            computed on first read.
        stop_reason: one of ``completed``, ``diverged``, ``nonfinite``, ``data_exhausted``,
            ``stopped``, ``unknown``.
        group_lrs: shape ``(steps, groups)``, the rate of every parameter group at each step.
        settings: the options the test ran with (plain JSON data).
        timings: seconds spent, e.g. ``sweep_s``, ``snapshot_s``, ``restore_s``.
        val_losses: optional, a validation loss beside each step's training loss: NaN where no
            validation ran at that step, inf where it was not finite. :meth:`validation_curve`
            turns them into a curve that suggestions and plots read like any other.

    Examples:
        >>> r = RangeTestResult(lrs=[1e-3, 1e-2, 1e-1], losses=[2.0, 1.5, 9.0])
        >>> r.steps, r.stop_reason
        (3, 'completed')
    """

    lrs: np.ndarray
    losses: np.ndarray
    # None for these two means "derive": the stopping rule's average, one group at `lrs`.
    smoothed_losses: np.ndarray = _Derived()  # type: ignore[assignment]
    stop_reason: str = "completed"
    group_lrs: np.ndarray = None  # type: ignore[assignment]
    settings: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    val_losses: np.ndarray | None = None

    def __post_init__(self) -> None:
        lrs = _readonly(self.lrs, "lrs", 1)
        losses = _readonly(self.losses, "losses", 1)
        if lrs.shape != losses.shape:
            raise LRFinderError(
                "`lrs` and `losses` must have the same length. "
                f"Received: {lrs.size} rates and {losses.size} losses"
            )
        if lrs.size == 0:
            raise LRFinderError(
                "A result needs at least one step; this one has none (`lrs` and `losses` are "
                "empty)."
            )
        # min and max propagate NaN, so two reductions check every rate without a temporary.
        if not (lrs.min() > 0 and lrs.max() < math.inf):
            bad = ~(np.isfinite(lrs) & (lrs > 0))
            raise LRFinderError(
                "Every learning rate must be finite and above 0. Received: "
                f"{lrs[bad][:3].tolist()} (the first at step {int(np.flatnonzero(bad)[0])})"
            )
        if not isinstance(self.settings, Mapping):
            raise LRFinderError(
                f"`settings` must be a mapping. Received a {type(self.settings).__name__}"
            )
        if not isinstance(self.timings, Mapping):
            raise LRFinderError(
                f"`timings` must be a mapping. Received a {type(self.timings).__name__}"
            )
        order = _sort_order(lrs)
        if order is not None:
            lrs, losses = _take(lrs, order), _take(losses, order)
        given = self.__dict__.get("_smoothed_losses")  # not the field: reading it derives it
        if given is None:
            # Checked now, derived on first read (see _Derived).
            self.__dict__["_smooth_beta"] = check_real(
                "settings['smooth_beta']",
                dict(self.settings).get("smooth_beta", DEFAULT_SMOOTH_BETA),
                at_least=0.0,
                below=1.0,
            )
            smoothed = None
        else:
            smoothed = _readonly(given, "smoothed_losses", 1)
            if smoothed.shape != lrs.shape:
                raise LRFinderError(
                    "`smoothed_losses` must have one value per step. "
                    f"Received: {smoothed.size} for {lrs.size} steps"
                )
            smoothed = _take(smoothed, order)
        if self.group_lrs is None:
            group_lrs = lrs[:, None]  # a read-only view: one group, the rates themselves
        else:
            group_lrs = _readonly(self.group_lrs, "group_lrs", 2)
            if group_lrs.shape[0] != lrs.size:
                raise LRFinderError(
                    "`group_lrs` must have one row per step. "
                    f"Received: {group_lrs.shape[0]} rows for {lrs.size} steps"
                )
            if group_lrs.shape[1] == 0:
                raise LRFinderError("`group_lrs` must have at least one column (parameter group).")
            if not (group_lrs.min() >= 0 and group_lrs.max() < math.inf):
                raise LRFinderError(
                    "Every rate in `group_lrs` must be finite and at least 0. Received: "
                    f"{group_lrs[~(np.isfinite(group_lrs) & (group_lrs >= 0))][:3].tolist()}"
                )
            group_lrs = _take(group_lrs, order)
        if not isinstance(self.stop_reason, str) or self.stop_reason not in STOP_REASONS:
            raise LRFinderError(
                f"`stop_reason` must be one of {', '.join(STOP_REASONS)}. "
                f"Received: stop_reason={self.stop_reason!r}"
            )
        val_losses = None
        if self.val_losses is not None:
            val_losses = _readonly(self.val_losses, "val_losses", 1)
            if val_losses.shape != lrs.shape:
                raise LRFinderError(
                    "`val_losses` must have one value per step (NaN where none was measured). "
                    f"Received: {val_losses.size} for {lrs.size} steps"
                )
            val_losses = _take(val_losses, order)
        settings = _plain(dict(self.settings), "settings")
        timings = {
            str(k): check_real(f"timings[{str(k)!r}]", v, at_least=0.0)
            for k, v in dict(self.timings).items()
        }
        for name, value in (
            ("lrs", lrs),
            ("losses", losses),
            ("smoothed_losses", smoothed),
            ("group_lrs", group_lrs),
            ("settings", MappingProxyType(settings)),
            ("timings", MappingProxyType(timings)),
            ("val_losses", val_losses),
        ):
            object.__setattr__(self, name, value)

    # -- views -------------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """How many training steps the test ran."""
        return int(self.lrs.size)

    @property
    def suggestion(self) -> Suggestion:
        """The default suggestion, ``lrfinder.suggest(self)``; an :class:`LRFinderWarning` when
        the curve is not to be trusted (its ``warnings`` say why)."""
        return warn_untrusted(apply(self))

    def suggest(self, method: str | None = None, **options: Any) -> Suggestion:
        """The suggestion of one method of the registry; see :func:`lrfinder.suggest`."""
        return warn_untrusted(apply(self, method, **options))

    def validation_curve(self) -> RangeTestResult:
        """The validation losses as a result of their own, for suggestions and plots.

        Keeps the steps where a validation loss was measured (not NaN), with their rates; its
        ``losses`` are the validation losses, so ``result.validation_curve().suggestion`` reads
        the validation curve with any method of the registry.
        """
        if self.val_losses is None or np.isnan(self.val_losses).all():
            raise LRFinderError(
                "This result has no validation losses. Run the range test with validation data "
                "(e.g. lrfinder.torch.find_lr(..., val_data=loader, val_batches=4))."
            )
        keep = ~np.isnan(self.val_losses)
        return RangeTestResult(
            lrs=self.lrs[keep],
            losses=self.val_losses[keep],
            stop_reason=self.stop_reason,
            group_lrs=self.group_lrs[keep],
            settings={**self.settings, "curve": "validation"},
            timings=self.timings,
        )

    def plot(self, **options: Any) -> Any:
        """The two panels of :func:`lrfinder.plot_result` (loss against rate, and its rate of
        change): a ``(figure, axes)`` pair that shows itself as a notebook cell's last line.
        ``options`` go to :func:`lrfinder.plot_result` (``methods``, ``skip_start``...)."""
        return present("plot:RangeTestResult", self, **options)

    def __repr__(self) -> str:
        # The arrays run to thousands of characters; a summary names what they hold.
        finite = self.losses[np.isfinite(self.losses)]
        lowest = f"{float(finite.min()):.4g}" if finite.size else "none finite"
        mode = dict(self.settings).get("mode")
        extra = "" if mode is None else f", mode={mode!r}"
        if self.group_lrs.shape[1] > 1:
            extra += f", groups={self.group_lrs.shape[1]}"
        if self.val_losses is not None:
            extra += f", val_losses={int(np.sum(~np.isnan(self.val_losses)))}"
        return (
            f"RangeTestResult(steps={self.steps}, lrs={self.lrs[0]:.3g}..{self.lrs[-1]:.3g}"
            f"{extra}, lowest_loss={lowest}, stop_reason={self.stop_reason!r})"
        )

    def _repr_html_(self) -> str | None:
        return html(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RangeTestResult):
            return NotImplemented
        return (
            all(
                np.array_equal(getattr(self, n), getattr(other, n), equal_nan=True)
                for n in ("lrs", "losses", "smoothed_losses", "group_lrs")
            )
            and (
                (self.val_losses is None and other.val_losses is None)
                or (
                    self.val_losses is not None
                    and other.val_losses is not None
                    and np.array_equal(self.val_losses, other.val_losses, equal_nan=True)
                )
            )
            and self.stop_reason == other.stop_reason
            and dict(self.settings) == dict(other.settings)
            and dict(self.timings) == dict(other.timings)
        )

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # For copy.deepcopy and for passing a result between processes (multiprocessing, Ray):
        # rebuilt, and checked again, from its fields. Files are JSON or CSV, never pickle.
        return RangeTestResult, (
            self.lrs,
            self.losses,
            self.__dict__.get("_smoothed_losses"),  # None: still to derive
            self.stop_reason,
            self.group_lrs,
            dict(self.settings),
            dict(self.timings),
            self.val_losses,
        )

    # -- JSON --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; NaN and inf losses are written as the strings ``"nan"``/``"inf"``."""
        data: dict[str, Any] = {
            "format": RESULT_FORMAT,
            "version": RESULT_VERSION,
            "stop_reason": self.stop_reason,
            "lrs": self.lrs.tolist(),
            "losses": _encode_floats(self.losses),
            "smoothed_losses": _encode_floats(self.smoothed_losses),
            "group_lrs": self.group_lrs.tolist(),
            "settings": dict(self.settings),
            "timings": dict(self.timings),
        }
        if self.val_losses is not None:
            data["val_losses"] = _encode_floats(self.val_losses)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> RangeTestResult:
        """Rebuild a result from :meth:`to_dict` data, checking every field."""
        check_header(data, kind="result", fmt=RESULT_FORMAT, newest=RESULT_VERSION)
        missing = [k for k in ("lrs", "losses") if k not in data]
        if missing:
            raise ResultFileError(f"A result needs the fields {', '.join(missing)}.")
        for key in ("settings", "timings"):
            if not isinstance(data.get(key, {}), dict):
                raise ResultFileError(f"`{key}` must be a JSON object.")
        fields: dict[str, Any] = {
            "lrs": _decode_floats(data["lrs"], "lrs"),
            "losses": _decode_floats(data["losses"], "losses"),
            "smoothed_losses": (
                None
                if data.get("smoothed_losses") is None
                else _decode_floats(data["smoothed_losses"], "smoothed_losses")
            ),
            "stop_reason": data.get("stop_reason", "unknown"),
            "group_lrs": data.get("group_lrs"),
            "settings": data.get("settings", {}),
            "timings": data.get("timings", {}),
            "val_losses": (
                None
                if data.get("val_losses") is None
                else _decode_floats(data["val_losses"], "val_losses")
            ),
        }
        return _build(cls, fields, "Invalid result")

    # -- pandas ------------------------------------------------------------------------------
    def to_pandas(self) -> Any:
        """The curve as a ``pandas.DataFrame`` indexed by ``step``, with the columns of
        :meth:`to_csv` (pandas is optional: ``pip install pandas``).

        Examples:
            >>> frame = RangeTestResult(lrs=[1e-3, 1e-2], losses=[2.0, 1.5]).to_pandas()
            >>> list(frame.columns)
            ['lr', 'loss', 'smoothed_loss', 'lr_group_0']
        """
        from ._frame import curve_frame

        return curve_frame(self)

    # -- CSV ---------------------------------------------------------------------------------
    def to_csv(self) -> str:
        """The curve as CSV: ``step,lr,loss,smoothed_loss``, one ``lr_group_i`` per group, and
        ``val_loss`` when the result has validation losses.

        The first line is a comment, ``# lrfinder: {...}``: the format, ``stop_reason``,
        ``settings`` and ``timings`` as one line of JSON, so a CSV round trip keeps them
        (``pandas.read_csv(path, comment="#")`` skips it).
        """
        out = io.StringIO()
        meta = {
            "format": RESULT_FORMAT,
            "version": RESULT_VERSION,
            "stop_reason": self.stop_reason,
            "settings": dict(self.settings),
            "timings": dict(self.timings),
        }
        out.write(f"{META_PREFIX} {json.dumps(meta, allow_nan=False)}\n")
        writer = csv.writer(out, lineterminator="\n")
        groups = self.group_lrs.shape[1]
        val = [] if self.val_losses is None else ["val_loss"]
        writer.writerow(
            ["step", "lr", "loss", "smoothed_loss", *(f"lr_group_{g}" for g in range(groups)), *val]
        )
        columns = [self.lrs, self.losses, self.smoothed_losses, *self.group_lrs.T]
        if self.val_losses is not None:
            columns.append(self.val_losses)
        # repr() is the shortest text that reads back to the same float
        cells = [list(map(repr, c.tolist())) for c in columns]
        writer.writerows(zip(map(str, range(self.steps)), *cells, strict=True))
        return out.getvalue()

    @classmethod
    def from_csv(
        cls, text: str, *, lr_col: str | None = None, loss_col: str | None = None
    ) -> RangeTestResult:
        """Read a curve logged by any tool: a table with a rate and a loss column.

        The columns are found by name (``lr`` or ``learning_rate``, ``loss`` or ``train_loss``;
        Lightning's ``lr-<Optimizer>``), or named with ``lr_col`` and ``loss_col``. Commas,
        tabs, semicolons or spaces separate the cells; a blank cell means "not logged here",
        and rows that log the rate and the loss separately are joined by their ``step``. Rates
        out of order are sorted (with an :class:`LRFinderWarning`); see ``docs/files.md``.
        """
        table = read_table(text)
        fields = curve_fields(table, lr_col=lr_col, loss_col=loss_col)
        fields.update(_from_meta(table.meta))
        return _build(cls, fields, "Invalid CSV curve")

    @classmethod
    def from_scalars(cls, *, lr: PathLike, loss: PathLike) -> RangeTestResult:
        """Join two TensorBoard scalar exports (``Wall time,Step,Value``, one tag a file), the
        rate's and the loss's, by their ``Step``: the steps logged in both are kept."""
        series = []
        for flag, path in (("--lr (lr=)", lr), ("--loss (loss=)", loss)):
            text = read_text(Path(path), max_bytes=MAX_FILE_BYTES, what="scalar export")
            series.append(scalar_series(read_table(text), flag))
        fields = join_by_step(series[0], series[1])
        return _build(cls, {**fields, "stop_reason": "unknown"}, "Invalid curve")

    # -- files -------------------------------------------------------------------------------
    def save(self, path: PathLike) -> Path:
        """Write the result to ``path``: CSV if it ends in ``.csv``, JSON otherwise."""
        path = Path(path)
        if path.suffix.lower() == ".csv":
            path.write_text(self.to_csv(), encoding="utf-8")
        else:
            path.write_text(
                json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8"
            )
        return path

    @classmethod
    def load(
        cls, path: PathLike, *, lr_col: str | None = None, loss_col: str | None = None
    ) -> RangeTestResult:
        """Read a result saved by :meth:`save`, a table of rates and losses from any tool
        (see :meth:`from_csv`), or a TensorBoard run (an ``events.out.tfevents.*`` file or its
        folder; needs ``lrfinder[tensorboard]``). ``lr_col``/``loss_col`` name the columns, or
        the scalar tags, to read.

        Only plain data is parsed (JSON, CSV or TensorBoard's records, never pickle), so a
        hostile file can fail to load but cannot run code.
        """
        path = Path(path)
        if is_events(path):
            fields = read_events(path, lr_col=lr_col, loss_col=loss_col, max_bytes=MAX_FILE_BYTES)
            return _build(cls, {**fields, "stop_reason": "unknown"}, "Invalid TensorBoard curve")
        text = read_text(path, max_bytes=MAX_FILE_BYTES, what="range test result")
        if path.suffix.lower() in TABLE_SUFFIXES:
            return cls.from_csv(text, lr_col=lr_col, loss_col=loss_col)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            # ValueError: malformed JSON, or an integer of more digits than Python converts.
            if path.suffix.lower() != ".json" and _looks_like_table(text):
                return cls.from_csv(text, lr_col=lr_col, loss_col=loss_col)
            raise ResultFileError(f"{path} is not valid JSON: {exc}") from None
        if lr_col is not None or loss_col is not None:
            raise ResultFileError(
                f"{path} is an lrfinder JSON result, whose fields have fixed names; "
                "--lr-col / --loss-col (lr_col=, loss_col=) name the columns of a CSV."
            )
        return cls.from_dict(data)


TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def _looks_like_table(text: str) -> bool:
    first = text.lstrip("\ufeff").lstrip().partition("\n")[0]
    return first.startswith("#") or any(d in first for d in ",;\t")


def _from_meta(meta: dict[str, Any] | None) -> dict[str, Any]:
    """``stop_reason``, ``settings`` and ``timings`` from a CSV's ``# lrfinder:`` line."""
    if meta is None:
        return {"stop_reason": "unknown"}
    check_header(meta, kind="CSV's `# lrfinder:` line", fmt=RESULT_FORMAT, newest=RESULT_VERSION)
    for key in ("settings", "timings"):
        if not isinstance(meta.get(key, {}), dict):
            raise ResultFileError(f"`{key}` in the `# lrfinder:` line must be a JSON object.")
    return {
        "stop_reason": meta.get("stop_reason", "unknown"),
        "settings": meta.get("settings", {}),
        "timings": meta.get("timings", {}),
    }


def _build(cls: type[RangeTestResult], fields: dict[str, Any], what: str) -> RangeTestResult:
    """``cls(**fields)``, any error it raises as a :class:`ResultFileError` led by ``what``: the
    last guard, so that a file never crashes the reader."""
    try:
        return cls(**fields)
    except ResultFileError:
        raise
    except LRFinderError as exc:
        raise ResultFileError(f"{what}: {exc}") from None
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise ResultFileError(f"{what}: {type(exc).__name__}: {exc}") from None


def _encode_floats(values: np.ndarray) -> list[float | str]:
    return [float(v) if math.isfinite(v) else repr(float(v)) for v in values]


def _decode_floats(values: Any, name: str) -> np.ndarray:
    if not isinstance(values, list):
        raise ResultFileError(
            f"`{name}` must be a list of numbers. Received a {type(values).__name__}"
        )
    out: list[float] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise ResultFileError(f"`{name}` must hold numbers only. Received: {v!r}")
        if isinstance(v, str) and v not in ("nan", "inf", "-inf"):
            raise ResultFileError(f"`{name}` must hold numbers only. Received: {v!r}")
        try:
            out.append(float(v))
        except OverflowError:
            raise ResultFileError(
                f"`{name}` must hold numbers a float can hold. Received an integer of about "
                f"{int(abs(int(v)).bit_length() * 0.30103) + 1} digits"
            ) from None
    return np.array(out)


def as_result(result_or_curve: RangeTestResult | Sequence[Any]) -> RangeTestResult:
    """Accept a result or an ``(lrs, losses)`` pair."""
    if isinstance(result_or_curve, RangeTestResult):
        return result_or_curve
    lrs, losses = result_or_curve
    return RangeTestResult(lrs=np.asarray(lrs), losses=np.asarray(losses))
