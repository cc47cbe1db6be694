"""benchmarks/speed.py prints and stores its figures (the CPU has the eager mode only)."""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from helpers import REPO


def test_speed_benchmark_runs_and_records_its_command(tmp_path):
    command = [sys.executable, "benchmarks/speed.py", "--models", "resnet20", "--steps", "1",
               "--device", "cpu", "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "| resnet20 |" in result.stdout and "n/a (needs CUDA)" in result.stdout
    data = json.loads((tmp_path / "speed-cpu.json").read_text())
    assert data["per_net"]["resnet20"]["eager_fp32_ms"] > 0
    assert data["environment"]["torch"] == torch.__version__
    assert "command: python benchmarks/speed.py --models resnet20" in (
        tmp_path / "speed-cpu.md").read_text()
