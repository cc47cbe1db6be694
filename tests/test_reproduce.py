"""benchmarks/reproduce.py: the verdict logic, a CPU smoke run, and torchrun sharding."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO

from cifarnets import report
from cifarnets.report import (
    error_axis_top,
    order_checks,
    published_error,
    rows_from_results,
    table1_markdown,
    verify,
)
from cifarnets.training import RECIPES, RunResult, RunSpec

SCRIPT = REPO / "benchmarks" / "reproduce.py"


def summary(
    model: str, error: float | None, seed: int = 0, status: str = "finished", **changes
) -> RunResult:
    recipe = RECIPES["report"].with_changes(**changes)
    history = [
        {
            "epoch": e + 1,
            "train_loss": 2.0,
            "train_error": error and error / 2,
            "test_error": error,
            "elapsed_s": 1.0,
        }
        for e in range(recipe.epochs)
    ]
    return RunResult(
        spec=RunSpec(model, recipe=recipe, seed=seed),
        status=status,
        message="",
        epochs=recipe.epochs,
        history=history,
        chunks=[],
        train_images=50_000,
        test_images=10_000,
    )


def test_verify_passes_a_faithful_reproduction():
    rows = rows_from_results(
        [
            summary("resnet20", 8.30),
            summary("plain20", 9.62),
            summary("plain56", 13.1),
            summary("plain110", 90.0),  # no target: reported, not judged
        ]
    )
    assert verify(rows) == []
    assert [r.verdict for r in rows] == ["pass", "pass", "reported", "reported"]


def test_verify_fails_a_miss_and_explains_the_tolerance():
    rows = rows_from_results([summary("resnet20", 9.16)])  # 8.75 + 0.40 < 9.16
    (failure,) = verify(rows)
    assert "resnet20: 9.16 % > target 8.75 + 0.4" in failure
    assert rows_from_results([summary("resnet20", 9.15)])[0].verdict == "pass"


def test_tolerance_shrinks_with_seeds():
    rows = rows_from_results(
        [summary("resnet56", e, seed=s) for s, e in enumerate([7.0, 7.2, 7.3])]
    )
    (row,) = rows
    assert row.tolerance == 0.23 and row.mean == pytest.approx(7.1667, abs=1e-4)
    assert row.verdict == "pass"  # 7.17 <= 6.97 + 0.23
    assert "7.17 +- 0.15 (7.00, 7.20, 7.30)" in table1_markdown(rows)


def test_verify_fails_divergence_degradation_no_shortcut_gain_and_short_runs():
    assert (
        "diverged" in verify(rows_from_results([summary("resnet110", None, status="diverged")]))[0]
    )
    no_degradation = rows_from_results([summary("plain20", 9.5), summary("plain56", 9.4)])
    assert verify(no_degradation) == [
        "degradation not reproduced: plain56 is not worse than plain20 "
        "(plain56 9.40 % vs plain20 9.50 %)"
    ]
    no_shortcut_gain = rows_from_results([summary("resnet20", 8.6), summary("plain20", 8.5)])
    assert verify(no_shortcut_gain) == [
        "shortcuts did not help: plain20 is not worse than resnet20 "
        "(plain20 8.50 % vs resnet20 8.60 %)"
    ]
    short = rows_from_results([summary("resnet20", 8.0, epochs=10, milestones=(5,))])
    assert verify(short) == [
        "resnet20: cannot verify, the runs are not the report's full "
        "recipe (recipe " + short[0].recipe + ", or data subsets)"
    ]
    assert verify([]) == ["no runs to verify"]


def test_a_net_trained_alone_is_checked_against_its_partners_published_weights(monkeypatch):
    """plain56 trained here, resnet56 not: the shortcut check uses resnet56's DEFAULT
    weights' measured error, and says so; a partner with no weights is no check."""
    resnet56_error, source = published_error("resnet56")
    assert source.startswith("resnet56: published resnet56.cifar10_")
    plain20_error, _ = published_error("plain20")
    worst = max(resnet56_error, plain20_error)
    ok = rows_from_results([summary("plain56", worst + 1)])
    checks = {c.better: c for c in order_checks(ok)}  # plain20 is published too
    assert sorted(checks) == ["plain20", "resnet56"] and all(c.ok for c in checks.values())
    assert checks["resnet56"].check == "shortcuts help"
    assert checks["resnet56"].better_error == resnet56_error
    assert f"({source}, not trained here)" in table1_markdown(ok)
    failures = verify(rows_from_results([summary("plain56", resnet56_error - 0.5)]))
    (failure,) = [f for f in failures if f.startswith("shortcuts did not help")]
    assert failure.startswith("shortcuts did not help: plain56 is not worse than resnet56")
    assert "not trained here" in failure
    short = rows_from_results([summary("plain56", 90.0, epochs=2, milestones=(1,))])
    assert order_checks(short) == []  # a short run is not held against published nets
    assert published_error("plain110") is None  # no weights published for it
    monkeypatch.setattr(report, "published_error", lambda model: None)
    assert order_checks(ok) == []  # a partner with no weights: no check


