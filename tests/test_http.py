"""The shared HTTP client against the local GitHub-like server."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from ci_profile.collectors import github
from ci_profile.collectors.http import HttpClient, RetryPolicy, _retry_after_seconds
from ci_profile.core.config import Secret
from ci_profile.core.errors import BudgetExhaustedError, NetworkError, RateLimitError
from ci_profile.core.store import Store
from fakegithub import DEFAULT_TOKEN, FakeGitHub, delay, secondary_rate_limit, status
from payloads import RepoHistory


def client_for(gh: FakeGitHub, **kwargs: object) -> tuple[httpx.Client, HttpClient]:
    client = github.make_client(gh.url, Secret(DEFAULT_TOKEN))
    waits: list[tuple[float, str]] = []
    http = HttpClient(
        client,
        provider="GitHub",
        sleep=lambda s: None,
        on_wait=lambda s, r: waits.append((s, r)),
        **kwargs,
    )  # type: ignore[arg-type]
    http.waits = waits  # type: ignore[attr-defined]
    return client, http


def test_etag_round_trip_and_link_pagination(gh: FakeGitHub) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=12))
    client, http = client_for(gh)
    with client:
        first = http.get("/repos/acme/shop/actions/runs?per_page=5")
        assert first.status == 200 and first.etag and "next" in first.links
        again = http.get("/repos/acme/shop/actions/runs?per_page=5", etag=first.etag)
        assert again.not_modified and again.data is None
        pages, url = 0, "/repos/acme/shop/actions/runs?per_page=5"
        while url:
            pages += 1
            url = http.get(url).links.get("next")
        assert pages == 3
    assert http.stats.not_modified == 1
    assert http.stats.rate.remaining is not None and http.stats.rate.limit == 5000


def test_waits_are_announced(gh: FakeGitHub) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=8))
    gh.inject(secondary_rate_limit(429, 7))
    client, http = client_for(gh)
    with client:
        assert http.get("/repos/acme/shop").status == 200
    assert http.waits == [(7.0, "GitHub rate limit")]  # type: ignore[attr-defined]


def test_persistent_5xx_gives_up_with_a_network_error(gh: FakeGitHub) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=8))
    gh.inject(status(502), times=10)
    client, http = client_for(gh, policy=RetryPolicy(max_retries=3))
    with (
        client,
        pytest.raises(NetworkError, match=r"HTTP 502 for .*/repos/acme/shop after 4 attempts"),
    ):
        http.get("/repos/acme/shop")


def test_slow_response_times_out_and_is_retried(gh: FakeGitHub) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=8))
    gh.inject(delay(0.5))
    client = github.make_client(gh.url, Secret(DEFAULT_TOKEN), timeout_s=0.2)
    http = HttpClient(client, provider="GitHub", sleep=lambda s: None)
    with client:
        assert http.get("/repos/acme/shop").status == 200
    assert http.stats.retries == 1


def test_request_budget_stops_cleanly_and_keeps_what_was_committed(
    gh: FakeGitHub, store: Store
) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=120, days=10))
    with github.make_client(gh.url, Secret(DEFAULT_TOKEN)) as client:
        http = github.make_http(client, max_requests=60, sleep=lambda s: None)
        collector = github.GitHubCollector(
            http, store, "acme/shop", now=lambda: datetime(2024, 6, 1, tzinfo=UTC), concurrency=1
        )
        with pytest.raises(BudgetExhaustedError, match="budget of 60"):
            collector.collect(datetime(2024, 5, 1, tzinfo=UTC), None)
    kept = store.counts()["runs"]
    assert kept > 0
    # Files the budget cut off are left out, not stored as missing.
    assert store.con.execute(
        "SELECT count(*) FROM pipeline_files WHERE content IS NULL"
    ).fetchone() == (0,)
    assert store.unfetched_pipeline_files("github", "acme/shop")
    # The next collection (with budget) completes and duplicates nothing.
    with github.make_client(gh.url, Secret(DEFAULT_TOKEN)) as client:
        http = github.make_http(client, sleep=lambda s: None)
        github.GitHubCollector(
            http, store, "acme/shop", now=lambda: datetime(2024, 6, 1, tzinfo=UTC)
        ).collect(datetime(2024, 5, 1, tzinfo=UTC), None)
    assert store.con.execute(
        "SELECT count(*) = count(DISTINCT (run_id, attempt)) FROM runs"
    ).fetchone() == (True,)
    assert store.con.execute("SELECT count(DISTINCT run_id) FROM runs").fetchone() == (120,)
    # A workflow file the budget cut off is fetched later, not stored as missing for good.
    assert store.con.execute("SELECT count(*), count(content) FROM pipeline_files").fetchone() == (
        120,
        120,
    )


def test_retry_after_forms() -> None:
    assert _retry_after_seconds("12", 0.0) == 12.0
    now = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC).timestamp()
    assert _retry_after_seconds("Tue, 01 Dec 2026 10:00:30 GMT", now) == 30.0
    assert _retry_after_seconds("soon", now) == 60.0


def test_retries_of_rate_limits_are_bounded(gh: FakeGitHub) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=8))
    gh.inject(secondary_rate_limit(403, 1), times=10)
    client, http = client_for(gh, policy=RetryPolicy(max_retries=2))
    with client, pytest.raises(RateLimitError, match="still rate limited"):
        http.get("/repos/acme/shop")
