"""benchmarks/gpu/check.sh, the prepared CUDA check: it skips cleanly where no GPU is visible."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu" / "check.sh"


def test_the_gpu_check_skips_cleanly_without_a_visible_cuda_device(tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(SCRIPT), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "skipped: no CUDA device is visible (torch.cuda.is_available() is False)"
    )
    assert done.stderr == ""
    assert not out.exists()  # no table of numbers that were never measured


def test_the_gpu_check_script_is_executable_and_bounded() -> None:
    text = SCRIPT.read_text()
    assert os.access(SCRIPT, os.X_OK)
    assert "timeout 290" in text  # under 5 minutes, whatever the device does
