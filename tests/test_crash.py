"""Crash safety: `ci-profile collect github` killed with SIGKILL at random points.

Every run is a real process against the local fake GitHub server. After each kill the database
opens, is consistent (no job without its run, no step without its job) and still holds every row
committed before the kill; a last run to completion leaves exactly the tables of an uninterrupted
collection. Kill points are counted in requests the server has seen, not in time.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from fakegithub import DEFAULT_TOKEN, FakeGitHub, delay
from payloads import RepoHistory

TABLES = ("runs", "jobs", "steps", "pipeline_files")
Rows = dict[str, set[tuple[object, ...]]]


def command(gh: FakeGitHub, db: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ci_profile",
        "collect",
        "github",
        "acme/shop",
        "--since",
        "2024-05-01",
        "--api-url",
        gh.url,
        "--db",
        str(db),
    ]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "CI_"))}
    return {**env, "GITHUB_TOKEN": DEFAULT_TOKEN}


def rows(db: Path) -> Rows:
    con = duckdb.connect(str(db), read_only=True)
    try:
        found = {
            t: {
                tuple(tuple(v) if isinstance(v, list) else v for v in row)
                for row in con.execute(f"SELECT * FROM {t}").fetchall()
            }
            for t in TABLES
        }
        orphans = con.execute(
            """
            SELECT (SELECT count(*) FROM jobs j WHERE NOT EXISTS (
                        SELECT 1 FROM runs r WHERE (r.provider, r.project, r.run_id, r.attempt)
                                                 = (j.provider, j.project, j.run_id, j.attempt)))
                 + (SELECT count(*) FROM steps s WHERE NOT EXISTS (
                        SELECT 1 FROM jobs j WHERE (j.provider, j.project, j.job_id)
                                                 = (s.provider, s.project, s.job_id)))
            """
        ).fetchone()
    finally:
        con.close()
    assert orphans == (0,), "a job without its run or a step without its job"
    return found


def run_to_completion(gh: FakeGitHub, db: Path) -> None:
    done = subprocess.run(
        command(gh, db), env=environment(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


def run_and_kill(gh: FakeGitHub, db: Path, after_requests: int) -> bool:
    """Start a collection, SIGKILL it once the server has seen ``after_requests`` more
    requests. False when it finished first."""
    seen = len(gh.requests)
    process = subprocess.Popen(
        command(gh, db), env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if len(gh.requests) - seen >= after_requests:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    _, err = process.communicate()
    assert process.returncode == 0, err
    return False


def test_sigkill_at_random_points_loses_nothing_committed(gh: FakeGitHub, tmp_path: Path) -> None:
    gh.history_repo(RepoHistory("acme", "shop", runs=140, days=20, in_progress=0))
    # Every answer takes a little while, so a kill lands in the middle of the work.
    gh.chaos([delay(0.01)], rate=1.0, per_request=1_000_000)
    run_to_completion(gh, tmp_path / "truth.duckdb")
    truth = rows(tmp_path / "truth.duckdb")
    total = len(gh.requests)
    assert len(truth["runs"]) > 140

    db = tmp_path / "killed.duckdb"
    rng = random.Random(7)
    kills = partial = 0
    before: Rows = {t: set() for t in TABLES}
    for _ in range(6):
        killed = run_and_kill(gh, db, rng.randint(10, total))
        kills += killed
        if not db.exists():
            continue
        now = rows(db)
        for table in TABLES:
            assert before[table] <= now[table], f"{table}: committed rows were lost"
            assert now[table] <= truth[table], f"{table}: rows that a clean run never writes"
        partial += killed and 0 < len(now["runs"]) < len(truth["runs"])
        before = now
        if not killed:
            break
    assert kills >= 2 and partial >= 1
    run_to_completion(gh, db)
    assert rows(db) == truth
