"""A real local HTTP server that behaves like GitLab's REST API v4 for CI data.

Serves, under ``/api/v4`` on ``127.0.0.1``: projects (by id or URL-encoded path), pipeline lists
(``updated_after``/``updated_before``/``order_by``/``sort``/``source``/``ref``/``status``
filters; child pipelines only with ``source=parent_pipeline``, as GitLab 17.0+), single
pipelines, pipeline jobs (``include_retried``, ``scope``), bridges, single jobs, job traces
(streamed, optionally through a redirect to object storage), raw repository files and the
repository tree (keyset).

Offset pagination sends ``x-page``/``x-per-page``/``x-next-page``/``x-prev-page``/``x-total``/
``x-total-pages`` and a ``Link`` header, and drops ``x-total``, ``x-total-pages`` and
``rel="last"`` past 10,000 records; ``pagination_headers=False`` drops the ``x-`` headers as
GitLab.com sometimes does; ``max_offset`` refuses deep pages with GitLab's 405, and keyset on a
pipeline list gets GitLab's 405. Auth is ``PRIVATE-TOKEN`` (or ``Authorization: Bearer``); a bad
token is a 401, a private project without one a 404. ``RateLimit-*`` headers come with every
answer; past the per-minute limit a 429 with ``Retry-After``. Faults (statuses with or without
headers, connection resets, truncated bodies) can be injected per path.
"""

from __future__ import annotations

import json
import math
import random
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from gitlab_payloads import JSON, ProjectHistory, parse_ts, pipeline_item

DEFAULT_TOKEN = "glpat-FakeGitLabTestToken0000"
JSON_CT = "application/json"
MAX_COUNTED = 10_000

__all__ = [
    "DEFAULT_TOKEN",
    "FakeGitLab",
    "RecordedRequest",
    "StatusFault",
    "bare_429",
    "delay",
    "exhausted",
    "reset",
    "status",
    "truncate",
]


@dataclass(frozen=True, slots=True)
class StatusFault:
    code: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    bare: bool = False  # no RateLimit-* headers at all (GitLab.com sometimes)


@dataclass(frozen=True, slots=True)
class ResetFault:
    pass


@dataclass(frozen=True, slots=True)
class TruncateFault:
    pass


@dataclass(frozen=True, slots=True)
class DelayFault:
    seconds: float


@dataclass(frozen=True, slots=True)
class ExhaustedFault:
    """A 429 with ``RateLimit-Remaining: 0`` and a ``RateLimit-Reset`` ``reset_in_s`` ahead."""

    reset_in_s: float


Fault = StatusFault | ResetFault | TruncateFault | DelayFault | ExhaustedFault


def status(
    code: int, body: JSON | str | None = None, headers: dict[str, str] | None = None
) -> StatusFault:
    data = json.dumps(body).encode() if isinstance(body, dict) else (body or "").encode()
    return StatusFault(code, data, dict(headers or {}))


def bare_429() -> StatusFault:
    return StatusFault(429, b"Retry later\n", {"Content-Type": "text/plain"}, bare=True)


def reset() -> ResetFault:
    return ResetFault()


def delay(seconds: float) -> DelayFault:
    return DelayFault(seconds)


def exhausted(reset_in_s: float = 1.0) -> ExhaustedFault:
    return ExhaustedFault(reset_in_s)


def truncate() -> TruncateFault:
    return TruncateFault()


@dataclass(slots=True)
class _Armed:
    fault: Fault
    path_contains: str | None
    times: int


@dataclass(slots=True)
class _Chaos:
    """Faults drawn at random (seeded), each path and query at most ``per_request`` times."""

    faults: tuple[Fault, ...]
    rate: float
    per_request: int
    rng: random.Random
    hits: dict[str, int] = field(default_factory=dict)

    def draw(self, target: str) -> Fault | None:
        if self.hits.get(target, 0) >= self.per_request or self.rng.random() >= self.rate:
            return None
        self.hits[target] = self.hits.get(target, 0) + 1
        return self.rng.choice(self.faults)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    path: str
    query: dict[str, str]
    token_sent: bool
    status: int | None
    fault: str | None
    at: float  # the server's clock when answered: requests per minute, as GitLab counts them


