"""Fetching published weights: the Hugging Face Hub first, the packaged copy second.

:func:`fetch` returns the path of a verified file: from the Hub at the weight's pinned
commit (a file already in the Hugging Face cache needs no network), else from the
package (``cifarnets/pretrained/``); size and sha256 are checked before anything reads
it. Every failure is one of ``cifarnets.errors``' types, whose exit status says whether
the network (3) or the input (2) is what is missing.

huggingface_hub is imported inside the functions that call it: it is a heavy import
that building a net without weights does not need.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tqdm.auto import tqdm

from ._safetensors import atomic_write
from ._version import __version__
from .errors import (
    HubError,
    HubRefusedError,
    HubUnreachableError,
    WeightsIntegrityError,
    WeightsUnavailableError,
    WeightsUnreachableError,
)
from .weights import (
    HUB_FILENAME,
    Weights,
    how_to_fix_folder,
    is_private_dir,
    pretrained_dir,
    ships_in_package,
)

__all__ = [
    "cached_repo_file",
    "download_repo_file",
    "download_url",
    "fetch",
    "hub_call",
    "sha256_of",
]

T = TypeVar("T")
_HUB_TIMEOUT_S = 10
_HUB_RETRIES_S = (0.5, 1.5)  # waits before retrying a Hub that answered 5xx


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, weights: Weights, how_to_fix: str) -> None:
    size = path.stat().st_size
    if size != weights.file_size:
        raise WeightsIntegrityError(
            f"{path} ({weights.name}) is {size:,} bytes, expected {weights.file_size:,} "
            f"(truncated or replaced). {how_to_fix}"
        )
    actual = sha256_of(path)
    if actual != weights.sha256:
        raise WeightsIntegrityError(
            f"{path} ({weights.name}) has sha256 {actual}, expected {weights.sha256} "
            f"(corrupted or replaced). {how_to_fix}"
        )


def hub_call(what: str, call: Callable[[], T]) -> T:
    """Run a huggingface_hub call; whatever it raises becomes a
    :class:`HubUnreachableError` (no answer, or 5xx after retries) or a
    :class:`HubRefusedError` (an answer: no such repo, revision or file; an invalid id).

    The transport's own errors (httpx in huggingface_hub 1.x, httpx2 in 2.x) are not
    OSErrors, and a connection dropped mid-download surfaces as one of them.
    """
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError

    for attempt, wait in enumerate((*_HUB_RETRIES_S, None)):
        try:
            return call()
        except HFValidationError as err:
            raise HubRefusedError(f"invalid Hub repo id or revision ({_one_line(err)})") from err
        except HfHubHTTPError as err:
            status = getattr(getattr(err, "response", None), "status_code", None)
            if status is not None and (status >= 500 or status == 429):  # trouble, or busy
                if wait is not None:
                    time.sleep(wait)
                    continue
                raise HubUnreachableError(
                    f"{constants.ENDPOINT} answered HTTP {status} {attempt + 1} times ({what})"
                ) from err
            raise HubRefusedError(_one_line(err)) from err
        except LocalEntryNotFoundError as err:  # offline, or nothing cached after a failure
            raise HubUnreachableError(_one_line(err)) from err
        except Exception as err:  # connection refused, reset, timed out, dropped mid-file
            raise HubUnreachableError(
                f"cannot reach {constants.ENDPOINT} ({what}): {_one_line(err)}"
            ) from err
    raise AssertionError("unreachable")


def _fetch_from_hub(
    weights: Weights,
    cache_dir: str | Path | None,
    force_download: bool = False,
    progress: bool = True,
) -> Path:
    from huggingface_hub import (
        get_hf_file_metadata,
        hf_hub_download,
        hf_hub_url,
        try_to_load_from_cache,
    )

    repo, revision = weights.hub_repo, weights.hub_revision
    cached = hub_call(
        "cache lookup",
        lambda: try_to_load_from_cache(repo, HUB_FILENAME, revision=revision, cache_dir=cache_dir),
    )
    if (force_download or not isinstance(cached, str)) and not _hub_offline():
        # One plain HEAD first. When the Hub cannot be reached, hf_hub_download retries
        # with back-off for ~20 s before it gives up; this fails within one timeout.
        hub_call(
            "HEAD",
            lambda: get_hf_file_metadata(
                hf_hub_url(repo, HUB_FILENAME, revision=revision), timeout=_HUB_TIMEOUT_S
            ),
        )
    return Path(
        hub_call(
            "download",
            lambda: hf_hub_download(
                repo,
                HUB_FILENAME,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                library_name="cifarnets",
                library_version=__version__,
                # progress=False: this download's bar only; huggingface_hub's own
                # switches (disable_progress_bars, HF_HUB_DISABLE_PROGRESS_BARS) are
                # process-wide and stay the user's.
                tqdm_class=None if progress else _NoProgressBar,
            ),
        )
    )


class _NoProgressBar(tqdm):
    """A progress bar that never shows (huggingface_hub's ``tqdm_class``)."""

    def __init__(self, *args, **kwargs):
        kwargs.pop("name", None)  # huggingface_hub's own bars take a group name
        super().__init__(*args, **{**kwargs, "disable": True})


def fetch(weights: Weights, *, cache_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Path to the verified weights file: from the Hub (cache), else from the package.

    Honours ``HF_HUB_OFFLINE`` (then only the Hugging Face cache and the package are
    used). A file that fails its size or sha256 check is never loaded: a damaged cached
    copy is downloaded again (with a warning); a Hub that serves other bytes than the
    published ones, or cannot be reached, and a damaged cache that cannot be downloaded
    again (offline, Hub down), give way to the package copy (with a warning); without
    one, the error says what happened and what to do.
    """
    hub_error: Exception | None = None
    if weights.hub_revision is not None:
        try:
            return _fetch_verified_from_hub(weights, cache_dir, progress)
        except (HubError, WeightsIntegrityError) as err:
            hub_error = err  # a damaged cache that could not be healed is one of these
    packaged = pretrained_dir() / weights.filename
    if packaged.is_file():
        damaged_cache = isinstance(hub_error, WeightsIntegrityError)
        if hub_error is not None and (damaged_cache or not _hub_offline()):
            warnings.warn(
                f"{weights.name}: the Hub could not provide {weights.hub_repo}@"
                f"{weights.hub_revision} ({_one_line(hub_error)}); using the copy "
                + (
                    f"in CIFARNETS_PRETRAINED_DIR={pretrained_dir()}"
                    if is_private_dir()
                    else "shipped with cifarnets"
                ),
                stacklevel=3,
            )
        _verify(packaged, weights, f"Fix: {how_to_fix_folder()}.")
        return packaged
    if isinstance(hub_error, WeightsIntegrityError):
        raise hub_error  # it names the damaged file and how to heal it
    # Where a copy of the file would come from: the user's own folder, or a wheel.
    if not ships_in_package(weights):  # the Hub's alone (README "Weights"): cached once
        copy = (
            "load it once while online: huggingface_hub keeps it in its cache, and "
            "HF_HUB_OFFLINE=1 uses that copy"
        )
    elif is_private_dir():
        copy = (
            f"put {weights.filename} into your weights folder CIFARNETS_PRETRAINED_DIR="
            f"{pretrained_dir()} (`cifarnets publish add` writes it there)"
        )
    else:
        copy = "install a cifarnets wheel that ships its weights"
    error = WeightsUnavailableError
    if hub_error is None:
        where = "it has not been uploaded to the Hub yet"
        fix = (
            copy if is_private_dir() else "reinstall cifarnets from a wheel that ships its weights"
        )
    else:
        where = f"the Hub ({weights.hub_repo}@{weights.hub_revision}) failed: {hub_error}"
        if _hub_offline() or isinstance(hub_error, HubUnreachableError):
            error = WeightsUnreachableError  # the network is what is missing
            fix = f"connect to the internet (and unset HF_HUB_OFFLINE), or {copy}"
        elif isinstance(hub_error, _HubMismatch):
            fix = (
                f"deleting the cache will not help (the Hub itself serves other bytes); "
                f"{copy}, and report it"
            )
        else:  # the Hub answered: the manifest names a repo, revision or file it lacks
            fix = (
                f"upgrade cifarnets (its manifest names a repo or revision the Hub does "
                f"not have), or {copy}"
            )
    raise error(
        f"cannot get {weights.name}: {where}, and this installation has no packaged copy "
        f"({packaged}). Fix: {fix}."
    ) from hub_error


class _HubMismatch(HubError):
    """The Hub served, twice, a file that is not the published one."""


def _fetch_verified_from_hub(
    weights: Weights, cache_dir: str | Path | None, progress: bool = True
) -> Path:
    path = _fetch_from_hub(weights, cache_dir, progress=progress)
    try:
        _verify(path, weights, "")
        return path
    except WeightsIntegrityError as damaged:
        if _hub_offline():
            raise WeightsIntegrityError(
                f"{damaged} Fix: delete the cached copy (rm -r {_repo_cache_dir(path)}) and "
                f"load again online (HF_HUB_OFFLINE is set)."
            ) from None
        first = str(damaged)
    try:  # a damaged cache heals by downloading again
        path = _fetch_from_hub(weights, cache_dir, force_download=True, progress=progress)
    except HubUnreachableError as err:
        raise WeightsIntegrityError(
            f"{first} Downloading it again failed ({err}). Fix: delete the cached copy "
            f"(rm -r {_repo_cache_dir(path)}) and load again when the Hub is reachable."
        ) from err
    try:
        _verify(path, weights, "")
    except WeightsIntegrityError as again:
        raise _HubMismatch(
            f"the Hub's file does not match the published sha256 even "
            f"when downloaded again ({again})"
        ) from None
    warnings.warn(
        f"{weights.name}: the cached copy was damaged ({first}); downloaded it "
        f"again and verified it",
        stacklevel=4,
    )
    return path


def _one_line(err: BaseException) -> str:
    """An exception on one line (the Hub's messages span several)."""
    return " ".join(f"{type(err).__name__}: {err}".split())


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _repo_cache_dir(path: Path) -> Path:
    """``.../models--org--name`` for a file in the Hugging Face cache."""
    for parent in path.parents:
        if parent.name.startswith("models--"):
            return parent
    return path.parent


def split_revision(repo: str) -> tuple[str, str | None]:
    """``ORG/REPO@REVISION`` (timm's ``hf-hub:`` form) -> ``(ORG/REPO, REVISION)``."""
    name, _, revision = repo.partition("@")
    return name, revision or None


def download_repo_file(
    repo: str, filename: str = HUB_FILENAME, *, cache_dir: str | Path | None = None
) -> Path:
    """``filename`` of a Hub repo that cifarnets does not list (a user's own upload;
    ``ORG/REPO@REVISION`` pins a revision), through huggingface_hub's cache. Unreachable:
    :class:`WeightsUnreachableError`; no such repo or file:
    :class:`WeightsUnavailableError`; both say what to do."""
    from huggingface_hub import hf_hub_download

    name, revision = split_revision(repo)
    try:
        return Path(
            hub_call(
                f"{repo}/{filename}",
                lambda: hf_hub_download(
                    name,
                    filename,
                    revision=revision,
                    cache_dir=cache_dir,
                    library_name="cifarnets",
                    library_version=__version__,
                ),
            )
        )
    except HubError as err:
        error = (
            WeightsUnreachableError
            if isinstance(err, HubUnreachableError)
            else WeightsUnavailableError
        )
        raise error(
            f"cannot get {filename} of hf-hub:{repo}: {err}. Fix: check the repo id and "
            f"your network, or load a local copy with cifarnets.load_weights_file(model, "
            f"PATH)"
        ) from err


def cached_repo_file(repo: str, filename: str) -> Path | None:
    """``filename`` of a Hub repo if huggingface_hub's cache has it (no network)."""
    from huggingface_hub import try_to_load_from_cache

    name, revision = split_revision(repo)
    try:
        cached = try_to_load_from_cache(name, filename, revision=revision)
    except ValueError:  # not a repo id the Hub would take: nothing cached under it
        return None
    return Path(cached) if isinstance(cached, str) else None


def download_url(url: str, *, cache_dir: str | Path | None = None) -> Path:
    """A weights file named by its URL (timm's ``url=``), downloaded once into
    ``cache_dir`` (default ``~/.cache/cifarnets/downloads``) under a folder of its own
    per URL, and reused from there; an unreachable URL fails within one timeout, with
    the fix."""
    name = Path(urllib.parse.urlparse(url).path).name or "model.safetensors"
    root = Path(cache_dir) if cache_dir else Path.home() / ".cache" / "cifarnets" / "downloads"
    # Two URLs may end in the same file name (model.safetensors): one folder per URL.
    folder = root / hashlib.sha256(url.encode()).hexdigest()[:16]
    path = folder / name
    if path.is_file():
        return path
    try:
        with urllib.request.urlopen(url, timeout=_HUB_TIMEOUT_S) as response:
            data = response.read()
    except urllib.error.HTTPError as err:
        raise WeightsUnavailableError(
            f"cannot download {url}: HTTP {err.code}. Fix: check the URL"
        ) from err
    except (urllib.error.URLError, OSError) as err:
        raise WeightsUnreachableError(
            f"cannot download {url}: {_one_line(err)}. Fix: connect to the network, or "
            f"download it yourself and name the file instead (file=PATH)"
        ) from err
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)
    return path
