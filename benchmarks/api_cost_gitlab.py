"""Benchmark what a GitLab collection (job logs included) costs in API requests and wall time.

    python benchmarks/api_cost_gitlab.py                  # 1,000 pipelines, CLI defaults
    python benchmarks/api_cost_gitlab.py --pipelines 50   # a smoke check (about two minutes)
    python benchmarks/api_cost_gitlab.py --max-rate 0 --concurrency 16 --baseline-pipelines 0

Both sides collect from the local fake GitLab server of the test suite (tests/fakegitlab.py:
GitLab's offset pagination headers, ``updated_after`` seeking, the 405 on keyset pipeline
lists, ``RateLimit-*`` headers and gitlab.com's 2,000 authenticated API requests per minute,
answered with a 429 past it), with ``--latency`` seconds added to every answer. The history is
tests/gitlab_payloads.py's: pipelines of four stages (lint, build, unit and integration tests,
deploy), a retried integration job now and then, a child review pipeline for merge requests, a
log with collapsible sections for every job that ran, and the pipeline files at every commit.

- ``ci-profile``: `GitLabCollector` as ``ci-profile collect gitlab`` builds it (``make_client``,
  ``make_http`` with ``--concurrency`` and ``--max-rate``, a SharedStore), into a fresh
  database; then the same again with nothing changed (incremental).
- ``baseline``: what a python-gitlab user writes, one request after another:
  ``project.pipelines.list(iterator=True)``, then ``pipeline.jobs.list(get_all=True)`` and
  ``project.jobs.get(id).trace()`` for each job; its second pass lists every page again and
  skips the pipelines it has. It runs on its own server with the first ``--baseline-pipelines``
  pipelines of the same history (200 unless told: serially it takes about 1 s per pipeline, 17
  minutes for 1,000).

Reported: requests by endpoint, requests per pipeline and per job, trace requests per job with
a log, megabytes of logs read, 429 answers, the busiest minute, wall time.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import gitlab as python_gitlab
from ci_profile.collectors import gitlab
from ci_profile.collectors.gitlab_records import needs_trace
from ci_profile.core.config import Secret
from ci_profile.core.shared_store import SharedStore
from support import TESTS, load_average, timed

sys.path.insert(0, str(TESTS))
from fakegitlab import DEFAULT_TOKEN, FakeGitLab, RecordedRequest, delay
from gitlab_payloads import ProjectHistory

SINCE = datetime(2024, 4, 30, tzinfo=UTC)
PATH = "acme/platform/shop"

# Endpoint kinds, in the order the table shows them; the first pattern that matches wins.
KINDS: tuple[tuple[str, str], ...] = (
    ("project", rf"^/api/v4/projects/({re.escape(PATH)}|\d+)$"),
    ("pipelines list", r"/pipelines$"),
    ("pipeline", r"/pipelines/\d+$"),
    ("pipeline jobs", r"/pipelines/\d+/jobs$"),
    ("bridges", r"/pipelines/\d+/bridges$"),
    ("job", r"/jobs/\d+$"),
    ("traces", r"/jobs/\d+/trace$"),
    ("files", r"/repository/"),
)


@dataclass(frozen=True)
class Scope:
    """What one side had to collect: its history's top-level pipelines, jobs and logs."""

    pipelines: int
    jobs: int
    logs: int

    @staticmethod
    def of(history: ProjectHistory, *, latest_only: bool = False) -> Scope:
        """``latest_only``: the jobs a default jobs list returns (no child pipelines, no
        retried attempts), which is all the baseline can see."""
        top = {d["id"] for d in history.top_level()}
        jobs = [j for j in history.all_jobs() if not latest_only or j["pipeline"]["id"] in top]
        if latest_only:
            newest: dict[tuple[int, str], int] = {}
            for j in jobs:
                key = (j["pipeline"]["id"], j["name"])
                newest[key] = max(newest.get(key, 0), j["id"])
            jobs = [j for j in jobs if newest[(j["pipeline"]["id"], j["name"])] == j["id"]]
        return Scope(len(top), len(jobs), sum(1 for j in jobs if needs_trace(j)))


@dataclass
class Cost:
    name: str
    scope: Scope
    kinds: Counter[str]
    requests: int
    throttled: int
    busiest_minute: int
    log_bytes: int
    wall_s: float
    load: str  # the load average when it ended


def kind_of(path: str) -> str:
    return next((kind for kind, pattern in KINDS if re.search(pattern, path)), "other")


def busiest_minute(requests: Sequence[RecordedRequest]) -> int:
    """Most requests answered in any 60 seconds (GitLab's limits are per minute)."""
    times = sorted(r.at for r in requests)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 60:
            first += 1
        most = max(most, last - first + 1)
    return most


