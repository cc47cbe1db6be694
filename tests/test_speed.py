"""benchmarks/speed.py prints and stores its figures, timing the engine's own runs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
import torch
from helpers import REPO

from cifarnets.training import executors as executors_module
from cifarnets.training import spec as spec_module


def test_speed_benchmark_runs_and_records_its_command(tmp_path):
    command = [
        sys.executable,
        "benchmarks/speed.py",
        "--models",
        "resnet20",
        "--steps",
        "1",
        "--repeats",
        "2",
        "--device",
        "cpu",
        "--variants",
        "eager fp32 channels_last",
        "--eval-images",
        "200",
        "--out",
        str(tmp_path),
    ]
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
    assert (
        "command: python benchmarks/speed.py --models resnet20"
        in (tmp_path / "speed-cpu.md").read_text()
    )


def test_epoch_times_reads_each_chunk_of_a_run(tmp_path):
    run = tmp_path / "resnet20-cifar10-report-s0"
    run.mkdir()
    chunk = {"hardware": "CPU X", "executor": "compile", "threads": 1}
    fallback = {
        "executor": "compile",
        "to": "eager",
        "reason": "raised InvalidCxxCompiler",
        "epoch": 6,
        "step": 1955,
    }
    (run / "chunks.json").write_text(
        json.dumps(
            [
                {**chunk, "index": 0, "start_epoch": 0, "end_epoch": 3, "precision": "fp32"},
                {**chunk, "index": 1, "start_epoch": 3, "end_epoch": 5, "precision": "bf16"},
                {
                    **chunk,
                    "index": 2,
                    "start_epoch": 5,
                    "end_epoch": 6,
                    "precision": "bf16",
                    "executor": "eager",
                    "executor_asked": "auto",
                    "fallbacks": [fallback],
                },
            ]
        )
    )
    times = [(0, 900.0), (0, 200.0), (0, 210.0), (1, 500.0), (1, 120.0), (2, 300.0)]
    (run / "log.csv").write_text(
        "epoch,epoch_time_s,chunk\n"
        + "".join(f"{i + 1},{t},{c}\n" for i, (c, t) in enumerate(times))
    )
    result = subprocess.run(
        [sys.executable, "benchmarks/epoch_times.py", str(run), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    # Each chunk's first epoch (compile warm-up) is left out of its median.
    assert "| 0 | 1-3 | CPU X | compile | fp32 | 205.0 (200.0-210.0) | 2 |" in result.stdout
    assert "| 1 | 4-5 | CPU X | compile | bf16 | 120.0 (120.0-120.0) | 1 |" in result.stdout
    assert "| 2 | 6-6 | CPU X | eager (after compile failed) | bf16 | - | 0 |" in result.stdout
    assert "command: python benchmarks/epoch_times.py" in (tmp_path / "epoch-times.md").read_text()


def load_speed():
    """benchmarks/speed.py as a module, so that a test can stand in for the bf16 probe."""
    spec = importlib.util.spec_from_file_location("speed_benchmark", REPO / "benchmarks/speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("cpu", ["native bf16", "emulated bf16", "emulated bf16, asked for"])
def test_speed_leaves_emulated_bf16_out_and_names_what_auto_would_pick(
    cpu, monkeypatch, capsys, tmp_path
):
    speed = load_speed()
    monkeypatch.setattr(spec_module, "cpu_has_native_bf16", lambda: cpu == "native bf16")
    monkeypatch.setattr(executors_module, "_have_cxx", lambda: True)
    args = [
        "--models",
        "resnet20",
        "--steps",
        "1",
        "--repeats",
        "1",
        "--device",
        "cpu",
        "--variants",
        "eager bf16",
        "--eval-images",
        "100",
        "--out",
        str(tmp_path),
    ]
    assert speed.main(args + (["--emulated-bf16"] if "asked" in cpu else [])) == 0
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "speed-cpu.json").read_text())
    assert "| resnet20 | eager fp32 NCHW |" in out  # the baseline, always
    if cpu == "native bf16":
        assert "| resnet20 | eager bf16 channels_last |" in out and "left out" not in out
        assert (
            "fastest for resnet20 in bf16 (auto's precision here): eager bf16 channels_last" in out
        )
        assert "auto trains resnet20 with compile bf16 channels_last here (not timed" in out
    elif cpu == "emulated bf16":
        assert "bf16 channels_last |" not in out and data["skipped"] == ["eager bf16 channels_last"]
        assert "left out: eager bf16 channels_last (this CPU has no bf16 instructions" in out
    else:
        row = data["per_net"]["resnet20"]["eager bf16 channels_last (emulated)"]
        assert row["emulated"] and "| resnet20 | eager bf16 channels_last (emulated) |" in out
    if cpu != "native bf16":  # however fast the emulated rows, auto trains in fp32
        assert "fastest for resnet20 in fp32 (auto's precision here): eager fp32 NCHW" in out
        assert "auto trains resnet20 with compile fp32 channels_last here" in out
        assert data["auto"] == "compile fp32 channels_last"
