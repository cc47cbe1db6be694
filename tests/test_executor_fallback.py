"""Prove, then train: every executor is checked against the eager step before it trains,
and falls back (loudly, on the record) when it fails; on the CPU, with deliberately
broken executors, and with compile -> eager."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import torch
from safetensors.torch import load_file

import cifarnets
from cifarnets import publish
from cifarnets.cli import main as cli_main
from cifarnets.reproduce import main as reproduce_main
from cifarnets.training import (
    EXECUTORS,
    DeviceData,
    ExecutorCheckError,
    RunSpec,
    Runtime,
    StepExecutor,
    TrainingRun,
    get_recipe,
    read_result,
    register_executor,
    train,
)
from cifarnets.training import check as check_module
from cifarnets.training import executors as executors_module
from cifarnets.training import run as run_module
from cifarnets.training.check import ACCURACY_RATIO, CHECK_STEPS, TOLERANCES, check_executor
from cifarnets.training.executors import EagerExecutor, auto_executors, train_step

# 256 training images in batches of 64: 4 steps per epoch; lr 0.1, then 0.01 in epoch 3.
TINY = get_recipe("report").with_changes(epochs=3, batch_size=64, milestones=(2,))
ONE = TINY.with_changes(epochs=1, milestones=())
EAGER = Runtime(progress=False, checkpoint_every_s=0, executor="eager", precision="fp32")


def tiny(recipe=ONE) -> RunSpec:
    return RunSpec("resnet20", recipe=recipe, train_subset=256, test_subset=128)


def runtime(executor: str, *fallbacks: str) -> Runtime:
    return dataclasses.replace(EAGER, executor=executor, executor_fallbacks=fallbacks)


class Raising(StepExecutor):
    """Fails as a capture does: on its first step, with a message of several lines."""

    name = "raising"

    def step(self, images_u8, labels):
        raise RuntimeError(
            "CUDA error: operation not permitted when stream is capturing\n"
            "Compile with TORCH_USE_CUDA_DSA to enable device-side assertions."
        )


class LrTooHigh(StepExecutor):
    """Runs without an error, and wrongly: its steps use 1.5 times the run's lr."""

    name = "lr_too_high"

    def set_lr(self, lr):
        super().set_lr(1.5 * lr)

    def step(self, images_u8, labels):
        self.parts.optimizer.zero_grad(set_to_none=True)
        train_step(self.parts, images_u8, labels)


class Recapturing(StepExecutor):
    """Builds its step anew for each lr, as cuda_graph captures a graph per lr, and each
    build's steps are eager's; from the build ``broken_from`` on, they use 1.5x the lr."""

    name = "recapturing"
    broken_from = 99
    builds: list[float] = []

    def __init__(self, parts, batch_sizes):
        super().__init__(parts, batch_sizes)
        self.built_lr = None

    def needs_proof(self, lr):
        return self.built_lr != lr

    def step(self, images_u8, labels):
        lr = self.parts.optimizer.param_groups[0]["lr"]
        if self.built_lr != lr:
            self.builds.append(lr)
            self.built_lr = lr
        if len(self.builds) >= self.broken_from:
            super().set_lr(1.5 * lr)
        self.parts.optimizer.zero_grad(set_to_none=True)
        train_step(self.parts, images_u8, labels)
        super().set_lr(lr)


@pytest.fixture
def broken_executors():
    """Registers the test executors for one test; the registry is as it was afterwards."""
    before = dict(EXECUTORS)
    Recapturing.builds = []
    for cls in (Raising, LrTooHigh, Recapturing):
        register_executor(cls)
    yield
    EXECUTORS.clear()
    EXECUTORS.update(before)


@pytest.fixture(scope="module")
def eager_weights(cifar10_root, tmp_path_factory):
    """The tiny run trained eagerly: what every fallback to eager must give, bitwise."""
    out, trained = tmp_path_factory.mktemp("eager"), {}

    def weights(recipe=ONE) -> dict[str, torch.Tensor]:
        if recipe.name not in trained:
            train(tiny(recipe), data_root=cifar10_root, out_dir=out, runtime=EAGER)
            trained[recipe.name] = load_file(str(out / tiny(recipe).name / "weights.safetensors"))
        return trained[recipe.name]

    return weights


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def warnings_in(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("warning:")]


def everything(run: TrainingRun) -> dict[str, torch.Tensor]:
    """The run's whole state: net, momentum buffers, the epoch's sums (bitwise copies)."""
    state = {k: v.clone() for k, v in run.state_dict()["tensors"].items()}
    return {**state, "loss_sum": run.loss_sum.clone(), "correct": run.correct.clone()}


