"""A real local HTTP server that behaves like Jenkins' remote API and the Stage View REST API.

Serves, on ``127.0.0.1`` (optionally under a context path such as ``/jenkins``):

- ``/api/json`` (the root: ``hudson.model.Hudson``), ``/job/A/job/B/api/json`` for folders,
  multibranch projects and jobs, ``/job/.../N/api/json`` for builds, all honouring ``tree=``
  with nested fields and ``{M,N}`` / ``{M,}`` / ``{,N}`` / ``{N}`` ranges the way Stapler does:
  ``_class`` is always kept, ``allBuilds`` appears only when named, ``builds`` holds the newest
  100 builds, and without ``tree`` a job lists ``builds`` as ``{_class, number, url}``;
- Stage View (``pipeline-rest-api``) for Pipeline jobs: ``/job/.../wfapi`` and
  ``/wfapi/describe`` (``runCount`` capped at 10), ``/wfapi/runs`` (10 runs, ``since=#N``,
  ``fullStages``), ``/N/wfapi/describe`` (``fullStages`` shows ``stageFlowNodes``) and
  ``/N/execution/node/ID/wfapi/describe`` (at most 100 child nodes). With ``stage_view=False``
  every ``wfapi`` URL is a 404, as on a Jenkins without the plugin;
- authentication like Jenkins with API tokens: HTTP basic, 401 for a wrong token, 403 for an
  anonymous or a user without Overall/Read, 404 for a job the user may not read. Every
  response carries ``X-Jenkins``. POSTs without a crumb are refused (403), as CSRF protection
  does for session auth; a GET never needs one.

Injected faults (statuses, connection resets) and a record of every request let tests assert
what a collector asked for.
"""

from __future__ import annotations

import base64
import copy
import json
import socket
import struct
import sys
import threading
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from jenkins_payloads import JSON, JobHistory, job_object

DEFAULT_USER = "ci-reader"
DEFAULT_TOKEN = "11e0c0ffee5d2a7b9c3e4f5a6b7c8d9e0f"
JENKINS_VERSION = "2.462.3"
JSON_CT = "application/json;charset=utf-8"
HTML_CT = "text/html;charset=utf-8"
MAX_RUNS = 10  # JobExt.maxRunsPerJob
MAX_CHILD_NODES = 100  # StageNodeExt.maxChildNodes
NEWEST_BUILDS = 100  # Job.getNewBuilds()

FOLDER = "com.cloudbees.hudson.plugins.folder.Folder"
MULTIBRANCH = "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"

__all__ = ["DEFAULT_TOKEN", "DEFAULT_USER", "FakeJenkins", "RecordedRequest", "apply_tree"]


# ---------------------------------------------------------------------------- tree=


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    children: tuple[_Field, ...] | None
    window: slice | None


def _parse_range(text: str) -> slice:
    if "," not in text:
        index = int(text)
        return slice(index, index + 1)
    low, high = text.split(",", 1)
    return slice(int(low) if low else 0, int(high) if high else None)


def parse_tree(text: str) -> tuple[_Field, ...]:
    """Stapler's tree syntax: ``a,b[c,d[e]{0,5}],f{3}``."""
    fields, rest = _fields(text, 0)
    if rest != len(text):
        raise ValueError(f"unexpected {text[rest:]!r} in tree")
    return fields


def _fields(text: str, at: int) -> tuple[tuple[_Field, ...], int]:
    out: list[_Field] = []
    while at < len(text):
        start = at
        while at < len(text) and text[at] not in ",[]{}":
            at += 1
        name = text[start:at].strip()
        children: tuple[_Field, ...] | None = None
        window: slice | None = None
        if at < len(text) and text[at] == "[":
            children, at = _fields(text, at + 1)
            if at >= len(text) or text[at] != "]":
                raise ValueError("unbalanced [ in tree")
            at += 1
        if at < len(text) and text[at] == "{":
            end = text.index("}", at)
            window = _parse_range(text[at + 1 : end])
            at = end + 1
        if name:
            out.append(_Field(name, children, window))
        if at < len(text) and text[at] == ",":
            at += 1
            continue
        break
    return tuple(out), at


def apply_tree(value: Any, fields: tuple[_Field, ...] | None) -> Any:
    """Keep only the named properties (and ``_class``), slicing arrays by their ranges."""
    if isinstance(value, list):
        return [apply_tree(item, fields) for item in value]
    if not isinstance(value, dict):
        return value
    out: JSON = {}
    if "_class" in value:
        out["_class"] = value["_class"]
    for f in fields or ():
        if f.name not in value:
            continue
        item = value[f.name]
        if isinstance(item, list) and f.window is not None:
            item = item[f.window]
        out[f.name] = apply_tree(item, f.children) if f.children is not None else _leaf(item)
    return out


