"""A real local HTTP server that behaves like GitHub's REST API for Actions.

Serves, on ``127.0.0.1`` (and again under ``/api/v3`` like GitHub Enterprise Server): the
repository object, workflow run lists (``created``/``branch``/``event``/``status``/... filters,
``per_page``/``page``, ``Link`` headers, the 1,000-result cap on filtered lists), single runs and
attempts, jobs (``filter=latest|all``, per attempt), single jobs, workflow listings, repository
contents (base64 object or raw), and ``/rate_limit``. Auth, primary rate limits with a
controllable clock, ETag/``If-None-Match`` 304s that do not count, and injected faults
(statuses, connection resets, truncated bodies, delays) behave as GitHub documents them.

Payload URLs written for ``https://api.github.com`` are rewritten to this server, so a client
that follows ``jobs_url``, ``Link`` or ``download_url`` never leaves the machine.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http
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
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from payloads import API_URL, JSON, attempt_snapshot, git_blob_sha, parse_ts, repository, workflow

DEFAULT_TOKEN = "ghp_FakeGitHubTestToken000000000000000000"
API_VERSION = "2022-11-28"
CAPPED_PARAMS = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")
RESULT_CAP = 1000
DOCS = "https://docs.github.com/rest"
JSON_CT = "application/json; charset=utf-8"
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before "
    "you try again. If you reach out to GitHub Support for help, please include "
    "the request ID {rid}."
)

__all__ = [
    "API_VERSION",
    "CAPPED_PARAMS",
    "DEFAULT_TOKEN",
    "RESULT_CAP",
    "Budget",
    "DelayFault",
    "ExhaustedFault",
    "FakeGitHub",
    "Fault",
    "RecordedRequest",
    "ResetFault",
    "StatusFault",
    "TruncateFault",
    "created_filter",
    "delay",
    "endpoint_of",
    "primary_rate_limit",
    "reset",
    "running",
    "secondary_rate_limit",
    "status",
    "truncate",
]

# ---------------------------------------------------------------------------- faults


@dataclass(frozen=True, slots=True)
class StatusFault:
    code: int
    body: JSON | str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResetFault:
    """Close the connection without a response."""


@dataclass(frozen=True, slots=True)
class TruncateFault:
    """Send the headers with the full Content-Length, then half the body, then close."""


@dataclass(frozen=True, slots=True)
class DelayFault:
    seconds: float


@dataclass(frozen=True, slots=True)
class ExhaustedFault:
    """Primary rate limit used up: 403/429, ``x-ratelimit-remaining: 0`` and a reset
    ``reset_in_s`` after the server's clock at the time of the request."""

    reset_in_s: float
    code: int = 403


Fault = StatusFault | ResetFault | TruncateFault | DelayFault | ExhaustedFault


def status(
    code: int, body: JSON | str | bytes | None = None, headers: dict[str, str] | None = None
) -> StatusFault:
    return StatusFault(code, body, dict(headers or {}))


def reset() -> ResetFault:
    return ResetFault()


def truncate() -> TruncateFault:
    return TruncateFault()


def delay(seconds: float) -> DelayFault:
    return DelayFault(seconds)


def primary_rate_limit(reset_in_s: float = 1.0, code: int = 403) -> ExhaustedFault:
    return ExhaustedFault(reset_in_s, code)


def secondary_rate_limit(code: int = 403, retry_after: int | None = 1) -> StatusFault:
    """GitHub's secondary-limit answer (403 or 429, ``retry-after`` unless None)."""
    body = {
        "message": SECONDARY_MESSAGE.format(rid="C0DE:5EC0:1000001:2000002:66500000"),
        "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/"
        "overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        "status": str(code),
    }
    return StatusFault(code, body, {} if retry_after is None else {"retry-after": str(retry_after)})


@dataclass(slots=True)
class _Armed:
    fault: Fault
    path_contains: str | None
    times: int


@dataclass(slots=True)
class _Chaos:
    """Faults drawn at random (seeded) for any request, at most ``per_request`` times for the
    same path and query, so a client with enough retries always gets through in the end."""

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


# ---------------------------------------------------------------------------- state


