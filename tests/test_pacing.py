"""Per-endpoint pacing within GitHub's secondary rate limit: the pacer on a fake clock (nothing
sleeps), then a paced collection against the local GitHub-like server."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ci_profile.collectors import github
from ci_profile.collectors.http import RetryPolicy
from ci_profile.collectors.pacing import Pacer, endpoint, points
from ci_profile.core.config import Secret
from ci_profile.core.store import Store
from fakegithub import DEFAULT_TOKEN, FakeGitHub, reset, status
from payloads import RepoHistory
from test_cli import assert_one_line_error, run
from test_faults import tables

JOBS = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs"


class FakeClock:
    """Sleeping advances the time at once; shared by threads."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def jobs_url(run_id: int, repo: str = "acme/shop") -> str:
    return f"/repos/{repo}/actions/runs/{run_id}/jobs?filter=all&per_page=100"


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        ("GET", jobs_url(123), JOBS),
        ("GET", "http://127.0.0.1:8080/repositories/99/actions/runs/7/jobs?page=2", JOBS),
        ("GET", "https://ghe.example.com/api/v3/repos/a/b/actions/runs/7/jobs", JOBS),
        (
            "GET",
            "/repos/acme/shop/contents/.github/workflows/ci.yml?ref=0a1b2c",
            "GET /repos/{owner}/{repo}/contents/{path}",
        ),
        (
            "GET",
            "/repos/acme/shop/actions/workflows/ci.yml/runs?created=%3E%3D2024-05-01",
            "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
        ),
        (
            "GET",
            "/repos/acme/shop/actions/runs?per_page=100",
            "GET /repos/{owner}/{repo}/actions/runs",
        ),
        ("GET", "/repositories/99/actions/runs?page=3", "GET /repos/{owner}/{repo}/actions/runs"),
        ("GET", "/repos/acme/shop", "GET /repos/{owner}/{repo}"),
        ("GET", "/rate_limit", "GET /rate_limit"),
        (
            "post",
            "/repos/acme/shop/actions/runs/5/rerun",
            "POST /repos/{owner}/{repo}/actions/runs/{run_id}/rerun",
        ),
    ],
)
def test_endpoint_is_the_route_template(method: str, url: str, expected: str) -> None:
    assert endpoint(method, url) == expected


def test_points_per_method() -> None:
    assert [points(m) for m in ("GET", "HEAD", "OPTIONS", "get")] == [1, 1, 1, 1]
    assert [points(m) for m in ("POST", "PATCH", "PUT", "DELETE")] == [5, 5, 5, 5]


def test_budget_must_hold_the_costliest_request_and_the_window_a_moment() -> None:
    with pytest.raises(ValueError, match="cannot fit a POST"):
        Pacer(points_per_window=4)
    with pytest.raises(ValueError, match="longer than 0"):
        Pacer(window_s=0)


def test_the_window_slides() -> None:
    clock = FakeClock()
    pacer = Pacer(5, 10.0, clock=clock, sleep=clock.sleep)
    admitted: list[float] = []
    for run_id in range(7):
        if run_id < 5:
            clock.now = 2.0 * run_id  # one request every 2 s: 0, 2, 4, 6, 8
        elif run_id == 5:
            clock.now = 9.0
        with pacer.request("GET", jobs_url(run_id)):
            admitted.append(clock())
    # At 9 the window (−1, 9] is full: the request of 0 leaves at 10. The next one waits for
    # the request of 2 to leave (12), not for a fixed minute boundary to reset everything.
    assert admitted == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    assert clock.slept == [1.0, 2.0]
    assert pacer.waited_s == 3.0


def test_separate_endpoints_do_not_block_each_other() -> None:
    clock = FakeClock()
    pacer = Pacer(5, 10.0, clock=clock, sleep=clock.sleep)
    # Two repositories' jobs are one endpoint: owner and repo are part of the template.
    for run_id, repo in enumerate(["acme/shop"] * 3 + ["acme/web"] * 2):
        with pacer.request("GET", jobs_url(run_id, repo)):
            pass
    with pacer.request("GET", "/repos/acme/shop/contents/.github/workflows/ci.yml?ref=abc"):
        pass
    with pacer.request("GET", "/repos/acme/shop/actions/runs?per_page=100"):
        pass
    assert clock.slept == []
    with pacer.request("GET", jobs_url(99, "acme/web")):
        pass
    assert clock.slept == [10.0]


def test_non_get_requests_cost_five_points() -> None:
    clock = FakeClock()
    pacer = Pacer(12, 10.0, clock=clock, sleep=clock.sleep)
    rerun = "/repos/acme/shop/actions/runs/1/rerun"
    for _ in range(2):
        with pacer.request("POST", rerun):
            pass
    assert clock.slept == []
    with pacer.request("POST", rerun):
        pass
    assert clock.slept == [10.0]  # 10 of 12 points used: a third POST waits for the first two
    # The method is part of the endpoint; a HEAD costs 1 point, like a GET: 12 fit.
    for _ in range(12):
        with pacer.request("HEAD", rerun):
            pass
    assert clock.slept == [10.0]


