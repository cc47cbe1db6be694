"""Pytest fixtures that point the real `huggingface_hub` client at a local `FakeHub`.

Load them with `pytest_plugins = ["hub_fixtures"]` in a test module or the root conftest.py
(importing `fake_hub` by name works too, but ruff then flags every test argument named
`fake_hub` as a redefinition, F811). `tests/` must be importable: `pythonpath = ["tests"]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import huggingface_hub
import pytest
from hubserver import FakeHub
from huggingface_hub import constants, hf_api


def point_client_at(monkeypatch: pytest.MonkeyPatch, endpoint: str, cache_dir: Path) -> None:
    """Make `huggingface_hub` talk to `endpoint` over plain HTTP and cache into `cache_dir`.

    Works whether or not `huggingface_hub` is already imported, in this process and in
    subprocesses started afterwards (through the environment); monkeypatch undoes it all.

    The client reads its environment once, at import, and keeps copies that must be patched too:
    - `constants.ENDPOINT`: read at call time by `HfApi()` and the upload code;
    - `constants.HUGGINGFACE_CO_URL_TEMPLATE`: `hf_hub_url`, hence `hf_hub_download`, builds
      file URLs from this copy, not from `ENDPOINT`;
    - `hf_api.api.endpoint`: the module-level helpers (`huggingface_hub.model_info`,
      `create_repo`, `upload_folder`, ...) are methods of an `HfApi` built at import.
    An `HfApi` built before this call keeps its endpoint: build it in the test, or pass
    `endpoint=`.
    """
    # For subprocesses, and for anything read at call time (HF_TOKEN, proxies).
    environment = {
        "HF_ENDPOINT": endpoint,
        "HF_HUB_CACHE": str(cache_dir),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        # A dummy token, so that no real token from the environment or ~/.cache is sent.
        "HF_TOKEN": "hf_fakehub",
        # The client's shared HTTP session reads proxy settings when it is created (see
        # close_session below): never send loopback requests through a proxy.
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    # For this process: the copies taken at import.
    copies = {
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HUB_CACHE": str(cache_dir),
        # Never take the Xet code paths: upload_folder switches to a Xet upload pipeline when
        # hf_xet is installed, whatever the server answers.
        "HF_HUB_DISABLE_XET": True,
        # With telemetry on, the first request of each process is a GET of
        # {ENDPOINT}/api/agent-harnesses (AI agent detection), cached for a day in HF_HOME.
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_OFFLINE": False,
    }
    for name, value in copies.items():
        monkeypatch.setattr(constants, name, value)
    monkeypatch.setattr(hf_api.api, "endpoint", endpoint)
    # Drop the shared HTTP session: the next request builds one with the settings above.
    huggingface_hub.close_session()


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """A running, empty `FakeHub` that the client points at, with a fresh cache for each test.

    The cache is `tmp_path / "hf_cache"` (also `huggingface_hub.constants.HF_HUB_CACHE`).
    """
    with FakeHub() as hub:
        point_client_at(monkeypatch, hub.endpoint, tmp_path / "hf_cache")
        yield hub