@dataclass(slots=True)
class Budget:
    """One primary rate-limit window (per token; ``None`` is the unauthenticated one)."""

    limit: int
    remaining: int
    reset_at: int  # epoch seconds of the clock

    @property
    def used(self) -> int:
        return self.limit - self.remaining


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str  # as sent, without the query
    route: str  # without /api/v3, /repositories/{id} resolved to /repos/{owner}/{repo}
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names, no Authorization
    auth_sent: bool
    authorized: bool  # a valid token was presented
    status: int | None  # None: the connection was reset
    not_modified: bool
    counted: bool  # decremented the primary rate limit
    fault: str | None
    ghes: bool  # came in under /api/v3
    at: float
    endpoint: str  # the route as GitHub's REST reference names it: /repos/{owner}/{repo}/...
    received: float  # time.monotonic() on arrival, for per-endpoint pacing checks


@dataclass(slots=True)
class _Repo:
    full_name: str
    repo_id: int
    private: bool
    default_branch: str
    runs: dict[int, JSON] = field(default_factory=dict)
    attempts: dict[int, dict[int, JSON]] = field(default_factory=dict)
    jobs: dict[int, list[JSON]] = field(default_factory=dict)
    files: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(slots=True)
class _Response:
    code: int
    body: bytes = b""
    content_type: str = JSON_CT
    link: str | None = None
    counted: bool = True
    etag: str | None = None


class HistoryLike(Protocol):
    full_name: str
    private: bool
    repo_id: int
    runs: list[JSON]
    jobs_by_run: dict[int, list[JSON]]
    attempts: dict[int, dict[int, JSON]]
    files: dict[tuple[str, str], str]


# ---------------------------------------------------------------------------- endpoints

# A faulted request keeps its raw path as its route, which may be /repositories/{id}/...
_REPO = r"/(?:repos/[^/]+/[^/]+|repositories/\d+)"
_ENDPOINTS = [
    (re.compile(_REPO + rest), template)
    for rest, template in (
        ("", ""),
        ("/actions/workflows", "/actions/workflows"),
        ("/actions/workflows/[^/]+", "/actions/workflows/{workflow_id}"),
        ("/actions/workflows/[^/]+/runs", "/actions/workflows/{workflow_id}/runs"),
        ("/actions/runs", "/actions/runs"),
        (r"/actions/runs/\d+", "/actions/runs/{run_id}"),
        (r"/actions/runs/\d+/jobs", "/actions/runs/{run_id}/jobs"),
        (r"/actions/runs/\d+/attempts/\d+", "/actions/runs/{run_id}/attempts/{attempt_number}"),
        (
            r"/actions/runs/\d+/attempts/\d+/jobs",
            "/actions/runs/{run_id}/attempts/{attempt_number}/jobs",
        ),
        (r"/actions/jobs/\d+", "/actions/jobs/{job_id}"),
        ("/contents(?:/.*)?", "/contents/{path}"),
    )
]


def endpoint_of(route: str) -> str:
    """The REST reference's name for a served route; other paths stand for themselves."""
    for pattern, template in _ENDPOINTS:
        if pattern.fullmatch(route):
            return "/repos/{owner}/{repo}" + template
    return route


# ---------------------------------------------------------------------------- created filter

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")


def _instant(text: str) -> tuple[datetime, bool]:
    """(instant, is_date). Dates are whole UTC days; datetimes without an offset are UTC."""
    if _DATE.fullmatch(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC), True
    if not _DATETIME.fullmatch(text):
        raise ValueError(f"invalid date: {text!r}")
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)), False


def created_filter(expr: str) -> Callable[[datetime], bool]:
    """GitHub search date syntax: ``>=D >D <=D <D D1..D2 D..* *..D D``; ValueError if bad."""
    day = timedelta(days=1)
    lo: tuple[datetime, bool] | None = None  # (instant, inclusive)
    hi: tuple[datetime, bool] | None = None
    e = expr.strip()
    if ".." in e:
        a, b = e.split("..", 1)
        if a != "*":
            t, d = _instant(a)
            lo = (t, True)
        if b != "*":
            t, d = _instant(b)
            hi = (t + day, False) if d else (t, True)
    elif e.startswith(">="):
        lo = (_instant(e[2:])[0], True)
    elif e.startswith(">"):
        t, d = _instant(e[1:])
        lo = (t + day, True) if d else (t, False)
    elif e.startswith("<="):
        t, d = _instant(e[2:])
        hi = (t + day, False) if d else (t, True)
    elif e.startswith("<"):
        hi = (_instant(e[1:])[0], False)
    else:
        t, d = _instant(e)
        lo, hi = (t, True), ((t + day, False) if d else (t, True))

    def match(ts: datetime) -> bool:
        if lo and not (ts >= lo[0] if lo[1] else ts > lo[0]):
            return False
        return not hi or (ts <= hi[0] if hi[1] else ts < hi[0])

    return match