def _leaf(item: Any) -> Any:
    """A property named without sub-fields: objects show only their ``_class``."""
    if isinstance(item, list):
        return [_leaf(i) for i in item]
    if isinstance(item, dict):
        return {"_class": item["_class"]} if "_class" in item else {}
    return item


# ---------------------------------------------------------------------------- state


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str  # without the context path and the query
    query: dict[str, str]
    user: str | None  # None: anonymous
    status: int | None  # None: the connection was reset
    fault: str | None


@dataclass(slots=True)
class _Armed:
    code: int | None  # None: reset the connection
    path_contains: str | None
    times: int


@dataclass(slots=True)
class _Item:
    kind: str  # "folder" | "multibranch" | "job"
    data: JSON
    history: JobHistory | None = None
    children: list[str] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeJenkins
    open_sockets: set[socket.socket]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Jetty(10.0.20)"
    sys_version = ""
    timeout = 10.0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        srv = cast(_Server, self.server)
        with srv.fake._lock:
            srv.open_sockets.add(self.connection)

    def finish(self) -> None:
        srv = cast(_Server, self.server)
        with srv.fake._lock:
            srv.open_sockets.discard(self.connection)
        with suppress(OSError):
            super().finish()

    def _dispatch(self) -> None:
        cast(_Server, self.server).fake._serve(self)

    do_GET = do_POST = _dispatch


