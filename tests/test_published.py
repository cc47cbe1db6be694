"""Every published number, re-measured: each packaged weight's test error on the real
test set (CPU, fp32) must equal the one in its metadata within 0.05 points."""

from __future__ import annotations

import pytest

import cifarnets
from cifarnets.data import load_split
from cifarnets.evaluate import evaluate

TOLERANCE = 0.05  # points: 5 of 10,000 test images (kernel differences between machines)


@pytest.mark.slow  # 10,000 images per weight: CI runs it (pytest -m slow)
@pytest.mark.parametrize(
    "name",
    cifarnets.list_weights()
    or [pytest.param(None, marks=pytest.mark.skip(reason="no weights are published yet"))],
)
def test_published_test_error(name, cifar10_root):
    weights = cifarnets.get_weights(name)
    if weights.dataset != "cifar10":
        pytest.fail(f"{name}: no {weights.dataset} test set here to re-check it on")
    model = cifarnets.get_model(weights.arch, weights=name)
    images, labels = load_split(weights.dataset, cifar10_root, train=False)
    result = evaluate(model, images, labels, mean=weights.mean, std=weights.std)
    assert result.total == 10_000
    assert abs(result.error - weights.test_error) <= TOLERANCE, (
        f"{name}: measured {result.error:.2f} %, metadata says {weights.test_error} %"
    )