# ---------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeGitHub
    open_sockets: set[socket.socket]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is fine
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    timeout = 10.0
    disable_nagle_algorithm = True  # headers and body go out as two writes

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

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


def _abort(h: BaseHTTPRequestHandler) -> None:
    """Drop the connection with a TCP reset instead of a response."""
    with suppress(OSError):
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.close_connection = True


def _error(
    code: int, message: str, doc: str = DOCS, *, counted: bool = True, **extra: Any
) -> _Response:
    body = {"message": message, "documentation_url": doc, **extra, "status": str(code)}
    return _Response(code, json.dumps(body).encode(), counted=counted)


def _not_found() -> _Response:
    return _error(404, "Not Found")


def _b64_lines(data: bytes) -> str:
    """Base64 wrapped at 60 characters with a trailing newline, as GitHub sends ``content``."""
    enc = base64.b64encode(data).decode()
    return "".join(enc[i : i + 60] + "\n" for i in range(0, len(enc), 60))


# ---------------------------------------------------------------------------- the fake


class FakeGitHub:
    """GitHub's Actions REST API on a local port. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        tokens: Iterable[str] = (DEFAULT_TOKEN,),
        limit: int = 5000,
        unauthenticated_limit: int = 60,
        reset_in_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
        link_style: str = "repositories",
        rewrite_urls: bool = True,
        exhausted_status: int = 403,
        api_versions: Iterable[str] = (API_VERSION,),
    ) -> None:
        self.tokens: set[str] = set(tokens)
        self.limit, self.unauthenticated_limit = limit, unauthenticated_limit
        self.reset_in_s, self.clock = reset_in_s, clock
        self.link_style, self.rewrite_urls = link_style, rewrite_urls
        self.exhausted_status = exhausted_status
        self.api_versions = set(api_versions)
        self._repos: dict[str, _Repo] = {}
        self._budgets: dict[str | None, Budget] = {}
        self._faults: list[_Armed] = []
        self._chaos: _Chaos | None = None
        self._requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.errors: list[str] = []  # exceptions inside the fake (answered as 500)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeGitHub:
        if self._server is None:
            server = _Server(("127.0.0.1", 0), _Handler)
            server.fake = self
            server.open_sockets = set()
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.01},
                name="fakegithub",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            with self._lock:  # kept-alive connections must not outlive the server
                for sock in list(self._server.open_sockets):
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeGitHub is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL like ``https://api.github.com``; ``url + "/api/v3"`` is the GHES form."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ data

    def add_repo(
        self,
        full_name: str,
        runs: list[JSON] | None = None,
        jobs_by_run: dict[int, list[JSON]] | None = None,
        files: dict[tuple[str, str], str] | None = None,
        private: bool = False,
        *,
        attempts: dict[int, dict[int, JSON]] | None = None,
        repo_id: int | None = None,
        default_branch: str = "main",
    ) -> None:
        """Add a repository. ``files`` are keyed by (path, commit sha); ``attempts`` holds the
        run objects of earlier attempts (run id -> attempt -> run), derived when missing."""
        rid = repo_id or int(hashlib.sha1(full_name.lower().encode()).hexdigest()[:8], 16)
        with self._lock:
            self._repos[full_name.lower()] = _Repo(full_name, rid, private, default_branch)
            self.add_runs(full_name, runs or [], jobs_by_run or {}, files)
            for run_id, snaps in (attempts or {}).items():
                self._repo(full_name).attempts[run_id] = copy.deepcopy(snaps)

    def history_repo(self, history: HistoryLike) -> None:
        self.add_repo(
            history.full_name,
            history.runs,
            history.jobs_by_run,
            history.files,
            history.private,
            attempts=history.attempts,
            repo_id=history.repo_id,
        )

    def add_runs(
        self,
        full_name: str,
        runs: list[JSON],
        jobs_by_run: dict[int, list[JSON]] | None = None,
        files: dict[tuple[str, str], str] | None = None,
    ) -> None:
        with self._lock:
            repo = self._repo(full_name)
            for run in runs:
                repo.runs[int(run["id"])] = copy.deepcopy(run)
            for run_id, jobs in (jobs_by_run or {}).items():
                repo.jobs[int(run_id)] = copy.deepcopy(jobs)
            repo.files.update(files or {})

    def add_files(self, full_name: str, files: dict[tuple[str, str], str]) -> None:
        with self._lock:
            self._repo(full_name).files.update(files)

    def update_run(
        self, full_name: str, run_id: int, *, jobs: list[JSON] | None = None, **fields: Any
    ) -> JSON:
        """Change fields of the latest attempt; ``jobs`` replace (by id) or add jobs."""
        with self._lock:
            repo = self._repo(full_name)
            run = repo.runs[run_id]
            run.update(copy.deepcopy(fields))
            if jobs is not None:
                by_id = {j["id"]: j for j in repo.jobs.get(run_id, [])}
                by_id.update({j["id"]: copy.deepcopy(j) for j in jobs})
                repo.jobs[run_id] = list(by_id.values())
            return copy.deepcopy(run)

    def rerun(self, full_name: str, run_id: int, new_jobs: list[JSON], **fields: Any) -> JSON:
        """A new attempt: the current run becomes attempt n, the new jobs attempt n + 1."""
        with self._lock:
            repo = self._repo(full_name)
            old = repo.runs[run_id]
            n = int(old.get("run_attempt") or 1)
            repo.attempts.setdefault(run_id, {})[n] = copy.deepcopy(old)
            jobs = [{**copy.deepcopy(j), "run_attempt": n + 1} for j in new_jobs]
            repo.jobs.setdefault(run_id, []).extend(jobs)
            new = attempt_snapshot(old, n + 1, jobs)
            new.update(copy.deepcopy(fields))
            repo.runs[run_id] = new
            return copy.deepcopy(new)

    def _repo(self, full_name: str) -> _Repo:
        return self._repos[full_name.lower()]

    # ------------------------------------------------------------------ faults, budgets, log

    def inject(self, fault: Fault, *, path_contains: str | None = None, times: int = 1) -> None:
        """Arm a fault for the next ``times`` requests whose path+query contains the text."""
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

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._chaos = None

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return sum(a.times for a in self._faults)

    def budget(self, token: str | None = DEFAULT_TOKEN) -> Budget:
        """The live rate-limit window of a token (``None``: unauthenticated); mutable."""
        with self._lock:
            now = self.clock()
            b = self._budgets.get(token)
            if b is None or now >= b.reset_at:
                lim = self.limit if token is not None else self.unauthenticated_limit
                b = Budget(lim, lim, math.ceil(now + self.reset_in_s))
                self._budgets[token] = b
            return b

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def count(self, path_prefix: str = "", *, status: int | None = None) -> int:
        """Requests whose route (or raw path) starts with ``path_prefix``."""
        return sum(
            1
            for r in self.requests
            if (r.route.startswith(path_prefix) or r.path.startswith(path_prefix))
            and (status is None or r.status == status)
        )

    # ------------------------------------------------------------------ serving

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        received = time.monotonic()
        split = urlsplit(h.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in h.headers.items()}
        auth = headers.pop("authorization", None)
        ghes = split.path == "/api/v3" or split.path.startswith("/api/v3/")
        path = split.path[len("/api/v3") :] if ghes else split.path
        host = headers.get("host") or f"127.0.0.1:{self.port}"
        base = f"http://{host}" + ("/api/v3" if ghes else "")
        with self._lock:
            self._seq += 1
            rid = f"C0DE:{self._seq:04X}:{self._seq * 7919:06X}:{self._seq * 104729:07X}:6650"
            armed = next(
                (a for a in self._faults if a.path_contains is None or a.path_contains in h.path),
                None,
            )
            if armed is not None:
                armed.times -= 1
                if armed.times <= 0:
                    self._faults.remove(armed)
            fault = armed.fault if armed else self._chaos.draw(h.path) if self._chaos else None
        token: str | None = None
        authorized = False
        resp: _Response | None = None
        if auth is not None:
            scheme, _, cred = auth.strip().partition(" ")
            if scheme.lower() in ("bearer", "token") and cred.strip() in self.tokens:
                token, authorized = cred.strip(), True
            else:
                resp = _error(401, "Bad credentials", counted=False)
        route = path
        etag_hit = False
        budget: Budget | None = None
        if isinstance(fault, DelayFault):
            time.sleep(fault.seconds)
        if isinstance(fault, ExhaustedFault):
            fault = self._exhausted(fault, token)
        if isinstance(fault, ResetFault):
            code: int | None = None
        elif isinstance(fault, StatusFault):
            code = fault.code
        else:
            with self._lock:
                if resp is None:
                    try:
                        resp, route = self._route(h.command, path, query, headers, token, base)
                    except Exception as exc:  # a bug in the fake: say so loudly
                        self.errors.append(f"{h.command} {h.path}: {exc!r}")
                        resp = _error(500, f"FakeGitHub error: {exc!r}", counted=False)
                resp, etag_hit = self._finish(resp, headers, token, base)
                budget = copy.copy(self.budget(token))
            code = resp.code
        rec = RecordedRequest(
            h.command,
            split.path,
            route,
            query,
            headers,
            auth is not None,
            authorized,
            code,
            etag_hit,
            resp is not None and resp.counted and code not in (None, 304),
            type(fault).__name__ if fault else None,
            ghes,
            self.clock(),
            endpoint_of(route),
            received,
        )
        with self._lock:  # recorded before answering: a client never sees an unrecorded reply
            self._requests.append(rec)
        if isinstance(fault, ResetFault):
            _abort(h)
        elif isinstance(fault, StatusFault):
            self._send_fault(h, fault, token, rid)
        elif resp is not None and budget is not None:
            self._send(h, resp, budget, authorized, rid, truncated=isinstance(fault, TruncateFault))

    def _finish(
        self, resp: _Response, headers: dict[str, str], token: str | None, base: str
    ) -> tuple[_Response, bool]:
        """Rewrite URLs, apply If-None-Match, charge the budget. Called under the lock."""
        if self.rewrite_urls and resp.content_type == JSON_CT:
            host_root = base.removesuffix("/api/v3")
            resp.body = resp.body.replace(API_URL.encode(), base.encode()).replace(
                b"https://raw.githubusercontent.com", f"{host_root}/_raw".encode()
            )
        if resp.code == 200:
            resp.etag = tag = f'W/"{hashlib.sha256(resp.body).hexdigest()}"'
            wanted = headers.get("if-none-match", "")
            tags = {t.strip().removeprefix("W/") for t in wanted.split(",") if t.strip()}
            if tags and (tag.removeprefix("W/") in tags or "*" in tags):
                return _Response(304, content_type="", counted=False, etag=tag), True
        if resp.counted:
            self.budget(token).remaining -= 1
        return resp, False

    def _rate_headers(self, budget: Budget) -> list[tuple[str, str]]:
        return [
            ("X-RateLimit-Limit", str(budget.limit)),
            ("X-RateLimit-Remaining", str(max(budget.remaining, 0))),
            ("X-RateLimit-Reset", str(budget.reset_at)),
            ("X-RateLimit-Used", str(budget.used)),
            ("X-RateLimit-Resource", "core"),
        ]

    def _base_headers(
        self, authorized: bool, rid: str, version: str = API_VERSION
    ) -> list[tuple[str, str]]:
        return [
            ("Cache-Control", f"{'private' if authorized else 'public'}, max-age=60, s-maxage=60"),
            (
                "Vary",
                "Accept, Authorization, Cookie, X-GitHub-OTP,Accept-Encoding, Accept, "
                "X-Requested-With",
            ),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            ("x-github-api-version-selected", version),
            (
                "Access-Control-Expose-Headers",
                "ETag, Link, Location, Retry-After, "
                "X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, "
                "X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, "
                "X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, "
                "Deprecation, Sunset",
            ),
            ("X-GitHub-Request-Id", rid),
        ]

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        resp: _Response,
        budget: Budget,
        authorized: bool,
        rid: str,
        *,
        truncated: bool = False,
    ) -> None:
        h.send_response(resp.code)
        asked = h.headers.get("X-GitHub-Api-Version")
        version = asked if asked in self.api_versions else API_VERSION
        for k, v in self._base_headers(authorized, rid, version) + self._rate_headers(budget):
            h.send_header(k, v)
        if resp.etag:
            h.send_header("ETag", resp.etag)
        if resp.code == 304:
            h.end_headers()
            return
        if resp.link:
            h.send_header("Link", resp.link)
        h.send_header("Content-Type", resp.content_type)
        h.send_header("Content-Length", str(len(resp.body)))
        if truncated:
            h.send_header("Connection", "close")
        h.end_headers()
        if truncated:
            h.wfile.write(resp.body[: len(resp.body) // 2])
            h.wfile.flush()
            h.close_connection = True
        else:
            h.wfile.write(resp.body)

    def _exhausted(self, fault: ExhaustedFault, token: str | None) -> StatusFault:
        """GitHub's answer once the primary limit is used up, resetting soon."""
        with self._lock:
            b = self.budget(token)
            reset_at = math.ceil(self.clock() + fault.reset_in_s)
        who = "user ID 1" if token is not None else "127.0.0.1"
        body = {
            "message": f"API rate limit exceeded for {who}.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        }
        headers = {
            "x-ratelimit-limit": str(b.limit),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-used": str(b.limit),
            "x-ratelimit-reset": str(reset_at),
        }
        return StatusFault(fault.code, body, headers)

    def _send_fault(
        self, h: BaseHTTPRequestHandler, fault: StatusFault, token: str | None, rid: str
    ) -> None:
        with self._lock:
            budget = copy.copy(self.budget(token))
        body = fault.body
        if body is None:
            body = {
                "message": http.HTTPStatus(fault.code).phrase,
                "documentation_url": DOCS,
                "status": str(fault.code),
            }
        ctype = JSON_CT if isinstance(body, dict) else "text/html; charset=utf-8"
        data = (
            json.dumps(body).encode()
            if isinstance(body, dict)
            else body.encode()
            if isinstance(body, str)
            else body
        )
        override = {k.lower(): v for k, v in fault.headers.items()}
        h.send_response(fault.code)
        for k, v in [
            *self._base_headers(token is not None, rid),
            *self._rate_headers(budget),
            ("Content-Type", ctype),
        ]:
            if k.lower() not in override:
                h.send_header(k, v)
        for k, v in override.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    # ------------------------------------------------------------------ routing

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        token: str | None,
        base: str,
    ) -> tuple[_Response, str]:
        """Answer one authenticated-or-anonymous request (under the lock)."""
        if path == "/rate_limit":
            b = self.budget(token)
            core = {
                "limit": b.limit,
                "remaining": b.remaining,
                "reset": b.reset_at,
                "used": b.used,
                "resource": "core",
            }
            body = {
                "resources": {
                    "core": core,
                    "search": {
                        **core,
                        "limit": 30,
                        "remaining": 30,
                        "used": 0,
                        "resource": "search",
                    },
                },
                "rate": core,
            }
            return _Response(200, json.dumps(body).encode(), counted=False), path
        version = headers.get("x-github-api-version")
        if version is not None and version not in self.api_versions:
            return _error(
                400,
                f"Unsupported 'X-GitHub-Api-Version': '{version}'",
                f"{DOCS}/overview/api-versions",
                counted=False,
            ), path
        b = self.budget(token)
        if b.remaining <= 0:
            who = (
                "user ID 1"
                if token
                else "127.0.0.1. (But here's the good news: Authenticated "
                "requests get a higher rate limit. Check out the documentation for more details.)"
            )
            return _error(
                self.exhausted_status,
                f"API rate limit exceeded for {who}.",
                "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                counted=False,
            ), path
        if method != "GET":
            return _not_found(), path
        if path == "/":
            return _Response(
                200,
                json.dumps(
                    {
                        "current_user_url": f"{API_URL}/user",
                        "rate_limit_url": f"{API_URL}/rate_limit",
                        "repository_url": f"{API_URL}/repos/{{owner}}/{{repo}}",
                    }
                ).encode(),
            ), path
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        m_id = re.fullmatch(r"/repositories/(\d+)(/.*)?", path)
        m_raw = re.fullmatch(r"/_raw/([^/]+)/([^/]+)/([^/]+)/(.+)", path)
        repo: _Repo | None = None
        rest = ""
        if m:
            repo, rest = self._repos.get(f"{m[1]}/{m[2]}".lower()), m[3] or ""
        elif m_id:
            repo = next((r for r in self._repos.values() if r.repo_id == int(m_id[1])), None)
            rest = m_id[2] or ""
        elif m_raw:
            repo, rest = self._repos.get(f"{m_raw[1]}/{m_raw[2]}".lower()), ""
        if repo is None or (repo.private and token is None):
            return _not_found(), path
        route = f"/repos/{repo.full_name}{rest}"
        if m_raw:
            text = repo.files.get((unquote(m_raw[4]), self._resolve_ref(repo, m_raw[3])))
            if text is None:
                return _Response(404, b"404: Not Found", "text/plain; charset=utf-8"), path
            return _Response(200, text.encode(), "text/plain; charset=utf-8"), path
        return self._repo_route(repo, rest, query, headers, base), route

    def _repo_route(
        self, repo: _Repo, rest: str, query: dict[str, str], headers: dict[str, str], base: str
    ) -> _Response:
        owner, name = repo.full_name.split("/", 1)
        if rest in ("", "/"):
            body = repository(
                owner,
                name,
                repo_id=repo.repo_id,
                private=repo.private,
                full=True,
                default_branch=repo.default_branch,
            )
            return _Response(200, json.dumps(body).encode())
        if rest == "/actions/workflows":
            wfs = self._workflows(repo)
            items, link = self._page(list(wfs.values()), query, base, repo, rest, capped=False)
            return self._json({"total_count": len(wfs), "workflows": items}, link)
        if m := re.fullmatch(r"/actions/workflows/([^/]+)(/runs)?", rest):
            wf = self._find_workflow(repo, unquote(m[1]))
            if wf is None:
                return _not_found()
            if not m[2]:
                return self._json(wf)
            return self._list_runs(repo, query, base, rest, wf["id"])
        if rest == "/actions/runs":
            return self._list_runs(repo, query, base, rest, None)
        if m := re.fullmatch(r"/actions/runs/(\d+)(?:/attempts/(\d+))?(/jobs)?", rest):
            run = repo.runs.get(int(m[1]))
            if run is None:
                return _not_found()
            latest = int(run.get("run_attempt") or 1)
            jobs = repo.jobs.get(run["id"], [])
            n = int(m[2]) if m[2] else None
            if n is not None and not 1 <= n <= latest:
                return _not_found()
            if not m[3]:
                if n is None or n == latest:
                    return self._json(run)
                snap = repo.attempts.get(run["id"], {}).get(n) or attempt_snapshot(
                    run, n, [j for j in jobs if int(j.get("run_attempt") or 1) == n]
                )
                return self._json(snap)
            mode = query.get("filter", "latest") if n is None else "attempt"
            if mode not in ("latest", "all", "attempt"):
                return _error(
                    422,
                    "Validation Failed",
                    errors=[{"resource": "WorkflowJob", "field": "filter", "code": "invalid"}],
                )
            want = latest if n is None else n
            sel = sorted(
                (j for j in jobs if mode == "all" or int(j.get("run_attempt") or 1) == want),
                key=lambda j: int(j["id"]),
            )
            items, link = self._page(sel, query, base, repo, rest, capped=False)
            return self._json({"total_count": len(sel), "jobs": items}, link)
        if m := re.fullmatch(r"/actions/jobs/(\d+)", rest):
            found = next((j for js in repo.jobs.values() for j in js if j["id"] == int(m[1])), None)
            return self._json(found) if found else _not_found()
        if m := re.fullmatch(r"/contents(?:/(.*))?", rest):
            return self._contents(repo, unquote(m[1] or "").strip("/"), query, headers)
        return _not_found()

    def _json(self, body: Any, link: str | None = None) -> _Response:
        return _Response(200, json.dumps(body).encode(), link=link)

    def _workflows(self, repo: _Repo) -> dict[int, JSON]:
        owner, name = repo.full_name.split("/", 1)
        out: dict[int, JSON] = {}
        for run in sorted(repo.runs.values(), key=lambda r: int(r["id"])):
            path = str(run["path"]).split("@", 1)[0]
            out[int(run["workflow_id"])] = workflow(
                int(run["workflow_id"]), owner=owner, repo=name, name=str(run["name"]), path=path
            )
        return out

    def _find_workflow(self, repo: _Repo, key: str) -> JSON | None:
        for wf in self._workflows(repo).values():
            if key == str(wf["id"]) or key == str(wf["path"]).rsplit("/", 1)[-1]:
                return wf
        return None

    def _list_runs(
        self, repo: _Repo, query: dict[str, str], base: str, rest: str, workflow_id: int | None
    ) -> _Response:
        runs = [
            r
            for r in repo.runs.values()
            if workflow_id is None or int(r["workflow_id"]) == workflow_id
        ]
        if created := query.get("created"):
            try:
                match = created_filter(created)
            except ValueError:
                return _error(
                    422,
                    "Validation Failed",
                    errors=[{"resource": "WorkflowRun", "field": "created", "code": "invalid"}],
                )
            runs = [r for r in runs if match(parse_ts(r["created_at"]))]
        checks: list[tuple[str, Callable[[JSON], set[str]]]] = [
            ("branch", lambda r: {str(r["head_branch"])}),
            ("event", lambda r: {r["event"]}),
            ("status", lambda r: {str(r["status"]), str(r["conclusion"])}),
            ("actor", lambda r: {r["actor"]["login"]}),
            ("head_sha", lambda r: {r["head_sha"]}),
            ("check_suite_id", lambda r: {str(r.get("check_suite_id"))}),
        ]
        for param, values in checks:
            if want := query.get(param):
                runs = [r for r in runs if want in values(r)]
        runs.sort(key=lambda r: (parse_ts(r["created_at"]), int(r["id"])), reverse=True)
        capped = any(query.get(p) for p in CAPPED_PARAMS)
        items, link = self._page(runs, query, base, repo, rest, capped=capped)
        if query.get("exclude_pull_requests", "").lower() == "true":
            items = [{**r, "pull_requests": []} for r in items]
        return self._json({"total_count": len(runs), "workflow_runs": items}, link)

    def _page(
        self,
        items: list[JSON],
        query: dict[str, str],
        base: str,
        repo: _Repo,
        rest: str,
        *,
        capped: bool,
    ) -> tuple[list[JSON], str | None]:
        """One page of ``items`` and its Link header (None when everything fits one page)."""

        def num(key: str, default: int) -> int:
            try:
                return int(query.get(key, default))
            except ValueError:
                return default

        per_page = min(max(num("per_page", 30), 1), 100)
        page = max(num("page", 1), 1)
        served = items[:RESULT_CAP] if capped else items
        last = max(1, math.ceil(len(served) / per_page))
        out = served[(page - 1) * per_page : page * per_page]
        if last == 1 and page == 1:
            return out, None
        path = (
            f"/repositories/{repo.repo_id}{rest}"
            if self.link_style == "repositories"
            else f"/repos/{repo.full_name}{rest}"
        )

        def link(p: int, rel: str) -> str:
            q = {**query, "page": str(p)}
            return f'<{base}{quote(path)}?{urlencode(q)}>; rel="{rel}"'

        rels = []
        if page > 1:
            rels.append(link(min(page - 1, last), "prev"))
        if page < last:
            rels += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            rels.append(link(1, "first"))
        return out, ", ".join(rels)

    def _resolve_ref(self, repo: _Repo, ref: str | None) -> str:
        """A commit sha for ``ref``: a sha, a branch (newest run's head), or the default."""
        if ref and (
            any(sha == ref for _, sha in repo.files)
            or any(r["head_sha"] == ref for r in repo.runs.values())
        ):
            return ref
        branch = (ref or repo.default_branch).removeprefix("refs/heads/")
        heads = sorted(
            (r for r in repo.runs.values() if r["head_branch"] == branch),
            key=lambda r: parse_ts(r["created_at"]),
        )
        return str(heads[-1]["head_sha"]) if heads else branch

    def _contents(
        self, repo: _Repo, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> _Response:
        ref = query.get("ref")
        sha = self._resolve_ref(repo, ref)
        owner, name = repo.full_name.split("/", 1)
        text = repo.files.get((path, sha))

        def entry(p: str, kind: str, data: bytes | None) -> JSON:
            blob = git_blob_sha(data if data is not None else p.encode())
            self_url = f"{API_URL}/repos/{owner}/{name}/contents/{quote(p)}?ref={ref or sha}"
            git = f"{API_URL}/repos/{owner}/{name}/git/{'blobs' if data is not None else 'trees'}/"
            html = f"https://github.com/{owner}/{name}/{'blob' if data is not None else 'tree'}/"
            out: JSON = {
                "name": p.rsplit("/", 1)[-1],
                "path": p,
                "sha": blob,
                "size": len(data) if data is not None else 0,
                "url": self_url,
                "html_url": f"{html}{ref or sha}/{p}",
                "git_url": git + blob,
                "download_url": (
                    f"https://raw.githubusercontent.com/{owner}/{name}/{ref or sha}/{p}"
                    if data is not None
                    else None
                ),
                "type": kind,
            }
            out["_links"] = {"self": self_url, "git": out["git_url"], "html": out["html_url"]}
            return out

        accept = headers.get("accept", "")
        if text is not None:
            data = text.encode()
            if "vnd.github.raw" in accept or "vnd.github.v3.raw" in accept:
                return _Response(200, data, "text/plain; charset=utf-8")
            obj = entry(path, "file", data)
            obj.update({"content": _b64_lines(data), "encoding": "base64"})
            return self._json(obj)
        prefix = f"{path}/" if path else ""
        children: dict[str, JSON] = {}
        for (p, s), content in sorted(repo.files.items()):
            if s == sha and p.startswith(prefix):
                head, sep, _ = p[len(prefix) :].partition("/")
                children.setdefault(
                    head,
                    entry(prefix + head, "dir", None)
                    if sep
                    else entry(p, "file", content.encode()),
                )
        if children:
            return self._json(list(children.values()))
        return _error(404, "Not Found", f"{DOCS}/repos/contents#get-repository-content")


@contextmanager
def running(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    """``with running(FakeGitHub()) as gh:`` — started for the block, stopped after."""
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