# -- the check itself ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def mid_epoch_run(cifar10_root) -> tuple[TrainingRun, list]:
    """A run in the middle of its first epoch: momentum buffers and sums not zero."""
    data = DeviceData.load("cifar10", cifar10_root, torch.device("cpu"))
    run = TrainingRun(dataclasses.replace(tiny(TINY), train_subset=512), data, EAGER.resolved())
    steps = run.epoch_steps()
    next(steps)
    next(steps)
    batches = list(run.data.epoch(run.spec.seed, 0, 64, 4, True))[2 : 2 + CHECK_STEPS]
    return run, batches


@pytest.mark.usefixtures("broken_executors")
@pytest.mark.parametrize("name", ["eager_copy", "lr_too_high", "raising"])
def test_the_check_leaves_the_runs_state_bitwise_untouched(mid_epoch_run, name):
    run, batches = mid_epoch_run
    before = everything(run)
    assert float(before["loss_sum"]) > 0 and any(k.startswith("momentum.") for k in before)
    eager = run._make_executor("eager")
    candidate = (
        EagerExecutor(eager.parts, run.batch_sizes)
        if name == "eager_copy"
        else run._make_executor(name)
    )
    result = check_executor(candidate, eager, batches, lr=0.1)
    assert_same_weights(everything(run), before)
    if name == "eager_copy":  # eager against eager on a CPU: bitwise, the check's own claim
        assert result.ok and result.difference == 0.0
        assert result.reason == (
            "bitwise equal (tolerance 0), 0 of 192 predictions apart (tolerance 0%), over 3 steps"
        )
    elif name == "lr_too_high":  # a wrong step is caught by any tolerance the docs state
        assert not result.ok
        assert result.difference == pytest.approx(0.5, rel=1e-3)  # exactly the wrong half
        assert result.difference > max(t.rel for t in TOLERANCES.values())
        assert result.reason.startswith(
            "max relative difference 5.0e-01 (parameters, step 1; tolerance 0), "
        )
        ratio = float(
            re.search(r", ([0-9.e+]+)x eager's distance from the float64 step", result.reason)[1]
        )
        assert ratio > 10 * ACCURACY_RATIO  # and far from the second opinion's bound
        assert result.reason.endswith("over 1 step")  # no need to go on
    else:
        assert not result.ok and result.difference is None
        assert result.reason == (
            "raised RuntimeError: CUDA error: operation not permitted when stream is capturing"
        )


def test_tolerances_are_stated_for_every_executor_and_precision():
    for executor in ("eager", "compile", "cuda_graph"):
        for precision in ("fp32", "bf16"):
            assert (executor, precision) in TOLERANCES
    assert TOLERANCES[("eager", "fp32")].rel == 0.0  # eager vs eager: bitwise
    # A new executor is held to eager's until its tolerance is stated.
    assert check_module.tolerance_for("new", "bf16") == TOLERANCES[("eager", "bf16")]


def test_auto_tries_executors_in_the_documented_order(monkeypatch):
    assert auto_executors(torch.device("cuda")) == ["cuda_graph", "compile", "eager"]
    monkeypatch.setattr(executors_module, "_have_cxx", lambda: True)
    assert auto_executors(torch.device("cpu")) == ["compile", "eager"]
    resolved = Runtime(device="cpu").resolved()
    assert (resolved.executor, resolved.executor_fallbacks) == ("compile", ("eager",))
    assert resolved.resolved() == resolved
    monkeypatch.setattr(executors_module, "_have_cxx", lambda: False)
    assert Runtime(device="cpu").resolved().executor_fallbacks == ()
    assert Runtime(device="cpu", executor="compile").resolved().executor_fallbacks == ()
    with pytest.raises(ValueError, match="executor_fallbacks must name executors"):
        Runtime(executor="auto", executor_fallbacks=("eager",))
    with pytest.raises(ValueError, match="executor_fallbacks must name executors"):
        Runtime(executor="compile", executor_fallbacks=("jit",))
    with pytest.raises(ValueError, match="'cuda_graph' needs a CUDA device"):
        Runtime(device="cpu", executor="compile", executor_fallbacks=("cuda_graph",)).resolved()


# -- fallback in training -----------------------------------------------------------------


