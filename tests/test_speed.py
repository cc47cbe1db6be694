"""benchmarks/speed.py prints and stores its figures, timing the engine's own runs."""

from __future__ import annotations

import json
import subprocess
import sys

import torch
from helpers import REPO


def test_speed_benchmark_runs_and_records_its_command(tmp_path):
    command = [sys.executable, "benchmarks/speed.py", "--models", "resnet20", "--steps", "1",
               "--repeats", "2", "--device", "cpu", "--variants", "eager fp32 channels_last",
               "--eval-images", "200", "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "| resnet20 | eager fp32 NCHW |" in result.stdout  # the baseline, always
    assert "| resnet20 | eager fp32 channels_last |" in result.stdout
    assert "not checked on a CPU" in result.stdout
    data = json.loads((tmp_path / "speed-cpu.json").read_text())
    variant = data["per_net"]["resnet20"]["eager fp32 channels_last"]
    assert variant["ms_per_step"] > 0 and len(variant["ms_all"]) == 2
    assert variant["eval_10k_s"] > 0
    assert data["environment"]["torch"] == torch.__version__
    assert "command: python benchmarks/speed.py --models resnet20" in (
        tmp_path / "speed-cpu.md").read_text()
