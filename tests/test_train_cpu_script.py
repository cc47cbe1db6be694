"""scripts/train_cpu.sh: which cores and how many threads each training process gets.

The script runs from a copy in tmp_path with a stub for Python that writes down its
arguments and exits, so nothing trains and the repository's runs/ stays untouched."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from helpers import REPO

pytestmark = pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")


def _launch(tmp_path, models, **env):
    (tmp_path / "scripts").mkdir(exist_ok=True)
    shutil.copy(REPO / "scripts" / "train_cpu.sh", tmp_path / "scripts")
    stub = tmp_path / "python-stub"
    stub.write_text('#!/bin/sh\necho "args: $*"\n')
    stub.chmod(0o755)
    result = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "train_cpu.sh"), *models],
        env={**os.environ, "PYTHON": str(stub), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    logs = {}
    for model in models:  # the stub runs in the background: wait for its line
        log = tmp_path / "runs" / "cpu-logs" / f"{model}.log"
        for _ in range(100):
            if log.is_file() and "args:" in log.read_text():
                break
            time.sleep(0.1)
        logs[model] = log.read_text()
    return result.stdout, logs


def test_one_single_threaded_process_per_run_by_default(tmp_path):
    stdout, logs = _launch(tmp_path, ["resnet20", "plain20"])
    for model in ("resnet20", "plain20"):
        assert f"--models {model} " in logs[model]
        assert "--threads 1 " in logs[model]
    assert stdout.count("1 thread(s)") == 2


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two usable cores")
def test_a_core_list_gives_the_run_that_many_threads(tmp_path):
    first, second = sorted(os.sched_getaffinity(0))[:2]
    stdout, logs = _launch(
        tmp_path, ["resnet110"], TRAIN_CORES=f"{first},{second}", TRAIN_ARGS="--max-minutes 5"
    )
    assert "--threads 2 " in logs["resnet110"]
    assert logs["resnet110"].rstrip().endswith("--max-minutes 5")
    assert f"core(s) {first},{second}, 2 thread(s)" in stdout
