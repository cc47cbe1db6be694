"""The training engine on a slice of the real CIFAR-10 (CPU), and its GPU path (cuda)."""

from __future__ import annotations

import csv
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import REPO
from safetensors.torch import load_file

import cifarnets
from cifarnets.data import DataError
from cifarnets.errors import RunFolderError
from cifarnets.training import (
    EXECUTORS,
    RECIPES,
    Recipe,
    RunSpec,
    Runtime,
    StepExecutor,
    augment,
    epoch_generator,
    get_recipe,
    read_result,
    register_executor,
    train,
)
from cifarnets.training import spec as spec_module
from cifarnets.training.folder import RunFolder
from cifarnets.training.records import ChunkRecord, ExecutorFallback

# 256 training images in batches of 64: 4 steps per epoch, ~1 s per epoch on 2 cores.
TINY = get_recipe("report").with_changes(epochs=3, batch_size=64, milestones=(2,))
# Eager: tests pay no compile time (the compiled step has tests of its own). fp32: the
# same numerics on every CPU ("auto" is bf16 where the CPU has bf16 instructions).
QUIET = Runtime(progress=False, checkpoint_every_s=0, executor="eager", precision="fp32")


def tiny(model: str = "resnet20", seed: int = 0, recipe: Recipe = TINY, **kw) -> RunSpec:
    return RunSpec(
        model,
        recipe=recipe,
        seed=seed,
        train_subset=kw.pop("train_subset", 256),
        test_subset=128,
        **kw,
    )


def final_weights(out: Path, spec: RunSpec) -> dict[str, torch.Tensor]:
    return load_file(str(out / spec.name / "weights.safetensors"))


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def test_loss_falls_and_outputs_are_written(cifar10_root, tmp_path, monkeypatch):
    spec = tiny(train_subset=512)
    (result,) = train(
        spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET, command="pytest"
    )
    run = tmp_path / spec.name
    assert (
        spec.name == "resnet20-cifar10-report+" + TINY.name.split("+")[1] + "-s0-train512-test128"
    )
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0] - 0.1, losses
    assert result.status == "finished" and result.epochs == 3 and result.test_images == 128
    assert result.final_test_error == result.history[-1]["test_error"]
    assert result.command == "pytest" and not result.full_recipe
    (chunk,) = result.chunks
    assert chunk.epochs_added == 3 and chunk.torch == torch.__version__
    assert chunk.precision == "fp32" and chunk.executor in ("eager", "compile")
    assert chunk.hardware.startswith("CPU ")

    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["lr"]) for r in rows] == [0.1, 0.1, 0.01]  # milestone 2
    assert list(rows[0]) == [
        "epoch",
        "lr",
        "train_loss",
        "train_error",
        "test_error",
        "epoch_time_s",
        "elapsed_s",
        "chunk",
    ]
    assert json.loads((run / "run.json").read_text()) == spec.to_dict()
    assert read_result(run) == result
    assert not (run / "checkpoint.safetensors").exists(), "a finished run leaves no checkpoint"
    model = cifarnets.load_weights_file(cifarnets.resnet20(), run / "weights.safetensors")
    assert not model.training

    # A finished run is not trained again, nor touched.
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir()}
    from cifarnets.training import TrainingRun

    def no_training(self):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(TrainingRun, "epoch_steps", no_training)
    (again,) = train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    assert again.history == result.history
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir()} == before


def test_resume_equals_uninterrupted(cifar10_root, tmp_path):
    spec = tiny()
    train(spec, data_root=cifar10_root, out_dir=tmp_path / "a", runtime=QUIET)
    (stopped,) = train(
        spec, data_root=cifar10_root, out_dir=tmp_path / "b", runtime=QUIET, stop_after_epochs=2
    )
    assert stopped.status == "running" and stopped.epochs == 2
    checkpoint = tmp_path / "b" / spec.name / "checkpoint.safetensors"
    assert checkpoint.is_file() and checkpoint.stat().st_size < 2.5e6  # net + momentum
    (resumed,) = train(spec, data_root=cifar10_root, out_dir=tmp_path / "b", runtime=QUIET)
    assert resumed.epochs == 3 and [c.epochs_added for c in resumed.chunks] == [2, 1]
    assert [h["chunk"] for h in resumed.history] == [0, 0, 1]
    assert_same_weights(final_weights(tmp_path / "a", spec), final_weights(tmp_path / "b", spec))