def measure(server: FakeGitLab, name: str, scope: Scope, work: Callable[[], int]) -> Cost:
    """Run ``work`` (which returns the bytes of logs it read) and count what it asked for."""
    server.clear_requests()
    read = [0]
    wall = timed(lambda: read.__setitem__(0, work()))
    requests = server.requests
    cost = Cost(
        name,
        scope,
        Counter(kind_of(r.path) for r in requests),
        len(requests),
        sum(1 for r in requests if r.status == 429),
        busiest_minute(requests),
        read[0],
        wall,
        load_average(),
    )
    # As it happens: a run of the 1,000-pipeline history takes a quarter of an hour.
    print(f"{name}: {cost.requests:,} requests, {wall:.1f} s", file=sys.stderr, flush=True)
    return cost


def ci_profile(server: FakeGitLab, db: Path, concurrency: int, max_rate: float) -> int:
    """One ``ci-profile collect gitlab`` of the project, as the CLI wires it."""
    with gitlab.make_client(server.url, Secret(DEFAULT_TOKEN)) as client:
        http = gitlab.make_http(client, concurrency=concurrency, max_rate=max_rate)
        store = SharedStore(db)
        with store.claim("gitlab", PATH):
            collector = gitlab.GitLabCollector(http, store, PATH, concurrency=concurrency)
            return collector.collect(SINCE, None).trace_bytes


def baseline(server: FakeGitLab, seen: set[int]) -> int:
    """The python-gitlab loop: every pipeline, its jobs, each job's log, one by one."""
    client = python_gitlab.Gitlab(server.url, private_token=DEFAULT_TOKEN)
    project = client.projects.get(PATH)
    read = 0
    for pipeline in project.pipelines.list(iterator=True):
        if pipeline.id in seen:
            continue
        for item in pipeline.jobs.list(get_all=True):
            try:
                log = project.jobs.get(item.id).trace()
            except python_gitlab.exceptions.GitlabGetError:
                continue  # a job that never ran has no log (404)
            read += len(log) if isinstance(log, bytes) else 0
        seen.add(pipeline.id)
    return read


def served(history: ProjectHistory, latency: float) -> FakeGitLab:
    server = FakeGitLab().start()
    server.add_project(history)
    # Every answer, each path as often as it is asked: latency, not a fault drawn at random.
    server.chaos([delay(latency)], rate=1.0, per_request=10**9)
    return server


def table(costs: Sequence[Cost]) -> list[str]:
    kinds = [kind for kind, _ in KINDS if any(c.kinds[kind] for c in costs)]
    if any(c.kinds["other"] for c in costs):
        kinds.append("other")
    head = [
        "",
        "pipelines",
        "jobs",
        "jobs with a log",
        "requests",
        *kinds,
        "per pipeline",
        "per job",
        "traces per job with a log",
        "logs MB",
        "429s",
        "busiest minute",
        "wall s",
        "load",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for c in costs:
        row = [
            c.name,
            f"{c.scope.pipelines:,}",
            f"{c.scope.jobs:,}",
            f"{c.scope.logs:,}",
            f"{c.requests:,}",
            *(f"{c.kinds[kind]:,}" for kind in kinds),
            f"{c.requests / c.scope.pipelines:.2f}",
            f"{c.requests / c.scope.jobs:.2f}",
            f"{c.kinds['traces'] / c.scope.logs:.3f}",
            f"{c.log_bytes / 1e6:.1f}",
            f"{c.throttled:,}",
            f"{c.busiest_minute:,}",
            f"{c.wall_s:.1f}",
            c.load,
        ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument(
        "--baseline-pipelines",
        type=int,
        default=200,
        help="pipelines for the serial python-gitlab baseline (at most --pipelines; 0: none)",
    )
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=4, help="as the CLI (default 4)")
    parser.add_argument(
        "--max-rate", type=float, default=10.0, help="as the CLI: requests per second, 0 = none"
    )
    args = parser.parse_args()
    history = ProjectHistory(PATH, pipelines=args.pipelines, in_progress=0)
    full = Scope.of(history)
    print(
        f"{full.pipelines:,} pipelines (+{len(history.details) - full.pipelines} child), "
        f"{full.jobs:,} jobs ({full.logs:,} with a log), {args.latency * 1000:.0f} ms per "
        f"request, ci-profile --concurrency {args.concurrency} --max-rate {args.max_rate:g}, "
        f"load average {load_average()}",
        flush=True,
    )
    costs: list[Cost] = []
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "api-cost-gitlab.duckdb"
        server = served(history, args.latency)
        try:
            for name in ("ci-profile full", "ci-profile incremental"):
                work = partial(ci_profile, server, db, args.concurrency, args.max_rate)
                costs.append(measure(server, name, full, work))
            assert server.errors == [], server.errors
        finally:
            server.stop()
    count = min(args.baseline_pipelines, args.pipelines)
    if count > 0:
        small = ProjectHistory(PATH, pipelines=count, in_progress=0)
        server = served(small, args.latency)
        seen: set[int] = set()
        try:
            for name in ("baseline full", "baseline incremental"):
                scope = Scope.of(small, latest_only=True)
                costs.append(measure(server, name, scope, lambda: baseline(server, seen)))
            assert server.errors == [], server.errors
        finally:
            server.stop()
    print("\n".join(table(costs)))


if __name__ == "__main__":
    main()
