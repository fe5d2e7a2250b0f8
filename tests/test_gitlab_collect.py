"""The GitLab collector against a local server that behaves like GitLab's REST API."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ci_profile.collectors import gitlab, gitlab_records
from ci_profile.collectors.gitlab_files import ConfigFiles
from ci_profile.collectors.gitlab_http import make_client
from ci_profile.collectors.http import RetryPolicy
from ci_profile.core.config import Secret
from ci_profile.core.errors import (
    AuthError,
    BudgetExhaustedError,
    NetworkError,
    NotFoundError,
    ProviderError,
    UsageError,
)
from ci_profile.core.store import Store
from fakegitlab import DEFAULT_TOKEN, FakeGitLab, bare_429, reset, status, truncate
from gitlab_payloads import ProjectHistory, TraceBuilder

SINCE = datetime(2024, 4, 30, tzinfo=UTC)
NOW = datetime(2024, 5, 2, tzinfo=UTC)
PATH = "acme/platform/shop"


class Clock:
    """Shared by the fake server and the client: sleeping advances time instantly."""

    def __init__(self, start: float = 1_714_600_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def gl() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        yield fake
        assert fake.errors == [], "the fake GitLab server raised internally"


def collect(
    fake: FakeGitLab,
    store: Store,
    project: str = PATH,
    *,
    token: str | None = DEFAULT_TOKEN,
    since: datetime = SINCE,
    until: datetime | None = None,
    sleep: Callable[[float], None] = lambda s: None,
    clock: Callable[[], float] | None = None,
    policy: RetryPolicy | None = None,
    max_rate: float | None = None,
    max_requests: int | None = None,
    url: str | None = None,
    **kwargs: Any,
) -> gitlab.GitLabCollectResult:
    secret = Secret(token) if token else None
    with gitlab.make_client(url or fake.url, secret) as client:
        http = gitlab.make_http(
            client,
            sleep=sleep,
            clock=clock,
            policy=policy,
            max_rate=max_rate,
            max_requests=max_requests,
        )
        collector = gitlab.GitLabCollector(http, store, project, now=lambda: NOW, **kwargs)
        return collector.collect(since, until)


def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {
        t: store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("runs", "jobs", "steps", "pipeline_files")
    }


def steps_of(store: Store, job_id: int) -> list[tuple[str, int | None, int | None]]:
    rows = store.con.execute(
        "SELECT name, epoch(started_at)::BIGINT, epoch(finished_at)::BIGINT FROM steps "
        "WHERE job_id = ? ORDER BY seq",
        [str(job_id)],
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def traced(history: ProjectHistory) -> list[dict[str, Any]]:
    return [j for j in history.all_jobs() if gitlab_records.needs_trace(j)]


# -- a full collection -------------------------------------------------------------------------


def test_full_collection_matches_ground_truth(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=30, in_progress=2)
    gl.add_project(history)
    result = collect(gl, store)
    counts = store.counts()
    assert counts["runs"] == len(history.details)
    assert counts["jobs"] == len(history.all_jobs())
    assert counts["steps"] == history.expected_steps()
    for item in traced(history):
        assert steps_of(store, item["id"]) == history.expected[item["id"]], item["name"]
    assert result.runs_listed == len(history.top_level())
    assert result.child_pipelines == len(history.details) - len(history.top_level())
    assert result.traces == len(traced(history))
    # Requests: the project, one list page, then per pipeline its detail, one jobs page and its
    # bridges (a child's file has no trigger jobs, so no bridges for it), one log per finished
    # job, and the pipeline files once per commit (the child's file only where a child ran).
    shas = {d["sha"] for d in history.details.values()}
    child_shas = {d["sha"] for d in history.details.values() if d["source"] == "parent_pipeline"}
    files = 2 * len(shas) + len(child_shas)
    top, children = len(history.top_level()), len(child_shas)
    assert result.requests == 2 + 3 * top + 2 * children + result.traces + files
    assert gl.count(r"/trace$") == result.traces
    assert result.warnings == []


def test_normalization_of_runs_jobs_and_steps(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=40, in_progress=2, cancelled_p=0.15)
    gl.add_project(history)
    collect(gl, store)
    con = store.con
    # The project is the full GitLab path, ids are text, attempts are 1.
    assert con.execute("SELECT DISTINCT project, provider FROM runs").fetchall() == [
        (PATH, "gitlab")
    ]
    assert con.execute("SELECT DISTINCT attempt FROM jobs").fetchall() == [(1,)]
    assert con.execute("SELECT DISTINCT source FROM steps").fetchall() == [("section",)]
    conclusions = {r[0] for r in con.execute("SELECT DISTINCT conclusion FROM jobs").fetchall()}
    assert conclusions <= {"success", "failure", "cancelled", "skipped", "other", None}
    assert "cancelled" in conclusions
    # canceled -> cancelled, manual (never played) -> skipped, running/pending -> NULL
    rows = dict(
        con.execute("SELECT status, any_value(conclusion) FROM jobs GROUP BY status").fetchall()
    )
    assert rows["canceled"] == "cancelled" and rows["manual"] == "skipped"
    assert rows["running"] is None and rows.get("pending") is None
    # Queue time is queued_duration; unknown is NULL, never 0; never negative.
    raw = next(j for j in history.all_jobs() if j["queued_duration"] is not None)
    stored = con.execute("SELECT queued_s FROM jobs WHERE job_id = ?", [str(raw["id"])]).fetchone()
    assert stored == (pytest.approx(raw["queued_duration"]),)
    assert con.execute("SELECT count(*) FROM jobs WHERE queued_s < 0").fetchone() == (0,)
    never_started = con.execute(
        "SELECT count(*), count(queued_s) FROM jobs WHERE started_at IS NULL"
    ).fetchone()
    assert never_started is not None and never_started[0] > 0 and never_started[1] == 0
    # Runner description and tags.
    assert con.execute("SELECT count(*) FROM jobs WHERE runner = 'shared-runner-7'").fetchone() != (
        0,
    )
    assert con.execute("SELECT DISTINCT labels FROM jobs WHERE runner IS NOT NULL").fetchall() == [
        (["docker"],)
    ]
    # Retried jobs are separate rows that keep their own conclusion.
    retried = con.execute(
        "SELECT run_id, name, list(conclusion ORDER BY job_id::BIGINT) FROM jobs "
        "GROUP BY run_id, name HAVING count(*) > 1"
    ).fetchall()
    assert retried and all(r[2][0] == "failure" for r in retried)
    # Child pipelines point at their parent and are named after the file they ran.
    child = con.execute(
        "SELECT parent_run_id, pipeline, pipeline_path, event FROM runs WHERE parent_run_id IS NOT NULL"
    ).fetchall()
    assert child and all(
        c[1:] == ("ci/review.yml", "ci/review.yml", "parent_pipeline") for c in child
    )
    assert {c[0] for c in child} <= {str(i) for i in history.details}
    top = con.execute(
        "SELECT DISTINCT pipeline, pipeline_path FROM runs WHERE parent_run_id IS NULL"
    ).fetchall()
    assert set(top) <= {(".gitlab-ci.yml", ".gitlab-ci.yml"), ("Nightly", ".gitlab-ci.yml")}
    # Unfinished pipelines have no end; finished ones have one.
    assert con.execute(
        "SELECT count(*) FROM runs WHERE status = 'running' AND finished_at IS NOT NULL"
    ).fetchone() == (0,)
    assert con.execute(
        "SELECT count(*) FROM runs WHERE status = 'success' AND finished_at IS NULL"
    ).fetchone() == (0,)
    # No negative durations anywhere; a section cut off by a cancellation ends NULL.
    assert con.execute("SELECT count(*) FROM steps WHERE finished_at < started_at").fetchone() == (
        0,
    )
    assert con.execute("SELECT count(*) FROM steps WHERE finished_at IS NULL").fetchone() != (0,)
    # The pipeline files at every commit, includes too.
    paths = {r[0] for r in con.execute("SELECT DISTINCT path FROM pipeline_files").fetchall()}
    assert paths == {".gitlab-ci.yml", "ci/templates.yml", "ci/review.yml"}
    assert con.execute("SELECT count(*) FROM pipeline_files WHERE content IS NULL").fetchone() == (
        0,
    )


def test_classification_sees_the_scripts_through_the_stored_files(
    gl: FakeGitLab, store: Store
) -> None:
    from ci_profile.analysis.classify import default_rules
    from ci_profile.analysis.refresh import refresh_classification

    gl.add_project(ProjectHistory(pipelines=12, in_progress=0))
    collect(gl, store)
    refresh_classification(store, default_rules())
    rows = dict(
        store.con.execute(
            "SELECT c.name || '@' || j.name, any_value(c.category) FROM classified_steps c "
            "JOIN jobs j USING (provider, project, job_id) GROUP BY ALL"
        ).fetchall()
    )
    assert rows["step_script@unit"] == "test"
    assert rows["step_script@lint"] == "lint"
    assert rows["step_script@build-image"] == "publish"
    assert rows["db_migrate@integration"] == "environment"
    assert rows["step_script@deploy-review"] == "environment"
    assert rows["prepare_executor@integration"] == "setup"
    assert "other" not in rows.values()


# -- incremental -------------------------------------------------------------------------------


def test_collecting_twice_is_identical_and_cheap(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=25, in_progress=0)
    gl.add_project(history)
    collect(gl, store)
    before = snapshot(store)
    gl.clear_requests()
    second = collect(gl, store)
    assert snapshot(store) == before
    # The project and one list page from the watermark on: nothing old is fetched again.
    assert second.requests == 2
    assert [r.path.rsplit("/", 1)[-1] for r in gl.requests] == ["shop", "pipelines"]
    assert second.runs_fetched == 0 and second.traces == 0


def test_incremental_fetches_only_new_and_unfinished(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=20, in_progress=2)
    gl.add_project(history)
    collect(gl, store)
    unfinished = history.in_progress_ids()
    for pipeline_id in unfinished:
        history.finish(pipeline_id)
    new = history.extend(4)
    gl.clear_requests()
    result = collect(gl, store)
    details = {
        int(r.path.rsplit("/", 1)[-1]) for r in gl.requests if r.path.split("/")[-1].isdigit()
    }
    top_fetched = {d for d in details if history.details[d]["source"] != "parent_pipeline"}
    assert top_fetched == set(unfinished) | set(new)
    assert store.counts()["runs"] == len(history.details)
    assert store.counts()["jobs"] == len(history.all_jobs())
    assert store.counts()["steps"] == history.expected_steps()
    assert store.con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone() == (
        0,
    )
    # Logs were read only for jobs that finished since: none twice.
    traced_ids = [int(r.path.split("/")[-2]) for r in gl.requests if r.path.endswith("/trace")]
    assert len(traced_ids) == len(set(traced_ids)) == result.traces
    assert all(history.expected[j] for j in traced_ids)


def test_a_retry_long_after_adds_the_new_job_and_keeps_the_old_ones(
    gl: FakeGitLab, store: Store
) -> None:
    history = ProjectHistory(pipelines=10, in_progress=0)
    gl.add_project(history)
    collect(gl, store)
    target = history.top_level()[0]["id"]
    old_steps = store.counts()["steps"]
    fresh = history.retry_job(target, "unit", at=NOW - timedelta(hours=2))
    gl.clear_requests()
    result = collect(gl, store)
    assert [r.path for r in gl.requests if r.path.endswith("/trace")] == [
        f"/api/v4/projects/{history.project_id}/jobs/{fresh['id']}/trace"
    ]
    assert result.traces == 1
    assert store.counts()["steps"] == old_steps + len(history.expected[fresh["id"]])
    names = store.con.execute(
        "SELECT count(*) FROM jobs WHERE run_id = ? AND name = 'unit'", [str(target)]
    ).fetchone()
    assert names == (2,)


def test_revisits_unfinished_pipelines_even_when_their_list_entry_is_old(
    gl: FakeGitLab, store: Store
) -> None:
    history = ProjectHistory(pipelines=8, in_progress=1)
    gl.add_project(history)
    collect(gl, store)
    (pending,) = history.in_progress_ids()
    history.finish(pending)
    # A watermark far ahead: the listing would not show it; the revisit by id does.
    gl.clear_requests()
    collect(gl, store, since=NOW)
    assert store.con.execute(
        "SELECT status FROM runs WHERE run_id = ?", [str(pending)]
    ).fetchone() != ("running",)


def test_an_older_since_backfills_once(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=30, in_progress=0, spacing_s=3600)
    gl.add_project(history)
    middle = datetime(2024, 5, 1, 20, tzinfo=UTC)
    collect(gl, store, since=middle)
    partial = store.counts()["runs"]
    assert 0 < partial < len(history.details)
    collect(gl, store, since=SINCE)
    assert store.counts()["runs"] == len(history.details)
    gl.clear_requests()
    assert collect(gl, store, since=SINCE).requests == 2


def test_until_bounds_the_window_and_leaves_the_cursors(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=20, in_progress=0, spacing_s=3600)
    gl.add_project(history)
    collect(gl, store, until=datetime(2024, 5, 1, 14, tzinfo=UTC))
    assert 0 < store.counts()["runs"] < len(history.details)
    assert store.cursor("gitlab", PATH, "pipelines:watermark") is None
    assert any(r.query.get("updated_before") for r in gl.requests)


# -- pagination --------------------------------------------------------------------------------


@pytest.mark.parametrize("inclusive", [True, False], ids=["updated_after>=", "updated_after>"])
def test_many_pages_are_walked_by_seeking(inclusive: bool, store: Store) -> None:
    with FakeGitLab(updated_after_inclusive=inclusive) as fake:
        history = ProjectHistory(pipelines=57, in_progress=0, spacing_s=900)
        fake.add_project(history)
        result = collect(fake, store, per_page=10)
        assert result.runs_listed == len(history.top_level())
        assert store.counts()["runs"] == len(history.details)
        lists = [r for r in fake.requests if r.path.endswith("/pipelines")]
        assert len(lists) >= 6
        assert {r.query.get("page", "1") for r in lists} == {"1"}  # never deep into offsets
        assert fake.errors == []


def test_max_offset_and_missing_pagination_headers_do_not_stop_the_walk(store: Store) -> None:
    with FakeGitLab(max_offset=20, pagination_headers=False) as fake:
        history = ProjectHistory(pipelines=45, in_progress=0, spacing_s=600)
        fake.add_project(history)
        collect(fake, store, per_page=10)
        assert store.counts()["runs"] == len(history.details)
        assert fake.count(r"/pipelines$", status=405) == 0
        assert fake.errors == []


def test_past_ten_thousand_records_without_x_total(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=1, in_progress=0)
    pipeline = history.top_level()[0]
    filler = [
        {**history.jobs[pipeline["id"]][-1], "id": 900_000 + i, "name": f"shard {i}", "status": "created",
         "started_at": None, "finished_at": None, "queued_duration": None}
        for i in range(10_050)
    ]  # fmt: skip
    history.jobs[pipeline["id"]] = history.jobs[pipeline["id"]] + filler
    gl.add_project(history)
    collect(gl, store)
    pages = [r for r in gl.requests if r.path.endswith("/jobs")]
    assert len(pages) == 101  # 10,050 + a few real jobs, 100 a page
    assert store.counts()["jobs"] == len(history.jobs[pipeline["id"]]) + sum(
        len(history.jobs[c]) for c in history.details if c != pipeline["id"]
    )


def test_child_pipelines_listed_by_older_gitlab_are_not_collected_twice(store: Store) -> None:
    with FakeGitLab(child_pipelines_listed=True) as fake:
        history = ProjectHistory(pipelines=15, in_progress=0)
        fake.add_project(history)
        collect(fake, store)
        children = [d for d in history.details.values() if d["source"] == "parent_pipeline"]
        assert children
        for child in children:
            assert fake.count(rf"/pipelines/{child['id']}$") == 1
        rows = store.con.execute(
            "SELECT count(*) FROM runs WHERE event = 'parent_pipeline' AND parent_run_id IS NULL"
        ).fetchone()
        assert rows == (0,)


def test_wildcard_includes_come_from_the_keyset_paginated_tree(
    gl: FakeGitLab, store: Store
) -> None:
    history = ProjectHistory(pipelines=2, in_progress=0)
    for (path, sha), text in list(history.files.items()):
        if path == ".gitlab-ci.yml":
            history.files[(path, sha)] = text.replace(
                "- local: /ci/templates.yml", "- local: ci/*.yml"
            )
            for i in range(150):
                history.files[(f"ci/extra/{i:03}.yml", sha)] = f".x{i}:\n  script: [echo]\n"
    gl.add_project(history)
    collect(gl, store)
    trees = [r for r in gl.requests if r.path.endswith("/repository/tree")]
    assert trees and all(r.query["pagination"] == "keyset" for r in trees)
    assert any("page_token" in r.query for r in trees)
    paths = {r[0] for r in store.con.execute("SELECT DISTINCT path FROM pipeline_files").fetchall()}
    assert {"ci/templates.yml", "ci/review.yml"} <= paths
    assert not any(p.startswith("ci/extra/") for p in paths)  # ci/*.yml does not cross '/'


# -- logs --------------------------------------------------------------------------------------


def test_a_big_log_is_streamed_not_held(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=1, in_progress=0)
    gl.add_project(history)
    job = next(j for j in history.all_jobs() if j["name"] == "unit")
    t0 = 1_714_550_400
    filler = b"\x1b[32;1m" + b"y" * 200 + b"\x1b[0;m\n"
    head = b"\x1b[0Ksection_start:%d:step_script\r\x1b[0K\n" % t0
    tail = b"\x1b[0Ksection_end:%d:step_script\r\x1b[0K\n" % (t0 + 900)
    count = (40 * 1024 * 1024) // len(filler)

    def body() -> Iterator[bytes]:
        yield head
        block = filler * 256
        for _ in range(count // 256):
            yield block
        yield tail

    size = len(head) + len(tail) + len(filler) * 256 * (count // 256)
    gl.big_traces[job["id"]] = (size, body)
    tracemalloc.start()
    try:
        result = collect(gl, store)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert steps_of(store, job["id"]) == [("step_script", t0, t0 + 900)]
    assert result.trace_bytes >= size
    assert peak < 12 * 1024 * 1024, peak  # the 40 MB log never was in memory at once


def test_trace_redirect_to_object_storage_is_followed(store: Store) -> None:
    with FakeGitLab(trace_redirect=True) as fake:
        history = ProjectHistory(pipelines=3, in_progress=0)
        fake.add_project(history)
        collect(fake, store)
        assert store.counts()["steps"] == history.expected_steps()
        assert fake.count(r"^/_objects/traces/") == len(traced(history))


def test_the_token_is_not_sent_to_another_origin() -> None:
    seen: list[tuple[str, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("PRIVATE-TOKEN")))
        if request.url.host == "gitlab.example.com":
            return httpx.Response(
                302, headers={"Location": "https://storage.example.net/log?sig=x"}
            )
        return httpx.Response(200, content=b"log")

    with make_client(
        "https://gitlab.example.com", Secret("glpat-secret"), transport=httpx.MockTransport(handler)
    ) as client:
        assert client.get("/projects/1/jobs/2/trace").content == b"log"
    assert seen == [("gitlab.example.com", "glpat-secret"), ("storage.example.net", None)]


def test_jobs_without_a_log_or_without_sections_keep_their_job_timing(
    gl: FakeGitLab, store: Store
) -> None:
    history = ProjectHistory(pipelines=3, in_progress=0)
    jobs = traced(history)
    del history.traces[jobs[0]["id"]]  # the log was erased: 404
    history.traces[jobs[1]["id"]] = TraceBuilder().line("no sections here at all").bytes()
    history.traces[jobs[2]["id"]] = b""
    gl.add_project(history)
    result = collect(gl, store)
    for item in jobs[:3]:
        assert steps_of(store, item["id"]) == []
        row = store.con.execute(
            "SELECT started_at, finished_at FROM jobs WHERE job_id = ?", [str(item["id"])]
        ).fetchone()
        assert row is not None and row[0] is not None and row[1] is not None
    assert result.warnings == []
    gl.clear_requests()
    collect(gl, store)
    assert gl.count(r"/trace$") == 0  # they are not asked for again


def test_a_log_the_token_may_not_read_is_a_warning(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=3, in_progress=0)
    gl.add_project(history)
    gl.inject(status(403, {"message": "403 Forbidden"}), path_contains="/trace", times=1000)
    result = collect(gl, store)
    assert store.counts()["steps"] == 0 and store.counts()["jobs"] == len(history.all_jobs())
    assert len(result.warnings) == 1 and "job logs" in result.warnings[0]


def test_a_log_cut_off_in_transit_is_retried_then_kept_partial(
    gl: FakeGitLab, store: Store
) -> None:
    history = ProjectHistory(pipelines=2, in_progress=0)
    gl.add_project(history)
    job = traced(history)[0]
    gl.inject(truncate(), path_contains=f"/jobs/{job['id']}/trace", times=2)
    collect(gl, store)
    assert steps_of(store, job["id"]) == history.expected[job["id"]]
    gl.inject(truncate(), path_contains=f"/jobs/{job['id']}/trace", times=100)
    with Store.open(":memory:") as other:
        result = collect(gl, other)
        partial = steps_of(other, job["id"])
    assert any("ended early" in w for w in result.warnings)
    assert len(partial) < len(history.expected[job["id"]]) and all(
        b is None or a is None or b >= a for _, a, b in partial
    )


def test_an_unreadable_pipeline_file_does_not_stop_collection(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=3, in_progress=0)
    for key in list(history.files):
        if key[0] == ".gitlab-ci.yml":
            history.files[key] = "stages: [test\n"
    gl.add_project(history)
    result = collect(gl, store)
    assert store.counts()["runs"] == len(history.details)
    assert any("could not be read" in w for w in result.warnings)


# -- faults, rate limits, limits ---------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        status(500),
        status(502),
        status(503),
        reset(),
        truncate(),
        status(429, "Retry later\n", {"Retry-After": "2"}),
        bare_429(),
    ],
    ids=["500", "502", "503", "reset", "truncated", "429-retry-after", "429-bare"],
)
def test_transient_faults_are_retried_to_the_exact_truth(
    gl: FakeGitLab, store: Store, fault: Any
) -> None:
    history = ProjectHistory(pipelines=10, in_progress=0)
    gl.add_project(history)
    gl.inject(fault, path_contains="/pipelines?", times=2)
    gl.inject(fault, path_contains="/jobs?", times=1)
    gl.inject(fault, path_contains="/trace", times=1)
    slept: list[float] = []
    result = collect(gl, store, sleep=slept.append)
    assert store.counts()["steps"] == history.expected_steps()
    assert store.counts()["jobs"] == len(history.all_jobs())
    assert result.retries >= 3 and gl.pending_faults == 0
    if "Retry-After" in getattr(fault, "headers", {}):
        assert 2 in slept
    if getattr(fault, "bare", False):
        assert any(s >= 60 for s in slept)  # no header says how long: back off from a minute


def test_ratelimit_remaining_zero_waits_for_the_reset(store: Store) -> None:
    clock = Clock()
    with FakeGitLab(rate_limit=15, clock=clock) as fake:
        history = ProjectHistory(pipelines=4, in_progress=0)
        fake.add_project(history)
        result = collect(fake, store, sleep=clock.sleep, clock=clock, concurrency=1)
        assert store.counts()["steps"] == history.expected_steps()
        assert any(s >= 30 for s in clock.slept)
        assert fake.count("", status=429) == 0  # waited instead of sending doomed requests
        assert result.rate_limit == 15


def test_max_rate_spaces_requests(gl: FakeGitLab, store: Store) -> None:
    clock = Clock()
    gl.add_project(ProjectHistory(pipelines=2, in_progress=0))
    result = collect(gl, store, sleep=clock.sleep, clock=clock, max_rate=4)
    assert result.requests > 10
    assert clock.now - 1_714_600_000.0 == pytest.approx((result.requests - 1) * 0.25, abs=0.3)


def test_request_budget_stops_with_what_was_collected_kept(gl: FakeGitLab, store: Store) -> None:
    gl.add_project(ProjectHistory(pipelines=10, in_progress=0))
    with pytest.raises(BudgetExhaustedError, match="budget of 25"):
        collect(gl, store, max_requests=25, concurrency=1)
    assert store.counts()["runs"] == 0 or store.counts()["jobs"] > 0
    collect(gl, store)
    assert store.counts()["runs"] > 0


def test_a_budget_cut_during_file_fetches_stores_no_file_as_missing(
    gl: FakeGitLab, store: Store, tmp_path: Path
) -> None:
    history = ProjectHistory(pipelines=10, in_progress=0)
    gl.add_project(history)
    with Store.open(tmp_path / "reference.duckdb") as reference:
        collect(gl, reference, concurrency=1, per_page=3)
        expected = snapshot(reference)
    # One worker asks in a fixed order: let the budget run out just before an include file of a
    # pipeline on the second page, after the first page was committed.
    includes = [
        i
        for i, r in enumerate(gl.requests)
        if r.path.endswith("/repository/files/ci/templates.yml/raw")
    ]
    budget = includes[3]
    gl.clear_requests()
    with pytest.raises(BudgetExhaustedError, match=f"budget of {budget}"):
        collect(gl, store, max_requests=budget, concurrency=1, per_page=3)
    assert gl.requests[-1].path.endswith("/repository/files/.gitlab-ci.yml/raw")
    assert store.counts()["runs"] > 0
    # Nothing the server has is stored as missing (a missing file is never fetched again), and
    # every stored run has its pipeline file.
    for path, sha, content in store.con.execute(
        "SELECT path, sha, content FROM pipeline_files"
    ).fetchall():
        assert content == history.files.get((path, sha)), path
    assert store.unfetched_pipeline_files("gitlab", PATH) == []
    # The next collection completes it: every file with its content, nothing twice or lost.
    collect(gl, store)
    assert snapshot(store) == expected
    assert store.con.execute("SELECT count(*), count(content) FROM pipeline_files").fetchone() == (
        len(expected["pipeline_files"]),
        len(expected["pipeline_files"]),
    )


def test_an_include_the_budget_cut_off_is_not_recorded_as_missing(
    gl: FakeGitLab, store: Store
) -> None:
    history = ProjectHistory(pipelines=1, in_progress=0)
    gl.add_project(history)
    sha = history.details[5000]["sha"]
    with make_client(gl.url, Secret(DEFAULT_TOKEN)) as client:
        http = gitlab.make_http(client, sleep=lambda s: None, max_requests=1)
        files = ConfigFiles(http, store, PATH, f"/projects/{history.project_id}")
        # The root file takes the one request; its include must not come back as "not found".
        with pytest.raises(BudgetExhaustedError):
            files.config(".gitlab-ci.yml", sha)
    assert [(f.path, f.content is not None) for f in files.drain()] == [(".gitlab-ci.yml", True)]
    assert files.warnings == []


def test_bad_token_unknown_project_wrong_url_and_no_server(gl: FakeGitLab, store: Store) -> None:
    gl.add_project(ProjectHistory(pipelines=3, in_progress=0))
    with pytest.raises(AuthError, match="rejected the token"):
        collect(gl, store, token="glpat-wrong")
    with pytest.raises(
        NotFoundError, match="project acme/nope not found, or the token cannot see it"
    ):
        collect(gl, store, "acme/nope")
    with pytest.raises(NotFoundError, match="cannot see it"):
        collect(gl, store, token=None)  # private without a token: GitLab says 404
    with pytest.raises(ProviderError, match="no GitLab API answers"):
        collect(gl, store, url=gl.url + "/gitlab")
    with pytest.raises(NetworkError, match="cannot connect"):
        collect(gl, store, url="http://127.0.0.1:9")
    with pytest.raises(UsageError, match="GROUP/PROJECT"):
        collect(gl, store, "just-a-name")
    with pytest.raises(UsageError, match="not an http"):
        collect(gl, store, url="gitlab.example.com")
    assert store.counts()["runs"] == 0


def test_public_project_without_a_token(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=3, in_progress=0, visibility="public")
    gl.add_project(history)
    collect(gl, store, token=None)
    assert store.counts()["jobs"] == len(history.all_jobs())
    assert not any(r.token_sent for r in gl.requests)


def test_project_path_case_is_canonical(gl: FakeGitLab, store: Store) -> None:
    gl.add_project(ProjectHistory(pipelines=2, in_progress=0))
    result = collect(gl, store, "ACME/Platform/Shop")
    assert result.project == PATH
    assert store.con.execute("SELECT DISTINCT project FROM runs").fetchall() == [(PATH,)]


def test_token_never_reaches_the_database(gl: FakeGitLab, store: Store) -> None:
    gl.add_project(ProjectHistory(pipelines=4, in_progress=1))
    collect(gl, store)
    for (table,) in store.con.execute(
        "SELECT table_name FROM information_schema.tables"
    ).fetchall():
        assert DEFAULT_TOKEN not in str(store.con.execute(f"SELECT * FROM {table}").fetchall()), (
            table
        )


def test_request_counts_per_pipeline(gl: FakeGitLab, store: Store) -> None:
    """Recorded for the README: requests per pipeline in a full and an incremental run."""
    history = ProjectHistory(pipelines=40, in_progress=0)
    gl.add_project(history)
    full = collect(gl, store)
    history.extend(10)
    gl.clear_requests()
    incremental = collect(gl, store)
    per_job = Counter(
        r.path.rsplit("/", 1)[-1] for r in gl.requests if not r.path.split("/")[-1].isdigit()
    )
    assert full.requests / len(history.top_level()) < 20
    assert incremental.runs_fetched == 10
    assert per_job["pipelines"] == 1 and per_job["shop"] == 1


def test_clock_skew_in_api_times_is_null_not_negative(gl: FakeGitLab, store: Store) -> None:
    history = ProjectHistory(pipelines=2, in_progress=0)
    skewed = traced(history)[0]
    skewed["finished_at"] = "2020-01-01T00:00:00.000Z"
    skewed["queued_duration"] = -3.5
    pipeline = history.top_level()[0]
    pipeline["finished_at"] = "2020-01-01T00:00:00.000Z"
    gl.add_project(history)
    collect(gl, store)
    job = store.con.execute(
        "SELECT started_at IS NOT NULL, finished_at, queued_s FROM jobs WHERE job_id = ?",
        [str(skewed["id"])],
    ).fetchone()
    assert job == (True, None, None)
    run = store.con.execute(
        "SELECT finished_at FROM runs WHERE run_id = ?", [str(pipeline["id"])]
    ).fetchone()
    assert run == (None,)
