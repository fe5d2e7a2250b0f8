"""`ci-profile collect gitlab` and the GitLab sample, end to end through the console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb
from fakegitlab import DEFAULT_TOKEN, FakeGitLab
from gitlab_payloads import ProjectHistory

TABLES = ("runs", "jobs", "steps", "pipeline_files", "step_classes")


def run(
    args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GITLAB_TOKEN", "GITLAB_URL", "CI_PROFILE_DB")
    }
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "ci_profile", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[-1].startswith("ci-profile: error: "), result.stderr
    assert fragment in lines[-1], lines[-1]


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in TABLES}


def test_collect_gitlab_twice_end_to_end(tmp_path: Path) -> None:
    history = ProjectHistory(pipelines=20, in_progress=0)
    env = {"GITLAB_TOKEN": DEFAULT_TOKEN}
    with FakeGitLab() as gl:
        gl.add_project(history)
        args = ["collect", "gitlab", history.path, "--since", "2024-04-30", "--url", gl.url]
        args += ["--max-rate", "0", "--db", "x.duckdb"]
        first = run(args, cwd=tmp_path, env=env)
        assert first.returncode == 0, first.stderr
        children = len(history.details) - len(history.top_level())
        assert (
            f"{history.path}: 20 pipelines listed, 20 fetched ({len(history.details)} pipelines incl. {children} child"
            in first.stdout
        )
        assert "rate limit left" in first.stdout
        before = dump(tmp_path / "x.duckdb")
        second = run(args, cwd=tmp_path, env={**env, "GITLAB_URL": "http://127.0.0.1:9"})
        assert second.returncode == 0, second.stderr
        assert "0 fetched" in second.stdout and "; 2 requests" in second.stdout
        assert dump(tmp_path / "x.duckdb") == before  # collecting twice leaves identical tables
    analysis = run(
        ["analyze", "--db", "x.duckdb", "--format", "json", "--provider", "gitlab"], cwd=tmp_path
    )
    report = json.loads(analysis.stdout)
    assert report["period"]["projects"] == 1
    assert report["categories"]["other"]["share"] < 0.05
    for output in (first.stdout, first.stderr, second.stdout, second.stderr, analysis.stdout):
        assert DEFAULT_TOKEN not in output
    assert DEFAULT_TOKEN.encode() not in (tmp_path / "x.duckdb").read_bytes()


def test_collect_gitlab_bad_inputs(tmp_path: Path) -> None:
    with FakeGitLab() as gl:
        history = ProjectHistory(pipelines=3, in_progress=0)
        gl.add_project(history)
        base = ["collect", "gitlab", "--since", "2024-04-30", "--url", gl.url, "--db", "x.duckdb"]
        bad_token = run(
            [*base, history.path], cwd=tmp_path, env={"GITLAB_TOKEN": "glpat-not-the-right-one"}
        )
        one_line_error(bad_token, 4, "rejected the token")
        assert "glpat-not-the-right-one" not in bad_token.stderr + bad_token.stdout
        missing = run([*base, "acme/nothing"], cwd=tmp_path, env={"GITLAB_TOKEN": DEFAULT_TOKEN})
        one_line_error(missing, 4, "project acme/nothing not found, or the token cannot see it")
        anonymous = run([*base, history.path], cwd=tmp_path)
        one_line_error(anonymous, 4, "not found")
        assert "no GITLAB_TOKEN set" in anonymous.stderr
        malformed = run([*base, "not-a-path"], cwd=tmp_path, env={"GITLAB_TOKEN": DEFAULT_TOKEN})
        one_line_error(malformed, 2, "GROUP/PROJECT")
        wrong = run(
            ["collect", "gitlab", history.path, "--url", gl.url + "/nope", "--db", "x.duckdb"],
            cwd=tmp_path,
            env={"GITLAB_TOKEN": DEFAULT_TOKEN},
        )
        one_line_error(wrong, 4, "check --url")
        since = run([*base, history.path, "--since", "last tuesday"], cwd=tmp_path)
        one_line_error(since, 2, "--since")
        scheme = run(
            ["collect", "gitlab", history.path, "--url", "gitlab.example.com"], cwd=tmp_path
        )
        one_line_error(scheme, 2, "--url")
    with FakeGitLab(rate_limit=1) as limited:
        limited.add_project(history)
        result = run(
            [
                "collect",
                "gitlab",
                history.path,
                "--url",
                limited.url,
                "--max-wait",
                "0",
                "--db",
                "x.duckdb",
            ],
            cwd=tmp_path,
            env={"GITLAB_TOKEN": DEFAULT_TOKEN},
        )
        one_line_error(result, 4, "rate limit exhausted")
    # (An address where nothing listens is tested at the collector level: the CLI would spend
    # the client's connection backoff in real time.)


def test_demo_shows_the_gitlab_project(tmp_path: Path) -> None:
    result = run(["demo", "--db", "demo.duckdb", "--format", "json"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    projects = {p["project"] for p in report["by_project"]}
    assert "acme/warehouse-api" in projects
    jobs = {(j["project"], j["job"]): j for j in report["by_job"]}
    compose = jobs[("acme/warehouse-api", "e2e-compose")]
    assert compose["environment_share"] > 0.3 and compose["test_share"] > 0.1
    assert jobs[("acme/warehouse-api", "unit: [3.12]")]["test_share"] > 0.4
    with duckdb.connect(str(tmp_path / "demo.duckdb"), read_only=True) as con:
        other = con.execute(
            "SELECT sum(duration_s) FILTER (WHERE category = 'other') / sum(duration_s) "
            "FROM classified_steps WHERE provider = 'gitlab'"
        ).fetchone()
        assert other is not None and (other[0] or 0) < 0.01
        child = con.execute(
            "SELECT count(*) FROM runs WHERE provider = 'gitlab' AND parent_run_id IS NOT NULL "
            "AND pipeline_path = 'ci/review.gitlab-ci.yml'"
        ).fetchone()
        assert child is not None and child[0] > 20
        assert con.execute(
            "SELECT count(*) FROM step_classes WHERE provider = 'gitlab' AND command LIKE '%pytest%'"
        ).fetchone() != (0,)