@pytest.mark.usefixtures("broken_executors")
@pytest.mark.parametrize("broken", ["raising", "lr_too_high"])
def test_a_failing_executor_falls_back_loudly_and_trains_like_eager(
    broken, cifar10_root, tmp_path, eager_weights, capsys
):
    logging = dataclasses.replace(runtime(broken, "eager"), progress=True)
    (result,) = train(tiny(), data_root=cifar10_root, out_dir=tmp_path, runtime=logging)
    assert result.status == "finished"
    assert_same_weights(
        load_file(str(tmp_path / tiny().name / "weights.safetensors")), eager_weights()
    )  # the failed check left no trace

    captured = capsys.readouterr()
    # The chunk's first line states the plan; only the warning says that it happened.
    assert f"executor {broken} (falls back to eager if its check fails)" in captured.out
    (line,) = warnings_in(captured.err)  # one line, once
    assert line.startswith(
        f"warning: {tiny().name}: executor '{broken}' failed its check "
        f"against the eager step (fp32, epoch 1): "
    )
    assert line.endswith("; training with 'eager' instead")
    expected = (
        "raised RuntimeError: CUDA error: operation not permitted"
        if broken == "raising"
        else "max relative difference 5.0e-01 (parameters, step 1; tolerance 0)"
    )
    assert expected in line

    (chunk,) = result.chunks
    (fallback,) = chunk.fallbacks
    assert (chunk.executor, chunk.executor_asked) == ("eager", broken)
    assert (fallback.executor, fallback.to, fallback.epoch, fallback.step) == (
        broken,
        "eager",
        1,
        0,
    )
    assert expected in fallback.reason and chunk.check_s >= 0
    if broken == "raising":
        assert fallback.difference is None
    else:
        assert fallback.difference == pytest.approx(0.5, rel=1e-3) and fallback.tolerance == 0
    # The same record in chunks.json, summary.json and the result.
    folder = tmp_path / tiny().name
    assert json.loads((folder / "chunks.json").read_text()) == [chunk.to_dict()]
    assert read_result(folder) == result
    assert result.executor_fallbacks == [f"chunk 0: {broken} -> eager (epoch 1): {fallback.reason}"]
    assert result.hardware[0].endswith("(eager, fp32)")


@pytest.mark.usefixtures("broken_executors")
def test_a_step_built_anew_is_proven_again(
    cifar10_root, tmp_path, eager_weights, capsys, monkeypatch
):
    """An executor that rebuilds its step on a new lr (as cuda_graph re-captures) is
    checked before each build's first step; when the second build is wrong, the run
    falls back there, in the middle of the chunk, and still trains like eager."""
    checks = []

    def counting(executor, reference, batches, lr):
        checks.append((executor.name, lr))
        return check_executor(executor, reference, batches, lr)

    monkeypatch.setattr(run_module, "check_executor", counting)
    Recapturing.broken_from = 2
    try:
        (result,) = train(
            tiny(TINY),
            data_root=cifar10_root,
            out_dir=tmp_path,
            runtime=runtime("recapturing", "eager"),
        )
    finally:
        Recapturing.broken_from = 99
    assert checks == [("recapturing", 0.1), ("recapturing", 0.01)]  # epochs 1 and 3
    assert Recapturing.builds == [0.1, 0.01]
    (fallback,) = result.chunks[0].fallbacks
    assert (fallback.executor, fallback.epoch, fallback.step) == ("recapturing", 3, 8)
    assert len(warnings_in(capsys.readouterr().err)) == 1
    assert_same_weights(
        load_file(str(tmp_path / tiny(TINY).name / "weights.safetensors")), eager_weights(TINY)
    )

    # Not broken: proven at each build, never falls back.
    checks.clear()
    Recapturing.builds = []
    (result,) = train(
        tiny(TINY),
        data_root=cifar10_root,
        out_dir=tmp_path / "sound",
        runtime=runtime("recapturing", "eager"),
    )
    assert checks == [("recapturing", 0.1), ("recapturing", 0.01)]
    assert result.chunks[0].fallbacks == [] and result.chunks[0].executor == "recapturing"
    assert not warnings_in(capsys.readouterr().err)


@pytest.mark.usefixtures("broken_executors")
@pytest.mark.parametrize("broken", ["raising", "lr_too_high"])
def test_an_executor_given_by_name_that_fails_is_an_error_and_changes_nothing(
    broken, cifar10_root, tmp_path
):
    spec = tiny(ONE.with_changes(epochs=2))
    train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=EAGER, stop_after_epochs=1)
    folder = tmp_path / spec.name
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(
        ExecutorCheckError,
        match=(
            rf"executor '{broken}' failed its check against the eager step \(fp32, epoch 2\): "
            rf"{'raised RuntimeError' if broken == 'raising' else 'max relative difference'}"
            rf".*pass another --executor"
        ),
    ):
        train(spec, data_root=cifar10_root, out_dir=tmp_path, runtime=runtime(broken))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.usefixtures("broken_executors")
