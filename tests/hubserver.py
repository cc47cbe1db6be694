"""A local stand-in for the Hugging Face Hub, for tests that must not touch the network.

`FakeHub` answers the handful of HTTP routes that the real `huggingface_hub` client (1.x and 2.x)
calls for `hf_hub_download`, `HfApi.model_info`, `HfApi.create_repo` and
`HfApi.upload_folder`/`create_commit`, over plain HTTP (it never sends `X-Xet-*` headers, so the
client downloads with ordinary GETs). Use `hub_fixtures.point_client_at` (or the `fake_hub`
fixture) to point an already imported client at it: setting `HF_ENDPOINT` alone is too late.

    with FakeHub() as hub:
        sha = hub.add_commit("cifarnets/resnet56.cifar10_v1", {"config.json": b"{}"})
        ...  # client calls against hub.endpoint
        assert hub.count("resolve", "GET") == 1

Scope: model repos only, branches and full commit shas as revisions (no tags or pull requests),
files committed inline (the preupload answer is "regular" for every file, so the client never
uploads through LFS or Xet), no deletions, no authentication (tokens are accepted and ignored).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from typing import Self  # Python 3.11+: imported for type checkers only

# Files the Hub stores with Git LFS (by the default .gitattributes of new repos). The client names
# their cache blobs after the sha256 it reads from `X-Linked-Etag`, as with the real Hub.
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")

_REPO = r"(?P<repo>[^/]+(?:/[^/]+)?)"  # "name" or "namespace/name"
# (kind, methods, pattern). Patterns match the still URL-quoted path: the client quotes the
# revision with `safe=""`, so a revision is one path segment even if it contains "/".
_ROUTES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = (
    ("resolve", ("GET", "HEAD"), re.compile(rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)")),
    ("model_info", ("GET",), re.compile(rf"/api/models/{_REPO}(?:/revision/(?P<rev>[^/]+))?")),
    ("create_repo", ("POST",), re.compile(r"/api/repos/create")),
    ("preupload", ("POST",), re.compile(rf"/api/models/{_REPO}/preupload/(?P<rev>[^/]+)")),
    ("commit", ("POST",), re.compile(rf"/api/models/{_REPO}/commit/(?P<rev>[^/]+)")),
    ("validate_yaml", ("POST",), re.compile(r"/api/validate-yaml")),
)
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


def git_blob_sha1(data: bytes) -> str:
    """Git object id of `data`: the Hub's ETag for a regular (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


def _commit_sha(parent: str | None, tree: dict[str, bytes]) -> str:
    """A deterministic 40-hex commit id: sha1 of the parent id and of the whole tree."""
    digest = hashlib.sha1((parent or "").encode())
    for path in sorted(tree):
        digest.update(f"\0{path}\0{git_blob_sha1(tree[path])}".encode())
    return digest.hexdigest()


_EMPTY_COMMIT = _commit_sha(None, {})


