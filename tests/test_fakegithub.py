"""Tests of the fake GitHub server itself (httpx as the client), so collector tests can trust it."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fakegithub import (
    DEFAULT_TOKEN,
    FakeGitHub,
    created_filter,
    delay,
    reset,
    running,
    secondary_rate_limit,
    status,
    truncate,
)
from payloads import (
    RepoHistory,
    git_blob_sha,
    iso_z,
    job,
    parse_ts,
    step,
    workflow_run,
)
from ruamel.yaml import YAML

AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
REPO = "octo-org/octo-repo"

# Field sets of GitHub's own examples (api-examples/github-workflow-runs.json, github-run-jobs.json)
RUN_KEYS = {
    "actor",
    "artifacts_url",
    "cancel_url",
    "check_suite_id",
    "check_suite_node_id",
    "check_suite_url",
    "conclusion",
    "created_at",
    "display_title",
    "event",
    "head_branch",
    "head_commit",
    "head_repository",
    "head_sha",
    "html_url",
    "id",
    "jobs_url",
    "logs_url",
    "name",
    "node_id",
    "path",
    "pull_requests",
    "repository",
    "rerun_url",
    "run_attempt",
    "run_number",
    "run_started_at",
    "status",
    "triggering_actor",
    "updated_at",
    "url",
    "workflow_id",
    "workflow_url",
}
JOB_KEYS = {
    "check_run_url",
    "completed_at",
    "conclusion",
    "head_branch",
    "head_sha",
    "html_url",
    "id",
    "labels",
    "name",
    "node_id",
    "run_id",
    "run_url",
    "runner_group_id",
    "runner_group_name",
    "runner_id",
    "runner_name",
    "started_at",
    "status",
    "steps",
    "url",
    "workflow_name",
}
STEP_KEYS = {"completed_at", "conclusion", "name", "number", "started_at", "status"}
REPO_KEYS = {
    "archive_url",
    "assignees_url",
    "blobs_url",
    "branches_url",
    "collaborators_url",
    "comments_url",
    "commits_url",
    "compare_url",
    "contents_url",
    "contributors_url",
    "deployments_url",
    "description",
    "downloads_url",
    "events_url",
    "fork",
    "forks_url",
    "full_name",
    "git_commits_url",
    "git_refs_url",
    "git_tags_url",
    "git_url",
    "hooks_url",
    "html_url",
    "id",
    "issue_comment_url",
    "issue_events_url",
    "issues_url",
    "keys_url",
    "labels_url",
    "languages_url",
    "merges_url",
    "milestones_url",
    "name",
    "node_id",
    "notifications_url",
    "owner",
    "private",
    "pulls_url",
    "releases_url",
    "ssh_url",
    "stargazers_url",
    "statuses_url",
    "subscribers_url",
    "subscription_url",
    "tags_url",
    "teams_url",
    "trees_url",
    "url",
}
STEP_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}-08:00")
JOB_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


TLS = httpx.create_ssl_context()  # built once: a context per client costs ~0.1 s


def connect(gh: FakeGitHub, prefix: str = "", *, auth: bool = True) -> httpx.Client:
    return httpx.Client(
        base_url=gh.url + prefix, headers=AUTH if auth else None, timeout=5, verify=TLS
    )


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def history() -> RepoHistory:
    return RepoHistory(runs=45, seed=11)


@pytest.fixture
def gh(history: RepoHistory) -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.history_repo(history)
        yield fake
        assert fake.errors == []


@pytest.fixture
def client(gh: FakeGitHub) -> Iterator[httpx.Client]:
    with connect(gh) as c:
        yield c


def walk(c: httpx.Client, url: str, key: str, **params: Any) -> tuple[list[Any], int]:
    items: list[Any] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        r = c.get(next_url, params=params if pages == 0 else None)
        r.raise_for_status()
        items += r.json()[key]
        pages += 1
        next_url = r.links.get("next", {}).get("url")
    return items, pages


def bulk_runs(n: int, start: datetime, step_s: float) -> list[dict[str, Any]]:
    return [
        workflow_run(
            1000 + i,
            created_at=start + timedelta(seconds=i * step_s),
            head_branch="main" if i % 2 else "dev",
            event="push" if i % 3 else "pull_request",
            status="completed",
            conclusion="failure" if i % 5 == 0 else "success",
            run_number=i + 1,
        )
        for i in range(n)
    ]


# ------------------------------------------------------------------------------- pagination


def test_link_pagination_walks_every_page_once(
    gh: FakeGitHub, client: httpx.Client, history: RepoHistory
) -> None:
    items, pages = walk(client, f"/repos/{REPO}/actions/runs", "workflow_runs", per_page=10)
    assert pages == 5 and gh.count(f"/repos/{REPO}/actions/runs") == 5
    ids = [r["id"] for r in items]
    assert len(ids) == len(set(ids)) == 45
    assert set(ids) == {r["id"] for r in history.runs}
    created = [parse_ts(r["created_at"]) for r in items]
    assert created == sorted(created, reverse=True)  # newest first
    assert sorted(int(r.query["page"]) for r in gh.requests[1:]) == [2, 3, 4, 5]
    assert all(r.query["per_page"] == "10" for r in gh.requests)


def test_link_rels_and_repositories_form(
    gh: FakeGitHub, client: httpx.Client, history: RepoHistory
) -> None:
    first = client.get(f"/repos/{REPO}/actions/runs", params={"per_page": 10})
    assert set(first.links) == {"next", "last"}
    assert first.links["last"]["url"].endswith("page=5")
    assert (
        f"/repositories/{history.repo_id}/actions/runs?per_page=10&page=2"
        in first.links["next"]["url"]
    )
    middle = client.get(f"/repos/{REPO}/actions/runs", params={"per_page": 10, "page": 3})
    assert set(middle.links) == {"prev", "next", "last", "first"}
    last = client.get(first.links["last"]["url"])
    assert set(last.links) == {"prev", "first"} and len(last.json()["workflow_runs"]) == 5
    assert gh.requests[-1].route == f"/repos/{REPO}/actions/runs"
    one = client.get(f"/repos/{REPO}/actions/runs", params={"per_page": 100})
    assert "link" not in one.headers and len(one.json()["workflow_runs"]) == 45
    beyond = client.get(f"/repos/{REPO}/actions/runs", params={"per_page": 100, "page": 2})
    assert beyond.json() == {"total_count": 45, "workflow_runs": []}


def test_per_page_default_and_max() -> None:
    with FakeGitHub() as gh, connect(gh) as c:
        gh.add_repo(REPO, bulk_runs(250, datetime(2024, 1, 1, tzinfo=UTC), 60))
        assert len(c.get(f"/repos/{REPO}/actions/runs").json()["workflow_runs"]) == 30
        big = c.get(f"/repos/{REPO}/actions/runs", params={"per_page": 500})
        assert len(big.json()["workflow_runs"]) == 100
        assert big.links["last"]["url"].endswith("page=3")


def test_filtered_lists_are_capped_at_1000() -> None:
    with FakeGitHub() as gh, connect(gh) as c:
        gh.add_repo(REPO, bulk_runs(1200, datetime(2024, 3, 1, tzinfo=UTC), 120))
        url = f"/repos/{REPO}/actions/runs"
        got, pages = walk(c, url, "workflow_runs", per_page=100, created=">=2024-01-01")
        assert pages == 10 and len(got) == 1000
        assert got[0]["id"] == 2199  # newest first: the 200 oldest are never served
        page11 = c.get(url, params={"per_page": 100, "page": 11, "created": ">=2024-01-01"})
        assert page11.json()["total_count"] == 1200 and page11.json()["workflow_runs"] == []
        for param, value in (("branch", "main"), ("status", "completed"), ("event", "push")):
            capped = c.get(url, params={"per_page": 100, "page": 11, param: value}).json()
            assert capped["workflow_runs"] == [] and capped["total_count"] > 0
        unfiltered = c.get(url, params={"per_page": 100, "page": 11}).json()
        assert len(unfiltered["workflow_runs"]) == 100 and unfiltered["total_count"] == 1200
        day, _ = walk(c, url, "workflow_runs", per_page=100, created="2024-03-02")
        assert len(day) == 480  # a window under the cap is served whole
        assert {r["id"] for r in got} | {r["id"] for r in day} != set(range(1000, 2200))


# ------------------------------------------------------------------------------- filters

A, B, C, D, E, F = (
    datetime(2024, 5, 1, 23, 30, tzinfo=UTC),
    datetime(2024, 5, 2, tzinfo=UTC),
    datetime(2024, 5, 2, 12, tzinfo=UTC),
    datetime(2024, 5, 2, 23, 59, 59, tzinfo=UTC),
    datetime(2024, 5, 3, tzinfo=UTC),
    datetime(2024, 5, 3, 8, tzinfo=UTC),
)
WHEN = {"a": A, "b": B, "c": C, "d": D, "e": E, "f": F}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("2024-05-02", "bcd"),
        (">2024-05-02", "ef"),
        (">=2024-05-02", "bcdef"),
        ("<2024-05-02", "a"),
        ("<=2024-05-02", "abcd"),
        ("2024-05-02..2024-05-02", "bcd"),
        ("2024-05-02..2024-05-03", "bcdef"),
        ("2024-05-02..*", "bcdef"),
        ("*..2024-05-01", "a"),
        ("2024-05-02T12:00:00Z..2024-05-03T00:00:00Z", "cde"),
        (">2024-05-02T12:00:00Z", "def"),
        (">=2024-05-02T12:00:00Z", "cdef"),
        ("<2024-05-02T00:00:00+00:00", "a"),
        ("<=2024-05-02T00:00:00Z", "ab"),
        ("2024-05-02T04:00:00-08:00..2024-05-02T16:00:00-08:00", "cde"),
        ("2024-05-02T19:00:00+07:00..*", "cdef"),
        ("2024-05-02T12:00:00Z", "c"),
        ("2024-05-01..2024-05-02T12:00:00Z", "abc"),
    ],
)
def test_created_filter_syntax(expr: str, expected: str) -> None:
    match = created_filter(expr)
    assert "".join(k for k, v in WHEN.items() if match(v)) == expected
    with FakeGitHub() as gh, connect(gh) as c:
        gh.add_repo(REPO, [workflow_run(i, created_at=w) for i, w in enumerate(WHEN.values())])
        r = c.get(f"/repos/{REPO}/actions/runs", params={"created": expr})
        names = "".join(sorted("abcdef"[run["id"]] for run in r.json()["workflow_runs"]))
        assert names == expected and r.json()["total_count"] == len(expected)


@pytest.mark.parametrize("bad", ["yesterday", "2024-5-2", ">=", "2024-05-02T10:00:00 07:00"])
def test_invalid_created_is_422(bad: str) -> None:
    with FakeGitHub() as gh, connect(gh) as c:
        gh.add_repo(REPO, [workflow_run(1)])
        r = c.get(f"/repos/{REPO}/actions/runs", params={"created": bad})
        assert r.status_code == 422 and r.json()["message"] == "Validation Failed"


def test_unencoded_plus_in_created_is_read_as_space() -> None:
    with FakeGitHub() as gh, connect(gh) as c:
        gh.add_repo(REPO, [workflow_run(1)])
        raw = c.get(f"/repos/{REPO}/actions/runs?created=>=2020-01-01T00:00:00+07:00")
        assert raw.status_code == 422
        ok = c.get(f"/repos/{REPO}/actions/runs", params={"created": ">=2020-01-01T00:00:00+07:00"})
        assert ok.json()["total_count"] == 1


def test_branch_event_status_filters(client: httpx.Client, history: RepoHistory) -> None:
    url = f"/repos/{REPO}/actions/runs"

    def ids(**params: str) -> set[int]:
        return {
            r["id"]
            for r in client.get(url, params={**params, "per_page": "100"}).json()["workflow_runs"]
        }

    assert ids(branch="main") == {r["id"] for r in history.runs if r["head_branch"] == "main"}
    assert ids(event="pull_request") == {
        r["id"] for r in history.runs if r["event"] == "pull_request"
    }
    assert ids(status="in_progress") == set(history.in_progress_ids())
    assert ids(status="failure") == {r["id"] for r in history.runs if r["conclusion"] == "failure"}
    assert ids(status="completed", event="push", branch="main") == {
        r["id"]
        for r in history.runs
        if r["status"] == "completed" and r["event"] == "push" and r["head_branch"] == "main"
    }
    prs = client.get(url, params={"event": "pull_request", "exclude_pull_requests": "true"})
    assert all(r["pull_requests"] == [] for r in prs.json()["workflow_runs"])
    with_prs = client.get(url, params={"event": "pull_request"}).json()["workflow_runs"]
    assert all(r["pull_requests"][0]["head"]["ref"] == r["head_branch"] for r in with_prs)


def test_per_workflow_runs_and_workflow_list(client: httpx.Client, history: RepoHistory) -> None:
    by_file = client.get(f"/repos/{REPO}/actions/workflows/ci.yml/runs").json()
    by_id = client.get(f"/repos/{REPO}/actions/workflows/{history.workflow_id}/runs").json()
    assert by_file == by_id and by_file["total_count"] == 45
    assert client.get(f"/repos/{REPO}/actions/workflows/nope.yml/runs").status_code == 404
    wfs = client.get(f"/repos/{REPO}/actions/workflows").json()
    assert wfs["total_count"] == 1
    assert wfs["workflows"][0]["path"] == ".github/workflows/ci.yml"


# ------------------------------------------------------------------------------- runs, jobs


def test_jobs_filter_latest_vs_all_and_attempts(client: httpx.Client, history: RepoHistory) -> None:
    run = next(r for r in history.runs if r["run_attempt"] == 2)
    base = f"/repos/{REPO}/actions/runs/{run['id']}"
    latest = client.get(f"{base}/jobs").json()
    everything = client.get(f"{base}/jobs", params={"filter": "all"}).json()
    assert {j["run_attempt"] for j in latest["jobs"]} == {2}
    assert {j["run_attempt"] for j in everything["jobs"]} == {1, 2}
    assert (
        everything["total_count"]
        == len(history.jobs_by_run[run["id"]])
        == latest["total_count"] * 2
    )
    a1 = client.get(f"{base}/attempts/1/jobs").json()
    a2 = client.get(f"{base}/attempts/2/jobs").json()
    assert a2 == latest and {j["run_attempt"] for j in a1["jobs"]} == {1}
    assert {j["id"] for j in a1["jobs"]} | {j["id"] for j in a2["jobs"]} == {
        j["id"] for j in everything["jobs"]
    }
    assert client.get(f"{base}/attempts/3/jobs").status_code == 404
    assert client.get(f"{base}/jobs", params={"filter": "bogus"}).status_code == 422
    one = client.get(base).json()
    first = client.get(f"{base}/attempts/1").json()
    assert one["run_attempt"] == 2 and one["conclusion"] == "success"
    assert first["run_attempt"] == 1 and first["conclusion"] == "failure"
    assert first["previous_attempt_url"] is None and one["previous_attempt_url"].endswith(
        f"/actions/runs/{run['id']}/attempts/1"
    )
    assert parse_ts(first["run_started_at"]) < parse_ts(one["run_started_at"])
    assert client.get(f"{base}/attempts/2").json() == one
    job_id = a1["jobs"][0]["id"]
    assert client.get(f"/repos/{REPO}/actions/jobs/{job_id}").json() == a1["jobs"][0]
    assert client.get(f"/repos/{REPO}/actions/runs/1").status_code == 404


def test_jobs_pagination(client: httpx.Client, history: RepoHistory) -> None:
    run = next(r for r in history.runs if r["run_attempt"] == 2)
    url = f"/repos/{REPO}/actions/runs/{run['id']}/jobs"
    jobs, pages = walk(client, url, "jobs", filter="all", per_page=5)
    assert pages == 3 and len(jobs) == 12 == len({j["id"] for j in jobs})
    assert (
        "filter=all"
        in client.get(url, params={"filter": "all", "per_page": 5}).links["next"]["url"]
    )


def test_urls_in_payloads_point_at_the_fake(gh: FakeGitHub, client: httpx.Client) -> None:
    run = client.get(f"/repos/{REPO}/actions/runs", params={"per_page": 1}).json()["workflow_runs"][
        0
    ]
    assert run["jobs_url"].startswith(gh.url) and run["html_url"].startswith("https://github.com")
    assert client.get(run["jobs_url"]).json()["total_count"] > 0


# ------------------------------------------------------------------------------- contents


def test_contents_base64_raw_and_missing(client: httpx.Client, history: RepoHistory) -> None:
    run = history.runs[-3]
    path = ".github/workflows/ci.yml"
    url = f"/repos/{REPO}/contents/{path}"
    obj = client.get(url, params={"ref": run["head_sha"]}).json()
    text = history.files[(path, run["head_sha"])]
    assert obj["type"] == "file" and obj["encoding"] == "base64" and obj["path"] == path
    assert obj["name"] == "ci.yml" and obj["size"] == len(text.encode())
    assert obj["sha"] == git_blob_sha(text.encode())
    lines = obj["content"].split("\n")
    assert lines[-1] == "" and all(len(x) == 60 for x in lines[:-2]) and len(lines[-2]) <= 60
    assert base64.b64decode(obj["content"]).decode() == text
    assert {"url", "html_url", "download_url", "git_url", "_links"} <= set(obj)
    for accept in ("application/vnd.github.raw", "application/vnd.github.raw+json"):
        raw = client.get(url, params={"ref": run["head_sha"]}, headers={"Accept": accept})
        assert raw.text == text and raw.headers["content-type"].startswith("text/plain")
    assert client.get(obj["download_url"]).text == text
    missing = client.get(f"/repos/{REPO}/contents/nope.yml", params={"ref": run["head_sha"]})
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    listing = client.get(
        f"/repos/{REPO}/contents/.github/workflows", params={"ref": run["head_sha"]}
    ).json()
    assert [e["name"] for e in listing] == ["ci.yml"]
    default = client.get(url, headers={"Accept": "application/vnd.github.raw"})
    assert default.status_code == 200  # no ref: the default branch's newest commit


def test_workflow_file_matches_job_steps(history: RepoHistory) -> None:
    for run in history.runs:
        doc = YAML(typ="safe").load(history.files[(history.workflow_path, run["head_sha"])])
        jobs = doc["jobs"]
        for j in history.jobs_by_run[run["id"]]:
            if not j["steps"] or j["steps"][-1]["status"] != "completed":
                continue
            key = j["name"].split(" (")[0]
            spec = jobs[key]
            names = []
            for s in spec["steps"]:
                names.append(
                    s.get("name") or (f"Run {s['uses']}" if "uses" in s else f"Run {s['run']}")
                )
            runner = ["Set up job"] + (["Initialize containers"] if "services" in spec else [])
            shown = [s["name"] for s in j["steps"]]
            assert shown[: len(runner) + len(names)] == runner + names
            assert shown[-1] == "Complete job"
            if " (" in j["name"]:
                assert j["name"].split(" (")[1].rstrip(")") in spec["strategy"]["matrix"]["python"]


# ------------------------------------------------------------------------------- conditional


def test_etag_304_does_not_count(gh: FakeGitHub, client: httpx.Client) -> None:
    url = f"/repos/{REPO}/actions/runs"
    first = client.get(url)
    tag = first.headers["etag"]
    assert tag.startswith('W/"') and first.headers["x-ratelimit-remaining"] == "4999"
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["x-ratelimit-remaining"] == "4999" and again.headers["etag"] == tag
    assert gh.requests[-1].not_modified and not gh.requests[-1].counted
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert gh.budget().remaining == 4998
    run_id = first.json()["workflow_runs"][0]["id"]
    gh.update_run(REPO, run_id, display_title="changed")
    changed = client.get(url, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag


# ------------------------------------------------------------------------------- rate limits


def test_rate_limit_exhaustion_and_refill() -> None:
    clock = Clock()
    with FakeGitHub(limit=3, reset_in_s=600, clock=clock) as gh, connect(gh) as c:
        gh.add_repo(REPO, [workflow_run(1)])
        seen = [c.get(f"/repos/{REPO}").headers["x-ratelimit-remaining"] for _ in range(3)]
        assert seen == ["2", "1", "0"]
        rl = c.get("/rate_limit").json()  # does not count
        assert rl["resources"]["core"]["remaining"] == 0 and rl["rate"]["limit"] == 3
        over = c.get(f"/repos/{REPO}")
        assert over.status_code == 403
        assert over.json()["message"].startswith("API rate limit exceeded for")
        assert over.headers["x-ratelimit-remaining"] == "0"
        reset_at = int(over.headers["x-ratelimit-reset"])
        assert reset_at == 1_700_000_600 and over.headers["x-ratelimit-used"] == "3"
        clock.t = reset_at - 1
        assert c.get(f"/repos/{REPO}").status_code == 403
        clock.t = reset_at
        ok = c.get(f"/repos/{REPO}")
        assert ok.status_code == 200 and ok.headers["x-ratelimit-remaining"] == "2"
        assert int(ok.headers["x-ratelimit-reset"]) == reset_at + 600


def test_unauthenticated_budget_and_429_variant() -> None:
    with (
        FakeGitHub(unauthenticated_limit=2, exhausted_status=429) as gh,
        connect(gh, auth=False) as anon,
    ):
        gh.add_repo(REPO, [workflow_run(1)])
        first = anon.get(f"/repos/{REPO}/actions/runs")
        assert first.status_code == 200 and first.headers["x-ratelimit-limit"] == "2"
        anon_rec = gh.requests[-1]
        assert not anon_rec.authorized and not anon_rec.auth_sent
        anon.get(f"/repos/{REPO}")
        over = anon.get(f"/repos/{REPO}")
        assert over.status_code == 429 and "127.0.0.1" in over.json()["message"]
        authed = anon.get(f"/repos/{REPO}", headers={"Authorization": f"token {DEFAULT_TOKEN}"})
        assert authed.status_code == 200 and authed.headers["x-ratelimit-limit"] == "5000"
        authed_rec = gh.requests[-1]
        assert authed_rec.authorized and "authorization" not in authed_rec.headers


# ------------------------------------------------------------------------------- faults


def test_status_faults_are_consumed_in_order(gh: FakeGitHub, client: httpx.Client) -> None:
    gh.inject(status(502), times=2)
    gh.inject(status(503, "<html>unicorn</html>"))
    codes = [client.get(f"/repos/{REPO}").status_code for _ in range(4)]
    assert codes == [502, 502, 503, 200] and gh.pending_faults == 0
    assert [r.fault for r in gh.requests] == ["StatusFault"] * 3 + [None]
    assert gh.budget().remaining == 4999  # injected answers do not count


def test_fault_path_filter(gh: FakeGitHub, client: httpx.Client) -> None:
    gh.inject(status(500), path_contains="page=2")
    assert client.get(f"/repos/{REPO}/actions/runs").status_code == 200
    assert client.get(f"/repos/{REPO}/actions/runs", params={"page": 2}).status_code == 500
    assert client.get(f"/repos/{REPO}/actions/runs", params={"page": 2}).status_code == 200


@pytest.mark.parametrize("code", [403, 429])
def test_secondary_rate_limit(gh: FakeGitHub, client: httpx.Client, code: int) -> None:
    gh.inject(secondary_rate_limit(code, retry_after=1))
    r = client.get(f"/repos/{REPO}/actions/runs")
    assert r.status_code == code and r.headers["retry-after"] == "1"
    assert "secondary rate limit" in r.json()["message"]
    assert int(r.headers["x-ratelimit-remaining"]) > 0


def test_connection_reset(gh: FakeGitHub, client: httpx.Client) -> None:
    gh.inject(reset())
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(f"/repos/{REPO}")
    assert gh.requests[-1].status is None and gh.requests[-1].fault == "ResetFault"
    assert client.get(f"/repos/{REPO}").status_code == 200


def test_truncated_body(gh: FakeGitHub, client: httpx.Client) -> None:
    gh.inject(truncate(), path_contains="/actions/runs")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(f"/repos/{REPO}/actions/runs")
    assert client.get(f"/repos/{REPO}/actions/runs").status_code == 200


def test_delay(gh: FakeGitHub, client: httpx.Client) -> None:
    gh.inject(delay(0.15))
    with pytest.raises(httpx.ReadTimeout):
        client.get(f"/repos/{REPO}", timeout=0.05)
    gh.inject(delay(0.1))
    t0 = time.monotonic()
    assert client.get(f"/repos/{REPO}").status_code == 200
    assert time.monotonic() - t0 >= 0.1


# ------------------------------------------------------------------------------- auth, errors


def test_auth_and_error_shapes(gh: FakeGitHub, client: httpx.Client, history: RepoHistory) -> None:
    bad = client.get(f"/repos/{REPO}", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["message"] == "Bad credentials"
    assert bad.json()["documentation_url"] == "https://docs.github.com/rest"
    missing = client.get("/repos/octo-org/missing")
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"
    assert "documentation_url" in missing.json()
    gh.add_repo("octo-org/secret", [workflow_run(5)], private=True)
    with connect(gh, auth=False) as anon:
        assert anon.get("/repos/octo-org/secret").status_code == 404
        assert anon.get("/repos/octo-org/secret/actions/runs").status_code == 404
        assert anon.get(f"/repos/{REPO}").status_code == 200
    repo = client.get("/repos/octo-org/secret").json()
    assert repo["private"] is True and repo["full_name"] == "octo-org/secret"
    assert repo["default_branch"] == "main" and set(repo) >= REPO_KEYS
    assert client.get(f"/repos/{REPO.upper()}").json()["id"] == history.repo_id
    assert client.get(f"/repos/{REPO}/pulls").status_code == 404
    assert (
        client.get(f"/repos/{REPO}", headers={"X-GitHub-Api-Version": "2021-01-01"}).status_code
        == 400
    )
    ok = client.get(f"/repos/{REPO}", headers={"X-GitHub-Api-Version": "2022-11-28"})
    assert ok.headers["x-github-api-version-selected"] == "2022-11-28"
    assert ok.headers["content-type"] == "application/json; charset=utf-8"
    assert [r.authorized for r in gh.requests[:2]] == [False, True]


def test_ghes_prefix(gh: FakeGitHub, history: RepoHistory) -> None:
    with connect(gh, "/api/v3") as c:
        items, pages = walk(c, f"/repos/{REPO}/actions/runs", "workflow_runs", per_page=20)
        assert len(items) == 45 and pages == 3
        assert all(r.ghes and r.path.startswith("/api/v3/") for r in gh.requests)
        assert items[0]["jobs_url"].startswith(gh.url + "/api/v3/repos/")
        assert c.get(items[0]["jobs_url"]).status_code == 200
        assert c.get("/rate_limit").status_code == 200
    assert gh.count(f"/repos/{REPO}/actions/runs") == 4  # 3 pages + the jobs_url
    assert gh.count(f"/api/v3/repositories/{history.repo_id}") == 2


# ------------------------------------------------------------------------------- mutations


def test_finish_rerun_and_extend_through_the_fake() -> None:
    h = RepoHistory(runs=10, seed=3, in_progress=2)
    with FakeGitHub() as gh, connect(gh) as c:
        gh.history_repo(h)
        live = h.in_progress_ids()
        assert len(live) == 2
        before = c.get(f"/repos/{REPO}/actions/runs/{live[0]}/jobs").json()["jobs"]
        run, jobs = h.finish(live[0])
        gh.update_run(REPO, live[0], jobs=jobs, **run)
        after = c.get(f"/repos/{REPO}/actions/runs/{live[0]}").json()
        assert after["status"] == "completed" and after["conclusion"] is not None
        done = c.get(f"/repos/{REPO}/actions/runs/{live[0]}/jobs").json()["jobs"]
        assert {j["id"] for j in before} <= {j["id"] for j in done}
        assert all(j["status"] == "completed" for j in done)
        run, new_jobs = h.rerun(live[0])
        gh.rerun(REPO, live[0], new_jobs, **run)
        rerun = c.get(f"/repos/{REPO}/actions/runs/{live[0]}").json()
        assert rerun["run_attempt"] == 2
        assert c.get(f"/repos/{REPO}/actions/runs/{live[0]}/attempts/1").json() == after
        alls = c.get(f"/repos/{REPO}/actions/runs/{live[0]}/jobs", params={"filter": "all"})
        assert alls.json()["total_count"] == len(done) + len(new_jobs)
        runs, jobs_by_run, files = h.extend(3)
        gh.add_runs(REPO, runs, jobs_by_run, files)
        newest = c.get(f"/repos/{REPO}/actions/runs", params={"per_page": 3}).json()
        assert {r["id"] for r in newest["workflow_runs"]} == {r["id"] for r in runs}
        assert newest["total_count"] == 13
        sha = runs[0]["head_sha"]
        assert (
            c.get(f"/repos/{REPO}/contents/{h.workflow_path}", params={"ref": sha}).status_code
            == 200
        )


def test_fake_rerun_derives_the_new_attempt() -> None:
    created = datetime(2024, 6, 1, 10, tzinfo=UTC)
    run = workflow_run(
        77, created_at=created, conclusion="failure", updated_at=created + timedelta(minutes=5)
    )
    old = [job(700, run_id=77, conclusion="failure", created_at=created)]
    later = created + timedelta(hours=1)
    new = [
        job(
            701,
            run_id=77,
            created_at=later,
            started_at=later + timedelta(seconds=5),
            completed_at=later + timedelta(minutes=3),
        )
    ]
    with running(FakeGitHub()) as gh, connect(gh) as c:
        gh.add_repo(REPO, [run], {77: old})
        gh.rerun(REPO, 77, new)
        latest = c.get(f"/repos/{REPO}/actions/runs/77").json()
        assert latest["run_attempt"] == 2 and latest["conclusion"] == "success"
        assert latest["run_started_at"] == iso_z(later)
        assert c.get(f"/repos/{REPO}/actions/runs/77/attempts/1").json()["conclusion"] == "failure"
        assert [j["id"] for j in c.get(f"/repos/{REPO}/actions/runs/77/jobs").json()["jobs"]] == [
            701
        ]
    with pytest.raises(RuntimeError):
        _ = gh.url  # stopped


# ------------------------------------------------------------------------------- payloads


def test_factories_have_the_example_field_sets() -> None:
    run = workflow_run()
    assert set(run) >= RUN_KEYS and set(run["repository"]) >= REPO_KEYS
    assert set(run["head_repository"]) >= REPO_KEYS
    assert JOB_KEYS | {"created_at", "run_attempt"} <= set(job())
    assert set(step("Set up job", 1)) == STEP_KEYS
    s = step("x", 3, started_at=datetime(2020, 1, 20, 17, 42, 40, 123456, tzinfo=UTC))
    assert s["started_at"] == "2020-01-20T09:42:40.123-08:00" and s["completed_at"] is None


def test_history_has_the_real_quirks(history: RepoHistory) -> None:
    all_jobs = [j for js in history.jobs_by_run.values() for j in js]
    for r in history.runs:
        assert set(r) >= RUN_KEYS
        assert JOB_TS.fullmatch(r["created_at"]) and JOB_TS.fullmatch(r["updated_at"])
    for j in all_jobs:
        assert set(j) >= JOB_KEYS and JOB_TS.fullmatch(j["created_at"])
        assert j["run_attempt"] >= 1
        for s in j["steps"]:
            assert set(s) == STEP_KEYS
            for key in ("started_at", "completed_at"):
                assert s[key] is None or STEP_TS.fullmatch(s[key])
    names = {j["name"] for j in all_jobs}
    assert {"test (3.11)", "test (3.12)", "test (3.13)", "lint", "integration"} <= names
    complete = [j for j in all_jobs if j["steps"] and j["status"] == "completed"]
    for j in complete:
        nums = [s["number"] for s in j["steps"]]
        assert nums == sorted(nums) and nums[0] == 1
        post = next(
            i
            for i, s in enumerate(j["steps"])
            if s["name"].startswith("Post ") or s["name"] in ("Stop containers", "Complete job")
        )
        assert nums[post] > nums[post - 1] + 1  # the gap before the post steps
    step_names = {s["name"] for j in complete for s in j["steps"]}
    assert {
        "Set up job",
        "Run actions/checkout@v4",
        "Post Run actions/checkout@v4",
        "Complete job",
        "Initialize containers",
        "Stop containers",
        "Create kind cluster",
        "Post Create kind cluster",
        "Cache pip",
    } <= step_names
    assert any(
        s["conclusion"] == "skipped" and s["started_at"] is None
        for j in complete
        for s in j["steps"]
    )
    queued_cancel = [j for j in all_jobs if j["conclusion"] == "cancelled" and not j["steps"]]
    assert any(j["runner_name"] is None for j in queued_cancel)
    assert any(j["runner_id"] == 0 and j["runner_name"] == "" for j in queued_cancel)
    assert any(j["conclusion"] == "cancelled" and j["steps"] for j in all_jobs)  # fail-fast
    assert any(j["conclusion"] == "skipped" and j["name"] == "deploy" for j in all_jobs)
    live = [r for r in history.runs if r["status"] == "in_progress"]
    assert live and all(r["conclusion"] is None for r in live)
    live_jobs = history.jobs_by_run[live[0]["id"]]
    assert any(j["status"] == "in_progress" and j["completed_at"] is None for j in live_jobs)
    rerun = [r for r in history.runs if r["run_attempt"] > 1]
    assert rerun
    for r in rerun:
        attempts = {j["run_attempt"] for j in history.jobs_by_run[r["id"]]}
        assert attempts == set(range(1, r["run_attempt"] + 1))
        assert history.attempts[r["id"]][1]["conclusion"] == "failure"
    for r in history.runs:  # a job is never created before its run, nor finishes before start
        for j in history.jobs_by_run[r["id"]]:
            assert parse_ts(j["created_at"]) >= parse_ts(r["created_at"])
            if j["completed_at"]:
                assert parse_ts(j["completed_at"]) >= parse_ts(j["started_at"])
    durations = {
        (parse_ts(j["completed_at"]) - parse_ts(j["started_at"])).total_seconds() for j in complete
    }
    assert len(durations) > len(complete) // 2  # varied, not constant


def test_history_is_seeded() -> None:
    a, b = RepoHistory(runs=12, seed=5), RepoHistory(runs=12, seed=5)
    assert a.runs == b.runs and a.jobs_by_run == b.jobs_by_run and a.files == b.files
    assert RepoHistory(runs=12, seed=6).runs != a.runs
    other = RepoHistory("acme", "widgets", runs=9, start=datetime(2023, 1, 1, tzinfo=UTC))
    assert all(r["repository"]["full_name"] == "acme/widgets" for r in other.runs)
    assert min(parse_ts(r["created_at"]) for r in other.runs) >= datetime(2023, 1, 1, tzinfo=UTC)


def test_stop_closes_kept_alive_connections() -> None:
    gh = FakeGitHub().start()
    gh.add_repo(REPO, [workflow_run(1)])
    with connect(gh) as c:
        assert c.get(f"/repos/{REPO}").status_code == 200  # the connection stays in the pool
        gh.stop()
        with pytest.raises(httpx.TransportError):
            c.get(f"/repos/{REPO}")