def test_the_same_weights_give_the_same_file(cifar10_root, tmp_path):
    """Two processes training the same run write byte-identical weights (safetensors
    alone writes its metadata in a random order: a new sha256 every time)."""
    spec = tiny(recipe=TINY.with_changes(epochs=1, milestones=()))
    code = (
        f"from cifarnets.training import RunSpec, Runtime, train; "
        f"train(RunSpec.from_dict({spec.to_dict()!r}), data_root={str(cifar10_root)!r}, "
        f"out_dir=__import__('sys').argv[1], "
        f"runtime=Runtime(progress=False, executor='eager', precision='fp32', "
        f"threads={torch.get_num_threads()}))"
    )
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True, cwd=REPO)
    files = [(tmp_path / n / spec.name / "weights.safetensors").read_bytes() for n in "ab"]
    assert files[0] == files[1]


def test_a_run_moves_between_executors_and_thread_counts(cifar10_root, tmp_path):
    """Chunks with other runtimes continue the same run: the identity is the spec."""
    from torch._dynamo.utils import counters

    spec = tiny()
    train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET, stop_after_epochs=1)
    other = Runtime(
        progress=False, executor="compile", channels_last=False, threads=1, precision="fp32"
    )
    graphs = counters["stats"]["unique_graphs"]
    train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=other, stop_after_epochs=1)
    # The step compiled for the check is the one that trains: compiled once at most.
    assert counters["stats"]["unique_graphs"] - graphs <= 1
    (result,) = train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    assert result.status == "finished"
    assert [c.threads for c in result.chunks][1] == 1
    assert [c.executor for c in result.chunks] == ["eager", "compile", "eager"]
    assert [c.channels_last for c in result.chunks] == [True, False, True]
    # compile passed its check against the eager step (eager needs none).
    assert [c.fallbacks for c in result.chunks] == [[], [], []]
    assert [c.check_s is not None and c.check_s > 0 for c in result.chunks] == [False, True, False]


def test_killed_run_resumes_to_the_same_weights(cifar10_root, tmp_path):
    """SIGKILL in the middle of training, then the same call again."""
    spec = tiny(recipe=TINY.with_changes(epochs=4))
    threads = torch.get_num_threads()  # the same sums in both processes
    runtime = Runtime(
        progress=False, checkpoint_every_s=0, threads=threads, executor="eager", precision="fp32"
    )
    train(spec, data_root=cifar10_root, out_dir=tmp_path / "ref", runtime=runtime)
    code = (
        f"from cifarnets.training import RunSpec, Runtime, train; "
        f"train(RunSpec.from_dict({spec.to_dict()!r}), data_root={str(cifar10_root)!r}, "
        f"out_dir={str(tmp_path / 'killed')!r}, "
        f"runtime=Runtime(progress=False, checkpoint_every_s=0, threads={threads}, "
        f"executor='eager', precision='fp32'))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    checkpoint = tmp_path / "killed" / spec.name / "checkpoint.safetensors"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert checkpoint.exists(), "no checkpoint was written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / spec.name / "weights.safetensors").exists(), "too late"
    (resumed,) = train(spec, data_root=cifar10_root, out_dir=tmp_path / "killed", runtime=runtime)
    assert resumed.status == "finished"
    assert_same_weights(
        final_weights(tmp_path / "ref", spec), final_weights(tmp_path / "killed", spec)
    )


