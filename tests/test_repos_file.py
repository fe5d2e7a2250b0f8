"""`ci-profile collect github --repos-file FILE`: many repositories on one token and one
database writer; a repository that fails is reported and the others are still collected; run
again, it resumes (what is stored is only listed again)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from fakegithub import DEFAULT_TOKEN, FakeGitHub
from payloads import RepoHistory


def collect(gh: FakeGitHub, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_", "CI_"))}
    return subprocess.run(
        [sys.executable, "-m", "ci_profile", "collect", "github", *args, "--since", "2024-05-01",
         "--api-url", gh.url, "--db", "ci.duckdb"],
        cwd=cwd, env={**env, "GITHUB_TOKEN": DEFAULT_TOKEN}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def expected(history: RepoHistory) -> tuple[int, int]:
    attempts = sum(int(r.get("run_attempt") or 1) for r in history.runs)
    return attempts, sum(len(js) for js in history.jobs_by_run.values())


def stored(db: Path) -> dict[str, tuple[int, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT r.project, count(DISTINCT (r.run_id, r.attempt)), "
            "(SELECT count(*) FROM jobs j WHERE j.project = r.project) "
            "FROM runs r GROUP BY r.project"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_many_repositories_one_token_one_writer(gh: FakeGitHub, tmp_path: Path) -> None:
    histories = [
        RepoHistory("acme", name, runs=25, seed=i, in_progress=0) for i, name in enumerate("abc")
    ]
    for history in histories:
        gh.history_repo(history)
    (tmp_path / "repos.txt").write_text(
        "# the team's repositories\nacme/a\nacme/b   # the API\n\nacme/gone\nacme/c\nacme/a\n"
    )
    first = collect(gh, tmp_path, "--repos-file", "repos.txt")
    assert first.returncode == 4, first.stderr
    assert "3 of 4 repositories collected" in first.stdout
    assert (
        first.stderr.strip()
        .splitlines()[-1]
        .startswith("ci-profile: error: acme/gone: GitHub: repository acme/gone not found")
    )
    truth = {h.full_name: expected(h) for h in histories}
    assert stored(tmp_path / "ci.duckdb") == truth
    gh.clear_requests()
    again = collect(gh, tmp_path, "acme/a", "--repos-file", "repos.txt")
    assert again.returncode == 4
    assert stored(tmp_path / "ci.duckdb") == truth
    jobs_requests = [r for r in gh.requests if r.route.endswith("/jobs")]
    assert jobs_requests == []  # everything was stored: only the listings again
    assert len(gh.requests) == 4


def test_no_repository_named_is_a_usage_error(gh: FakeGitHub, tmp_path: Path) -> None:
    done = collect(gh, tmp_path)
    assert done.returncode == 2 and "name OWNER/REPO or give --repos-file FILE" in done.stderr
    (tmp_path / "empty.txt").write_text("# nothing yet\n")
    done = collect(gh, tmp_path, "--repos-file", "empty.txt")
    assert done.returncode == 2 and "names no project" in done.stderr


def test_gitlab_projects_file(tmp_path: Path) -> None:
    from fakegitlab import DEFAULT_TOKEN as GITLAB_TOKEN
    from fakegitlab import FakeGitLab
    from gitlab_payloads import ProjectHistory

    shop = ProjectHistory(path="acme/platform/shop", pipelines=6, in_progress=0, project_id=1)
    web = ProjectHistory(path="acme/web", pipelines=5, in_progress=0, project_id=2, seed=3)
    (tmp_path / "projects.txt").write_text("acme/platform/shop\nacme/web\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITLAB_", "CI_"))}
    with FakeGitLab() as gl:
        gl.add_project(shop)
        gl.add_project(web)
        done = subprocess.run(
            [sys.executable, "-m", "ci_profile", "collect", "gitlab", "--projects-file",
             "projects.txt", "--since", "2024-04-30", "--url", gl.url, "--max-rate", "0",
             "--db", "ci.duckdb"],
            cwd=tmp_path, env={**env, "GITLAB_TOKEN": GITLAB_TOKEN}, capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip
        assert gl.errors == []
    assert done.returncode == 0, done.stderr
    assert "2 of 2 projects collected" in done.stdout
    assert stored(tmp_path / "ci.duckdb") == {
        h.path: (len(h.details), len(h.all_jobs())) for h in (shop, web)
    }
