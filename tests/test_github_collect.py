"""The GitHub collector against a local server that behaves like GitHub's REST API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ci_profile.collectors import github
from ci_profile.collectors.http import RetryPolicy
from ci_profile.collectors.pacing import GITHUB_WINDOW_S, Pacer
from ci_profile.core.config import Secret
from ci_profile.core.errors import AuthError, NetworkError, NotFoundError, RateLimitError
from ci_profile.core.store import Store
from fakegithub import FakeGitHub, reset, secondary_rate_limit, status, truncate
from payloads import RepoHistory

SINCE = datetime(2024, 5, 1, tzinfo=UTC)


class Clock:
    """Shared by the fake server and the client: sleeping advances time instantly."""

    def __init__(self) -> None:
        self.now = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def collect(
    gh: FakeGitHub,
    store: Store,
    repo: str,
    *,
    token: str | None = "default",
    since: datetime = SINCE,
    sleep: Callable[[float], None] = lambda s: None,
    policy: RetryPolicy | None = None,
    pacer: Pacer | None = None,
    **kwargs: Any,
) -> github.CollectResult:
    from fakegithub import DEFAULT_TOKEN

    secret = Secret(DEFAULT_TOKEN if token == "default" else token) if token else None
    with github.make_client(gh.url, secret) as client:
        http = github.make_http(client, sleep=sleep, policy=policy, pacer=pacer)
        collector = github.GitHubCollector(
            http, store, repo, now=lambda: datetime(2024, 6, 1, tzinfo=UTC), **kwargs
        )
        return collector.collect(since, None)


def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {
        t: store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("runs", "jobs", "steps", "pipeline_files")
    }


def ground_truth(history: RepoHistory) -> tuple[int, int, int]:
    attempts = sum(int(r.get("run_attempt") or 1) for r in history.runs)
    jobs = [j for js in history.jobs_by_run.values() for j in js]
    steps = sum(len(j.get("steps") or []) for j in jobs)
    return attempts, len(jobs), steps


def test_full_collection_matches_ground_truth(gh: FakeGitHub, store: Store) -> None:
    history = RepoHistory("acme", "shop", runs=40)
    gh.history_repo(history)
    result = collect(gh, store, "acme/shop")
    attempts, jobs, steps = ground_truth(history)
    assert store.counts()["runs"] == attempts
    assert store.counts()["jobs"] == jobs
    assert store.counts()["steps"] == steps
    assert result.runs_listed == 40
    # One list page, one jobs request per run, one contents request per (file, commit).
    files = {(r["path"].split("@")[0], r["head_sha"]) for r in history.runs}
    assert result.requests == 1 + 40 + len(files)
    stored_files = store.con.execute(
        "SELECT count(*), count(content) FROM pipeline_files"
    ).fetchone()
    assert stored_files == (len(files), len(files))


def test_normalization_of_real_quirks(gh: FakeGitHub, store: Store) -> None:
    history = RepoHistory("acme", "shop", runs=24)
    gh.history_repo(history)
    collect(gh, store, "acme/shop")
    con = store.con
    # Step times came with -08:00 offsets, job times with Z: all are stored as the same instant.
    raw = history.jobs_by_run[history.runs[0]["id"]][0]
    first = raw["steps"][0]
    stored = con.execute(
        "SELECT epoch(started_at) FROM steps WHERE job_id = ? AND seq = ?",
        [str(raw["id"]), first["number"]],
    ).fetchone()
    assert stored is not None
    assert stored[0] == datetime.fromisoformat(first["started_at"]).timestamp()
    # Skipped step numbers are kept as GitHub numbered them.
    seqs = [
        r[0]
        for r in con.execute(
            "SELECT seq FROM steps WHERE job_id = ? ORDER BY seq", [str(raw["id"])]
        ).fetchall()
    ]
    assert seqs == sorted(s["number"] for s in raw["steps"])
    # Conclusions are normalized; unknown stays NULL, never 0.
    conclusions = {r[0] for r in con.execute("SELECT DISTINCT conclusion FROM jobs").fetchall()}
    assert conclusions <= {"success", "failure", "cancelled", "skipped", "other", None}
    assert con.execute("SELECT count(*) FROM jobs WHERE queued_s < 0").fetchone() == (0,)
    never_ran = con.execute(
        "SELECT count(*) FROM jobs WHERE runner IS NULL AND status = 'completed' AND started_at IS NOT NULL"
    ).fetchone()
    assert never_ran == (0,)
    # Re-runs keep every attempt.
    assert con.execute("SELECT max(attempt) FROM runs").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM runs WHERE status <> 'completed'").fetchone() == (1,)
    # The ref suffix of `path` is dropped.
    assert con.execute("SELECT count(*) FROM runs WHERE pipeline_path LIKE '%@%'").fetchone() == (
        0,
    )


def test_collecting_twice_is_identical_and_cheap(gh: FakeGitHub, store: Store) -> None:
    history = RepoHistory("acme", "shop", runs=30, in_progress=0)
    gh.history_repo(history)
    collect(gh, store, "acme/shop")
    before = snapshot(store)
    gh.clear_requests()
    second = collect(gh, store, "acme/shop")
    assert snapshot(store) == before
    # One list request from the newest known run on; nothing else.
    assert second.requests == 1
    gh.clear_requests()
    third = collect(gh, store, "acme/shop")
    assert snapshot(store) == before
    # The same conditional request again: a 304, which GitHub does not count.
    assert (third.requests, third.not_modified) == (1, 1)
    assert [r.counted for r in gh.requests] == [False]


def test_incremental_fetches_only_new_and_unfinished(gh: FakeGitHub, store: Store) -> None:
    history = RepoHistory("acme", "shop", runs=20, in_progress=2)
    gh.history_repo(history)
    collect(gh, store, "acme/shop")
    unfinished = history.in_progress_ids()
    for run_id in unfinished:
        run, jobs = history.finish(run_id)
        gh.update_run("acme/shop", run_id, jobs=jobs, **run)
    runs, jobs_by_run, files = history.extend(5)
    gh.add_runs("acme/shop", runs, jobs_by_run, files)
    gh.clear_requests()
    result = collect(gh, store, "acme/shop")
    fetched = {r.route.split("/")[-2] for r in gh.requests if r.route.endswith("/jobs")}
    assert fetched == {str(r) for r in unfinished} | {str(r["id"]) for r in runs}
    attempts, jobs, steps = ground_truth(history)
    assert store.counts()["runs"] == attempts and store.counts()["jobs"] == jobs
    assert store.counts()["steps"] == steps
    assert result.runs_fetched == len(fetched)
    assert store.con.execute(
        "SELECT count(*) FROM runs WHERE status <> 'completed'"
    ).fetchone() == (0,)


def test_rerun_of_a_stored_run_adds_the_new_attempt(gh: FakeGitHub, store: Store) -> None:
    history = RepoHistory("acme", "shop", runs=12, in_progress=0)
    gh.history_repo(history)
    collect(gh, store, "acme/shop")
    target = history.runs[-1]["id"]
    run, new_jobs = history.rerun(target)
    gh.rerun("acme/shop", target, new_jobs, **run)
    collect(gh, store, "acme/shop")
    attempts = store.con.execute(
        "SELECT attempt FROM runs WHERE run_id = ? ORDER BY attempt", [str(target)]
    ).fetchall()
    assert [a[0] for a in attempts] == [1, 2]


def test_many_pages_are_walked(gh: FakeGitHub, store: Store) -> None:
    history = RepoHistory("acme", "shop", runs=230, days=20)
    gh.history_repo(history)
    result = collect(gh, store, "acme/shop")
    assert result.runs_listed == 230
    assert gh.count("/repos/acme/shop/actions/runs", status=200) >= 3
    assert store.counts()["runs"] == ground_truth(history)[0]


def test_thousand_result_cap_is_defeated_by_splitting_windows(gh: FakeGitHub, store: Store) -> None:
    history = RepoHistory("acme", "busy", runs=1150, days=10, in_progress=0)
    gh.history_repo(history)
    # 1,150 jobs requests go to one endpoint: past 900 the default pacer waits for the minute
    # to pass, on a clock that sleeping advances at once.
    clock = Clock()
    pacer = Pacer(clock=clock, sleep=clock.sleep)
    result = collect(gh, store, "acme/busy", concurrency=8, pacer=pacer)
    assert pacer.waited_s >= GITHUB_WINDOW_S
    assert result.windows_split >= 1
    assert result.runs_listed == 1150
    assert store.con.execute("SELECT count(DISTINCT run_id) FROM runs").fetchone() == (1150,)
    assert result.warnings == []


@pytest.mark.parametrize(
    "fault",
    [
        status(500),
        status(502),
        status(503),
        reset(),
        truncate(),
        secondary_rate_limit(403, 1),
        secondary_rate_limit(429, 2),
    ],
    ids=["500", "502", "503", "reset", "truncated", "secondary-403", "secondary-429"],
)
def test_transient_faults_are_retried_to_the_exact_truth(
    gh: FakeGitHub, store: Store, fault: Any
) -> None:
    history = RepoHistory("acme", "shop", runs=15)
    gh.history_repo(history)
    gh.inject(fault, path_contains="/actions/runs", times=2)
    gh.inject(fault, path_contains="/jobs", times=1)
    slept: list[float] = []
    result = collect(gh, store, "acme/shop", sleep=slept.append)
    attempts, jobs, steps = ground_truth(history)
    assert store.counts() == {
        "runs": attempts,
        "jobs": jobs,
        "steps": steps,
        "pipeline_files": store.counts()["pipeline_files"],
    }
    assert result.retries >= 3
    assert gh.pending_faults == 0
    if "retry-after" in str(getattr(fault, "headers", {})).lower():
        assert any(s >= 1 for s in slept)


def test_primary_rate_limit_waits_for_the_reset(store: Store) -> None:
    clock = Clock()
    with FakeGitHub(limit=10, reset_in_s=600, clock=clock) as gh:
        history = RepoHistory("acme", "shop", runs=20)
        gh.history_repo(history)
        with github.make_client(
            gh.url, Secret(next(iter(("ghp_FakeGitHubTestToken000000000000000000",))))
        ) as client:
            http = github.make_http(client, sleep=clock.sleep)
            http._clock = clock  # the client's clock must be the server's
            collector = github.GitHubCollector(
                http, store, "acme/shop", now=lambda: datetime(2024, 6, 1, tzinfo=UTC)
            )
            collector.collect(SINCE, None)
        assert any(s >= 500 for s in clock.slept)
        assert store.counts()["jobs"] == ground_truth(history)[1]


def test_rate_limit_too_far_away_stops_with_a_clear_error(store: Store) -> None:
    clock = Clock()
    with FakeGitHub(limit=5, reset_in_s=3000, clock=clock) as gh:
        gh.history_repo(RepoHistory("acme", "shop", runs=20))
        with github.make_client(
            gh.url, Secret("ghp_FakeGitHubTestToken000000000000000000")
        ) as client:
            http = github.make_http(
                client, sleep=clock.sleep, policy=RetryPolicy(max_rate_wait_s=60)
            )
            http._clock = clock
            collector = github.GitHubCollector(
                http, store, "acme/shop", now=lambda: datetime(2024, 6, 1, tzinfo=UTC)
            )
            with pytest.raises(RateLimitError, match="rate limit exhausted until"):
                collector.collect(SINCE, None)
    # What was collected before the limit is kept.
    assert store.counts()["runs"] >= 0


def test_bad_token_unknown_repo_and_no_server(gh: FakeGitHub, store: Store) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=8))
    with pytest.raises(AuthError, match="rejected the token"):
        collect(gh, store, "acme/shop", token="ghp_wrong")
    with pytest.raises(NotFoundError, match="acme/nope not found"):
        collect(gh, store, "acme/nope")
    with github.make_client("http://127.0.0.1:9", None) as client:
        http = github.make_http(client, sleep=lambda s: None)
        with pytest.raises(NetworkError, match="cannot connect"):
            github.GitHubCollector(http, store, "acme/shop").collect(SINCE, None)
    assert store.counts()["runs"] == 0


def test_private_repo_without_token_is_not_found(gh: FakeGitHub, store: Store) -> None:
    gh.history_repo(RepoHistory("acme", "secret", runs=8, private=True))
    with pytest.raises(NotFoundError, match="cannot see it"):
        collect(gh, store, "acme/secret", token=None)


def test_workflow_filter_by_file_and_by_name(gh: FakeGitHub, store: Store) -> None:
    history = RepoHistory("acme", "shop", runs=10)
    gh.history_repo(history)
    collect(gh, store, "acme/shop", workflow="ci.yml")
    assert store.counts()["runs"] == ground_truth(history)[0]
    assert any("/workflows/ci.yml/runs" in r.route for r in gh.requests)
    gh.clear_requests()
    collect(gh, store, "acme/shop", workflow="CI")
    assert any(r.route.endswith("/actions/workflows") for r in gh.requests)
    with pytest.raises(NotFoundError, match="no workflow named"):
        collect(gh, store, "acme/shop", workflow="Nightly")


def test_token_never_reaches_the_database(gh: FakeGitHub, store: Store, token: str) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=10))
    collect(gh, store, "acme/shop")
    for (table,) in store.con.execute(
        "SELECT table_name FROM information_schema.tables"
    ).fetchall():
        dump = str(store.con.execute(f"SELECT * FROM {table}").fetchall())
        assert token not in dump, table


def test_request_window_split_on_exact_second_boundaries() -> None:
    window = github.Window(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))
    halves = window.split(datetime(2024, 6, 1, tzinfo=UTC))
    assert halves is not None
    left, right = halves
    assert left.end is not None and right.start == left.end + timedelta(seconds=1)
    assert left.query() == "2024-05-01T00:00:00Z..2024-05-01T12:00:00Z"
    assert github.Window(datetime(2024, 5, 1, tzinfo=UTC), None).query() == ">=2024-05-01T00:00:00Z"