def test_sigterm_stops_at_an_epoch_boundary_and_the_run_continues(cifar10_root, tmp_path):
    spec = tiny(recipe=TINY.with_changes(epochs=40))
    code = (
        f"import sys; from cifarnets.training import RunSpec, Runtime, train; "
        f"(r,) = train(RunSpec.from_dict({spec.to_dict()!r}), "
        f"data_root={str(cifar10_root)!r}, out_dir={str(tmp_path)!r}, "
        f"runtime=Runtime(checkpoint_every_s=1e9, executor='eager', precision='fp32')); "
        f"sys.exit(r.status != 'running')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    log = tmp_path / spec.name / "log.csv"
    deadline = time.monotonic() + 120
    while not log.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "SIGTERM: stopping at the end of this epoch" in err
    result = read_result(tmp_path / spec.name)
    assert result.status == "running" and 1 <= result.epochs < 40
    assert "SIGTERM" in result.chunks[-1].stopped
    assert (tmp_path / spec.name / "checkpoint.safetensors").is_file()


def test_a_second_signal_aborts_with_one_line_and_the_checkpoint_stands(cifar10_root, tmp_path):
    """The first SIGTERM asks for the epoch's end; a second aborts at once: exit 4 (the
    same command continues), no traceback, and the last checkpoint still resumes."""
    argv = [
        sys.executable, "-m", "cifarnets", "train", "--models", "resnet20",
        "--data", str(cifar10_root), "--out", str(tmp_path), "--epochs", "40",
        "--milestones", "30", "--batch-size", "64", "--train-subset", "256",
        "--test-subset", "128", "--executor", "eager", "--precision", "fp32",
        "--checkpoint-every-s", "0",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=REPO, stderr=subprocess.PIPE, text=True)
    folder = None
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        found = list(tmp_path.glob("*/checkpoint.safetensors"))
        if found:
            folder = found[0].parent
            break
        time.sleep(0.05)
    assert folder is not None, "no checkpoint was written"
    time.sleep(2)  # into epoch 2 (~1-30 s), well before its end
    proc.send_signal(signal.SIGTERM)
    # Python runs a handler once for signals that arrive during one long C call: send
    # the second only once the first has been acknowledged.
    seen = []
    while not any("stopping at the end of this epoch" in line for line in seen):
        seen.append(proc.stderr.readline())
        assert seen[-1], "".join(seen)  # EOF: the process ended without acknowledging
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=120)
    err = "".join(seen) + rest
    assert proc.returncode == 4, err[-2000:]
    assert "aborted: the epoch in progress is lost" in err
    assert "Traceback" not in err
    spec = RunSpec.from_dict(json.loads((folder / "run.json").read_text()))
    state = RunFolder(tmp_path, spec).load_checkpoint()
    assert state is not None and state["progress"]["epoch"] >= 1


def test_time_budget_stops_before_the_next_epoch_would_overrun(cifar10_root, tmp_path):
    spec = tiny(recipe=TINY.with_changes(epochs=50))
    # 3 s: a few 1-s epochs
    budget = Runtime(progress=False, max_minutes=0.05, executor="eager", precision="fp32")
    (result,) = train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=budget)
    assert result.status == "running" and 1 <= result.epochs < 50
    chunk = result.chunks[-1]
    assert "time budget" in chunk.stopped
    # Bounds from the chunk's own clock, not the test's: a loaded machine makes every epoch
    # slower (a wall-clock limit failed at 41 s beside a training run). The check before
    # each epoch let the last one start before the 3-s deadline (+1 s for saves) ...
    assert chunk.wall_s - result.history[-1]["epoch_time_s"] < 3 + 1
    # ... and stopped the next one only because its estimate would end past it (the
    # message rounds the estimate to a second).
    estimate = float(re.search(r"~(\d+) s", chunk.stopped).group(1))
    assert chunk.wall_s + estimate > 3 - 0.6, (chunk.wall_s, chunk.stopped)
    assert (tmp_path / spec.name / "checkpoint.safetensors").is_file()


def test_a_budget_below_one_epoch_leaves_the_folder_as_it_was(cifar10_root, tmp_path, capsys):
    spec = tiny(recipe=TINY.with_changes(epochs=50))
    train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET, stop_after_epochs=1)
    folder = tmp_path / spec.name
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # 0.06 s: below the ~1-s epoch that the first chunk measured on this machine.
    budget = Runtime(progress=True, max_minutes=0.001, executor="eager", precision="fp32")
    (result,) = train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=budget)
    assert result.status == "running" and result.epochs == 1
    assert len(result.chunks) == 1  # no empty chunk record
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    said = "".join(capsys.readouterr())
    assert "stopped before training one epoch" in said and "nothing was written" in said
    assert "--max-minutes" in said


def test_runs_side_by_side_equal_runs_alone(cifar10_root, tmp_path):
    short = TINY.with_changes(epochs=2, milestones=(1,))
    specs = [tiny(recipe=short), tiny("plain20", seed=1, recipe=short)]
    together = train(specs, data_root=cifar10_root, out_dir=tmp_path / "together", runtime=QUIET)
    assert [r.name for r in together] == [s.name for s in specs]
    for spec in specs:
        train(spec, data_root=cifar10_root, out_dir=tmp_path / "alone", runtime=QUIET)
        assert_same_weights(
            final_weights(tmp_path / "together", spec), final_weights(tmp_path / "alone", spec)
        )


