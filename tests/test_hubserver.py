"""Checks that the real huggingface_hub client works against FakeHub, as tests will rely on."""

from __future__ import annotations

import hashlib
import io
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import huggingface_hub
import pytest
from hubserver import FakeHub, git_blob_sha1
from huggingface_hub import HfApi, constants, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import http_get

REPO = "cifarnets/resnet56.cifar10_v1"
WEIGHTS = random.Random(0).randbytes(300_000)  # an "LFS" file (by its suffix)
CONFIG_V1, CONFIG_V2 = b'{"depth": 56, "v": 1}', b'{"depth": 56, "v": 2}'


@pytest.fixture
def two_commits(fake_hub: FakeHub) -> tuple[str, str]:
    """REPO with v1 (weights + config) then v2 (new config) on main; returns both shas."""
    v1 = fake_hub.add_commit(REPO, {"model.safetensors": WEIGHTS, "config.json": CONFIG_V1})
    v2 = fake_hub.add_commit(REPO, {"config.json": CONFIG_V2})
    return v1, v2


def read(path: str) -> bytes:
    return Path(path).read_bytes()


def test_download_at_pinned_commit_and_at_main(
    fake_hub: FakeHub,
    two_commits: tuple[str, str],
) -> None:
    v1, v2 = two_commits
    assert read(hf_hub_download(REPO, "config.json", revision=v1)) == CONFIG_V1
    assert read(hf_hub_download(REPO, "config.json")) == CONFIG_V2
    weights = hf_hub_download(REPO, "model.safetensors")
    assert read(weights) == WEIGHTS
    assert f"/snapshots/{v2}/" in weights
    # Cache blobs are named after the ETag: sha256 for LFS files (X-Linked-Etag), else git sha1.
    assert Path(weights).resolve().name == hashlib.sha256(WEIGHTS).hexdigest()
    config = hf_hub_download(REPO, "config.json", revision=v1)
    assert Path(config).resolve().name == git_blob_sha1(CONFIG_V1)
    # One HEAD (metadata) + one GET (content) per download; none for the repeated pinned one.
    assert (fake_hub.count("resolve", "HEAD"), fake_hub.count("resolve", "GET")) == (3, 3)


def test_cached_download_needs_no_request_and_survives_a_stopped_server(
    fake_hub: FakeHub,
    two_commits: tuple[str, str],
) -> None:
    v1, _ = two_commits
    path = hf_hub_download(REPO, "model.safetensors", revision=v1)
    hf_hub_download(REPO, "config.json")  # caches refs/main
    before = fake_hub.count()
    assert hf_hub_download(REPO, "model.safetensors", revision=v1) == path
    assert fake_hub.count() == before  # a full commit sha in the cache short-cuts the network
    hf_hub_download(REPO, "config.json")
    assert fake_hub.count() == before + 1  # a branch is re-resolved with a HEAD request

    fake_hub.stop()
    assert hf_hub_download(REPO, "model.safetensors", revision=v1) == path
    # A branch falls back to the commit recorded in the cache's refs/main.
    assert read(hf_hub_download(REPO, "config.json")) == CONFIG_V2


