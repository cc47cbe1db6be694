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


def test_epoch_times_reads_each_chunk_of_a_run(tmp_path):
    run = tmp_path / "resnet20-cifar10-report-s0"
    run.mkdir()
    chunk = {"hardware": "CPU X", "executor": "compile", "threads": 1}
    (run / "chunks.json").write_text(json.dumps([
        {**chunk, "index": 0, "start_epoch": 0, "end_epoch": 3, "precision": "fp32"},
        {**chunk, "index": 1, "start_epoch": 3, "end_epoch": 5, "precision": "bf16"}]))
    times = [(0, 900.0), (0, 200.0), (0, 210.0), (1, 500.0), (1, 120.0)]
    (run / "log.csv").write_text("epoch,epoch_time_s,chunk\n" + "".join(
        f"{i + 1},{t},{c}\n" for i, (c, t) in enumerate(times)))
    result = subprocess.run([sys.executable, "benchmarks/epoch_times.py", str(run), "--out",
                             str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    # Each chunk's first epoch (compile warm-up) is left out of its median.
    assert "| 0 | 1-3 | CPU X | compile | fp32 | 205.0 (200.0-210.0) | 2 |" in result.stdout
    assert "| 1 | 4-5 | CPU X | compile | bf16 | 120.0 (120.0-120.0) | 1 |" in result.stdout
    assert "command: python benchmarks/epoch_times.py" in (tmp_path / "epoch-times.md").read_text()
