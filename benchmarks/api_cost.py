"""Benchmark what a GitHub collection costs in API requests and wall time, next to a baseline.

    python benchmarks/api_cost.py                    # 1,000 runs, 100 ms per request
    python benchmarks/api_cost.py --runs 300 --latency 0.05 --concurrency 8

Both sides collect the same repository from the local fake GitHub server of the test suite
(tests/fakegithub.py: GitHub's pagination, Link headers, ETags, rate-limit headers and its
count of which requests GitHub would charge), with ``--latency`` seconds added to every answer.

- ``ci-profile``: `GitHubCollector` into a fresh database (through SharedStore, as the CLI
  does), then a second collection with nothing changed (incremental), then a third (its one
  listing request is now conditional and answered 304).
- ``baseline``: what a PyGithub user writes (``repo.get_workflow_runs(created=...)`` then
  ``run.jobs()`` for each run), as a plain sequential httpx loop with PyGithub's defaults
  (``per_page=30``, the jobs of the latest attempt only); its second pass lists every page again
  and skips runs it already has.

Reported: requests, requests GitHub counts against the hourly limit (a 304 does not count),
listing-and-jobs requests per run attempt, workflow-file requests per distinct (file, commit),
the most requests one endpoint (route template) received within any 60 s (GitHub allows 900
points a minute per endpoint; a GET is 1 point), wall time. ci-profile runs with its default
pacer, as the CLI does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from ci_profile.collectors import github
from ci_profile.core.config import Secret
from ci_profile.core.shared_store import SharedStore
from support import TESTS, load_average, timed

sys.path.insert(0, str(TESTS))
from fakegithub import DEFAULT_TOKEN, FakeGitHub, RecordedRequest, delay
from payloads import RepoHistory

SINCE = datetime(2024, 5, 1, tzinfo=UTC)


@dataclass
class Cost:
    name: str
    requests: int
    counted: int
    listing_and_jobs: int
    files: int
    busiest_minute: int
    wall_s: float


def busiest_minute(requests: Sequence[RecordedRequest]) -> int:
    """The most requests any one endpoint received within 60 s, wherever the minute falls."""
    arrivals: dict[str, list[float]] = defaultdict(list)
    for request in requests:
        arrivals[request.endpoint].append(request.received)
    most = 0
    for times in arrivals.values():
        times.sort()
        first = 0
        for last, at in enumerate(times):
            while at - times[first] >= 60.0:
                first += 1
            most = max(most, last - first + 1)
    return most


def measure(gh: FakeGitHub, name: str, work: Callable[[], None]) -> Cost:
    gh.clear_requests()
    wall = timed(work)
    requests = gh.requests
    files = sum(1 for r in requests if "/contents/" in r.route)
    return Cost(
        name,
        len(requests),
        sum(1 for r in requests if r.counted),
        sum(1 for r in requests if "/contents/" not in r.route),
        files,
        busiest_minute(requests),
        wall,
    )


def ci_profile(gh: FakeGitHub, db: Path, concurrency: int) -> None:
    with github.make_client(gh.url, Secret(DEFAULT_TOKEN)) as client:
        http = github.make_http(client, concurrency=concurrency)
        collector = github.GitHubCollector(
            http, SharedStore(db), "acme/busy", concurrency=concurrency
        )
        collector.collect(SINCE, None)


def baseline(gh: FakeGitHub, seen: set[int]) -> None:
    """A PyGithub-style loop: list runs page by page, then each new run's jobs, one by one."""
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Accept": "application/vnd.github+json"}
    with httpx.Client(base_url=gh.url, headers=headers, timeout=30) as client:
        url: str | None = "/repos/acme/busy/actions/runs?created=%3E%3D2024-05-01&per_page=30"
        runs: list[dict[str, object]] = []
        while url:
            page = client.get(url)
            page.raise_for_status()
            runs += page.json()["workflow_runs"]
            url = page.links.get("next", {}).get("url")
        for run in runs:
            run_id = int(str(run["id"]))
            if run_id in seen:
                continue
            jobs_url: str | None = f"/repos/acme/busy/actions/runs/{run_id}/jobs?per_page=30"
            while jobs_url:
                page = client.get(jobs_url)
                page.raise_for_status()
                jobs_url = page.links.get("next", {}).get("url")
            seen.add(run_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    history = RepoHistory("acme", "busy", runs=args.runs, days=25, in_progress=0)
    attempts = sum(int(r.get("run_attempt") or 1) for r in history.runs)
    pairs = len({(r["path"].split("@")[0], r["head_sha"]) for r in history.runs})
    print(
        f"{args.runs} runs ({attempts} run attempts, {pairs} distinct workflow file x commit), "
        f"{args.latency * 1000:.0f} ms per request, ci-profile concurrency {args.concurrency}, "
        f"load average {load_average()}"
    )
    with FakeGitHub(limit=100_000) as gh, tempfile.TemporaryDirectory() as folder:
        gh.history_repo(history)
        gh.chaos([delay(args.latency)], rate=1.0, per_request=10**9)
        db = Path(folder) / "api-cost.duckdb"
        seen: set[int] = set()
        costs = [
            measure(gh, "ci-profile full", lambda: ci_profile(gh, db, args.concurrency)),
            measure(gh, "ci-profile incremental", lambda: ci_profile(gh, db, args.concurrency)),
            measure(gh, "ci-profile same again", lambda: ci_profile(gh, db, args.concurrency)),
            measure(gh, "baseline full", lambda: baseline(gh, seen)),
            measure(gh, "baseline incremental", lambda: baseline(gh, seen)),
        ]
        assert gh.errors == []
    print(
        f"{'':24} {'requests':>9} {'counted':>8} {'list+jobs/attempt':>18} "
        f"{'files/(file,commit)':>20} {'max/endpoint/60s':>17} {'wall s':>7}"
    )
    for c in costs:
        print(
            f"{c.name:24} {c.requests:>9,} {c.counted:>8,} {c.listing_and_jobs / attempts:>18.3f} "
            f"{c.files / pairs:>20.2f} {c.busiest_minute:>17,} {c.wall_s:>7.1f}"
        )


if __name__ == "__main__":
    main()