def test_compiled_step_trains_like_the_eager_step(cifar10_root, tmp_path):
    """torch.compile changes the order of float sums, not the training: the same loss
    curve (per-epoch mean loss) within tolerance over a few hundred steps of real data."""
    recipe = get_recipe("report").with_changes(epochs=3, batch_size=32, milestones=(2,))
    spec = RunSpec("resnet20", recipe=recipe, train_subset=2400, test_subset=500)  # 225 steps
    curves = {}
    for executor in ("eager", "compile"):
        runtime = Runtime(progress=False, executor=executor, precision="fp32")
        (result,) = train(
            spec, data_root=cifar10_root, out_dir=tmp_path / executor, runtime=runtime
        )
        curves[executor] = [h["train_loss"] for h in result.history]
    eager, compiled = curves["eager"], curves["compile"]
    assert eager[-1] < eager[0] - 0.2, eager  # it learns
    for a, b in zip(eager, compiled, strict=True):
        assert abs(a - b) < 0.05 * a + 0.02, (eager, compiled)


def test_divergence_stops_the_run_with_a_clear_message(cifar10_root, tmp_path):
    spec = tiny(recipe=TINY.with_changes(lr=1e6, epochs=5))
    (result,) = train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    assert result.status == "diverged" and result.epochs < 5
    assert "diverged in epoch" in result.message and "warm-up" in result.message
    assert "checkpoint" not in result.message  # none is left to point at
    assert not (tmp_path / spec.name / "weights.safetensors").exists()
    assert not (tmp_path / spec.name / "checkpoint.safetensors").exists()


def test_bad_data_root_fails_before_training(tmp_path):
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        train(tiny(), data_root=tmp_path / "nowhere", out_dir=tmp_path / "out", runtime=QUIET)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_wrong_dataset_is_named(cifar10_root, tmp_path):
    with pytest.raises(DataError, match="holds cifar-10-batches-py, a different data set"):
        train(tiny(dataset="cifar100"), data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)


def test_a_subset_larger_than_the_data_is_refused(cifar10_root, tmp_path):
    with pytest.raises(DataError, match="train_subset=60000 asks for more images"):
        train(tiny(train_subset=60_000), data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)


def test_another_runs_folder_is_never_touched(cifar10_root, tmp_path):
    spec = tiny(recipe=TINY.with_changes(epochs=1, milestones=()))
    train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    folder = tmp_path / spec.name
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # The same name for another run: the recipe's definition changed under its name.
    impostor = RunSpec.from_dict(
        {**spec.to_dict(), "recipe": {**spec.recipe.to_dict(), "momentum": 0.5}}
    )
    assert impostor.name == spec.name
    with pytest.raises(RunFolderError, match=r"holds another run.*recipe.momentum"):
        train(impostor, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_finished_run_of_another_config_is_never_taken_for_this_one(cifar10_root, tmp_path):
    """Even in a folder without run.json (an older version's): its summary says whose."""
    spec = tiny(recipe=TINY.with_changes(epochs=1, milestones=()))
    train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    folder = tmp_path / spec.name
    (folder / "run.json").unlink()
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    impostor = RunSpec.from_dict(
        {**spec.to_dict(), "recipe": {**spec.recipe.to_dict(), "momentum": 0.5}}
    )
    with pytest.raises(RunFolderError, match=r"holds another run.*recipe.momentum"):
        train(impostor, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    (folder / "summary.json").write_text('{"spec": ')  # a bad merge, a torn copy
    with pytest.raises(RunFolderError, match=r"summary.json is not a summary"):
        train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)


def test_a_run_that_lost_its_checkpoint_is_not_started_over(cifar10_root, tmp_path):
    spec = tiny()
    train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET, stop_after_epochs=1)
    folder = RunFolder(tmp_path, spec)
    folder.checkpoint.unlink()  # e.g. not committed with the rest of the run
    before = {p.name: p.read_bytes() for p in folder.path.iterdir()}
    with pytest.raises(
        RunFolderError,
        match=r"trained 1 epoch\(s\).*checkpoint.safetensors is "
        r"missing.*move the folder away",
    ):
        train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    assert {p.name: p.read_bytes() for p in folder.path.iterdir()} == before


def test_a_damaged_checkpoint_is_an_error_that_says_how_to_recover(cifar10_root, tmp_path):
    spec = tiny()
    train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET, stop_after_epochs=1)
    checkpoint = RunFolder(tmp_path, spec).checkpoint
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(RunFolderError, match="not a readable cifarnets checkpoint.*git checkout"):
        train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)