def test_the_command_line_reports_a_failed_executor_in_one_error(cifar10_root, tmp_path, capsys):
    status = reproduce_main(
        [
            "--smoke",
            "--models",
            "resnet20",
            "--train-subset",
            "128",
            "--data",
            str(cifar10_root),
            "--out",
            str(tmp_path),
            "--executor",
            "lr_too_high",
            "--quiet",
            "--precision",
            "fp32",
        ]
    )
    err = capsys.readouterr().err
    assert status == 3, err  # ExecutorError: the machine cannot run that step as asked
    assert err.startswith("error: resnet20-cifar10-smoke") and "'lr_too_high' failed" in err


def test_compile_falls_back_to_eager_where_inductor_cannot_build(
    cifar10_root, tmp_path, eager_weights, capsys, monkeypatch
):
    """auto on a CPU: compile, then eager. Here inductor's C++ compiler is missing (as on
    a machine with a compiler on the PATH that does not work)."""
    import torch._inductor.config as inductor_config

    monkeypatch.setattr(executors_module, "_have_cxx", lambda: True)
    torch._dynamo.reset()
    try:  # nothing reused from a cache: inductor builds, and fails
        with inductor_config.patch({"cpp.cxx": ("/nonexistent/c++",), "fx_graph_cache": False}):
            (result,) = train(
                tiny(),
                data_root=cifar10_root,
                out_dir=tmp_path,
                runtime=dataclasses.replace(EAGER, executor="auto"),
            )
    finally:
        torch._dynamo.reset()
    (line,) = warnings_in(capsys.readouterr().err)
    assert "executor 'compile' failed its check" in line and "raised " in line
    (chunk,) = result.chunks
    assert (chunk.executor_asked, chunk.executor) == ("auto", "eager")
    assert [(f.executor, f.to) for f in chunk.fallbacks] == [("compile", "eager")]
    assert_same_weights(
        load_file(str(tmp_path / tiny().name / "weights.safetensors")), eager_weights()
    )


@pytest.mark.usefixtures("broken_executors")
def test_a_fallback_reaches_the_published_weights(cifar10_root, tmp_path, weights_dir, monkeypatch):
    monkeypatch.setattr(publish, "_measure", lambda *args: (12.5, 10_000))
    train(tiny(), data_root=cifar10_root, out_dir=tmp_path, runtime=runtime("raising", "eager"))
    assert (
        cli_main(
            [
                "publish",
                "add",
                str(tmp_path / tiny().name),
                "--tag",
                "fb_v1",
                "--data",
                str(cifar10_root),
                "--allow-partial",
            ]
        )
        == 0
    )
    training = cifarnets.get_weights("resnet20.fb_v1").training
    (line,) = training["executor_fallbacks"]
    assert line.startswith("chunk 0: raising -> eager (epoch 1): raised RuntimeError")
    assert any(h.endswith("(eager, fp32)") for h in training["hardware"])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_captured_step_proves_itself_and_a_failed_capture_falls_back(
    cifar10_root, tmp_path, monkeypatch, capsys
):
    """What no CPU test runs: cuda_graph's real check (bf16, again after the capture for
    the lr of epoch 3), and the fallback from a capture that runs out of memory."""
    gpu = Runtime(device="cuda", progress=False, checkpoint_every_s=0)  # auto, bf16
    (result,) = train(tiny(TINY), data_root=cifar10_root, out_dir=tmp_path / "auto", runtime=gpu)
    (chunk,) = result.chunks
    assert (chunk.executor_asked, chunk.executor, chunk.fallbacks) == ("auto", "cuda_graph", [])
    assert chunk.precision == "bf16" and chunk.check_s > 0

    def out_of_memory(self, images_u8, labels):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(executors_module.CudaGraphExecutor, "_capture", out_of_memory)
    (result,) = train(tiny(TINY), data_root=cifar10_root, out_dir=tmp_path / "oom", runtime=gpu)
    (chunk,) = result.chunks
    assert result.status == "finished" and chunk.executor in ("compile", "eager")
    assert chunk.fallbacks[0].executor == "cuda_graph"
    assert chunk.fallbacks[0].reason.startswith("raised OutOfMemoryError: CUDA out of memory")
    assert "executor 'cuda_graph' failed its check" in capsys.readouterr().err
