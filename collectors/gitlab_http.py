"""The GitLab flavour of the shared HTTP client: the token header, streamed job logs, errors.

The token travels in ``PRIVATE-TOKEN`` and only to the GitLab origin: a redirect elsewhere (a job
log served from object storage) is followed without it. Job logs are streamed in chunks through
the same request budget, rate limiting, minimum interval and retries as every other request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from ci_profile.collectors.http import (
    RETRYABLE_STATUS,
    HttpClient,
    Response,
    RetryPolicy,
    WaitHook,
    _describe,
    _redact,
)
from ci_profile.core.config import Secret
from ci_profile.core.errors import (
    AuthError,
    BudgetExhaustedError,
    NotFoundError,
    ProviderError,
    UsageError,
)

TOKEN_HEADER = "PRIVATE-TOKEN"
CHUNK = 64 * 1024
MAX_PAGES = 20_000
_TRANSIENT = (httpx.TransportError, httpx.DecodingError)


def api_base(url: str) -> str:
    """``https://gitlab.example.com[/prefix]`` -> its REST v4 base URL."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url: {url!r} is not an http(s) URL like https://gitlab.example.com")
    return text if text.endswith("/api/v4") else f"{text}/api/v4"


def same_origin(url: httpx.URL, base: httpx.URL) -> bool:
    return (url.scheme, url.host, url.port) == (base.scheme, base.host, base.port)


def make_client(
    url: str,
    token: Secret | None,
    *,
    transport: httpx.BaseTransport | None = None,
    timeout_s: float = 30.0,
) -> httpx.Client:
    base = httpx.URL(api_base(url))
    headers = {"Accept": "application/json", "User-Agent": "ci-profile"}
    if token is not None:
        headers[TOKEN_HEADER] = token.reveal()

    def keep_token_home(request: httpx.Request) -> None:
        if not same_origin(request.url, base):
            request.headers.pop(TOKEN_HEADER, None)

    return httpx.Client(
        base_url=base,
        headers=headers,
        timeout=timeout_s,
        transport=transport,
        follow_redirects=True,
        event_hooks={"request": [keep_token_home]},
    )


def make_http(
    client: httpx.Client,
    *,
    concurrency: int = 4,
    max_requests: int | None = None,
    on_wait: WaitHook | None = None,
    policy: RetryPolicy | None = None,
    max_rate: float | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> GitLabHttp:
    """``max_rate``: requests per second at most (None or 0: no limit beyond GitLab's own)."""
    base = policy or RetryPolicy()
    if max_rate:
        base = RetryPolicy(
            max_retries=base.max_retries,
            backoff_base_s=base.backoff_base_s,
            backoff_cap_s=base.backoff_cap_s,
            max_rate_wait_s=base.max_rate_wait_s,
            min_interval_s=max(base.min_interval_s, 1.0 / max_rate),
        )
    kwargs: dict[str, Any] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    if clock is not None:
        kwargs["clock"] = clock
    return GitLabHttp(
        client,
        provider="GitLab",
        policy=base,
        concurrency=concurrency,
        max_requests=max_requests,
        on_wait=on_wait,
        **kwargs,
    )


def _gitlab_message(response: httpx.Response) -> str | None:
    try:
        data = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("message", "error_description", "error"):
        value = data.get(key)
        if isinstance(value, str | int) and str(value):
            return str(value)[:200]
        if isinstance(value, dict | list) and value:
            return json.dumps(value)[:200]
    return None


class GitLabHttp(HttpClient):
    """HttpClient plus streamed GETs and GitLab's error bodies."""

    def stream(
        self, url: str, *, sink: Callable[[bytes], None], restart: Callable[[], None]
    ) -> str | None:
        """GET ``url`` and hand its body to ``sink`` chunk by chunk. Returns ``"complete"``,
        ``"truncated"`` (the body kept breaking off; ``sink`` holds the last partial copy) or
        None (404). Before a retry re-sends the body from the start, ``restart`` is called."""
        attempt = 0
        fed = False
        while True:
            self._respect_known_limit()
            self._admit()
            try:
                with self._slots, self._client.stream("GET", url) as response:
                    if response.status_code == 200:
                        self._record_rate(response)
                        if fed:
                            restart()
                        fed = True
                        for chunk in response.iter_bytes(CHUNK):
                            sink(chunk)
                        return "complete"
                    response.read()
            except _TRANSIENT as exc:
                if isinstance(exc, httpx.ConnectError):
                    attempt = max(attempt, self.policy.max_retries - 2)
                if fed and attempt >= self.policy.max_retries:
                    return "truncated"
                attempt = self._backoff(attempt, url, _describe(exc))
                continue
            if response.status_code in RETRYABLE_STATUS:
                attempt = self._backoff(attempt, url, f"HTTP {response.status_code}")
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
            if response.status_code == 404:
                return None
            raise self._status_error(response)

    def _admit(self) -> None:
        """Count the request against the budget and keep the minimum interval (as _send does)."""
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

    def _status_error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        where = _redact(str(response.url))
        message = _gitlab_message(response)
        detail = f": {message}" if message else ""
        if status == 401:
            if TOKEN_HEADER.lower() not in {k.lower() for k in response.request.headers}:
                return AuthError("GitLab requires a token here (HTTP 401); set GITLAB_TOKEN")
            return AuthError(f"GitLab rejected the token (HTTP 401{detail})")
        if status == 403:
            return AuthError(f"GitLab denied access to {where} (HTTP 403{detail})")
        if status == 404:
            if message is None:
                return ProviderError(
                    f"GitLab: no GitLab API answers at {where} (HTTP 404 without a GitLab "
                    "error body); check --url / GITLAB_URL"
                )
            return NotFoundError(f"GitLab: not found: {where}")
        return ProviderError(f"GitLab: HTTP {status} for {where}{detail}")


def has_more(response: Response, count: int, per_page: int) -> bool:
    """Offset pagination: ``x-next-page`` when sent (empty: the last page), else ``Link:
    rel="next"``, else a full page (GitLab.com sometimes omits headers)."""
    header = response.headers.get("x-next-page")
    if header is not None:
        return bool(header.strip())
    return bool(response.links.get("next")) or count >= per_page


def offset_pages(
    http: HttpClient, url: str, params: Mapping[str, str], per_page: int
) -> Iterator[Mapping[str, Any]]:
    """Every item of an offset-paginated list. ``x-total`` is never needed: GitLab drops it
    (and ``x-total-pages``, ``rel="last"``) past 10,000 records."""
    page = 1
    for _ in range(MAX_PAGES):
        query = {**params, "per_page": str(per_page), "page": str(page)}
        response = http.get(f"{url}?{urlencode(query)}")
        items = [i for i in response.data or [] if isinstance(i, Mapping)]
        yield from items
        if not has_more(response, len(items), per_page):
            return
        header = (response.headers.get("x-next-page") or "").strip()
        following = int(header) if header.isdigit() else page + 1
        if following <= page:
            return
        page = following
