"""Fault injection: a collection through a misbehaving network ends with exactly the tables a
fault-free collection gives (no missing rows, no duplicates).

The fake servers answer a seeded random share of all requests with a fault: 5xx, connection
resets, truncated bodies, secondary rate limits (403/429 with and without ``retry-after``),
primary rate-limit exhaustion with a reset time, slow answers. Each distinct request is faulted
at most twice, so the client's retries always get through; every wait goes to a recorded
``sleep`` that returns at once, so the test stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ci_profile.collectors import github, gitlab
from ci_profile.core.config import Secret
from ci_profile.core.store import Store
from fakegithub import (
    DEFAULT_TOKEN,
    FakeGitHub,
    delay,
    primary_rate_limit,
    reset,
    secondary_rate_limit,
    status,
    truncate,
)
from fakegitlab import DEFAULT_TOKEN as GITLAB_TOKEN
from fakegitlab import FakeGitLab, bare_429, exhausted
from fakegitlab import delay as gl_delay
from fakegitlab import reset as gl_reset
from fakegitlab import status as gl_status
from fakegitlab import truncate as gl_truncate
from gitlab_payloads import ProjectHistory
from payloads import RepoHistory

NOW = datetime(2024, 6, 1, tzinfo=UTC)
SINCE = datetime(2024, 5, 1, tzinfo=UTC)
TABLES = ("runs", "jobs", "steps", "pipeline_files")

GITHUB_FAULTS = (
    status(500),
    status(502),
    status(503),
    status(504),
    reset(),
    truncate(),
    secondary_rate_limit(403, 1),
    secondary_rate_limit(429, 2),
    secondary_rate_limit(403, None),
    primary_rate_limit(1, 403),
    primary_rate_limit(1, 429),
    delay(0.05),
)
GITLAB_FAULTS = (
    gl_status(500),
    gl_status(502),
    gl_status(503),
    gl_reset(),
    gl_truncate(),
    gl_status(429, "Retry later\n", {"Retry-After": "1"}),
    bare_429(),
    exhausted(1),
    gl_delay(0.05),
)


@pytest.fixture
def gl() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        yield fake
        assert fake.errors == [], "the fake GitLab server raised internally"


def tables(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every collected row, plus the cursors and ETags that collection advanced."""
    found = {t: store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}
    found["cursors"] = store.con.execute(
        "SELECT provider, project, scope, value FROM cursors ORDER BY ALL"
    ).fetchall()
    found["http_etags"] = store.con.execute("SELECT * FROM http_etags ORDER BY ALL").fetchall()
    return found


def github_collect(
    gh: FakeGitHub, path: Path, slept: list[float], retried: list[int] | None = None, **client: Any
) -> Store:
    store = Store.open(path)
    with github.make_client(gh.url, Secret(DEFAULT_TOKEN), **client) as http_client:
        http = github.make_http(http_client, sleep=slept.append)
        github.GitHubCollector(http, store, "acme/shop", now=lambda: NOW).collect(SINCE, None)
    if retried is not None:
        retried.append(http.stats.retries)
    return store


def gitlab_collect(gl: FakeGitLab, path: Path, slept: list[float]) -> Store:
    store = Store.open(path)
    with gitlab.make_client(gl.url, Secret(GITLAB_TOKEN)) as http_client:
        http = gitlab.make_http(http_client, sleep=slept.append)
        gitlab.GitLabCollector(http, store, "acme/platform/shop", now=lambda: NOW).collect(
            SINCE, None
        )
    return store


@pytest.mark.parametrize("seed", [1, 2])
def test_github_collection_through_random_faults_equals_the_fault_free_one(
    gh: FakeGitHub, tmp_path: Path, seed: int
) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=130, days=20, seed=seed))
    with github_collect(gh, tmp_path / "clean.duckdb", []) as clean:
        truth = tables(clean)
    gh.chaos(GITHUB_FAULTS, rate=0.3, seed=seed)
    slept: list[float] = []
    with github_collect(gh, tmp_path / "faulty.duckdb", slept) as faulty:
        assert tables(faulty) == truth
    assert gh.chaos_hits >= 20
    faulted = [r for r in gh.requests if r.fault is not None]
    assert {r.fault for r in faulted} >= {"StatusFault", "ResetFault", "TruncateFault"}
    # The announced waits were honoured: retry-after and the primary-limit reset.
    assert any(s >= 1 for s in slept)


def test_github_primary_exhaustion_waits_until_the_reset_it_announces(
    gh: FakeGitHub, tmp_path: Path
) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=12))
    with github_collect(gh, tmp_path / "clean.duckdb", []) as clean:
        truth = tables(clean)
    gh.inject(primary_rate_limit(120), path_contains="/jobs", times=1)
    slept: list[float] = []
    with github_collect(gh, tmp_path / "faulty.duckdb", slept) as faulty:
        assert tables(faulty) == truth
    # Waited about the announced two minutes (plus a second of margin), not a blind backoff.
    assert any(115 <= s <= 125 for s in slept), slept
    assert gh.pending_faults == 0


def test_github_answers_slower_than_the_client_timeout_are_retried(
    gh: FakeGitHub, tmp_path: Path
) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=6, in_progress=0))
    with github_collect(gh, tmp_path / "clean.duckdb", []) as clean:
        truth = tables(clean)
    gh.inject(delay(3.0), path_contains="/actions/runs?", times=1)
    gh.inject(delay(3.0), path_contains="/jobs", times=1)
    retried: list[int] = []
    with github_collect(gh, tmp_path / "slow.duckdb", [], retried, timeout_s=1.0) as slow:
        assert tables(slow) == truth
    assert gh.pending_faults == 0
    assert retried[0] >= 2  # both timed out and were sent again


@pytest.mark.parametrize("seed", [1, 2])
def test_gitlab_collection_through_random_faults_equals_the_fault_free_one(
    gl: FakeGitLab, tmp_path: Path, seed: int
) -> None:
    gl.add_project(ProjectHistory(pipelines=25, in_progress=0, seed=seed))
    with gitlab_collect(gl, tmp_path / "clean.duckdb", []) as clean:
        truth = tables(clean)
    gl.chaos(GITLAB_FAULTS, rate=0.3, seed=seed)
    slept: list[float] = []
    with gitlab_collect(gl, tmp_path / "faulty.duckdb", slept) as faulty:
        assert tables(faulty) == truth
    assert gl.chaos_hits >= 20
    assert {r.fault for r in gl.requests if r.fault} >= {"StatusFault", "ResetFault"}
    assert any(s >= 1 for s in slept)
