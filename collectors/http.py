"""One HTTP client for every provider: retries, rate limits, ETags, pagination, a request budget.

It wraps an injected ``httpx.Client`` (tests pass one bound to a local server). It never logs
headers, so a token set on the client cannot leak through it. It never sleeps silently: every
wait is announced through ``on_wait`` so the CLI can say why it is waiting.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from ci_profile.collectors.pacing import Pacer
from ci_profile.core.errors import (
    AuthError,
    BudgetExhaustedError,
    NetworkError,
    NotFoundError,
    ProviderError,
    RateLimitError,
)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_TRANSIENT = (httpx.TransportError, httpx.DecodingError)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    url: str
    headers: Mapping[str, str]
    body: bytes
    data: Any
    etag: str | None
    links: Mapping[str, str]

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(slots=True)
class RateLimit:
    limit: int | None = None
    remaining: int | None = None
    reset_epoch: float | None = None


@dataclass(slots=True)
class ClientStats:
    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    waited_s: float = 0.0
    rate: RateLimit = field(default_factory=RateLimit)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    # The longest wait for a rate-limit reset before giving up with RateLimitError.
    max_rate_wait_s: float = 3900.0
    # A floor between request starts, for servers that must not be hammered (self-hosted GitLab).
    min_interval_s: float = 0.0


WaitHook = Callable[[float, str], None]


class HttpClient:
    """GET JSON from a provider API politely. Thread-safe; concurrency bounded by a semaphore;
    with a ``pacer``, every request also waits until it fits its endpoint's budget."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        provider: str,
        policy: RetryPolicy | None = None,
        concurrency: int = 4,
        max_requests: int | None = None,
        on_wait: WaitHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._client = client
        self.provider = provider
        self.policy = policy or RetryPolicy()
        self.max_requests = max_requests
        self.stats = ClientStats()
        self._on_wait = on_wait
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._pacer = pacer
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._next_start = 0.0

    def get(
        self,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        etag: str | None = None,
        accept: str | None = None,
        json_body: bool = True,
    ) -> Response:
        """GET ``url``. With ``etag``, a 304 comes back as a Response with ``not_modified``."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if accept:
            headers["Accept"] = accept
        attempt = 0
        connect_failures = 0
        while True:
            self._respect_known_limit()
            response = self._send(url, params, headers)
            if isinstance(response, Exception) or response.status_code in RETRYABLE_STATUS:
                reason = (
                    f"{_describe(response)}"
                    if isinstance(response, Exception)
                    else f"HTTP {response.status_code}"
                )
                if isinstance(response, httpx.ConnectError):
                    # Nothing answers at that address: two quick retries, then say so.
                    connect_failures += 1
                    if connect_failures > 2:
                        target = _redact(str(response.request.url))
                        raise NetworkError(f"{self.provider}: {reason} to {target}")
                    self._wait(self.policy.backoff_base_s, f"{reason}, retrying")
                    continue
                attempt = self._backoff(attempt, url, reason)
                continue
            self._record_rate(response)
            if response.status_code in (403, 429):
                wait = self._rate_limit_wait(response, attempt)
                if wait is not None:
                    with self._lock:
                        self.stats.retries += 1
                    self._wait(wait, f"{self.provider} rate limit")
                    attempt += 1
                    continue
            if response.status_code == 304:
                with self._lock:
                    self.stats.not_modified += 1
                return self._wrap(response, None)
            if response.status_code >= 400:
                raise self._status_error(response)
            if not json_body:
                return self._wrap(response, None)
            try:
                data = json.loads(response.content)
            except ValueError:
                attempt = self._backoff(attempt, url, "unreadable JSON body")
                continue
            return self._wrap(response, data)

    # -- internals -------------------------------------------------------------------------

    def _send(
        self, url: str, params: Mapping[str, str | int] | None, headers: dict[str, str]
    ) -> httpx.Response | httpx.TransportError | httpx.DecodingError:
        with self._lock:
            if self.max_requests is not None and self.stats.requests >= self.max_requests:
                raise BudgetExhaustedError(
                    f"request budget of {self.max_requests} used up; what was collected is kept, "
                    "run again to continue"
                )
            self.stats.requests += 1
            delay = self._next_start - self._clock()
            self._next_start = max(self._next_start, self._clock()) + self.policy.min_interval_s
        if delay > 0:
            self._sleep(delay)
        # Every attempt is paced, retries included: each one reaches the provider's counters.
        paced: AbstractContextManager[None] = (
            self._pacer.request("GET", url) if self._pacer is not None else nullcontext()
        )
        with paced, self._slots:
            try:
                response = self._client.get(url, params=params, headers=headers)
                response.read()
            except _TRANSIENT as exc:
                return exc
        return response

    def _wrap(self, response: httpx.Response, data: Any) -> Response:
        links = {
            str(rel): str(link["url"])
            for rel, link in response.links.items()
            if rel and "url" in link
        }
        return Response(
            status=response.status_code,
            url=str(response.url),
            headers=response.headers,
            body=response.content,
            data=data,
            etag=response.headers.get("etag"),
            links=links,
        )

    def _backoff(self, attempt: int, url: str, reason: str) -> int:
        if attempt >= self.policy.max_retries:
            raise NetworkError(
                f"{self.provider}: {reason} for {_redact(url)} after {attempt + 1} attempts"
            )
        delay = min(self.policy.backoff_cap_s, self.policy.backoff_base_s * 2.0**attempt)
        delay *= self._rng.uniform(0.5, 1.5)
        with self._lock:
            self.stats.retries += 1
        self._wait(delay, f"{reason}, retrying")
        return attempt + 1

    def _wait(self, seconds: float, reason: str) -> None:
        seconds = max(0.0, seconds)
        if self._on_wait is not None and seconds >= 1:
            self._on_wait(seconds, reason)
        with self._lock:
            self.stats.waited_s += seconds
        self._sleep(seconds)

    def _record_rate(self, response: httpx.Response) -> None:
        h = response.headers
        limit = h.get("x-ratelimit-limit") or h.get("ratelimit-limit")
        remaining = h.get("x-ratelimit-remaining") or h.get("ratelimit-remaining")
        reset = h.get("x-ratelimit-reset") or h.get("ratelimit-reset")
        with self._lock:
            rate = self.stats.rate
            if limit and limit.isdigit():
                rate.limit = int(limit)
            if remaining and remaining.lstrip("-").isdigit():
                rate.remaining = int(remaining)
            if reset and _is_number(reset):
                rate.reset_epoch = float(reset)

    def _respect_known_limit(self) -> None:
        """Do not spend a request that is known to fail: wait for the window to reset."""
        with self._lock:
            rate = self.stats.rate
            exhausted = rate.remaining is not None and rate.remaining <= 0
            reset = rate.reset_epoch
        if exhausted and reset is not None:
            wait = reset - self._clock() + 1
            if wait > 0:
                self._check_wait_allowed(wait)
                self._wait(wait, f"{self.provider} rate limit exhausted, waiting for reset")
            with self._lock:
                if self.stats.rate.reset_epoch == reset:
                    self.stats.rate.remaining = None

    def _rate_limit_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying a 403/429, or None when it is not a rate limit."""
        h = response.headers
        retry_after = h.get("retry-after")
        remaining = h.get("x-ratelimit-remaining") or h.get("ratelimit-remaining")
        reset = h.get("x-ratelimit-reset") or h.get("ratelimit-reset")
        text = response.text.lower() if response.content else ""
        if attempt >= self.policy.max_retries and (retry_after or remaining == "0"):
            raise RateLimitError(
                f"{self.provider}: still rate limited after {attempt + 1} attempts"
            )
        if retry_after:
            wait = _retry_after_seconds(retry_after, self._clock())
            self._check_wait_allowed(wait)
            return wait
        if remaining == "0" and reset and _is_number(reset):
            wait = float(reset) - self._clock() + 1
            self._check_wait_allowed(wait)
            return float(max(wait, 0.0))
        if response.status_code == 429 or "rate limit" in text:
            if attempt >= self.policy.max_retries:
                raise RateLimitError(
                    f"{self.provider}: still rate limited after {attempt + 1} attempts"
                )
            # No header says how long: back off exponentially from a minute (GitHub's advice).
            return min(self.policy.max_rate_wait_s, 60.0 * 2.0**attempt)
        return None

    def _check_wait_allowed(self, wait: float) -> None:
        if wait > self.policy.max_rate_wait_s:
            resume = time.strftime("%H:%M UTC", time.gmtime(self._clock() + wait))
            raise RateLimitError(
                f"{self.provider} rate limit exhausted until {resume} ({wait / 60:.0f} min); "
                "what was collected is kept, run again later"
            )

    def _status_error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        where = _redact(str(response.url))
        message = _message(response)
        if status == 401:
            return AuthError(f"{self.provider} rejected the token (HTTP 401{message})")
        if status == 403:
            return AuthError(f"{self.provider} denied access to {where} (HTTP 403{message})")
        if status == 404:
            return NotFoundError(f"{self.provider}: not found: {where}")
        return ProviderError(f"{self.provider}: HTTP {status} for {where}{message}")


def _describe(error: Exception) -> str:
    if isinstance(error, httpx.ConnectError):
        return "cannot connect"
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
        return "connection dropped"
    return "network error"


def _message(response: httpx.Response) -> str:
    try:
        data = json.loads(response.content)
    except ValueError:
        return ""
    text = data.get("message") if isinstance(data, dict) else None
    return f": {str(text)[:200]}" if text else ""


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _retry_after_seconds(value: str, now: float) -> float:
    if _is_number(value):
        return max(0.0, float(value))
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return 60.0


def _redact(url: str) -> str:
    """Drop the query string: it may carry a private token on some providers."""
    return url.split("?", 1)[0]
