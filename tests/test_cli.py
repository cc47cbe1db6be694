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
from cifarnets.cli import _weights_origin, main


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


def test_info_of_a_net_without_weights(capsys, weights_dir):
    code, out, _ = run(capsys, "info", "resnet164", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["model"]["report_label"] == "ResNet-110"
    assert data["model"]["num_params"] == 1_704_154 and data["weights"] == []
    code, out, _ = run(capsys, "info", "resnet110")
    assert "none published yet" in out and "option A" in out


def test_info_of_ported_weights(capsys):
    code, out, _ = run(capsys, "info", "resnet56")
    assert code == 0 and "resnet56.cifar10_akamaster" in out and "test error    6.61 %" in out
    assert f"{cifarnets.default_weights('resnet56').name} (DEFAULT)" in out
    # A ported weight says where it comes from, under which license, with which constants.
    assert "github.com/akamaster/pytorch_resnet_cifar10" in out
    assert "BSD-2-Clause, Copyright (c) 2018, Yerlan Idelbayev" in out
    assert "mean (0.485, 0.456, 0.406)" in out and "chosen on the test set" in out
    code, out, _ = run(capsys, "list", "resnet5*")
    assert "6.97 / -" in out and cifarnets.default_weights("resnet56").tag in out
    ported = cifarnets.get_weights("resnet56.cifar10_akamaster")
    assert _weights_origin(ported) == "akamaster (ported, best on test)"


def test_eval_of_a_net_without_weights_is_labelled_random(capsys, weights_dir):
    code, out, _ = run(capsys, "eval", "plain110")
    assert code == 0
    assert "RANDOM init weights (no published weights yet" in out
    assert "test SAMPLE shipped with cifarnets (1,000 of 10,000 images" in out
    code, _, err = run(capsys, "eval", "plain110", "--weights", "DEFAULT")
    assert code == 2 and "no pretrained weights are published for plain110" in err


def test_eval_on_the_shipped_sample_is_labelled(capsys):
    code, out, _ = run(capsys, "eval", "resnet56", "--weights", "cifar10_akamaster")
    assert code == 0
    assert "weights resnet56.cifar10_akamaster (published test error 6.61 %)" in out
    assert "test SAMPLE shipped with cifarnets (1,000 of 10,000 images" in out
    assert "test error:" in out and "/ 1,000)" in out


def test_eval_on_a_slice_of_the_real_test_set(capsys, cifar10_root):
    code, out, _ = run(
        capsys,
        "eval",
        "plain20",
        "--data",
        str(cifar10_root),
        "--limit",
        "300",
        "--json",
        "--device",
        "cpu",
    )
    assert code == 0
    result = json.loads(out)  # --json prints that one line and nothing else
    assert result["images"] == 300 and "first 300 images only" in result["data"]
    assert 0 <= result["test_error"] <= 100


def test_list_says_where_the_projects_own_weights_come_from(capsys, weights_dir):
    make_weights(seed=3)
    code, out, _ = run(capsys, "list", "resnet20")
    assert code == 0 and "test_v1" in out and "cifarnets (final epoch, seed 3)" in out


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
    code, _, err = run(capsys, "eval", "resnet20", "--weights", str(tmp_path / "x.safetensors"))
    assert code == 2 and "does not exist" in err
    with pytest.raises(SystemExit):
        main(["eval", "resnet20", "--limit", "0"])
    assert "--limit: must be a positive integer, got 0" in capsys.readouterr().err
    code, _, err = run(capsys, "eval", "resnet20", "--device", "tpu")
    assert code == 2 and err == "error: unknown device 'tpu': expected cpu, cuda or cuda:N\n"
    code, _, err = run(capsys, "eval", "resnet56", "--weights", "nonsense")
    assert code == 2 and err.startswith(
        "error: unknown --weights 'nonsense' for resnet56. "
        "Accepted: DEFAULT, a tag such as cifar10_akamaster, "
        "a full name such as resnet56.cifar10_akamaster, a path "
        "to a .safetensors file, or random."
    )


@pytest.mark.skipif(torch.cuda.device_count() > 1, reason="this machine has a cuda:1")
def test_a_missing_device_is_named(capsys):
    code, _, err = run(capsys, "eval", "resnet20", "--device", "cuda:1")
    assert code == 3 and "device 'cuda:1' asked for, but this machine has" in err


def exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:  # argparse's own usage errors
        return exit.code


def test_one_exit_status_convention(capsys, tmp_path, offline):
    no_data = str(tmp_path / "none")
    cuda_1 = 3 if torch.cuda.device_count() < 2 else None
    table = [
        (["list"], 0),
        (["list", "vgg*"], 1),  # nothing matched
        ([], 2),
        (["frobnicate"], 2),  # usage
        (["eval", "resnet20", "--limit", "0"], 2),
        (["eval", "resnet21"], 2),
        (["info", "resnet21"], 2),  # input
        (["eval", "resnet20", "--weights", "nonsense"], 2),
        (["eval", "resnet20", "--device", "tpu"], 2),
        (["eval", "resnet20", "--data", no_data], 2),
        (["eval", "resnet20", "--dataset", "cifar100", "--weights", "random"], 2),
        (["train", "--models", "resnet21"], 2),
        (["train", "--device", "tpu"], 2),
        (["train", "--data", no_data, "--out", str(tmp_path / "out")], 2),
        (["eval", "resnet20", "--data", no_data, "--download"], 3),  # the machine lacks
        (["train", "--data", no_data, "--download", "--out", str(tmp_path / "out")], 3),
        (["eval", "resnet20", "--device", "cuda:1"], cuda_1),
    ]
    for argv, expected in table:
        if expected is not None:
            assert exit_status(argv) == expected, argv
            assert "Traceback" not in capsys.readouterr().err, argv
    assert not (tmp_path / "out").exists(), "nothing was trained"


def test_help_documents_the_exit_statuses(capsys):
    assert exit_status(["--help"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "exit status (every command):" in out
    for code in "01234":
        assert f"\n  {code}  " in out


def test_eval_download_without_data_uses_the_default_root(
    capsys, monkeypatch, tmp_path, cifar10_root, offline
):
    monkeypatch.setenv("HOME", str(tmp_path))  # the default root: ~/.cache/cifarnets/data
    root = tmp_path / ".cache" / "cifarnets" / "data"
    code, out, err = run(capsys, "eval", "resnet20", "--download")
    assert code == 3 and not out, "never the sample instead of the asked-for test set"
    assert "cannot download cifar10" in err and str(root / "cifar-10-batches-py") in err
    root.mkdir(parents=True)
    (root / "cifar-10-batches-py").symlink_to(cifar10_root / "cifar-10-batches-py")
    code, out, _ = run(capsys, "eval", "resnet20", "--download", "--limit", "100", "--json")
    assert code == 0 and json.loads(out)["data"].startswith(f"the cifar10 test set at {root}")


def test_console_script_and_module_entry_points():
    script = shutil.which("cifarnets", path=str(REPO / ".venv" / "bin")) or shutil.which(
        "cifarnets"
    )
    assert script, "the cifarnets console script is not installed (pip install -e .)"
    for command in (
        [script, "list", "resnet2*"],
        [sys.executable, "-m", "cifarnets", "list", "resnet2*"],
    ):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "resnet20" in result.stdout and "269,722" in result.stdout


def test_eval_of_a_cifar100_file_asks_for_its_dataset(capsys, tmp_path):
    from cifarnets._safetensors import canonical_bytes

    path = tmp_path / "c100.safetensors"
    state = cifarnets.resnet20(num_classes=100).state_dict()
    path.write_bytes(canonical_bytes(state, {"arch": "resnet20", "dataset": "cifar100"}))
    code, _, err = run(capsys, "eval", "resnet20", "--weights", str(path))
    assert code == 2
    assert "trained on cifar100 (its metadata says so); pass --dataset cifar100" in err


def test_exit_status_comes_from_the_error_type_not_its_chain():
    from cifarnets import _exit, errors

    assert _exit.status_of(errors.WeightsUnreachableError("offline, not packaged")) == 3
    assert _exit.status_of(errors.WeightsUnavailableError("404: no such repo")) == 2
    assert _exit.status_of(errors.DataDownloadError("unreachable URL")) == 3
    assert _exit.status_of(errors.DeviceUnavailableError("no cuda:1")) == 3
    assert _exit.status_of(errors.DataError("missing folder")) == 2
    assert _exit.status_of(errors.UnknownModelError("resnet21")) == 2
    assert _exit.status_of(ValueError("a bad argument")) == 2
    # Chaining changes nothing: a re-wrapped raise keeps its type's status.
    try:
        raise errors.WeightsUnavailableError("no copy") from errors.HubUnreachableError("down")
    except errors.WeightsUnavailableError as err:
        assert _exit.status_of(err) == 2
    # Every public error is a CifarnetsError with a status of 2 or 3.
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.CifarnetsError) and cls.exit_status in (2, 3), name


def test_version_and_polish(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["--version"])
    assert excinfo.value.code == 0 and capsys.readouterr().out == (
        f"cifarnets {cifarnets.__version__}\n"
    )
    code, out, _ = run(capsys, "info", "resnet56")
    assert "report_label  -" in out and "None" not in out
    code, _, err = run(capsys, "eval", "resnet20", "--weights", "resnet56.cifar10_akamaster")
    assert code == 2 and "weights resnet56.cifar10_akamaster are for resnet56, not resnet20" in err
    with pytest.raises(SystemExit):
        main(["eval", "resnet20", "--limit", "1.5"])
    assert "--limit: must be a positive integer, got '1.5'" in capsys.readouterr().err


def test_a_training_checkpoint_is_not_taken_for_weights(capsys, tmp_path):
    from cifarnets._safetensors import RUN_STATE_KEY, canonical_bytes

    path = tmp_path / "checkpoint.safetensors"
    state = {f"model.{k}": v for k, v in cifarnets.resnet20().state_dict().items()}
    path.write_bytes(canonical_bytes(state, {RUN_STATE_KEY: "{}"}))
    code, _, err = run(capsys, "eval", "resnet20", "--weights", str(path))
    assert code == 2 and "is a training checkpoint" in err and "weights.safetensors" in err


def test_a_mistyped_private_weights_folder_is_an_error(capsys, tmp_path, monkeypatch):
    from cifarnets.weights import read_manifest

    monkeypatch.setenv("CIFARNETS_PRETRAINED_DIR", str(tmp_path / "typo"))
    read_manifest.cache_clear()
    try:
        code, _, err = run(capsys, "eval", "resnet20")
    finally:
        read_manifest.cache_clear()
    assert code == 2 and f"CIFARNETS_PRETRAINED_DIR={tmp_path / 'typo'} does not exist" in err
