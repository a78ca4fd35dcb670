#!/usr/bin/env bash
# The GPU check of lrfinder.torch: one CUDA device, under 5 minutes. Writes a Markdown table to
# benchmarks/gpu/results.md (or --out FILE) and prints it; skips (exit 0) when no CUDA device is
# visible, e.g. with CUDA_VISIBLE_DEVICES="".
#
#     bash benchmarks/gpu/check.sh [--out FILE] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec timeout 290 "$PYTHON" -m benchmarks.gpu.check "$@"
