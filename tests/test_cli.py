"""The command line, as a user types it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
from helpers import REPO, make_weights
from safetensors.torch import save

import cifarnets
from cifarnets.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_net_with_exact_sizes(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    for name in cifarnets.list_models():
        info = cifarnets.model_info(name)
        assert f"{info.num_params:,}" in lines[name]
        assert f"{info.macs / 1e6:.2f}" in lines[name]
    assert "ResNet-110" in lines["resnet164"] and "vanilla CNN 110" in lines["plain164"]


def test_list_pattern(capsys):
    code, out, _ = run(capsys, "list", "plain1*")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()[2:] if line.startswith("plain")]
    assert names == ["plain110", "plain164"]
    code, out, _ = run(capsys, "list", "vgg*")
    assert code == 1 and "no model matches 'vgg*'" in out


def test_info(capsys):
    code, out, _ = run(capsys, "info", "resnet164", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["model"]["report_label"] == "ResNet-110"
    assert data["model"]["num_params"] == 1_704_154 and data["weights"] == []
    code, out, _ = run(capsys, "info", "resnet110")
    assert "none published yet" in out and "option A" in out
    code, out, _ = run(capsys, "info", "resnet20")
    assert "resnet20.cifar10_akamaster (DEFAULT)" in out and "test error    8.27 %" in out
    # A ported weight says where it comes from, under which license, with which constants.
    assert "github.com/akamaster/pytorch_resnet_cifar10" in out
    assert "BSD-2-Clause, Copyright (c) 2018, Yerlan Idelbayev" in out
    assert "mean (0.485, 0.456, 0.406)" in out and "chosen on the test set" in out
    code, out, _ = run(capsys, "list", "resnet2*")
    assert "akamaster (ported, best on test)" in out and "8.75 / 8.51" in out


def test_eval_on_the_shipped_sample_is_labelled(capsys):
    code, out, _ = run(capsys, "eval", "plain20")
    assert code == 0
    assert "RANDOM init weights (no published weights yet" in out
    assert "test SAMPLE shipped with cifarnets (1,000 of 10,000 images" in out
    code, out, _ = run(capsys, "eval", "resnet20")
    assert code == 0
    assert "weights resnet20.cifar10_akamaster (published test error 8.27 %)" in out
    assert "test SAMPLE shipped with cifarnets (1,000 of 10,000 images" in out
    assert "test error:" in out and "/ 1,000)" in out


def test_eval_on_a_slice_of_the_real_test_set(capsys, cifar10_root):
    code, out, _ = run(capsys, "eval", "plain20", "--data", str(cifar10_root), "--limit", "300",
                       "--json", "--device", "cpu")
    assert code == 0
    result = json.loads(out)  # --json prints that one line and nothing else
    assert result["images"] == 300 and "first 300 images only" in result["data"]
    assert 0 <= result["test_error"] <= 100


def test_eval_published_and_local_weights(capsys, weights_dir, tmp_path):
    make_weights()
    code, out, _ = run(capsys, "eval", "resnet20", "--json")
    result = json.loads(out.splitlines()[-1])
    assert code == 0 and "resnet20.test_v1 (published test error 12.34 %)" in result["weights"]
    # The same net as a local file gives the same number.
    torch.manual_seed(0)
    path = tmp_path / "trained.safetensors"
    path.write_bytes(save(cifarnets.resnet20().state_dict()))
    code, out, _ = run(capsys, "eval", "resnet20", "--weights", str(path), "--json")
    local = json.loads(out.splitlines()[-1])
    assert code == 0 and local["test_error"] == result["test_error"]
    assert str(path) in local["weights"]


def test_errors_are_clear_and_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "eval", "resnet21")
    assert code == 2 and "unknown model 'resnet21'. Did you mean 'resnet20'?" in err
    code, _, err = run(capsys, "eval", "resnet20", "--data", str(tmp_path))
    assert code == 2 and "cifar10 not found" in err and "Fix:" in err
    code, _, err = run(capsys, "eval", "plain20", "--weights", "DEFAULT")
    assert code == 2 and "no pretrained weights are published for plain20" in err
    code, _, err = run(capsys, "eval", "resnet20", "--weights", str(tmp_path / "x.safetensors"))
    assert code == 2 and "does not exist" in err
    with pytest.raises(SystemExit):
        main(["eval", "resnet20", "--limit", "0"])
    assert "--limit: must be a positive integer, got 0" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="no CUDA device is available; use --device cpu"):
            main(["eval", "resnet20", "--device", "cuda"])


def test_console_script_and_module_entry_points():
    script = shutil.which("cifarnets", path=str(REPO / ".venv" / "bin")) or shutil.which(
        "cifarnets")
    assert script, "the cifarnets console script is not installed (pip install -e .)"
    for command in ([script, "list", "resnet2*"], [sys.executable, "-m", "cifarnets", "list",
                                                   "resnet2*"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "resnet20" in result.stdout and "269,722" in result.stdout