def test_table_names_report_rows_and_verdicts():
    table = table1_markdown(
        rows_from_results([summary("resnet164", 5.5), summary("plain164", 90.0)])
    )
    assert "| resnet164 | ResNet-110 | 5.50 | 0 | 5.68 | 5.93 | <= 5.93 (+0.4) | pass |" in table
    assert "| plain164 | vanilla CNN 110 | 90.00 | 0 | 90.00 | - | - | reported |" in table
    assert "- shortcuts help, plain164 worse than resnet164: yes" in table


def test_figure6_has_the_papers_layout(tmp_path, monkeypatch):
    """He et al.'s Fig. 6: plain nets left, ResNets right; per net, training error
    dashed and test error solid, in one colour."""
    pytest.importorskip("matplotlib")

    figures = {}

    def keep(fig, path):
        figures[path.name] = fig
        return path

    monkeypatch.setattr(report, "_save", keep)
    results = [summary("resnet20", 8.6), summary("plain20", 9.3), summary("plain56", 13.0)]
    report.plot_curves(results, tmp_path)
    left, right = figures["fig6_test_error.png"].axes
    assert left.get_title().startswith("Plain nets") and right.get_title().startswith("ResNets")
    assert [line.get_label() for line in left.lines if line.get_linestyle() == "-"] == [
        "plain20",
        "plain56",
    ]
    styles = [(line.get_linestyle(), line.get_color()) for line in left.lines]
    assert styles[0][0] == "--" and styles[1][0] == "-" and styles[0][1] == styles[1][1]
    assert left.get_ylim() == (0.0, 20.0)  # the paper's axis
    loss_left, _ = figures["fig5_train_loss.png"].axes
    assert loss_left.get_title().startswith("ResNets")  # Figure 5: the lab report's layout


def test_figure6_axis_is_the_papers_and_grows_only_for_nets_that_learned():
    assert error_axis_top([8.59, 9.34]) == 20.0  # the paper's 0-20 %
    assert error_axis_top([8.59, 15.05, 90.0]) == 1.5 * 15.05  # plain164 runs off the top
    assert error_axis_top([90.0]) == 100.0


def test_help_documents_the_harness():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    for needle in (
        "164 epochs",
        "--warmup",
        "--verify",
        "torchrun",
        "continues",
        "table1.md",
        "fig5_train_loss.png",
        "0.2",
        "--concurrent",
        "--smoke",
        "CUDA graph",
        "--max-minutes",
        "--executor",
        "Exit status",
        "4 stopped before",
    ):
        assert needle in result.stdout, needle


SMOKE_RUNS = (
    "resnet20-cifar10-smoke-s0-train512-test256",
    "plain20-cifar10-smoke-s0-train512-test256",
)


