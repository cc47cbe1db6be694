"""The examples run as a user would run them."""

from __future__ import annotations

import subprocess
import sys

from helpers import REPO

import cifarnets


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=REPO
    )


def test_evaluate_cifar10_without_weights_says_random(weights_dir):  # an empty manifest
    result = run("examples/evaluate_cifar10.py", "plain110", "--limit", "200")
    assert result.returncode == 0, result.stderr
    assert "RANDOM init" in result.stdout and "on 200 images of the shipped sample" in result.stdout


def test_evaluate_cifar10_on_the_sample():
    result = run("examples/evaluate_cifar10.py", "resnet56", "--limit", "200")
    assert result.returncode == 0, result.stderr
    assert f"weights {cifarnets.default_weights('resnet56').name}" in result.stdout


def test_evaluate_cifar10_on_the_real_test_set(cifar10_root):
    result = run(
        "examples/evaluate_cifar10.py", "plain20", "--data", str(cifar10_root), "--limit", "200"
    )
    assert result.returncode == 0, result.stderr
    assert "test error" in result.stdout and "on 200 images" in result.stdout


def test_cifar100_builds_a_100_class_net():
    result = run("examples/cifar100.py", "--model", "resnet20")
    assert result.returncode == 0, result.stderr
    assert "275,572 parameters" in result.stdout  # 269,722 + 90 x 65 for the bigger head
    assert "output shape: (2, 100)" in result.stdout


def test_cifar100_without_its_data_says_how_to_fix(tmp_path):
    result = run(
        "examples/cifar100.py", "--model", "resnet20", "--data", str(tmp_path), "--epochs", "1"
    )
    assert result.returncode != 0
    assert "cifar100 not found" in result.stderr and "cifar-100-python" in result.stderr