def test_warmup_switches_to_the_base_lr(cifar10_root, tmp_path):
    easy = TINY.with_changes(
        epochs=1, milestones=(), warmup_min_depth=1, warmup_until_error=99.9, warmup_check_every=2
    )
    (result,) = train(tiny(recipe=easy), data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    assert result.warmup_end_step == 2
    assert result.history[0]["lr"] == 0.1
    never = easy.with_changes(warmup_until_error=0.0)
    (result,) = train(tiny(recipe=never), data_root=cifar10_root, out_dir=tmp_path, runtime=QUIET)
    assert result.warmup_end_step is None
    assert result.history[0]["lr"] == 0.01


def test_warmup_rule_is_the_papers():
    report = RECIPES["report"]
    assert [m for m in cifarnets.list_models() if report.uses_warmup(m)] == [
        "resnet110",
        "resnet1202",
        "plain110",
    ]


def test_lr_schedule_is_multistep():
    recipe = RECIPES["report"]
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(recipe.milestones), 0.1)
    for epoch in range(recipe.epochs):
        assert recipe.lr_at(epoch * 391, 391) == pytest.approx(optimizer.param_groups[0]["lr"])
        assert recipe.lr_at(epoch * 391 + 390, 391) == recipe.lr_at(epoch * 391, 391)
        optimizer.step()
        scheduler.step()
    assert [recipe.lr_at(e * 391, 391) for e in (80, 81, 122)] == [0.1, 0.01, 0.001]