class _HubError(Exception):
    """An error answer: status, `X-Error-Code` (which the client maps to an exception class in
    `hf_raise_for_status`), message, and extra headers and JSON body fields."""

    def __init__(
        self,
        status: int,
        code: str | None,
        message: str,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.body = body or {}


@dataclass
class _Repo:
    # Every repo starts with an empty commit on "main" (the real Hub's holds a .gitattributes).
    # Trees are never mutated once stored, so they can be read without holding the lock.
    commits: dict[str, dict[str, bytes]] = field(default_factory=lambda: {_EMPTY_COMMIT: {}})
    branches: dict[str, str] = field(default_factory=lambda: {"main": _EMPTY_COMMIT})

    def resolve(self, revision: str) -> str:
        sha = self.branches.get(revision, revision)
        if sha not in self.commits:
            raise _HubError(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return sha

    def commit(self, branch: str, files: dict[str, bytes]) -> str:
        parent = self.branches[branch]
        tree = {**self.commits[parent], **files}
        sha = _commit_sha(parent, tree)
        self.commits[sha] = tree
        self.branches[branch] = sha
        return sha


class Request(NamedTuple):
    method: str
    kind: str  # a route kind ("resolve", "commit", ...) or "unknown"
    path: str


class FakeHub:
    """In-memory Hub on 127.0.0.1 (ephemeral port), served from a background thread.

    Knobs: `delay_s` sleeps before answering every request (a slow Hub); `fail_next` answers the
    next requests with an error status (a flaky Hub); `die_mid_download` cuts the next file
    download in half and stops the server (a Hub that dies mid-transfer). `requests` lists
    every request received.
    """

    def __init__(self) -> None:
        self.delay_s = 0.0
        self.die_mid_download = False  # the next file GET sends half its body, then the Hub dies
        self.requests: list[Request] = []
        self._repos: dict[str, _Repo] = {}
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(self)
        # A short poll interval keeps stop() fast: shutdown() waits for the loop to notice it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listening socket: later requests get "connection refused". Idempotent."""
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeHub is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- seeding and inspection ------------------------------------------------------------------

    def add_commit(self, repo_id: str, files: dict[str, bytes], branch: str = "main") -> str:
        """Commit `files` (added or replaced) on top of `branch`; return the new commit sha.

        Creates the repo, and the branch (from the repo's empty first commit), if missing.
        """
        with self._lock:
            repo = self._repos.setdefault(repo_id, _Repo())
            repo.branches.setdefault(branch, _EMPTY_COMMIT)
            return repo.commit(branch, files)

    def count(self, kind: str | None = None, method: str | None = None) -> int:
        """Number of requests received, optionally only of one route kind and/or HTTP method."""
        with self._lock:
            return sum(
                (kind is None or r.kind == kind) and (method is None or r.method == method)
                for r in self.requests
            )

    def fail_next(self, status: int = 503, count: int = 1) -> None:
        """Answer the next `count` requests, whatever they are, with HTTP `status`."""
        with self._lock:
            self._failures += [status] * count

    # -- internals used by the request handler ---------------------------------------------------

    def _lookup(self, repo_id: str, revision: str) -> tuple[str, dict[str, bytes]]:
        """(commit sha, tree) of `revision`, or the _HubError the real Hub would answer."""
        with self._lock:
            repo = self._repo(repo_id)
            sha = repo.resolve(revision)
            return sha, repo.commits[sha]

    def _new_repo(self, repo_id: str) -> bool:
        """Create an empty repo; False if it already exists."""
        with self._lock:
            if repo_id in self._repos:
                return False
            self._repos[repo_id] = _Repo()
            return True

    def _commit_to_branch(self, repo_id: str, branch: str, files: dict[str, bytes]) -> str:
        """Like add_commit, but the repo and the branch must exist (as for the commit API)."""
        with self._lock:
            repo = self._repo(repo_id)
            if branch not in repo.branches:
                raise _HubError(404, "RevisionNotFound", f"Invalid rev id: {branch}")
            return repo.commit(branch, files)

    def _repo(self, repo_id: str) -> _Repo:
        # The Hub answers 401 to anonymous callers and 404 to authenticated ones; either way the
        # client maps the response on the `X-Error-Code` header (a bare 401 only on https URLs).
        if repo_id not in self._repos:
            raise _HubError(404, "RepoNotFound", f"Repository not found: {repo_id}")
        return self._repos[repo_id]

    def _admit(self, method: str, kind: str, path: str) -> int | None:
        """Record a request; return the injected failure status to answer it with, if any."""
        with self._lock:
            self.requests.append(Request(method, kind, path))
            failure = self._failures.pop(0) if self._failures else None
        time.sleep(self.delay_s)
        return failure


class _Server(ThreadingHTTPServer):
    def __init__(self, hub: FakeHub) -> None:
        self.hub = hub
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer is not a server bug: stay quiet about it.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.0 closes the connection after each answer: no idle keep-alive connection can outlive
    # stop() and keep answering the client's connection pool.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no per-request line on stderr."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        kind, match = "unknown", None
        for route_kind, methods, pattern in _ROUTES:
            if self.command in methods and (match := pattern.fullmatch(path)):
                kind = route_kind
                break
        failure = self.server.hub._admit(self.command, kind, self.path)
        try:
            if failure is not None:
                raise _HubError(failure, None, "Injected failure")
            if match is None:
                raise _HubError(404, None, f"No route for {self.command} {path}")
            args = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            getattr(self, f"_{kind}")(**args)
        except _HubError as error:
            headers = {"X-Error-Message": error.message, **error.headers}
            if error.code is not None:
                headers["X-Error-Code"] = error.code
            self._send_json({"error": error.message, **error.body}, error.status, headers)

    # -- routes ----------------------------------------------------------------------------------

    def _resolve(self, repo: str, rev: str, path: str) -> None:
        sha, tree = self.server.hub._lookup(repo, rev)
        # get_hf_file_metadata requires X-Repo-Commit and an ETag; _get_metadata_or_catch_error
        # also reads X-Repo-Commit on EntryNotFound to cache the file's absence for that commit.
        headers = {"X-Repo-Commit": sha}
        if path not in tree:
            raise _HubError(404, "EntryNotFound", f"{path} does not exist at {sha}", headers)
        data = tree[path]
        etag = hashlib.sha256(data).hexdigest() if _is_lfs(path) else git_blob_sha1(data)
        headers |= {"ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        if _is_lfs(path):
            # Preferred over ETag / Content-Length by get_hf_file_metadata (on the real Hub they
            # ride on the redirect to the CDN); the ETag names the blob in the client's cache.
            headers |= {"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(len(data))}
        status = 200
        # http_get resumes an interrupted download with "Range: bytes=<received>-".
        if self.command == "GET" and (m := _RANGE.fullmatch(self.headers.get("Range", ""))):
            start, end = int(m[1]), min(int(m[2] or len(data) - 1), len(data) - 1)
            if start > end:
                unsatisfiable = {"Content-Range": f"bytes */{len(data)}"}
                raise _HubError(416, None, "Range Not Satisfiable", unsatisfiable)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            status, data = 206, data[start : end + 1]
        self._send(status, data, {"Content-Type": "application/octet-stream", **headers})

    def _model_info(self, repo: str, rev: str = "main") -> None:
        sha, tree = self.server.hub._lookup(repo, rev)
        siblings = [{"rfilename": path} for path in sorted(tree)]
        self._send_json({"id": repo, "sha": sha, "private": False, "siblings": siblings})

    def _create_repo(self) -> None:
        payload = self._read_json()
        if payload.get("type", "model") != "model":
            raise _HubError(400, None, "FakeHub only hosts model repos")
        repo_id = "/".join(filter(None, (payload.get("organization"), payload["name"])))
        url = f"{self.server.hub.endpoint}/{repo_id}"
        if not self.server.hub._new_repo(repo_id):
            # create_repo(exist_ok=True) accepts a 409, then reads "url" from its body.
            raise _HubError(409, None, "You already created this model repo", body={"url": url})
        self._send_json({"url": url, "name": repo_id})

    def _preupload(self, repo: str, rev: str) -> None:
        _, tree = self.server.hub._lookup(repo, rev)
        # "regular" makes the client send every file inline (base64) in the commit call, so no
        # LFS or Xet upload is needed. "oid" is what the client compares with its own git sha1 of
        # a regular file to leave unchanged files out of the commit.
        files = [
            {
                "path": f["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": git_blob_sha1(tree[f["path"]]) if f["path"] in tree else None,
            }
            for f in self._read_json()["files"]
        ]
        self._send_json({"files": files})

    def _commit(self, repo: str, rev: str) -> None:
        # ndjson: a {"key": "header"} line (summary, description), then one line per operation.
        _header, *operations = map(json.loads, self._read_body().splitlines())
        files = {}
        for op in operations:
            if op["key"] != "file":
                raise _HubError(400, None, f"FakeHub does not support {op['key']!r} operations")
            files[op["value"]["path"]] = base64.b64decode(op["value"]["content"])
        sha = self.server.hub._commit_to_branch(repo, rev, files)
        # _send_commit builds the CommitInfo from commitUrl and commitOid.
        url = f"{self.server.hub.endpoint}/{repo}/commit/{sha}"
        self._send_json({"success": True, "commitOid": sha, "commitUrl": url})

    def _validate_yaml(self) -> None:
        # create_commit has the Hub validate a README.md's metadata before committing it.
        self._send_json({"errors": [], "warnings": []})

    # -- HTTP plumbing ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _read_json(self) -> Any:
        return json.loads(self._read_body())

    def _send_json(
        self, obj: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        headers = {"Content-Type": "application/json", **(headers or {})}
        self._send(status, json.dumps(obj).encode(), headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        # Also on HEAD: for regular files get_hf_file_metadata takes the size from it.
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        hub = self.server.hub
        if self.command == "GET" and hub.die_mid_download and status in (200, 206):
            hub.die_mid_download = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            threading.Thread(target=hub.stop, daemon=True).start()  # not from its own thread
            return
        if self.command != "HEAD":
            self.wfile.write(body)
