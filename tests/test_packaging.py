"""The wheel ships the data a user needs offline (the test sample and every weight)
and the licenses that cover them."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile

import pytest
from helpers import REPO

LICENSE_FILES = ("LICENSE", "THIRD_PARTY_NOTICES.md")


@pytest.mark.slow
def test_wheel_and_sdist_contain_sample_manifest_weights_and_licenses(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("cifarnets-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for license_file in LICENSE_FILES:
        assert any(n.endswith(f".dist-info/licenses/{license_file}") for n in names), license_file
    (sdist,) = tmp_path.glob("cifarnets-*.tar.gz")
    with tarfile.open(sdist) as archive:
        sdist_names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert set(LICENSE_FILES) <= sdist_names
    assert "cifarnets/assets/cifar10_test_sample.safetensors" in names
    assert "cifarnets/py.typed" in names  # type checkers read the package's hints
    assert "cifarnets/pretrained/manifest.json" in names
    manifest = json.loads((REPO / "cifarnets/pretrained/manifest.json").read_text())
    for entry in manifest["weights"]:
        assert f"cifarnets/pretrained/{entry['arch']}.{entry['tag']}.safetensors" in names
    entry_points = (
        zipfile.ZipFile(wheel)
        .read(next(n for n in names if n.endswith("entry_points.txt")))
        .decode()
    )
    assert "cifarnets = cifarnets.cli:main" in entry_points


def test_licenses_are_declared_and_cover_every_ported_weight():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert pyproject["license"] == "MIT" and tuple(pyproject["license-files"]) == LICENSE_FILES
    assert "Copyright (c) 2026 the cifarnets authors" in (REPO / "LICENSE").read_text()
    notices = (REPO / "THIRD_PARTY_NOTICES.md").read_text()
    manifest = json.loads((REPO / "cifarnets/pretrained/manifest.json").read_text())
    for entry in manifest["weights"]:
        source = entry.get("source")
        if source:  # weights from another project: its notice must ship with them
            for needed in (
                f"{entry['arch']}.{entry['tag']}.safetensors",
                source["repository"],
                source["commit"],
                source["copyright"],
                source["file"],
            ):
                assert needed in notices, (entry["arch"], needed)
            assert (
                source["license"] == "BSD-2-Clause" and "Redistributions in binary form" in notices
            )


def test_the_package_holds_exactly_the_files_the_wheel_rule_ships():
    # README "Weights": every weight the Hub does not serve yet, and the DEFAULTs of the
    # paper's nets up to 110 layers; nothing else weighs on every install.
    from cifarnets.weights import read_manifest, ships_in_package

    folder = REPO / "cifarnets" / "pretrained"
    table, defaults = read_manifest(folder / "manifest.json")
    packaged = {p.name for p in folder.glob("*.safetensors")}
    assert packaged == {
        w.filename
        for w in table.values()
        if ships_in_package(w, is_default=defaults.get(w.arch, {}).get(w.dataset) == w.tag)
    }