def test_a_request_counts_until_a_window_after_its_answer() -> None:
    clock = FakeClock()
    pacer = Pacer(5, 10.0, clock=clock, sleep=clock.sleep)
    with ExitStack() as in_flight:
        for run_id in range(5):
            in_flight.enter_context(pacer.request("GET", jobs_url(run_id)))

        def sleep(seconds: float) -> None:
            clock.sleep(seconds)
            in_flight.close()  # the five slow requests are answered after the first wait

        pacer._sleep = sleep
        with pacer.request("GET", jobs_url(5)):
            admitted = clock()
    # Sent at 0 and answered at 10, they hold the budget until a window after that: 20.
    assert admitted == 20.0
    assert clock.slept == [10.0, 10.0]


def test_a_pause_is_announced_once_per_endpoint() -> None:
    clock = FakeClock()
    waits: list[tuple[float, str]] = []
    pacer = Pacer(5, 60.0, clock=clock, on_wait=lambda s, r: waits.append((s, r)))
    second: list[int] = []

    def sleep(seconds: float) -> None:
        if not second:
            # Another request for the same endpoint arrives while the first one waits.
            second.append(100)
            with pacer.request("GET", jobs_url(100)):
                pass
        clock.sleep(seconds)

    pacer._sleep = sleep
    for run_id in range(6):
        with pacer.request("GET", jobs_url(run_id)):
            pass
    assert clock.slept == [60.0, 60.0]
    assert waits == [(60.0, f"pacing {JOBS} to 5 points per 60 s (GitHub's secondary rate limit)")]


def test_many_threads_never_exceed_the_budget_in_any_window() -> None:
    budget, window = 20, 5.0
    clock = FakeClock()
    pacer = Pacer(budget, window, clock=clock, sleep=clock.sleep)
    urls = [jobs_url(1), "/repos/acme/shop/contents/ci.yml", "/repos/acme/shop/actions/runs"]
    sent: list[tuple[str, int, float, float]] = []  # endpoint, points, start, answer
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(40):
            method, url = rng.choice(["GET", "GET", "GET", "POST"]), rng.choice(urls)
            with pacer.request(method, url):
                start = clock()
                clock.advance(rng.uniform(0.0, 0.5))  # the answer takes a while
                answer = clock()
            with lock:
                sent.append((endpoint(method, url), points(method), start, answer))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent) == 8 * 40
    assert clock.slept, "the budget was never reached: the test proves nothing"
    # Wherever the server counts a request between its start and its answer, no window
    # [a, a + window) sees more than the budget: checked for every window starting at an answer
    # (the worst windows start there).
    for key in {s[0] for s in sent}:
        mine = [s for s in sent if s[0] == key]
        for a in (s[3] for s in mine):
            seen = sum(p for _, p, start, answer in mine if answer >= a and start < a + window)
            assert seen <= budget, (key, a, seen)


def test_a_paced_collection_keeps_each_endpoint_within_budget_and_collects_everything(
    gh: FakeGitHub, tmp_path: Path
) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=30, days=10, seed=3))

    def collect(path: Path, pacer: Pacer | None) -> Store:
        store = Store.open(path)
        with github.make_client(gh.url, Secret(DEFAULT_TOKEN)) as client:
            # Quick backoff: retried requests are paced too, and must not slow the test.
            policy = RetryPolicy(backoff_base_s=0.01)
            http = github.make_http(client, pacer=pacer, policy=policy)
            github.GitHubCollector(
                http, store, "acme/shop", now=lambda: datetime(2024, 6, 1, tzinfo=UTC)
            ).collect(datetime(2024, 5, 1, tzinfo=UTC), None)
        return store

    with collect(tmp_path / "clean.duckdb", None) as clean:
        truth = tables(clean)
    gh.clear_requests()
    gh.chaos([status(502), reset()], rate=0.1, seed=3)
    pacer = Pacer(points_per_window=20, window_s=1.0)
    with collect(tmp_path / "paced.duckdb", pacer) as paced:
        assert tables(paced) == truth
    arrivals: dict[str, list[float]] = defaultdict(list)
    for request in gh.requests:
        arrivals[request.endpoint].append(request.received)
    jobs = arrivals["/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"]
    assert len(jobs) > 20 and gh.chaos_hits > 0  # more than one window's worth
    assert pacer.waited_s > 0
    for route, times in arrivals.items():
        times.sort()
        # 21 requests inside one second would be 21 arrivals less than a second apart.
        crowded = [b - a for a, b in zip(times, times[20:], strict=False) if b - a < 1.0]
        assert crowded == [], route


def test_concurrency_above_the_cap_is_a_one_line_error(tmp_path: Path) -> None:
    result = run(
        ["collect", "github", "acme/shop", "--concurrency", "101", "--db", "x.duckdb"],
        cwd=tmp_path,
    )
    assert_one_line_error(result, 2, "1<=x<=16")
    assert not (tmp_path / "x.duckdb").exists()