@pytest.mark.slow  # 25 s: the whole program end to end (CI runs it with -m slow)
def test_smoke_run_writes_every_output(cifar10_root, tmp_path):
    out = tmp_path / "out"
    command = [
        sys.executable,
        str(SCRIPT),
        "--smoke",
        "--data",
        str(cifar10_root),
        "--out",
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("table1.md", "fig5_train_loss.png", "fig6_test_error.png", "results.json"):
        assert (out / name).is_file(), name
    for run in SMOKE_RUNS:
        for name in ("log.csv", "chunks.json", "weights.safetensors", "run.json", "summary.json"):
            assert (out / run / name).is_file(), f"{run}/{name}"
    results = json.loads((out / "results.json").read_text())
    assert {r["name"] for r in results} == set(SMOKE_RUNS)
    assert all(r["command"].startswith("python benchmarks/reproduce.py --smoke") for r in results)
    assert "n/a (not the report's full recipe)" in (out / "table1.md").read_text()
    # A smoke run cannot verify the published numbers, and says so with exit status 1.
    verify_run = subprocess.run(
        [*command, "--verify"], capture_output=True, text=True, timeout=600, cwd=REPO
    )
    assert verify_run.returncode == 1
    assert "cannot verify, the runs are not the report's full recipe" in verify_run.stdout


def test_smoke_runs_never_touch_the_real_runs(cifar10_root, tmp_path):
    """--smoke goes to runs/smoke by default, under names of its own recipe."""
    command = [
        sys.executable,
        "-m",
        "cifarnets.reproduce",
        "--smoke",
        "--models",
        "resnet20",
        "--data",
        str(cifar10_root),
        "--executor",
        "eager",
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "runs" / "smoke" / SMOKE_RUNS[0] / "weights.safetensors").is_file()
    assert not (tmp_path / "runs" / "reproduce").exists()


def test_a_chunk_stops_with_exit_4_and_says_how_to_continue(cifar10_root, tmp_path):
    command = [
        sys.executable,
        "-m",
        "cifarnets.reproduce",
        "--models",
        "resnet20",
        "--epochs",
        "30",
        "--milestones",
        "20",
        "--train-subset",
        "256",
        "--test-subset",
        "128",
        "--data",
        str(cifar10_root),
        "--out",
        str(tmp_path),
        "--executor",
        "eager",
        "--max-minutes",
        "0.05",
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 4, result.stderr[-2000:]
    assert "need more chunks. Continue with:" in result.stdout
    assert "python -m cifarnets.reproduce --models resnet20" in result.stdout
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert (run / "checkpoint.safetensors").is_file()
    assert not (tmp_path / "table1.md").exists()  # written once every run has finished


def test_usage_errors_exit_2_with_one_line(cifar10_root, tmp_path):
    for args, needle in [
        (["--models", "resnet21"], "Did you mean 'resnet20'"),
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--epochs", "10", "--milestones", "12"], "milestones must be"),
        (["--train-subset", "0"], "train_subset must be"),
        (["--data", str(tmp_path / "none")], "cifar-10-batches-py"),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", "cifarnets.reproduce", *args, "--out", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args",
    [["--concurrent", "0"], ["--concurrent", "-1"], ["--epochs", "1.5"], ["--test-subset", "x"]],
)
def test_bad_numbers_are_refused_before_anything_runs(args, capsys):
    from cifarnets.reproduce import parse_args

    with pytest.raises(SystemExit) as excinfo:
        parse_args(args)
    assert excinfo.value.code == 2 and args[0] in capsys.readouterr().err


def test_bad_subsets_are_refused_before_anything_runs(tmp_path):
    from cifarnets.reproduce import make_specs, parse_args

    for args in (["--train-subset", "-5"], ["--test-subset", "-9990"], ["--train-subset", "0"]):
        with pytest.raises(ValueError, match="subset must be None"):
            make_specs(parse_args([*args, "--out", str(tmp_path)]))


def test_report_only_never_passes_missing_or_unfinished_runs_off_as_a_report(tmp_path, capsys):
    from cifarnets.reproduce import main

    args = ["--report-only", "--models", "resnet20", "plain20", "--out", str(tmp_path)]
    assert main(args) == 2  # e.g. a wrong --out
    assert "holds none of the runs asked for" in capsys.readouterr().err
    assert not (tmp_path / "table1.md").exists()
    running = summary("resnet20", 20.0, status="running")
    (tmp_path / running.name).mkdir()
    (tmp_path / running.name / "summary.json").write_text(json.dumps(running.to_dict()))
    assert main(args) == 4
    captured = capsys.readouterr()
    assert "has no results yet for plain20-cifar10-report-s0" in captured.err
    continue_with = captured.out.split("Continue with:\n")[1].strip()
    assert (
        continue_with == f"python -m cifarnets.reproduce --models resnet20 plain20 --out {tmp_path}"
    ), "the command that trains them, not --report-only"


def test_missing_matplotlib_skips_the_figures_with_a_note(cifar10_root, tmp_path):
    code = (
        "import sys; sys.modules['matplotlib'] = None; "
        "from cifarnets.reproduce import main; sys.exit(main(sys.argv[1:]))"
    )
    command = [
        sys.executable,
        "-c",
        code,
        "--smoke",
        "--models",
        "resnet20",
        "--data",
        str(cifar10_root),
        "--out",
        str(tmp_path),
        "--executor",
        "eager",
        "--quiet",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "matplotlib is not installed" in result.stderr  # said before training
    assert "figures were skipped" in result.stdout
    assert (tmp_path / "table1.md").is_file() and not (tmp_path / "fig5_train_loss.png").exists()


@pytest.mark.slow  # 24 s: two processes under torchrun (CI runs it with -m slow)
def test_torchrun_shards_runs_and_gathers_on_rank_0(cifar10_root, tmp_path):
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--standalone",
        str(SCRIPT),
        "--smoke",
        "--data",
        str(cifar10_root),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--executor",
        "eager",
        "--threads",
        "1",
    ]
    # faulthandler: should a rank abort again, its Python stack is in stderr.
    env = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + "\n" + result.stderr[-6000:]
    results = json.loads((out / "results.json").read_text())
    assert sorted(r["name"] for r in results) == sorted(SMOKE_RUNS)
    # Each rank trained one of the two runs: one summary line per run, not two.
    assert result.stdout.count("| resnet20 (smoke) |") == 1
    finished = f"{SMOKE_RUNS[0]}: finished"
    assert result.stderr.count(finished) + result.stdout.count(finished) == 1
