"""Shared fixtures: the real CIFAR-10, local Hubs and weights folders.

The tests that need the real CIFAR-10 find it, in order, in
  1. $CIFARNETS_DATA: a data root that holds cifar-10-batches-py/ (CI sets it);
  2. cifarnets' default data root, ~/.cache/cifarnets/data (where `cifarnets eval
     --download` puts it).
Without either they are skipped and say why; with CIFARNETS_REQUIRE_DATA=1 (set by
.ci/run) they fail instead, so CI never passes a skipped check off as a passing one.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from cifarnets.data import default_data_root

pytest_plugins = ["hub_fixtures"]  # fake_hub: a local Hugging Face Hub


@pytest.fixture(scope="session")
def cifar10_root() -> Path:
    """A data root holding the real, md5-checked cifar-10-batches-py/."""
    given = os.environ.get("CIFARNETS_DATA")
    if given and (Path(given) / "cifar-10-batches-py").is_dir():
        return Path(given)
    if (default_data_root() / "cifar-10-batches-py").is_dir():
        return default_data_root()  # where `cifarnets eval --download` puts it
    reason = (
        f"real CIFAR-10 unavailable: set CIFARNETS_DATA to a data root with "
        f"cifar-10-batches-py/, or put it in {default_data_root()} (cifarnets eval "
        f"resnet20 --download does)"
    )
    if os.environ.get("CIFARNETS_REQUIRE_DATA") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """CIFAR-10's download URL on localhost port 9: refused at once, as an unreachable
    host is on these machines."""
    from cifarnets.data import DATASETS

    spec = DATASETS["cifar10"]
    monkeypatch.setitem(
        DATASETS, "cifar10", dataclasses.replace(spec, url="http://127.0.0.1:9/cifar.tar.gz")
    )


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