@dataclass(slots=True)
class _Response:
    code: int
    body: bytes | Iterable[bytes] = b""
    length: int | None = None
    content_type: str = JSON_CT
    headers: list[tuple[str, str]] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeGitLab

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 10.0
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        cast(_Server, self.server).fake._serve(self)


def _json(body: Any, code: int = 200, headers: list[tuple[str, str]] | None = None) -> _Response:
    return _Response(code, json.dumps(body).encode(), headers=list(headers or []))


def _not_found(what: str = "Not found") -> _Response:
    return _json({"message": f"404 {what}"}, 404)


class FakeGitLab:
    """GitLab's CI REST API on a local port. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        rate_limit: int = 2000,
        clock: Callable[[], float] = time.time,
        max_offset: int | None = None,
        updated_after_inclusive: bool = True,
        pagination_headers: bool = True,
        trace_redirect: bool = False,
        child_pipelines_listed: bool = False,
        chunk: int = 64 * 1024,
    ) -> None:
        self.tokens = set(tokens)
        self.rate_limit = rate_limit
        self.clock = clock
        self.max_offset = max_offset
        self.updated_after_inclusive = updated_after_inclusive
        self.pagination_headers = pagination_headers
        self.trace_redirect = trace_redirect
        self.child_pipelines_listed = child_pipelines_listed
        self.chunk = chunk
        self.projects: dict[int, ProjectHistory] = {}
        # job id -> (size, factory of chunks): traces too big to hold (generated on the fly)
        self.big_traces: dict[int, tuple[int, Callable[[], Iterator[bytes]]]] = {}
        self.errors: list[str] = []
        self._faults: list[_Armed] = []
        self._chaos: _Chaos | None = None
        self._requests: list[RecordedRequest] = []
        self._windows: dict[str | None, tuple[float, int]] = {}
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeGitLab:
        if self._server is None:
            self._server = _Server(("127.0.0.1", 0), _Handler)
            self._server.fake = self
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGitLab:
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
        """The instance URL (what a user passes as --url); the API is under /api/v4."""
        assert self._server is not None, "FakeGitLab is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- data, faults, log -----------------------------------------------------------------

    def add_project(self, history: ProjectHistory) -> None:
        """Serve ``history`` live: later changes to it (finish, extend, retry) show at once."""
        with self._lock:
            self.projects[history.project_id] = history

    def inject(self, fault: Fault, *, path_contains: str | None = None, times: int = 1) -> None:
        with self._lock:
            self._faults.append(_Armed(fault, path_contains, times))

    def chaos(
        self, faults: Iterable[Fault], *, rate: float, seed: int = 0, per_request: int = 2
    ) -> None:
        """Answer a random share ``rate`` of all requests with one of ``faults`` (seeded),
        each distinct path and query at most ``per_request`` times."""
        with self._lock:
            self._chaos = _Chaos(tuple(faults), rate, per_request, random.Random(seed))

    @property
    def chaos_hits(self) -> int:
        with self._lock:
            return sum(self._chaos.hits.values()) if self._chaos else 0

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return sum(a.times for a in self._faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def count(self, pattern: str, *, status: int | None = None) -> int:
        """Requests whose path matches the regular expression ``pattern`` (``re.search``)."""
        return sum(
            1
            for r in self.requests
            if re.search(pattern, r.path) and (status is None or r.status == status)
        )

    # -- serving ---------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        token = h.headers.get("PRIVATE-TOKEN")
        auth = h.headers.get("Authorization", "")
        if token is None and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        with self._lock:
            armed = next(
                (a for a in self._faults if a.path_contains is None or a.path_contains in h.path),
                None,
            )
            if armed is not None:
                armed.times -= 1
                if armed.times <= 0:
                    self._faults.remove(armed)
            fault = armed.fault if armed else self._chaos.draw(h.path) if self._chaos else None
        response: _Response | None = None
        if isinstance(fault, DelayFault):
            time.sleep(fault.seconds)
        if isinstance(fault, ExhaustedFault):
            response = _Response(429, b"Retry later\n", content_type="text/plain")
            reset_at = math.ceil(self.clock() + fault.reset_in_s)
        elif isinstance(fault, StatusFault):
            response = _Response(
                fault.code, fault.body, content_type=fault.headers.get("Content-Type", "text/plain")
            )
            response.headers = [(k, v) for k, v in fault.headers.items() if k != "Content-Type"]
        elif not isinstance(fault, ResetFault):
            try:
                response = self._answer(split.path, query, token)
            except Exception as exc:  # a bug in the fake: say so loudly
                self.errors.append(f"GET {h.path}: {exc!r}")
                response = _json({"message": f"500 FakeGitLab error: {exc!r}"}, 500)
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    unquote(split.path),
                    query,
                    token is not None,
                    None if response is None else response.code,
                    type(fault).__name__ if fault else None,
                    self.clock(),
                )
            )
        if response is None:
            with suppress(OSError):
                h.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            h.close_connection = True
            return
        bare = isinstance(fault, StatusFault) and fault.bare
        if isinstance(fault, ExhaustedFault):
            response.headers = [
                ("RateLimit-Name", "throttle_authenticated_api"),
                ("RateLimit-Limit", str(self.rate_limit)),
                ("RateLimit-Observed", str(self.rate_limit + 1)),
                ("RateLimit-Remaining", "0"),
                ("RateLimit-Reset", str(reset_at)),
            ]
            bare = True  # those are the rate headers
        self._send(h, response, token, rate=not bare, truncated=isinstance(fault, TruncateFault))

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        resp: _Response,
        token: str | None,
        *,
        rate: bool,
        truncated: bool,
    ) -> None:
        h.send_response(resp.code)
        if rate:
            for k, v in self._rate_headers(token):
                h.send_header(k, v)
        for k, v in resp.headers:
            h.send_header(k, v)
        body = resp.body
        if isinstance(body, bytes):
            length = len(body)
            chunks: Iterable[bytes] = [
                body[i : i + self.chunk] for i in range(0, len(body), self.chunk)
            ] or [b""]
        else:
            assert resp.length is not None
            length, chunks = resp.length, body
        h.send_header("Content-Type", resp.content_type)
        h.send_header("Content-Length", str(length))
        if truncated:
            h.send_header("Connection", "close")
        h.end_headers()
        sent = 0
        try:
            for part in chunks:
                if truncated and sent + len(part) > length // 2:
                    h.wfile.write(part[: max(0, length // 2 - sent)])
                    h.wfile.flush()
                    h.close_connection = True
                    return
                h.wfile.write(part)
                sent += len(part)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _rate_headers(self, token: str | None) -> list[tuple[str, str]]:
        with self._lock:
            start, used = self._windows.get(token, (self.clock(), 0))
        reset = math.ceil(start + 60)
        return [
            (
                "RateLimit-Name",
                "throttle_authenticated_api" if token else "throttle_unauthenticated_api",
            ),
            ("RateLimit-Limit", str(self.rate_limit)),
            ("RateLimit-Observed", str(used)),
            ("RateLimit-Remaining", str(max(0, self.rate_limit - used))),
            ("RateLimit-Reset", str(reset)),
        ]

    def _throttled(self, token: str | None) -> _Response | None:
        with self._lock:
            now = self.clock()
            start, used = self._windows.get(token, (now, 0))
            if now >= start + 60:
                start, used = now, 0
            used += 1
            self._windows[token] = (start, used)
            if used <= self.rate_limit:
                return None
            wait = max(1, math.ceil(start + 60 - now))
        return _Response(
            429,
            b"Retry later\n",
            content_type="text/plain",
            headers=[
                ("Retry-After", str(wait)),
                ("RateLimit-ResetTime", formatdate(start + 60, usegmt=True)),
            ],
        )

    # -- routing ---------------------------------------------------------------------------

    def _answer(self, path: str, query: dict[str, str], token: str | None) -> _Response:
        if path.startswith("/_objects/traces/"):
            return self._trace(int(path.rsplit("/", 1)[1]))
        if not path.startswith("/api/v4/"):
            return _Response(
                404, b"<html><body><h1>404 Not Found</h1></body></html>", content_type="text/html"
            )
        if token is not None and token not in self.tokens:
            return _json({"message": "401 Unauthorized"}, 401)
        throttled = self._throttled(token)
        if throttled is not None:
            return throttled
        rest = path[len("/api/v4") :]
        m = re.fullmatch(r"/projects/([^/]+)(/.*)?", rest)
        if not m:
            return _json({"error": "404 Not Found"}, 404)
        history = self._project(unquote(m[1]))
        if history is None or (history.visibility == "private" and token is None):
            return _not_found("Project Not Found")
        sub = m[2] or ""
        base = f"/api/v4/projects/{m[1]}{sub}"
        if sub == "":
            return _json(history.project)
        if sub == "/pipelines":
            return self._pipelines(history, query, base)
        if pm := re.fullmatch(r"/pipelines/(\d+)(/jobs|/bridges)?", sub):
            detail = history.details.get(int(pm[1]))
            if detail is None:
                return _not_found()
            if pm[2] is None:
                return _json(detail)
            if pm[2] == "/bridges":
                return self._offset(list(history.bridges.get(detail["id"], [])), query, base)
            jobs = list(history.jobs.get(detail["id"], []))
            if query.get("include_retried", "false").lower() != "true":
                latest: dict[str, JSON] = {}
                for item in jobs:
                    if item["name"] not in latest or item["id"] > latest[item["name"]]["id"]:
                        latest[item["name"]] = item
                jobs = [j for j in jobs if latest[j["name"]] is j]
            if query.get("scope"):
                jobs = [j for j in jobs if j["status"] == query["scope"]]
            jobs.sort(key=lambda j: -j["id"])
            return self._offset(jobs, query, base)
        if jm := re.fullmatch(r"/jobs/(\d+)", sub):
            found = next((j for j in history.all_jobs() if j["id"] == int(jm[1])), None)
            return _not_found() if found is None else _json(found)
        if jm := re.fullmatch(r"/jobs/(\d+)/trace", sub):
            job_id = int(jm[1])
            if not any(j["id"] == job_id for j in history.all_jobs()):
                return _not_found()
            if self.trace_redirect:
                return _Response(302, b"", headers=[("Location", f"/_objects/traces/{job_id}")])
            return self._trace(job_id)
        if fm := re.fullmatch(r"/repository/files/(.+)/raw", sub):
            text = history.files.get((unquote(fm[1]), query.get("ref", "")))
            if text is None:
                return _not_found("File Not Found")
            return _Response(200, text.encode(), content_type="text/plain; charset=utf-8")
        if sub == "/repository/tree":
            return self._tree(history, query, base)
        return _json({"error": "404 Not Found"}, 404)

    def _project(self, key: str) -> ProjectHistory | None:
        if key.isdigit():
            return self.projects.get(int(key))
        return next((p for p in self.projects.values() if p.path.lower() == key.lower()), None)

    def _trace(self, job_id: int) -> _Response:
        if job_id in self.big_traces:
            size, factory = self.big_traces[job_id]
            return _Response(200, factory(), length=size, content_type="text/plain")
        for history in self.projects.values():
            if job_id in history.traces:
                return _Response(200, history.traces[job_id], content_type="text/plain")
        return _not_found()

    def _pipelines(self, history: ProjectHistory, query: dict[str, str], base: str) -> _Response:
        if query.get("pagination") == "keyset":
            return _json(
                {"error": "Keyset pagination is not yet available for this type of request"}, 405
            )
        items = list(history.details.values())
        source = query.get("source")
        if source:
            items = [p for p in items if p["source"] == source]
        elif not self.child_pipelines_listed:
            items = [p for p in items if p["source"] != "parent_pipeline"]
        for key in ("ref", "status", "sha"):
            if key in query:
                items = [p for p in items if p[key] == query[key]]
        try:
            if "updated_after" in query:
                after = parse_ts(query["updated_after"])
                items = [
                    p
                    for p in items
                    if (
                        parse_ts(p["updated_at"]) >= after
                        if self.updated_after_inclusive
                        else parse_ts(p["updated_at"]) > after
                    )
                ]
            if "updated_before" in query:
                before = parse_ts(query["updated_before"])
                items = [p for p in items if parse_ts(p["updated_at"]) <= before]
        except ValueError:
            return _json({"error": "updated_after is invalid"}, 400)
        order = query.get("order_by", "id")
        if order not in ("id", "status", "ref", "updated_at", "user_id"):
            return _json({"error": "order_by does not have a valid value"}, 400)
        key: Callable[[JSON], Any] = (
            (lambda p: (parse_ts(p["updated_at"]), p["id"]))
            if order == "updated_at"
            else (lambda p: p["id"])
        )
        items.sort(key=key, reverse=query.get("sort", "desc") != "asc")
        return self._offset([pipeline_item(p) for p in items], query, base, kind="Pipeline")

    def _offset(
        self, items: list[JSON], query: dict[str, str], base: str, kind: str = "Ci::Build"
    ) -> _Response:
        def num(name: str, default: int) -> int:
            try:
                return int(query.get(name, default))
            except ValueError:
                return default

        per_page = min(max(num("per_page", 20), 1), 100)
        page = max(num("page", 1), 1)
        if self.max_offset is not None and (page - 1) * per_page >= self.max_offset:
            return _json(
                {
                    "message": f"Offset pagination has a maximum allowed offset of {self.max_offset} for "
                    f"requests that return objects of type {kind}. Remaining records can be "
                    "retrieved using keyset pagination."
                },
                405,
            )
        total = len(items)
        pages = max(1, math.ceil(total / per_page))
        out = items[(page - 1) * per_page : page * per_page]
        counted = total <= MAX_COUNTED
        nxt = str(page + 1) if page < pages else ""
        prev = str(page - 1) if 1 < page <= pages + 1 else ""
        headers: list[tuple[str, str]] = []
        if self.pagination_headers:
            headers += [
                ("x-page", str(page)),
                ("x-per-page", str(per_page)),
                ("x-next-page", nxt),
                ("x-prev-page", prev),
            ]
            if counted:
                headers += [("x-total", str(total)), ("x-total-pages", str(pages))]

        def link(p: int, rel: str) -> str:
            q = {**query, "page": str(p), "per_page": str(per_page)}
            return f'<{self.url}{quote(urlsplit(base).path)}?{urlencode(q)}>; rel="{rel}"'

        rels = []
        if prev:
            rels.append(link(page - 1, "prev"))
        if nxt:
            rels.append(link(page + 1, "next"))
        rels.append(link(1, "first"))
        if counted:
            rels.append(link(pages, "last"))
        headers.append(("Link", ", ".join(rels)))
        return _json(out, headers=headers)

    def _tree(self, history: ProjectHistory, query: dict[str, str], base: str) -> _Response:
        ref = query.get("ref", "")
        prefix = query.get("path", "").strip("/")
        recursive = query.get("recursive", "false") == "true"
        entries: dict[str, JSON] = {}
        for path, sha in sorted(history.files):
            if sha != ref or (prefix and not path.startswith(prefix + "/")):
                continue
            rel = path[len(prefix) + 1 :] if prefix else path
            parts = rel.split("/")
            for depth in range(1, len(parts)):
                tree = "/".join(([prefix] if prefix else []) + parts[:depth])
                if recursive or depth == 1:
                    entries.setdefault(
                        tree,
                        {
                            "id": tree,
                            "name": parts[depth - 1],
                            "type": "tree",
                            "path": tree,
                            "mode": "040000",
                        },
                    )
            if recursive or len(parts) == 1:
                entries[path] = {
                    "id": path,
                    "name": parts[-1],
                    "type": "blob",
                    "path": path,
                    "mode": "100644",
                }
        if not entries and prefix:
            return _not_found("Tree Not Found")
        ordered = [entries[k] for k in sorted(entries)]
        per_page = min(max(int(query.get("per_page", 20)), 1), 100)
        if query.get("pagination") != "keyset":
            return self._offset(ordered, query, base)
        token = query.get("page_token")
        start = (
            next((i + 1 for i, e in enumerate(ordered) if e["path"] == token), 0) if token else 0
        )
        out = ordered[start : start + per_page]
        headers: list[tuple[str, str]] = []
        if start + per_page < len(ordered):
            q = {**query, "page_token": out[-1]["path"]}
            headers.append(
                ("Link", f'<{self.url}{quote(urlsplit(base).path)}?{urlencode(q)}>; rel="next"')
            )
        return _json(out, headers=headers)


def epoch(moment: datetime) -> float:
    return moment.timestamp()
