"""benchmarks/reproduce.py: the verdict logic, a CPU smoke run, and torchrun sharding."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cifarnets.train import TrainConfig
from helpers import REPO

from cifarnets.report import rows_from_summaries, table1_markdown, verify

SCRIPT = REPO / "benchmarks" / "reproduce.py"


def summary(model: str, error: float, seed: int = 0, status: str = "finished",
            **config) -> dict:
    return {"model": model, "dataset": "cifar10", "seed": seed, "status": status,
            "final_test_error": error,
            "config": TrainConfig(model=model, seed=seed, **config).to_dict(),
            "history": [{"train_loss": 2.0, "test_error": error}]}


def test_verify_passes_a_faithful_reproduction():
    rows = rows_from_summaries([
        summary("resnet20", 8.30), summary("plain20", 9.62), summary("plain56", 13.1),
        summary("plain110", 90.0),  # no target: reported, not judged
    ])
    assert verify(rows) == []
    assert [r.verdict for r in rows] == ["pass", "pass", "reported", "reported"]


def test_verify_fails_a_miss_and_explains_the_tolerance():
    rows = rows_from_summaries([summary("resnet20", 9.16)])  # 8.75 + 0.40 < 9.16
    (failure,) = verify(rows)
    assert "resnet20: 9.16 % > target 8.75 + 0.4" in failure
    assert rows_from_summaries([summary("resnet20", 9.15)])[0].verdict == "pass"


def test_tolerance_shrinks_with_seeds():
    rows = rows_from_summaries([summary("resnet56", e, seed=s)
                                for s, e in enumerate([7.0, 7.2, 7.3])])
    (row,) = rows
    assert row.tolerance == 0.23 and row.mean == pytest.approx(7.1667, abs=1e-4)
    assert row.verdict == "pass"  # 7.17 <= 6.97 + 0.23
    assert "7.17 +- 0.15 (7.00, 7.20, 7.30)" in table1_markdown(rows)


def test_verify_fails_divergence_degradation_and_short_runs():
    assert "diverged" in verify(rows_from_summaries([summary("resnet110", None,
                                                             status="diverged")]))[0]
    no_degradation = rows_from_summaries([summary("plain20", 9.5), summary("plain56", 9.4)])
    assert verify(no_degradation) == ["degradation not reproduced: plain56 is not worse than "
                                      "plain20"]
    short = rows_from_summaries([summary("resnet20", 8.0, epochs=10)])
    assert verify(short) == ["resnet20: cannot verify, the runs are not the full recipe"]
    assert verify([]) == ["no runs to verify"]


def test_table_names_report_rows_and_verdicts():
    table = table1_markdown(rows_from_summaries([summary("resnet164", 5.5),
                                                 summary("plain164", 90.0)]))
    assert "| resnet164 | ResNet-110 | 5.50 | 0 | 5.68 | 5.93 | <= 5.93 (+0.4) | pass |" in table
    assert "| plain164 | vanilla CNN 110 | 90.00 | 0 | 90.00 | - | - | reported |" in table


def test_help_documents_the_harness():
    result = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0
    for needle in ("164 epochs", "--warmup", "--verify", "torchrun", "resumes", "table1.md",
                   "fig5_train_loss.png", "0.2", "--concurrent", "--smoke", "CUDA graph"):
        assert needle in result.stdout, needle


def test_smoke_run_writes_every_output(cifar10_root, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, str(SCRIPT), "--smoke", "--data", str(cifar10_root),
               "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("table1.md", "fig5_train_loss.png", "fig6_test_error.png", "results.json"):
        assert (out / name).is_file(), name
    for run in ("resnet20-cifar10-s0", "plain20-cifar10-s0"):
        for name in ("log.csv", "weights.safetensors", "config.json", "summary.json"):
            assert (out / run / name).is_file(), f"{run}/{name}"
    results = json.loads((out / "results.json").read_text())
    assert {r["name"] for r in results} == {"resnet20-cifar10-s0", "plain20-cifar10-s0"}
    assert all(r["command"].startswith("python benchmarks/reproduce.py --smoke")
               for r in results)
    assert "n/a (not the full recipe)" in (out / "table1.md").read_text()
    # A smoke run cannot verify the published numbers, and says so with exit status 1.
    verify_run = subprocess.run([*command, "--verify"], capture_output=True, text=True,
                                timeout=600, cwd=REPO)
    assert verify_run.returncode == 1
    assert "cannot verify, the runs are not the full recipe" in verify_run.stdout


def test_torchrun_shards_runs_and_gathers_on_rank_0(cifar10_root, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
               "--standalone", str(SCRIPT), "--smoke", "--data", str(cifar10_root),
               "--out", str(out), "--device", "cpu"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert sorted(r["name"] for r in results) == ["plain20-cifar10-s0", "resnet20-cifar10-s0"]
    # Each rank trained one of the two runs: one summary line per run, not two.
    assert result.stdout.count("| resnet20 |") == 1
    assert result.stderr.count("resnet20-cifar10-s0: finished") + result.stdout.count(
        "resnet20-cifar10-s0: finished") == 1
