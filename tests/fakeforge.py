"""Local HTTP servers that behave like the GitHub REST and GitLab v4 endpoints a migration PR/MR
uses: read the repository/project, look up branches, create a tree + commit + ref (GitHub) or a
commit with actions on a new branch (GitLab), open the PR/MR, delete a branch. Every request is
recorded (method, path, JSON body) so a test can assert what was sent. Listens on 127.0.0.1;
stopped by the context manager that started it.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote

TOKEN = "fake-forge-token-0123456789abcdef"


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    auth: str | None


@dataclass
class ForgeState:
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=lambda: {"main": "base0000"})
    can_push: bool = True
    refuse_writes: bool = False  # answer 403 to every write (a read-only token)
    requests: list[Recorded] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)  # on the default branch
    commits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _send(self, status: int, payload: Any = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        body = self._body()
        auth = self.headers.get("Authorization") or self.headers.get("PRIVATE-TOKEN")
        state = self.server.state
        state.requests.append(Recorded(self.command, self.path, body, auth))
        if not auth or TOKEN not in auth:
            self._send(401, {"message": "Bad credentials"})
            return
        if state.refuse_writes and self.command != "GET":
            self._send(403, {"message": "Resource not accessible by personal access token"})
            return
        status, payload = self.server.route(self.command, self.path, body)
        self._send(status, payload)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, kind: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.kind = kind
        self.state = ForgeState()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        with self.lock:
            if self.kind == "github":
                return _github(self, method, path, body)
            return _gitlab(self, method, path, body)


def _github(server: _Server, method: str, path: str, body: Any) -> tuple[int, Any]:
    state = server.state
    repo = f"{server.base}/repos/acme/storefront"
    prefix = "/repos/acme/storefront"
    if not path.startswith(prefix):
        return 404, {"message": "Not Found"}
    rest = path[len(prefix) :]
    if method == "GET" and rest == "":
        return 200, {
            "id": 1,
            "name": "storefront",
            "full_name": "acme/storefront",
            "default_branch": state.default_branch,
            "permissions": {"admin": False, "push": state.can_push, "pull": True},
            "url": repo,
            "html_url": "https://github.example/acme/storefront",
        }
    if method == "GET" and rest.startswith("/branches/"):
        name = unquote(rest[len("/branches/") :])
        if name not in state.branches:
            return 404, {"message": "Branch not found"}
        return 200, {"name": name, "commit": {"sha": state.branches[name], "url": repo}}
    if method == "GET" and rest.startswith("/contents/"):
        name = unquote(rest[len("/contents/") :].split("?", 1)[0])
        if name not in state.files:
            return 404, {"message": "Not Found"}
        return 200, _content(repo, name, state.files[name])
    if method == "GET" and rest.startswith("/git/commits/"):
        sha = rest.rsplit("/", 1)[-1]
        return 200, {"sha": sha, "url": f"{repo}/git/commits/{sha}", "tree": {"sha": "tree0"}}
    if method == "POST" and rest == "/git/trees":
        return 201, {"sha": "tree1", "url": f"{repo}/git/trees/tree1", "tree": []}
    if method == "POST" and rest == "/git/commits":
        state.commits.append(body)
        return 201, {"sha": "commit1", "url": f"{repo}/git/commits/commit1"}
    if rest.startswith(("/git/ref/heads/", "/git/refs/heads/")):
        name = unquote(rest.split("/heads/", 1)[1])
        if name not in state.branches:
            return 404, {"message": "Not Found"}
        if method == "DELETE":
            del state.branches[name]
            return 204, None
        if method == "PATCH":
            state.branches[name] = body["sha"]
        return 200, _ref(repo, name, state.branches[name])
    if method == "POST" and rest == "/git/refs":
        name = body["ref"].removeprefix("refs/heads/")
        if name in state.branches:
            return 422, {"message": "Reference already exists"}
        state.branches[name] = body["sha"]
        return 201, _ref(repo, name, body["sha"])
    if method == "POST" and rest == "/pulls":
        if body["base"] not in state.branches or body["head"] not in state.branches:
            return 422, {"message": "Validation Failed"}
        state.pulls.append(body)
        number = len(state.pulls)
        return 201, {
            "number": number,
            "url": f"{repo}/pulls/{number}",
            "html_url": f"https://github.example/acme/storefront/pull/{number}",
        }
    return 404, {"message": "Not Found"}


def _content(repo: str, name: str, text: str) -> dict[str, Any]:
    data = text.encode()
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": name.rsplit("/", 1)[-1],
        "path": name,
        "content": base64.b64encode(data).decode(),
        "sha": "blob" + str(len(data)),
        "url": f"{repo}/contents/{name}",
    }


def _ref(repo: str, name: str, sha: str) -> dict[str, Any]:
    return {
        "ref": f"refs/heads/{name}",
        "url": f"{repo}/git/refs/heads/{name}",
        "object": {"sha": sha, "type": "commit"},
    }


def _gitlab(server: _Server, method: str, path: str, body: Any) -> tuple[int, Any]:
    state = server.state
    path = path.split("?", 1)[0]
    if method == "GET" and path == "/api/v4/projects/acme%2Fwarehouse-api":
        access = 30 if state.can_push else 20
        return 200, {
            "id": 42,
            "path_with_namespace": "acme/warehouse-api",
            "default_branch": state.default_branch,
            "web_url": "https://gitlab.example/acme/warehouse-api",
            "permissions": {"project_access": {"access_level": access}, "group_access": None},
        }
    prefix = "/api/v4/projects/42"
    if not path.startswith(prefix):
        return 404, {"message": "404 Project Not Found"}
    rest = path[len(prefix) :]
    if rest.startswith("/repository/branches/"):
        name = unquote(rest[len("/repository/branches/") :])
        if name not in state.branches:
            return 404, {"message": "404 Branch Not Found"}
        if method == "DELETE":
            del state.branches[name]
            return 204, None
        return 200, {"name": name, "commit": {"id": state.branches[name]}}
    if method == "GET" and rest.startswith("/repository/files/"):
        name = unquote(rest[len("/repository/files/") :])
        if name not in state.files:
            return 404, {"message": "404 File Not Found"}
        return 200, {
            "file_name": name.rsplit("/", 1)[-1],
            "file_path": name,
            "encoding": "base64",
            "content": base64.b64encode(state.files[name].encode()).decode(),
            "ref": state.default_branch,
        }
    if method == "POST" and rest == "/repository/commits":
        if body["branch"] in state.branches:
            return 400, {"message": "A branch called this already exists"}
        if body.get("start_branch") not in state.branches:
            return 400, {"message": "You can only create or edit files when you are on a branch"}
        state.commits.append(body)
        state.branches[body["branch"]] = "commit1"
        return 201, {"id": "commit1", "short_id": "commit1", "title": body["commit_message"]}
    if method == "POST" and rest == "/merge_requests":
        state.pulls.append(body)
        iid = len(state.pulls)
        return 201, {
            "id": 100 + iid,
            "iid": iid,
            "web_url": f"https://gitlab.example/acme/warehouse-api/-/merge_requests/{iid}",
        }
    return 404, {"message": "404 Not Found"}


class FakeForge:
    """``with FakeForge("github") as forge:`` serves on ``forge.url`` until the block ends."""

    def __init__(self, kind: str) -> None:
        self._server = _Server(kind)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return self._server.base

    @property
    def state(self) -> ForgeState:
        return self._server.state

    def __enter__(self) -> FakeForge:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
