"""The wheel ships the data a user needs offline: the test sample and every weight."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest
from helpers import REPO


@pytest.mark.slow
def test_wheel_contains_sample_manifest_and_weights(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(tmp_path), str(REPO)], check=True, capture_output=True, timeout=600)
    (wheel,) = tmp_path.glob("cifarnets-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cifarnets/assets/cifar10_test_sample.safetensors" in names
    assert "cifarnets/pretrained/manifest.json" in names
    manifest = json.loads((REPO / "cifarnets/pretrained/manifest.json").read_text())
    for entry in manifest["weights"]:
        assert f"cifarnets/pretrained/{entry['arch']}.{entry['tag']}.safetensors" in names
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "cifarnets = cifarnets.cli:main" in entry_points