class FakeJenkins:
    """Jenkins on a local port. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        anonymous_read: bool = False,
        stage_view: bool = True,
        context_path: str = "",
        no_overall_read: Iterable[str] = (),
    ) -> None:
        self.users = dict(users if users is not None else {DEFAULT_USER: DEFAULT_TOKEN})
        self.anonymous_read = anonymous_read
        self.stage_view = stage_view
        self.context_path = context_path.rstrip("/")
        self.no_overall_read = set(no_overall_read)
        self.hidden: dict[str, set[str]] = {}  # user -> job full names without Job/Read
        self._items: dict[str, _Item] = {}
        self._faults: list[_Armed] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeJenkins:
        if self._server is None:
            server = _Server(("127.0.0.1", 0), _Handler)
            server.fake = self
            server.open_sockets = set()
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.01},
                name="fakejenkins",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with self._lock:
                for sock in list(self._server.open_sockets):
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeJenkins:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeJenkins is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.context_path}"

    # ------------------------------------------------------------------ data

    def _ensure_folders(self, full_name: str, last_kind: str = "folder") -> None:
        parts = full_name.split("/")
        for depth in range(1, len(parts)):
            name = "/".join(parts[:depth])
            kind = last_kind if depth == len(parts) - 1 else "folder"
            item = self._items.get(name)
            if item is None:
                klass = MULTIBRANCH if kind == "multibranch" else FOLDER
                item = self._items[name] = _Item(kind, job_object(name, klass=klass))
            child = parts[depth]
            if child not in item.children:
                item.children.append(child)

    def add_job(self, history: JobHistory, *, multibranch: bool = False) -> None:
        """A job at ``history.full_name``; its parent folders exist (the parent is a
        multibranch project with ``multibranch=True``)."""
        with self._lock:
            self._ensure_folders(history.full_name, "multibranch" if multibranch else "folder")
            self._items[history.full_name] = _Item("job", history.job, history)

    def hide(self, user: str, full_name: str) -> None:
        """``user`` lacks Job/Read on ``full_name``: Jenkins answers 404."""
        self.hidden.setdefault(user, set()).add(full_name)

    def inject(self, code: int | None, *, path_contains: str | None = None, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with ``code`` (None: reset)."""
        with self._lock:
            self._faults.append(_Armed(code, path_contains, times))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def count(self, fragment: str) -> int:
        return sum(1 for r in self.requests if fragment in r.path)

    # ------------------------------------------------------------------ serving

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        path = split.path
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        if self.context_path:
            if not path.startswith(self.context_path + "/") and path != self.context_path:
                self._send(h, 404, _html("Not Found"), HTML_CT)
                self._record(h.command, path, query, None, 404, None)
                return
            path = path[len(self.context_path) :] or "/"
        user, auth_status = self._authenticate(h.headers.get("Authorization"))
        fault = self._take_fault(path)
        if fault is not None:
            if fault.code is None:
                with suppress(OSError):
                    h.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                h.close_connection = True
                self._record(h.command, path, query, user, None, "reset")
                return
            self._send(h, fault.code, _html(f"HTTP ERROR {fault.code}"), HTML_CT)
            self._record(h.command, path, query, user, fault.code, f"status {fault.code}")
            return
        try:
            code, body, content_type, extra = self._route(h.command, path, query, user, auth_status)
        except Exception as exc:  # the fake must not hide its own bugs
            self.errors.append(f"{type(exc).__name__}: {exc}")
            code, body, content_type, extra = 500, _html("Server Error"), HTML_CT, {}
        self._send(h, code, body, content_type, extra)
        self._record(h.command, path, query, user, code, None)

    def _record(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        user: str | None,
        status: int | None,
        fault: str | None,
    ) -> None:
        with self._lock:
            self._requests.append(RecordedRequest(method, path, query, user, status, fault))

    def _take_fault(self, path: str) -> _Armed | None:
        with self._lock:
            for armed in self._faults:
                if armed.times > 0 and (armed.path_contains is None or armed.path_contains in path):
                    armed.times -= 1
                    return armed
        return None

    def _authenticate(self, header: str | None) -> tuple[str | None, int]:
        """(user, 0) when authenticated or anonymous; (name, 401) for a bad token."""
        if not header:
            return None, 0
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None, 401
        try:
            name, _, token = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, 401
        if self.users.get(name) != token:
            return name, 401
        return name, 0

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        code: int,
        body: bytes,
        content_type: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        with suppress(OSError):
            h.send_response(code)
            h.send_header("Content-Type", content_type)
            h.send_header("Content-Length", str(len(body)))
            h.send_header("X-Jenkins", JENKINS_VERSION)
            h.send_header("X-Hudson", "1.395")
            h.send_header("X-Jenkins-Session", "5f1a2b3c")
            for key, value in (extra or {}).items():
                h.send_header(key, value)
            h.end_headers()
            h.wfile.write(body)

    def _route(
        self, method: str, path: str, query: dict[str, str], user: str | None, auth_status: int
    ) -> tuple[int, bytes, str, dict[str, str]]:
        if auth_status == 401:
            body = _html(f"Invalid password/token for user: {user}")
            return 401, body, HTML_CT, {"WWW-Authenticate": 'Basic realm="Jenkins"'}
        if (user is None and not self.anonymous_read) or user in self.no_overall_read:
            who = user or "anonymous"
            headers = {
                "X-You-Are-Authenticated-As": who,
                "X-Required-Permission": "hudson.model.Hub.Read",
            }
            return 403, _html(f"{who} is missing the Overall/Read permission"), HTML_CT, headers
        if method != "GET":
            return 403, _html("No valid crumb was included in the request"), HTML_CT, {}
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        names: list[str] = []
        while len(parts) >= 2 and parts[0] == "job":
            names.append(parts[1])
            parts = parts[2:]
        rest = parts
        try:
            tree = parse_tree(query["tree"]) if "tree" in query else None
        except ValueError:
            return 400, _html("Bad tree parameter"), HTML_CT, {}
        if not names:
            if rest == ["api", "json"]:
                return self._json(apply_tree(self._root(), tree) if tree else self._root())
            return self._not_found()
        full_name = "/".join(names)
        with self._lock:
            item = self._items.get(full_name)
        if item is None or (user is not None and full_name in self.hidden.get(user, set())):
            return self._not_found()
        if rest == ["api", "json"]:
            return self._json(self._item_json(item, tree))
        history = item.history
        if history is None:
            return self._not_found()
        pipeline = history.job["_class"].endswith("WorkflowJob")
        if rest and rest[0] == "wfapi":
            if not (self.stage_view and pipeline):
                return self._not_found()
            return self._job_wfapi(history, rest[1:], query)
        if rest and rest[0].isdigit():
            number = int(rest[0])
            with self._lock:
                build = history.by_number.get(number)
                describe = copy.deepcopy(history.describes.get(number))
            if build is None:
                return self._not_found()
            tail = rest[1:]
            if tail == ["api", "json"]:
                return self._json(apply_tree(build, tree) if tree else build)
            if not (self.stage_view and pipeline) or describe is None:
                return self._not_found()
            if tail == ["wfapi", "describe"] or tail == ["wfapi"]:
                return self._json(_stages_shown(describe, query.get("fullStages") == "true"))
            if (
                len(tail) == 5
                and tail[:2] == ["execution", "node"]
                and tail[3:]
                == [
                    "wfapi",
                    "describe",
                ]
            ):
                node = _find_node(describe, tail[2])
                return self._json(node) if node is not None else self._not_found()
        return self._not_found()

    def _root(self) -> JSON:
        with self._lock:
            top = [i.data for n, i in self._items.items() if "/" not in n]
        return {
            "_class": "hudson.model.Hudson",
            "mode": "NORMAL",
            "nodeDescription": "the Jenkins controller's built-in node",
            "nodeName": "",
            "numExecutors": 0,
            "jobs": [
                {"_class": j["_class"], "name": j["name"], "url": j["url"], "color": "blue"}
                for j in top
            ],
            "quietingDown": False,
            "useSecurity": True,
        }

    def _item_json(self, item: _Item, tree: tuple[_Field, ...] | None) -> JSON:
        data: JSON = dict(item.data)
        if item.kind != "job":
            base = data["fullName"]
            with self._lock:
                data["jobs"] = [
                    {
                        "_class": self._items[f"{base}/{c}"].data["_class"],
                        "name": c,
                        "url": self._items[f"{base}/{c}"].data["url"],
                    }
                    for c in item.children
                    if f"{base}/{c}" in self._items
                ]
            return apply_tree(data, tree) if tree is not None else data
        assert item.history is not None
        with self._lock:
            builds = [copy.deepcopy(b) for b in item.history.build_list]
        if tree is None:
            data["builds"] = [
                {"_class": b["_class"], "number": b["number"], "url": b["url"]}
                for b in builds[:NEWEST_BUILDS]
            ]
            return data
        if any(f.name == "allBuilds" for f in tree):
            data["allBuilds"] = builds  # visibility=-2: only when named
        data["builds"] = builds[:NEWEST_BUILDS]
        return cast(JSON, apply_tree(data, tree))

    def _job_wfapi(
        self, history: JobHistory, rest: list[str], query: dict[str, str]
    ) -> tuple[int, bytes, str, dict[str, str]]:
        base = history.job["url"].split("/job/", 1)[1]
        href = f"/job/{base}wfapi"
        with self._lock:
            numbers = sorted(history.describes, reverse=True)
            runs = [copy.deepcopy(history.describes[n]) for n in numbers]
        if rest in ([], ["describe"]):
            return self._json(
                {
                    "_links": {
                        "self": {"href": f"{href}/describe"},
                        "runs": {"href": f"{href}/runs"},
                    },
                    "name": history.job["name"],
                    "runCount": min(MAX_RUNS, len(runs)),
                }
            )
        if rest == ["runs"]:
            out: list[JSON] = []
            for run in runs:
                out.append(_stages_shown(run, query.get("fullStages") == "true"))
                if len(out) >= MAX_RUNS or run["name"] == query.get("since"):
                    break
            return self._json(out)
        return self._not_found()

    @staticmethod
    def _json(data: Any) -> tuple[int, bytes, str, dict[str, str]]:
        return 200, json.dumps(data).encode(), JSON_CT, {}

    @staticmethod
    def _not_found() -> tuple[int, bytes, str, dict[str, str]]:
        return 404, _html("Not Found"), HTML_CT, {}


def _html(text: str) -> bytes:
    return (
        f"<html><head><title>Error 4xx {text}</title></head><body><h2>HTTP ERROR</h2>"
        f"<p>{text}</p></body></html>"
    ).encode()


def _stages_shown(describe: JSON, full: bool) -> JSON:
    """Without ``fullStages`` the stages hide their flow nodes (ChildHidingWrapper)."""
    out = dict(describe)
    stages = []
    for stage in describe.get("stages", []):
        entry = dict(stage)
        if full:
            entry["stageFlowNodes"] = list(stage.get("stageFlowNodes", []))[:MAX_CHILD_NODES]
        else:
            entry.pop("stageFlowNodes", None)
        stages.append(entry)
    out["stages"] = stages
    return out


def _find_node(describe: JSON, node_id: str) -> JSON | None:
    for stage in describe.get("stages", []):
        if stage["id"] == node_id:
            entry = dict(stage)
            entry["stageFlowNodes"] = list(stage.get("stageFlowNodes", []))[:MAX_CHILD_NODES]
            return entry
        for node in stage.get("stageFlowNodes", []):
            if node["id"] == node_id:
                return dict(node)
    return None