@pytest.mark.parametrize(
    ("repo_id", "revision", "filename", "error"),
    [
        ("cifarnets/missing", "main", "config.json", RepositoryNotFoundError),
        (REPO, "v9", "config.json", RevisionNotFoundError),
        (REPO, "0" * 40, "config.json", RevisionNotFoundError),
        (REPO, "main", "missing.json", RemoteEntryNotFoundError),  # an EntryNotFoundError
    ],
    ids=["repo", "branch", "sha", "file"],
)
def test_missing_repo_revision_or_file_raise_client_errors(
    fake_hub: FakeHub,
    two_commits: tuple[str, str],
    repo_id: str,
    revision: str,
    filename: str,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        hf_hub_download(repo_id, filename, revision=revision)


def test_stopped_server_and_empty_cache_raise_local_entry_not_found(
    fake_hub: FakeHub,
    two_commits: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # With nothing cached, the client retries the HEAD request with exponential backoff before
    # giving up: skip its sleeps, but record how long it would have blocked.
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    fake_hub.stop()
    start = time.monotonic()
    with pytest.raises(LocalEntryNotFoundError) as caught:
        hf_hub_download(REPO, "config.json", revision=two_commits[0])
    assert time.monotonic() - start < 5
    assert type(caught.value.__cause__).__name__ == "ConnectError"  # httpx or httpx2
    assert sum(slept) >= 20  # 1 + 2 + 4 + 8 + 8 s with the 1.x and 2.x clients


def test_offline_mode_makes_no_request(
    fake_hub: FakeHub,
    two_commits: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hf_hub_download(REPO, "config.json")
    before = fake_hub.count()
    # HF_HUB_OFFLINE is read at import: patch the constant (the variable is for subprocesses).
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert read(hf_hub_download(REPO, "config.json")) == CONFIG_V2
    start = time.monotonic()
    with pytest.raises(LocalEntryNotFoundError) as caught:
        hf_hub_download(REPO, "model.safetensors")
    assert time.monotonic() - start < 1
    assert isinstance(caught.value.__cause__, OfflineModeIsEnabled)
    assert fake_hub.count() == before


def test_range_requests(fake_hub: FakeHub, two_commits: tuple[str, str]) -> None:
    url = hf_hub_url(REPO, "model.safetensors")

    def get(range_header: str) -> tuple[int, str | None, bytes]:
        request = urllib.request.Request(url, headers={"Range": range_header})
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers["Content-Range"], response.read()

    size = len(WEIGHTS)
    assert get("bytes=1000-") == (206, f"bytes 1000-{size - 1}/{size}", WEIGHTS[1000:])
    assert get("bytes=10-19") == (206, f"bytes 10-19/{size}", WEIGHTS[10:20])
    with pytest.raises(urllib.error.HTTPError) as caught:
        get(f"bytes={size}-")
    assert caught.value.code == 416

    # The client's resume path: it asks for the missing tail of a partial download.
    partial = io.BytesIO(WEIGHTS[:1000])
    partial.seek(0, io.SEEK_END)
    http_get(url, partial, resume_size=1000, expected_size=size)
    assert partial.getvalue() == WEIGHTS


def test_create_repo_and_upload_folder_round_trip(
    fake_hub: FakeHub,
    tmp_path: Path,
) -> None:
    files = {
        "README.md": b"---\nlicense: mit\n---\n# resnet20\n",  # validated by the Hub first
        "config.json": CONFIG_V1,
        "weights/model.safetensors": WEIGHTS,
    }
    folder = tmp_path / "upload"
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    api = HfApi()
    repo_id = "cifarnets/resnet20.cifar10_v1"

    url = api.create_repo(repo_id)
    assert (url.repo_id, url.endpoint) == (repo_id, fake_hub.endpoint)
    assert api.create_repo(repo_id, exist_ok=True).repo_id == repo_id  # a 409 from the server
    info = api.upload_folder(repo_id=repo_id, folder_path=folder)

    assert api.model_info(repo_id).sha == info.oid
    for name, content in files.items():
        assert read(hf_hub_download(repo_id, name, revision=info.oid)) == content
    # Unchanged files are left out (preupload "oid"): no new commit.
    assert api.upload_folder(repo_id=repo_id, folder_path=folder).oid == info.oid
    assert fake_hub.count("commit") == 1


def test_module_level_helpers_and_new_clients_use_the_fake_hub(
    fake_hub: FakeHub,
    two_commits: tuple[str, str],
) -> None:
    v1, v2 = two_commits
    assert huggingface_hub.model_info(REPO).sha == v2
    info = HfApi().model_info(REPO, revision=v1)
    assert info.sha == v1
    assert [s.rfilename for s in info.siblings or []] == ["config.json", "model.safetensors"]


def test_two_processes_download_the_same_file_at_once(
    fake_hub: FakeHub,
    two_commits: tuple[str, str],
) -> None:
    # Each process inherits HF_ENDPOINT and HF_HUB_CACHE from the fixture's environment.
    fake_hub.delay_s = 0.3  # keeps both requests in flight together
    script = (
        "import hashlib, pathlib, sys; from huggingface_hub import hf_hub_download; "
        "path = hf_hub_download(sys.argv[1], 'model.safetensors'); "
        "print(hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest())"
    )
    command = [sys.executable, "-c", script, REPO]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(2)]
    digests = [process.communicate(timeout=60)[0].decode().strip() for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    assert digests == [hashlib.sha256(WEIGHTS).hexdigest()] * 2
    # Both resolve "main" with a HEAD; the cache's file lock lets only one download the content.
    assert (fake_hub.count("resolve", "HEAD"), fake_hub.count("resolve", "GET")) == (2, 1)


def test_injected_failure_is_retried_and_delay_slows_answers(
    fake_hub: FakeHub,
    two_commits: tuple[str, str],
) -> None:
    fake_hub.fail_next(503)  # with nothing cached, hf_hub_download retries a failed HEAD
    assert read(hf_hub_download(REPO, "config.json")) == CONFIG_V2
    assert fake_hub.count("resolve", "HEAD") == 2

    fake_hub.delay_s = 0.2
    start = time.monotonic()
    hf_hub_download(REPO, "model.safetensors")  # HEAD + GET
    assert time.monotonic() - start >= 0.4


def test_stop_closes_the_socket() -> None:
    with FakeHub() as hub:
        hub.add_commit("x/y", {})
        url = f"{hub.endpoint}/api/models/x/y"
        with urllib.request.urlopen(url) as response:
            assert response.status == 200
    with pytest.raises(urllib.error.URLError) as caught:
        urllib.request.urlopen(url)
    assert isinstance(caught.value.reason, ConnectionRefusedError)
