"""The Jenkins collector against a local server that behaves like Jenkins."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ci_profile.collectors import jenkins
from ci_profile.collectors.common import CollectResult
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
from fakejenkins import DEFAULT_TOKEN, DEFAULT_USER, FakeJenkins
from jenkins_payloads import JobHistory

SINCE = datetime(2024, 5, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
JOB = "team/service/main"


@pytest.fixture
def fj() -> Iterator[FakeJenkins]:
    with FakeJenkins() as fake:
        yield fake
        assert fake.errors == [], "the fake Jenkins raised internally"


def collect(
    fj: FakeJenkins,
    store: Store,
    job: str = JOB,
    *,
    auth: tuple[str, str] | None = (DEFAULT_USER, DEFAULT_TOKEN),
    since: datetime = SINCE,
    url: str | None = None,
    **kwargs: Any,
) -> CollectResult:
    secret = (auth[0], Secret(auth[1])) if auth else None
    max_requests = kwargs.pop("max_requests", None)
    with jenkins.make_client(url or fj.url, secret) as client:
        http = jenkins.make_http(client, sleep=lambda s: None, max_requests=max_requests)
        collector = jenkins.JenkinsCollector(
            http, store, job, authenticated=auth is not None, now=lambda: NOW, **kwargs
        )
        return collector.collect(since)


def snapshot(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {
        t: store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("runs", "jobs", "steps", "pipeline_files")
    }


def ground_truth(history: JobHistory) -> tuple[int, int, int]:
    describes = history.describes.values()
    stages = sum(len(d["stages"]) for d in describes)
    nodes = sum(len(s["stageFlowNodes"]) for d in describes for s in d["stages"])
    return len(history.by_number), stages, nodes


def describes_fetched(fj: FakeJenkins) -> set[int]:
    return {int(r.path.split("/")[-3]) for r in fj.requests if r.path.endswith("/wfapi/describe")}


def test_full_collection_matches_ground_truth(fj: FakeJenkins, store: Store) -> None:
    history = JobHistory(JOB, builds=130, in_progress=1)
    fj.add_job(history)
    result = collect(fj, store)
    runs, jobs, steps = ground_truth(history)
    assert store.counts() == {"runs": runs, "jobs": jobs, "steps": steps, "pipeline_files": 0}
    assert (result.runs_listed, result.runs_fetched, result.runs) == (130, 130, 130)
    # Two range requests (the first one also names the job) and one describe per build.
    assert result.requests == 2 + 130
    trees = [r.query["tree"] for r in fj.requests if r.path.endswith("/api/json")]
    assert trees[0].endswith("{0,100}") and "fullName" in trees[0] and "allBuilds[" in trees[0]
    assert trees[1].startswith("allBuilds[") and trees[1].endswith("{100,200}")
    assert not any(
        "/wfapi/runs" in r.path or "builds[" in r.query.get("tree", "")[:7] for r in fj.requests
    )
    assert all(
        r.query.get("fullStages") == "true" for r in fj.requests if "/wfapi/describe" in r.path
    )
    assert result.warnings == []
    con = store.con
    assert con.execute("SELECT count(*) FROM runs WHERE status = 'in_progress'").fetchone() == (1,)
    assert con.execute("SELECT DISTINCT project, attempt FROM runs").fetchall() == [(JOB, 1)]
    assert con.execute("SELECT count(*) FROM steps WHERE source <> 'node'").fetchone() == (0,)
    negative = con.execute(
        "SELECT count(*) FROM jobs WHERE finished_at < started_at OR queued_s < 0"
    ).fetchone()
    assert negative == (0,)
    cursor = store.cursor("jenkins", JOB, "builds")
    assert cursor == "129"  # the newest build is still running


def test_collecting_twice_is_identical_and_fetches_nothing_old(
    fj: FakeJenkins, store: Store
) -> None:
    history = JobHistory(JOB, builds=40, in_progress=0)
    fj.add_job(history)
    collect(fj, store)
    before = snapshot(store)
    fj.clear_requests()
    second = collect(fj, store)
    assert snapshot(store) == before
    assert second.requests == 1 and second.runs_fetched == 0 and describes_fetched(fj) == set()
    assert second.runs_listed == 0


def test_incremental_fetches_only_new_and_unfinished(fj: FakeJenkins, store: Store) -> None:
    history = JobHistory(JOB, builds=20, in_progress=2)
    fj.add_job(history)
    collect(fj, store)
    unfinished = set(history.in_progress_numbers())
    assert store.cursor("jenkins", JOB, "builds") == str(min(unfinished) - 1)
    for number in unfinished:
        history.finish(number)
    new = set(history.extend(5))
    fj.clear_requests()
    result = collect(fj, store)
    assert describes_fetched(fj) == unfinished | new
    assert result.runs_fetched == len(unfinished | new) and result.requests == 1 + 7
    runs, jobs, steps = ground_truth(history)
    assert store.counts()["runs"] == runs and store.counts()["jobs"] == jobs
    assert store.counts()["steps"] == steps
    assert store.con.execute(
        "SELECT count(*) FROM runs WHERE status <> 'completed'"
    ).fetchone() == (0,)
    assert store.cursor("jenkins", JOB, "builds") == str(max(history.by_number))


def test_since_bounds_the_listing_and_an_older_since_backfills(
    fj: FakeJenkins, store: Store
) -> None:
    history = JobHistory(JOB, builds=160, in_progress=0)
    fj.add_job(history)
    middle = datetime.fromtimestamp(history.by_number[120]["timestamp"] / 1000, tz=UTC)
    first = collect(fj, store, since=middle)
    assert first.runs_listed == 41 and first.requests == 1 + 41
    assert store.con.execute("SELECT min(run_number) FROM runs").fetchone() == (120,)
    fj.clear_requests()
    older = datetime.fromtimestamp(history.by_number[10]["timestamp"] / 1000, tz=UTC)
    backfill = collect(fj, store, since=older)
    assert describes_fetched(fj) == set(range(10, 120))
    assert backfill.runs_fetched == 110
    assert store.counts()["runs"] == 151
    fj.clear_requests()
    again = collect(fj, store, since=older)
    assert again.requests == 1 and describes_fetched(fj) == set()


def test_unfinished_build_is_revisited_even_when_older_than_since(
    fj: FakeJenkins, store: Store
) -> None:
    history = JobHistory(JOB, builds=150, in_progress=1)
    fj.add_job(history)
    (running,) = history.in_progress_numbers()
    collect(fj, store)
    history.finish(running)
    history.extend(120)
    later = datetime.fromtimestamp(history.by_number[running + 60]["timestamp"] / 1000, tz=UTC)
    fj.clear_requests()
    collect(fj, store, since=later)
    assert running in describes_fetched(fj)
    status = store.con.execute(
        "SELECT status FROM runs WHERE run_id = ?", [str(running)]
    ).fetchone()
    assert status == ("completed",)


def test_without_stage_view_builds_are_stored_whole_with_a_warning(store: Store) -> None:
    with FakeJenkins(stage_view=False) as fj:
        history = JobHistory(JOB, builds=12, in_progress=0)
        fj.add_job(history)
        result = collect(fj, store)
        probes = fj.count(f"{jenkins.job_url(JOB.split('/'))}/wfapi/describe")
    assert len(result.warnings) == 1 and "Stage View" in result.warnings[0]
    assert store.counts()["runs"] == 12 and store.counts()["jobs"] == 12
    assert store.counts()["steps"] == 0
    rows = store.con.execute("SELECT DISTINCT name, stage FROM jobs").fetchall()
    assert rows == [("build", None)]
    assert probes == 1  # asked once whether the plugin is there
    assert result.requests <= 1 + 1 + 2  # the listing, the probe, the in-flight describes


def test_a_freestyle_job_is_never_asked_for_wfapi(fj: FakeJenkins, store: Store) -> None:
    fj.add_job(JobHistory("legacy/nightly-dump", builds=8, in_progress=0, freestyle=True))
    result = collect(fj, store, "legacy/nightly-dump")
    assert result.requests == 1 and result.warnings == []
    assert store.con.execute(
        "SELECT DISTINCT runner, pipeline_path FROM jobs JOIN runs USING "
        "(provider, project, run_id, attempt)"
    ).fetchall() == [("agent-7", None)]


def test_credentials_and_permissions(fj: FakeJenkins, store: Store) -> None:
    fj.add_job(JobHistory(JOB, builds=5))
    with pytest.raises(AuthError, match=r"rejected the credentials \(HTTP 401\)"):
        collect(fj, store, auth=(DEFAULT_USER, "not-the-token"))
    with pytest.raises(AuthError, match="anonymous access"):
        collect(fj, store, auth=None)
    fj.users["nobody"] = "tok"
    fj.no_overall_read.add("nobody")
    with pytest.raises(AuthError, match="Overall/Read"):
        collect(fj, store, auth=("nobody", "tok"))
    fj.hide(DEFAULT_USER, JOB)
    with pytest.raises(NotFoundError, match=f"job {JOB} not found"):
        collect(fj, store)
    assert store.counts()["runs"] == 0


def test_missing_job_wrong_url_and_no_server(fj: FakeJenkins, store: Store) -> None:
    fj.add_job(JobHistory(JOB, builds=5))
    with pytest.raises(NotFoundError, match="job team/service/nope not found"):
        collect(fj, store, "team/service/nope")
    with pytest.raises(ProviderError, match="no Jenkins API at this URL"):
        collect(fj, store, url=fj.url + "/jenkins")
    with html_server() as url, pytest.raises(ProviderError, match="did not answer with JSON"):
        collect(fj, store, url=url)
    with pytest.raises(NetworkError, match="cannot connect"):
        collect(fj, store, url="http://127.0.0.1:9")
    with pytest.raises(UsageError, match="job path"):
        collect(fj, store, "team//main")
    assert store.counts()["runs"] == 0


def test_folders_and_multibranch_projects_are_not_jobs(fj: FakeJenkins, store: Store) -> None:
    fj.add_job(JobHistory("team/service/main", builds=3), multibranch=True)
    fj.add_job(JobHistory("team/service/PR-7", builds=3), multibranch=True)
    with pytest.raises(UsageError, match=r"not a job; it holds main, PR-7; .* team/service/main"):
        collect(fj, store, "team/service")
    with pytest.raises(UsageError, match="folder or multibranch project"):
        collect(fj, store, "team")


def test_a_multibranch_branch_takes_its_branch_from_the_job(fj: FakeJenkins, store: Store) -> None:
    history = JobHistory("team/service/feature%2Fcart", builds=6, in_progress=0, branch=None)
    for plan in (history.plan(n) for n in history.by_number):
        plan.event = "branch"
        history.rerender(plan.number)
    fj.add_job(history, multibranch=True)
    collect(fj, store, "team/service/feature%2Fcart")
    assert fj.count("/job/team/job/service/api/json") == 1
    assert any("feature%252Fcart" in r.path or "feature%2Fcart" in r.path for r in fj.requests)
    rows = store.con.execute("SELECT DISTINCT project, branch, event, sha FROM runs").fetchall()
    assert rows == [("team/service/feature%2Fcart", "feature/cart", "push", None)]


def test_jenkins_under_a_context_path(store: Store) -> None:
    with FakeJenkins(context_path="/jenkins") as fj:
        fj.add_job(JobHistory(JOB, builds=4, in_progress=0))
        collect(fj, store)
    assert store.counts()["runs"] == 4


def test_transient_faults_are_retried_to_the_exact_truth(fj: FakeJenkins, store: Store) -> None:
    history = JobHistory(JOB, builds=15)
    fj.add_job(history)
    fj.inject(502, path_contains="/api/json", times=2)
    fj.inject(None, path_contains="/wfapi/describe", times=1)
    fj.inject(503, path_contains="/wfapi/describe", times=1)
    result = collect(fj, store)
    runs, jobs, steps = ground_truth(history)
    assert store.counts() == {"runs": runs, "jobs": jobs, "steps": steps, "pipeline_files": 0}
    assert result.retries >= 4


def test_a_build_deleted_after_listing_is_skipped(fj: FakeJenkins, store: Store) -> None:
    history = JobHistory(JOB, builds=10, in_progress=0)
    fj.add_job(history)
    fj.inject(404, path_contains=f"{jenkins.job_url(JOB.split('/'))}/7/wfapi/describe")
    result = collect(fj, store)
    assert result.warnings == []
    numbers = {r[0] for r in store.con.execute("SELECT run_number FROM runs").fetchall()}
    assert numbers == set(range(1, 11)) - {7}
    assert store.cursor("jenkins", JOB, "builds") == "10"


def test_a_spent_budget_keeps_whole_batches_and_the_next_run_completes(
    fj: FakeJenkins, store: Store
) -> None:
    history = JobHistory(JOB, builds=60, in_progress=0)
    fj.add_job(history)
    with pytest.raises(BudgetExhaustedError):
        collect(fj, store, max_requests=30, concurrency=1)
    kept = store.counts()["runs"]
    assert kept == jenkins.BATCH_BUILDS  # one whole batch committed, with its cursor
    assert store.cursor("jenkins", JOB, "builds") == str(jenkins.BATCH_BUILDS)
    fj.clear_requests()
    collect(fj, store)
    assert describes_fetched(fj) == set(range(kept + 1, 61))
    runs, jobs, steps = ground_truth(history)
    assert store.counts() == {"runs": runs, "jobs": jobs, "steps": steps, "pipeline_files": 0}


def test_more_than_a_hundred_child_nodes_warns(fj: FakeJenkins, store: Store) -> None:
    fj.add_job(JobHistory(JOB, builds=3, in_progress=0, steps_per_stage=140))
    result = collect(fj, store)
    assert len(result.warnings) == 3 and all("at most 100 steps" in w for w in result.warnings)


def test_token_never_reaches_the_database(fj: FakeJenkins, store: Store) -> None:
    fj.add_job(JobHistory(JOB, builds=6))
    collect(fj, store)
    for (table,) in store.con.execute(
        "SELECT table_name FROM information_schema.tables"
    ).fetchall():
        dump = str(store.con.execute(f"SELECT * FROM {table}").fetchall())
        assert DEFAULT_TOKEN not in dump, table


def test_job_paths() -> None:
    assert jenkins.job_url(["team", "service", "main"]) == "/job/team/job/service/job/main"
    assert jenkins.job_url(["a b", "feature%2Fx"]) == "/job/a%20b/job/feature%252Fx"
    assert jenkins.job_segments("/team/app/") == ["team", "app"]
    for bad in ("", "/", "a//b", " "):
        with pytest.raises(UsageError):
            jenkins.job_segments(bad)


class _HTML(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Welcome to nginx!</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def html_server() -> Iterator[str]:
    """Some other web server: every path answers 200 with an HTML page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HTML)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
