"""Shared fixtures: the real CIFAR-10, rebuilt bit-exact from the project's compact copy.

Where the data comes from, in order:
  1. $CIFARNETS_DATA: a root that already holds cifar-10-batches-py/ (CI rebuilds once);
  2. cifarnets' default data root, ~/.cache/cifarnets/data, if it holds it;
  3. the compact copy's rebuild.py ($CIFARNETS_CIFAR10_COMPACT, or ../shared/data/cifar-10
     beside the repository), rebuilt into a temporary folder in ~3 s.
Without either, tests that need the real data are skipped and say why; with
CIFARNETS_REQUIRE_DATA=1 (set by .ci/run) they fail instead, so CI never passes a
skipped check off as a passing one.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from cifarnets.data import default_data_root

pytest_plugins = ["hub_fixtures"]  # fake_hub: a local Hugging Face Hub


def _compact_copy() -> Path | None:
    candidates = [os.environ.get("CIFARNETS_CIFAR10_COMPACT"), REPO.parent / "shared/data/cifar-10"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "rebuild.py").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def cifar10_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding the real, md5-checked cifar-10-batches-py/."""
    given = os.environ.get("CIFARNETS_DATA")
    if given and (Path(given) / "cifar-10-batches-py").is_dir():
        return Path(given)
    if (default_data_root() / "cifar-10-batches-py").is_dir():
        return default_data_root()  # where `cifarnets eval --download` puts it
    compact = _compact_copy()
    if compact is None:
        reason = (
            "real CIFAR-10 unavailable: set CIFARNETS_DATA to a root with "
            "cifar-10-batches-py/, or CIFARNETS_CIFAR10_COMPACT to the compact copy"
        )
        if os.environ.get("CIFARNETS_REQUIRE_DATA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("data")
    subprocess.run([sys.executable, str(compact / "rebuild.py"), str(root), "--quiet"], check=True)
    return root


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """CIFAR-10's download URL on localhost port 9: refused at once, as an unreachable
    host is on these machines."""
    from cifarnets.data import DATASETS

    spec = DATASETS["cifar10"]
    monkeypatch.setitem(DATASETS, "cifar10",
                        dataclasses.replace(spec, url="http://127.0.0.1:9/cifar.tar.gz"))


# -- published weights that the tests make themselves -------------------------------------

@pytest.fixture
def weights_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty weights folder (manifest.json + files) that cifarnets reads instead of
    the packaged one, via CIFARNETS_PRETRAINED_DIR (which subprocesses inherit)."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"default": {}, "weights": []}\n')
    monkeypatch.setenv("CIFARNETS_PRETRAINED_DIR", str(folder))
    return folder

