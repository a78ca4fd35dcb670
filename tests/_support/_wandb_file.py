"""Read an offline W&B run back from its ``.wandb`` file, for the tests of ``log_wandb``.

Recent W&B releases write the run through their Go core and ship no Python reader, so this
reads the documented layout itself: a 7-byte header (``:W&B``, a 2-byte magic, a version
byte), then a LevelDB-style log of 32 KiB blocks whose records (4-byte checksum, 2-byte
little-endian length, 1-byte type: full, first, middle, last) carry serialized
``wandb.proto.wandb_internal_pb2.Record`` messages.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HEADER = 7
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> list[bytes]:
    """The payload of every record of the log, reassembled across blocks."""
    data = path.read_bytes()
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file (header {data[:4]!r})")
    out: list[bytes] = []
    pos, pending = HEADER, b""
    # A record cut short (the writer is still at work) is left out.
    while pos + 7 <= len(data):
        left = BLOCK - pos % BLOCK
        if left < 7:  # a block's trailer is padding
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:  # zero padding at the end of a block
            pos += left
            continue
        if pos + 7 + length > len(data):
            break
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == FULL:
            out.append(chunk)
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            out.append(pending + chunk)
            pending = b""
        else:
            raise ValueError(f"unknown record type {kind} at byte {pos}")
    return out


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


@dataclass
class OfflineRun:
    """What an offline run recorded: every history row, the summary, the config, the metric
    definitions (``define_metric``), by name."""

    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    step_metrics: dict[str, str] = field(default_factory=dict)

    def series(self, tag: str, axis: str) -> tuple[list[int], list[float]]:
        """``tag`` against its x axis ``axis``, in the order logged."""
        rows = [r for r in self.history if tag in r]
        return [r[axis] for r in rows], [r[tag] for r in rows]


def read_offline_run(run_dir: Path, *, timeout: float = 30.0) -> OfflineRun:
    """Parse the ``run-*.wandb`` file of a finished offline run directory.

    W&B's core process may still be writing the file when ``run.finish()`` returns, so this
    waits (up to ``timeout`` seconds) for the run's closing ``exit`` record.
    """
    from wandb.proto import wandb_internal_pb2

    (path,) = Path(run_dir).glob("run-*.wandb")
    deadline = time.monotonic() + timeout
    while True:
        parsed = []
        for payload in records(path):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(payload)
            parsed.append(record)
        if any(r.WhichOneof("record_type") == "exit" for r in parsed):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} has no exit record after {timeout} s")
        time.sleep(0.1)
    run = OfflineRun()
    for record in parsed:
        kind = record.WhichOneof("record_type")
        if kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            run.summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update})
        elif kind == "config":
            run.config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "metric" and record.metric.step_metric:
            run.step_metrics[record.metric.name] = record.metric.step_metric
    return run