def test_augmentation_is_a_padded_crop_or_its_mirror():
    images = torch.randint(1, 256, (64, 3, 32, 32), dtype=torch.uint8)
    out = augment(images, 4, True, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    flips = 0
    for i in range(len(images)):
        crops = [padded[i, :, y : y + 32, x : x + 32] for y in range(9) for x in range(9)]
        if any(torch.equal(out[i], c) for c in crops):
            continue
        assert any(torch.equal(out[i], c.flip(2)) for c in crops), f"image {i}"
        flips += 1
    assert 16 < flips < 48  # about half are mirrored


def test_epoch_randomness_depends_on_seed_and_epoch_only():
    def draw(seed, epoch):
        return torch.randperm(100, generator=epoch_generator(seed, epoch))

    assert torch.equal(draw(0, 5), draw(0, 5))
    assert not torch.equal(draw(0, 5), draw(0, 6)) and not torch.equal(draw(0, 5), draw(1, 5))


def test_recipes_are_validated_up_front():
    bad = {
        "epochs": 1.5,
        "batch_size": 0,
        "momentum": -1,
        "weight_decay": -1,
        "lr": float("nan"),
        "gamma": 0,
        "nesterov": "yes",
        "pad": -4,
    }
    for field, value in bad.items():
        with pytest.raises(ValueError, match=field):
            Recipe(**{field: value})
    for milestones in [(81, 81), (500,), (-1,), (122, 81), (81.5,), (164,)]:
        with pytest.raises(ValueError, match="milestones must be strictly increasing"):
            Recipe(milestones=milestones)
    with pytest.raises(ValueError, match="unknown recipe 'fast'; named recipes: report, smoke"):
        get_recipe("fast")


def test_specs_and_runtimes_are_validated_up_front():
    with pytest.raises(cifarnets.UnknownModelError, match="Did you mean 'resnet56'"):
        RunSpec("resnet-56")
    with pytest.raises(ValueError, match="unknown dataset"):
        RunSpec("resnet20", dataset="mnist")
    for field in ("train_subset", "test_subset"):
        for subset in (-5, 0, -9990, 2.5, True, "256"):
            with pytest.raises(ValueError, match=f"{field} must be None"):
                RunSpec("resnet20", **{field: subset})
    with pytest.raises(ValueError, match="seed"):
        RunSpec("resnet20", seed=-1)
    with pytest.raises(ValueError, match="executor must be one of"):
        Runtime(executor="jit")
    with pytest.raises(ValueError, match="'cuda_graph' needs a CUDA device"):
        Runtime(device="cpu", executor="cuda_graph").resolved()
    with pytest.raises(ValueError, match="unknown device 'tpu': expected cpu, cuda or cuda:N"):
        Runtime(device="tpu").resolved()
    assert RunSpec.from_dict(RunSpec("plain20").to_dict()) == RunSpec("plain20")


def test_auto_precision_is_bf16_where_the_hardware_computes_it(monkeypatch):
    monkeypatch.setattr(spec_module, "cpu_has_native_bf16", lambda: True)
    assert Runtime(device="cpu").resolved().precision == "bf16"
    assert Runtime(device="cpu", precision="fp32").resolved().precision == "fp32"
    monkeypatch.setattr(spec_module, "cpu_has_native_bf16", lambda: False)
    assert Runtime(device="cpu").resolved().precision == "fp32"
    monkeypatch.undo()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file() and platform.machine() == "x86_64":  # torch's probe = the kernel's
        flags = set(
            next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags"))
            .split(":", 1)[1]
            .split()
        )
        assert spec_module.cpu_has_native_bf16() == bool(flags & {"avx512_bf16", "amx_tile"})


def test_a_changed_recipe_gets_a_name_of_its_own():
    report = RECIPES["report"]
    changed = report.with_changes(epochs=10, milestones=(5,))
    assert changed.name.startswith("report+") and changed.name != report.name
    assert changed == report.with_changes(milestones=(5,), epochs=10)  # same change, same name
    assert report.with_changes(epochs=164) is report
    assert (
        RunSpec("resnet20").is_full_recipe
        and not RunSpec("resnet20", recipe=changed).is_full_recipe
    )


def test_a_new_executor_plugs_in_without_touching_the_rest(cifar10_root, tmp_path):
    calls = []

    @register_executor
    class CountingExecutor(StepExecutor):
        name = "counting"

        def step(self, images_u8, labels):
            calls.append(len(labels))
            EXECUTORS["eager"].step(self, images_u8, labels)

    try:
        runtime = Runtime(progress=False, executor="counting")
        (result,) = train(
            tiny(recipe=TINY.with_changes(epochs=1, milestones=())),
            data_root=cifar10_root,
            out_dir=tmp_path,
            runtime=runtime,
        )
    finally:
        del EXECUTORS["counting"]
    # Its check against the eager step first (3 steps, undone), then the epoch's 4.
    assert calls == [64] * (3 + 4) and result.chunks[0].executor == "counting"
    assert result.chunks[0].fallbacks == [] and result.chunks[0].check_s > 0


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graph_step_matches_the_eager_step(cifar10_root, tmp_path):
    """The captured step (after its undone warm-up) trains like the eager one."""
    spec = tiny(recipe=TINY.with_changes(epochs=2, milestones=(1,)))
    torch.backends.cudnn.deterministic = True
    weights = {}
    for executor in ("cuda_graph", "eager"):
        runtime = Runtime(
            device="cuda", executor=executor, precision="fp32", channels_last=False, progress=False
        )
        (result,) = train(
            spec, data_root=cifar10_root, out_dir=tmp_path / executor, runtime=runtime
        )
        assert result.chunks[0].executor == executor
        weights[executor] = final_weights(tmp_path / executor, spec)
    for key in weights["eager"]:
        torch.testing.assert_close(
            weights["cuda_graph"][key], weights["eager"][key], rtol=1e-3, atol=1e-4, msg=key
        )


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graph_runs_resume_and_run_side_by_side(cifar10_root, tmp_path):
    """The fast path end to end: bf16 graphs, two runs on two streams, a resume in the
    middle (which recaptures after restoring momentum buffers), the warm-up switch, and
    a run that moves from the CPU to the GPU between chunks."""
    warm = TINY.with_changes(warmup_min_depth=1, warmup_check_every=2, warmup_until_error=95.0)
    specs = [tiny(recipe=warm), tiny("plain20")]
    gpu = Runtime(device="cuda", progress=False)
    whole = train(specs, data_root=cifar10_root, out_dir=tmp_path / "whole", runtime=gpu)
    train(
        specs,
        data_root=cifar10_root,
        out_dir=tmp_path / "parts",
        runtime=QUIET,
        stop_after_epochs=1,
    )  # the first chunk on the CPU
    parts = train(specs, data_root=cifar10_root, out_dir=tmp_path / "parts", runtime=gpu)
    assert [r.status for r in whole + parts] == ["finished"] * 4
    assert all(r.chunks[-1].executor == "cuda_graph" for r in whole + parts)
    assert all(r.chunks[-1].precision == "bf16" for r in whole)
    assert [c.device for c in parts[0].chunks] == ["cpu", "cuda"]
    assert whole[0].warmup_end_step is not None
    for spec in specs:
        a, b = final_weights(tmp_path / "whole", spec), final_weights(tmp_path / "parts", spec)
        for key in a:  # bf16 and another device for one epoch: close, not equal
            torch.testing.assert_close(a[key].float(), b[key].float(), rtol=0.1, atol=0.05, msg=key)


# A chunk record as every version before the executor checks wrote it.
OLD_CHUNK = {
    "index": 0,
    "start_epoch": 0,
    "end_epoch": 3,
    "epochs_added": 3,
    "wall_s": 1623.4,
    "started_at": "2026-12-01T11:32:51+00:00",
    "host": "vm",
    "hardware": "CPU AMD EPYC (AVX2, 1 thread)",
    "device": "cpu",
    "torch": "2.14.1+cu130",
    "cuda": None,
    "cifarnets": "0.1.0",
    "commit": "4790",
    "command": "python -m cifarnets.reproduce --models plain20",
    "executor": "compile",
    "precision": "fp32",
    "channels_last": True,
    "threads": 1,
    "stopped": None,
}


def test_chunk_records_read_and_write_back_every_earlier_format():
    committed = [json.loads(p.read_text()) for p in sorted(REPO.glob("runs/*/*/chunks.json"))]
    for records in [[OLD_CHUNK], *committed]:
        chunks = [ChunkRecord.from_dict(c) for c in records]
        # Unchanged, key order included: a rewritten chunks.json differs by new chunks only.
        assert json.dumps([c.to_dict() for c in chunks]) == json.dumps(records)
        # A record from before executor_asked existed reads as "nothing asked, no fallback".
        old_format = [
            c for c, raw in zip(chunks, records, strict=True) if "executor_asked" not in raw
        ]
        assert all(c.executor_asked is None and c.fallbacks == [] for c in old_format)
    old = ChunkRecord.from_dict(OLD_CHUNK)
    assert old.label == "CPU AMD EPYC (AVX2, 1 thread) (compile, fp32)" and old.check_s is None
    # A newer version's keys are kept; a record of this version says what was asked and
    # what failed.
    fallback = ExecutorFallback("cuda_graph", "compile", "raised RuntimeError: capture", 1, 0)
    new = {
        **OLD_CHUNK,
        "executor_asked": "auto",
        "fallbacks": [fallback.to_dict()],
        "check_s": 1.5,
        "from_the_future": [1],
    }
    record = ChunkRecord.from_dict(new)
    assert record.fallbacks == [fallback] and record.extra == {"from_the_future": [1]}
    assert record.to_dict() == new and list(record.to_dict()) == list(new)
    with pytest.raises(TypeError):
        ChunkRecord.from_dict({"executor": "eager"})  # no index: not a chunk record


def test_each_epoch_trains_in_train_mode(cifar10_root):
    """The test-set evaluation leaves the net in eval mode; the next epoch (and any CUDA
    graph captured at its start) must run in train mode, or BN would use running stats."""
    from cifarnets.training import DeviceData, TrainingRun

    data = DeviceData.load("cifar10", cifar10_root, torch.device("cpu"))
    run = TrainingRun(tiny(), data, QUIET.resolved())
    steps = run.epoch_steps()
    next(steps)
    assert run.model.training
    for _ in steps:
        pass
    run.queue_evaluation()
    assert not run.model.training
    run.finish_epoch(chunk=0)
    next(run.epoch_steps())
    assert run.model.training


def test_the_epoch_line_says_how_long_the_run_has_left():
    from cifarnets.training.engine import time_left

    # this chunk's median epoch without its first (the compile warm-up's 900 s), not older ones
    history = [{"chunk": 0, "epoch_time_s": 50.0}] + [
        {"chunk": 1, "epoch_time_s": t} for t in (900.0, 700.0, 720.0)
    ]
    assert time_left(history, chunk=1, epochs_left=10) == ", ~2.0 h left"
    assert time_left(history, chunk=0, epochs_left=3) == ", ~2 min left"
    assert time_left(history, chunk=1, epochs_left=0) == ""
    # two epochs into a chunk, the estimate is the second one's, not the compile epoch's
    assert time_left(history[:3], chunk=1, epochs_left=10) == ", ~1.9 h left"
    assert time_left(history[:2], chunk=1, epochs_left=10) == ", ~2.5 h left"
