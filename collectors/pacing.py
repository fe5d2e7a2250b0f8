"""Pace requests per REST endpoint within GitHub's documented secondary rate limit.

GitHub, "Rate limits for the REST API", secondary rate limits
(https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api): you may hit
one if you "make too many requests to a single endpoint per minute. No more than 900 points per
minute are allowed for REST API endpoints"; most GET, HEAD and OPTIONS requests cost 1 point,
most POST, PATCH, PUT and DELETE requests 5. So the jobs of 1,000 runs cannot be fetched in
much less than a minute, however many requests run in parallel.

The window slides: before a request is sent, the points of the requests still in flight or
answered less than ``window_s`` ago, plus its own, must fit the budget, or it waits. A request
counts from when it is sent until ``window_s`` after its answer arrived, because GitHub counts
it at some moment in between that the client cannot see; so no window of that length, wherever
it falls, can see more than the budget.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

GITHUB_POINTS_PER_WINDOW = 900
GITHUB_WINDOW_S = 60.0
_CHEAP = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_POINTS = 5

# Everything before /repos/ goes: a GitHub Enterprise Server prefix (/api/v3), or the scheme and
# host of a Link header URL. Link headers name the repository as /repositories/{id}, which is the
# same endpoint as /repos/{owner}/{repo}.
_REPOSITORY = re.compile(r"^.*?/(?:repos/[^/]+/[^/]+|repositories/\d+)(?=/|$)")
_CONTENTS = re.compile(r"/contents(?:/.*)?$")
_WORKFLOW = re.compile(r"/workflows/[^/]+")
_NUMBERED = re.compile(r"/([a-z_]+?)s/\d+(?=/|$)")
_NUMBER = re.compile(r"/\d+(?=/|$)")


def endpoint(method: str, url: str) -> str:
    """The route template a request is counted under, as GitHub's REST reference writes it:
    ``GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs``. Query strings do not count."""
    path = urlsplit(url).path.rstrip("/") or "/"
    path = _REPOSITORY.sub("/repos/{owner}/{repo}", path, count=1)
    path = _CONTENTS.sub("/contents/{path}", path)
    path = _WORKFLOW.sub("/workflows/{workflow_id}", path)
    path = _NUMBERED.sub(r"/\1s/{\1_id}", path)
    path = _NUMBER.sub("/{id}", path)
    return f"{method.upper()} {path}"


def points(method: str) -> int:
    """GitHub's points for one request: 1 for a read, 5 for anything that may write."""
    return 1 if method.upper() in _CHEAP else MAX_POINTS


@dataclass(slots=True)
class _Sent:
    points: int
    leaves_at: float | None = None  # a window after the answer; None while in flight


class Pacer:
    """Blocks each request until it fits its endpoint's budget. Thread-safe."""

    def __init__(
        self,
        points_per_window: int = GITHUB_POINTS_PER_WINDOW,
        window_s: float = GITHUB_WINDOW_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> None:
        if points_per_window < MAX_POINTS:
            # A request worth more than the whole budget could never be sent.
            raise ValueError(f"a budget of {points_per_window} points cannot fit a POST")
        if window_s <= 0:
            raise ValueError("the window must be longer than 0 s")
        self.points_per_window = points_per_window
        self.window_s = window_s
        self.waited_s = 0.0  # summed over the threads that waited
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self._lock = threading.Lock()
        self._sent: dict[str, list[_Sent]] = {}
        self._announced_until: dict[str, float] = {}

    @contextmanager
    def request(self, method: str, url: str) -> Iterator[None]:
        """Wait until the request fits, then count it while the block sends it."""
        key = endpoint(method, url)
        sent = self._admit(key, points(method))
        try:
            yield
        finally:
            with self._lock:
                sent.leaves_at = self._clock() + self.window_s

    def _admit(self, key: str, cost: int) -> _Sent:
        while True:
            with self._lock:
                now = self._clock()
                recent = [
                    s for s in self._sent.get(key, ()) if s.leaves_at is None or s.leaves_at > now
                ]
                self._sent[key] = recent
                used = sum(s.points for s in recent)
                if used + cost <= self.points_per_window:
                    sent = _Sent(cost)
                    recent.append(sent)
                    return sent
                wait = self._earliest_fit(recent, used + cost - self.points_per_window, now)
                announce = wait >= 1 and now >= self._announced_until.get(key, float("-inf"))
                if announce:
                    # Every thread waiting on this endpoint would say the same: say it once.
                    self._announced_until[key] = now + wait
                self.waited_s += wait
            if announce and self._on_wait is not None:
                self._on_wait(
                    wait,
                    f"pacing {key} to {self.points_per_window} points per "
                    f"{self.window_s:g} s (GitHub's secondary rate limit)",
                )
            self._sleep(wait)

    def _earliest_fit(self, recent: list[_Sent], excess: int, now: float) -> float:
        """Seconds until enough points leave the window. A request in flight leaves it no
        sooner than a window from now; the caller looks again after waiting."""
        leaving = sorted(
            s.leaves_at if s.leaves_at is not None else now + self.window_s
            for s in recent
            for _ in range(s.points)
        )
        return leaving[excess - 1] - now
