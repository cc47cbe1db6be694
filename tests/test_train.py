"""The training engine on a slice of the real CIFAR-10 (CPU), and its GPU path (cuda)."""

from __future__ import annotations

import csv
import json
import os
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
from cifarnets.train import TrainConfig, _augment, train

# 256 training images in batches of 64: 4 steps per epoch, ~1 s per epoch on 2 cores.
SMALL = dict(model="resnet20", epochs=3, batch_size=64, train_subset=256, test_subset=128,
             milestones=(2,), checkpoint_every=1)


def final_weights(out: Path, config: TrainConfig) -> dict[str, torch.Tensor]:
    return load_file(str(out / config.name / "weights.safetensors"))


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def test_loss_falls_and_outputs_are_written(cifar10_root, tmp_path):
    config = TrainConfig(**{**SMALL, "train_subset": 512})
    (summary,) = train(config, data_root=cifar10_root, out_dir=tmp_path, progress=False,
                       command="pytest")
    run = tmp_path / config.name
    losses = [h["train_loss"] for h in summary["history"]]
    assert losses[-1] < losses[0] - 0.1, losses
    assert summary["status"] == "finished" and summary["epochs"] == 3
    assert summary["final_test_error"] == summary["history"][-1]["test_error"]
    assert summary["command"] == "pytest" and summary["torch"] == torch.__version__
    assert summary["precision"] == "fp32" and summary["cuda_graph"] is False

    rows = list(csv.DictReader((run / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["lr"]) for r in rows] == [0.1, 0.1, 0.01]  # milestone 2
    assert set(rows[0]) == {"epoch", "lr", "train_loss", "train_error", "test_error",
                            "epoch_time_s", "elapsed_s"}
    assert json.loads((run / "config.json").read_text()) == config.to_dict()
    assert json.loads((run / "summary.json").read_text())["status"] == "finished"
    assert not (run / "checkpoint.pt").exists(), "a finished run leaves no checkpoint"
    model = cifarnets.load_weights_file(cifarnets.resnet20(), run / "weights.safetensors")
    assert not model.training

    # A finished run is not trained again.
    started = time.monotonic()
    (again,) = train(config, data_root=cifar10_root, out_dir=tmp_path, progress=False)
    assert again["history"] == summary["history"] and time.monotonic() - started < 2


def test_resume_equals_uninterrupted(cifar10_root, tmp_path):
    config = TrainConfig(**SMALL)
    train(config, data_root=cifar10_root, out_dir=tmp_path / "a", progress=False)
    stopped = train(config, data_root=cifar10_root, out_dir=tmp_path / "b", progress=False,
                    stop_after_epochs=2)
    assert stopped == [] and (tmp_path / "b" / config.name / "checkpoint.pt").is_file()
    (resumed,) = train(config, data_root=cifar10_root, out_dir=tmp_path / "b", progress=False)
    assert resumed["epochs"] == 3
    assert_same_weights(final_weights(tmp_path / "a", config),
                        final_weights(tmp_path / "b", config))


def test_killed_run_resumes_to_the_same_weights(cifar10_root, tmp_path):
    """SIGKILL in the middle of training, then the same call again."""
    config = TrainConfig(**{**SMALL, "epochs": 4})
    train(config, data_root=cifar10_root, out_dir=tmp_path / "ref", progress=False)
    code = (f"from cifarnets.train import TrainConfig, train; "
            f"train(TrainConfig.from_dict({config.to_dict()!r}), "
            f"data_root={str(cifar10_root)!r}, out_dir={str(tmp_path / 'killed')!r}, "
            f"progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO)
    checkpoint = tmp_path / "killed" / config.name / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert checkpoint.exists(), "no checkpoint was written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / config.name / "summary.json").exists(), "killed too late"
    (resumed,) = train(config, data_root=cifar10_root, out_dir=tmp_path / "killed",
                       progress=False)
    assert resumed["status"] == "finished"
    assert_same_weights(final_weights(tmp_path / "ref", config),
                        final_weights(tmp_path / "killed", config))


def test_runs_side_by_side_equal_runs_alone(cifar10_root, tmp_path):
    configs = [TrainConfig(**{**SMALL, "epochs": 2}), TrainConfig(**{**SMALL, "epochs": 2,
                                                                      "model": "plain20",
                                                                      "seed": 1})]
    together = train(configs, data_root=cifar10_root, out_dir=tmp_path / "together",
                     progress=False)
    assert [s["name"] for s in together] == ["resnet20-cifar10-s0", "plain20-cifar10-s1"]
    for config in configs:
        train(config, data_root=cifar10_root, out_dir=tmp_path / "alone", progress=False)
        assert_same_weights(final_weights(tmp_path / "together", config),
                            final_weights(tmp_path / "alone", config))


def test_divergence_stops_the_run_with_a_clear_message(cifar10_root, tmp_path, capsys):
    config = TrainConfig(**{**SMALL, "lr": 1e6, "epochs": 5})
    (summary,) = train(config, data_root=cifar10_root, out_dir=tmp_path, progress=False)
    assert summary["status"] == "diverged" and summary["epochs"] < 5
    assert "diverged in epoch" in summary["message"] and "--warmup" in summary["message"]
    assert "diverged in epoch" in capsys.readouterr().out
    assert not (tmp_path / config.name / "weights.safetensors").exists()


def test_bad_data_root_fails_before_training(tmp_path):
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        train(TrainConfig(**SMALL), data_root=tmp_path / "nowhere", out_dir=tmp_path / "out",
              progress=False)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_wrong_dataset_is_named(cifar10_root, tmp_path):
    with pytest.raises(DataError, match="holds cifar-10-batches-py, a different data set"):
        train(TrainConfig(**{**SMALL, "dataset": "cifar100"}), data_root=cifar10_root,
              out_dir=tmp_path, progress=False)


def test_resume_refuses_a_different_config(cifar10_root, tmp_path):
    train(TrainConfig(**SMALL), data_root=cifar10_root, out_dir=tmp_path, progress=False,
          stop_after_epochs=1)
    with pytest.raises(ValueError, match=r"different config.*'lr': \(0\.05, 0\.1\)"):
        train(TrainConfig(**{**SMALL, "lr": 0.05}), data_root=cifar10_root, out_dir=tmp_path,
              progress=False)


def test_warmup_switches_to_the_base_lr(cifar10_root, tmp_path):
    easy = TrainConfig(**{**SMALL, "epochs": 1, "warmup": True, "warmup_until_error": 99.9,
                          "warmup_check_every": 2})
    (summary,) = train(easy, data_root=cifar10_root, out_dir=tmp_path, progress=False)
    assert summary["warmup_end_step"] == 2
    assert summary["history"][0]["lr"] == 0.1
    never = TrainConfig(**{**SMALL, "epochs": 1, "seed": 1, "warmup": True,
                           "warmup_until_error": 0.0, "warmup_check_every": 2})
    (summary,) = train(never, data_root=cifar10_root, out_dir=tmp_path, progress=False)
    assert summary["warmup_end_step"] is None
    assert summary["history"][0]["lr"] == 0.01


def test_lr_schedule_is_multistep():
    config = TrainConfig()
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(config.milestones), 0.1)
    for epoch in range(config.epochs):
        assert config.lr_at(epoch) == pytest.approx(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert (config.lr_at(80), config.lr_at(81), config.lr_at(122)) == (0.1, 0.01, 0.001)


def test_augmentation_is_a_padded_crop_or_its_mirror():
    images = torch.randint(1, 256, (64, 3, 32, 32), dtype=torch.uint8)
    out = _augment(images, 4, True, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    flips = 0
    for i in range(len(images)):
        crops = [padded[i, :, y:y + 32, x:x + 32] for y in range(9) for x in range(9)]
        if any(torch.equal(out[i], c) for c in crops):
            continue
        assert any(torch.equal(out[i], c.flip(2)) for c in crops), f"image {i}"
        flips += 1
    assert 16 < flips < 48  # about half are mirrored


def test_config_validation():
    with pytest.raises(cifarnets.UnknownModelError, match="Did you mean 'resnet56'"):
        TrainConfig(model="resnet-56")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="unknown dataset"):
        TrainConfig(dataset="mnist")
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graph_step_matches_the_eager_step(cifar10_root, tmp_path):
    """The captured step (after its undone warm-up) trains like the eager one."""
    base = dict(SMALL, epochs=2, precision="fp32", channels_last=False)
    graph = TrainConfig(**base, cuda_graph=True)
    eager = TrainConfig(**base, cuda_graph=False)
    torch.backends.cudnn.deterministic = True
    (g,) = train(graph, data_root=cifar10_root, out_dir=tmp_path / "g", progress=False)
    (e,) = train(eager, data_root=cifar10_root, out_dir=tmp_path / "e", progress=False)
    assert g["cuda_graph"] and not e["cuda_graph"]
    wg, we = final_weights(tmp_path / "g", graph), final_weights(tmp_path / "e", eager)
    for key in wg:
        torch.testing.assert_close(wg[key], we[key], rtol=1e-3, atol=1e-4, msg=key)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graph_runs_resume_and_run_side_by_side(cifar10_root, tmp_path):
    """The fast path end to end: bf16 graphs, two runs on two streams, a resume in the
    middle (which recaptures after restoring momentum buffers), the warm-up switch."""
    configs = [TrainConfig(**{**SMALL, "epochs": 3, "warmup": True, "warmup_check_every": 2,
                              "warmup_until_error": 95.0}),
               TrainConfig(**{**SMALL, "epochs": 3, "model": "plain20"})]
    whole = train(configs, data_root=cifar10_root, out_dir=tmp_path / "whole", progress=False)
    train(configs, data_root=cifar10_root, out_dir=tmp_path / "parts", progress=False,
          stop_after_epochs=1)
    parts = train(configs, data_root=cifar10_root, out_dir=tmp_path / "parts", progress=False)
    assert [s["status"] for s in whole + parts] == ["finished"] * 4
    assert all(s["cuda_graph"] and s["precision"] == "bf16" for s in whole)
    assert whole[0]["warmup_end_step"] is not None
    for config in configs:
        a = final_weights(tmp_path / "whole", config)
        b = final_weights(tmp_path / "parts", config)
        for key in a:  # cuDNN may pick other kernels after a restart: close, not equal
            torch.testing.assert_close(a[key].float(), b[key].float(), rtol=2e-2, atol=2e-3,
                                       msg=key)


def test_each_epoch_trains_in_train_mode(cifar10_root, tmp_path):
    """The test-set evaluation leaves the net in eval mode; the next epoch (and any CUDA
    graph captured at its start) must run in train mode, or BN would use running stats."""
    from cifarnets.train import _load_data, _Run

    config = TrainConfig(**SMALL)
    train_split, test_split = _load_data(config, cifar10_root, torch.device("cpu"), {})
    run = _Run(config, train_split, test_split, torch.device("cpu"), tmp_path)
    run.begin_epoch()
    run.step(0)
    run.end_epoch_async()
    assert not run.model.training
    run.finish_epoch()
    run.begin_epoch()
    assert run.model.training
