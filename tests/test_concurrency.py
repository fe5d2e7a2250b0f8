"""Concurrent use of one database by real processes: two collections, analyze during a collection.

`collect` opens the database only per read and per batch, so other processes get in between; a
second collection of the same project is refused at once with a one-line message, collections of
different projects run side by side, and `analyze` reads while a collection writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from fakegithub import DEFAULT_TOKEN, FakeGitHub, delay
from payloads import RepoHistory


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "ci_profile", *args]


def collect_args(gh: FakeGitHub, repo: str, db: Path) -> list[str]:
    return cli(
        "collect", "github", repo, "--since", "2024-05-01", "--api-url", gh.url, "--db", str(db)
    )


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "CI_"))}
    return {**env, "GITHUB_TOKEN": DEFAULT_TOKEN}


def expected(history: RepoHistory) -> tuple[int, int, int]:
    attempts = sum(int(r.get("run_attempt") or 1) for r in history.runs)
    jobs = [j for js in history.jobs_by_run.values() for j in js]
    return attempts, len(jobs), sum(len(j.get("steps") or []) for j in jobs)


def stored(db: Path, project: str) -> tuple[int, int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        counts = tuple(
            con.execute(f"SELECT count(*) FROM {t} WHERE project = ?", [project]).fetchone()[0]  # type: ignore[index]
            for t in ("runs", "jobs", "steps")
        )
        duplicates = con.execute(
            "SELECT count(*) FROM (SELECT job_id FROM jobs GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()
    finally:
        con.close()
    assert duplicates == (0,)
    return counts  # type: ignore[return-value]


def start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stall(gh: FakeGitHub, history: RepoHistory, first: int, seconds: float = 10.0) -> None:
    """Hold back the jobs of the listed runs ``first`` .. ``first + 3`` (newest first): a
    collection with four workers stops there for ``seconds``, having committed what came
    before."""
    listed = sorted(history.runs, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    for run in listed[first : first + 4]:
        gh.inject(delay(seconds), path_contains=f"/runs/{run['id']}/jobs")


def wait_for_requests(gh: FakeGitHub, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while len(gh.requests) < count and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def test_a_second_collection_of_the_same_project_is_refused_in_one_line(
    gh: FakeGitHub, tmp_path: Path
) -> None:
    history = RepoHistory("acme", "shop", runs=120, days=20)
    gh.history_repo(history)
    stall(gh, history, 0)
    db = tmp_path / "ci.duckdb"
    first = start(collect_args(gh, "acme/shop", db))
    wait_for_requests(gh, 1, first)  # listed; now held back on its first jobs
    second = subprocess.run(
        collect_args(gh, "acme/shop", db), env=environment(), capture_output=True, text=True
    )
    assert second.returncode == 3, second.stderr
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert lines == [
        f"ci-profile: error: github acme/shop is already being collected into {db} by another "
        "ci-profile process; wait for it to finish"
    ]
    code, _, err = finish(first)
    assert code == 0, err
    assert stored(db, "acme/shop") == expected(history)
    assert "Traceback" not in second.stderr


def test_collections_of_different_projects_share_one_database(
    gh: FakeGitHub, tmp_path: Path
) -> None:
    shop = RepoHistory("acme", "shop", runs=110, days=20, seed=1)
    web = RepoHistory("acme", "web", runs=110, days=20, seed=2)
    gh.history_repo(shop)
    gh.history_repo(web)
    gh.chaos([delay(0.01)], rate=1.0, per_request=1_000_000)
    db = tmp_path / "ci.duckdb"
    first = start(collect_args(gh, "acme/shop", db))
    wait_for_requests(gh, 5, first)
    second = start(collect_args(gh, "acme/web", db))
    for process in (first, second):
        code, _, err = finish(process)
        assert code == 0, err
    assert stored(db, "acme/shop") == expected(shop)
    assert stored(db, "acme/web") == expected(web)


def test_analyze_reads_while_collect_writes(gh: FakeGitHub, tmp_path: Path) -> None:
    history = RepoHistory("acme", "shop", runs=140, days=20)
    gh.history_repo(history)
    stall(gh, history, 50)
    db = tmp_path / "ci.duckdb"
    collection = start(collect_args(gh, "acme/shop", db))
    wait_for_requests(gh, 50, collection)  # the first batch of 50 runs is being committed
    reads = 0
    while collection.poll() is None and reads < 2:
        analyzed = subprocess.run(
            cli("analyze", "--db", str(db), "--format", "json", "--section", "none"),
            env=environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert analyzed.returncode == 0, analyzed.stderr
        assert isinstance(json.loads(analyzed.stdout), dict)
        reads += 1
    assert reads >= 1
    code, _, err = finish(collection)
    assert code == 0, err
    assert stored(db, "acme/shop") == expected(history)
