"""End to end through the real console entry point, as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest
from fakegithub import DEFAULT_TOKEN, FakeGitHub
from payloads import RepoHistory

REPO_ROOT = Path(__file__).resolve().parent.parent


def run(
    args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GITHUB_TOKEN", "GH_TOKEN", "CI_PROFILE_DB")
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


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], code: int, fragment: str
) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) >= 1 and lines[-1].startswith("ci-profile: error: "), result.stderr
    assert fragment in lines[-1], lines[-1]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("demo")
    result = run(["demo", "--db", "demo.duckdb"], cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "Time by category" in result.stdout
    assert "Environment time a shared cluster could remove" in result.stdout
    return workdir / "demo.duckdb"


def test_demo_shows_environment_heavy_jobs(demo_db: Path) -> None:
    result = run(["analyze", "--db", str(demo_db), "--format", "json"], cwd=demo_db.parent)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    categories = report["categories"]
    assert set(categories) == {
        "queue",
        "setup",
        "dependencies",
        "environment",
        "build",
        "test",
        "lint",
        "teardown",
        "publish",
        "other",
    }
    assert abs(sum(c["share"] for c in categories.values()) - 1) < 0.01
    assert categories["other"]["share"] < 0.02
    jobs = {(j["project"], j["job"]): j for j in report["by_job"]}
    # The kind + helm job and the services job spend most of their runner time building environments.
    assert jobs[("acme/payments-api", "e2e-kind")]["environment_share"] > 0.5
    assert jobs[("acme/storefront", "integration")]["environment_share"] > 0.5
    assert jobs[("acme/storefront", "unit (3.12)")]["test_share"] > 0.5
    assert jobs[("acme/payments-api", "golangci")]["environment_share"] == 0
    assert report["queue"]["p90_s"] >= report["queue"]["p50_s"] > 0
    assert len(report["top_steps"]) == 10
    removable = {r["job"] for r in report["environment"]}
    assert {"e2e-kind", "integration", "e2e-compose"} <= removable


def test_demo_twice_leaves_identical_tables(demo_db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "again.duckdb"
    for _ in range(2):
        assert run(["demo", "--db", str(copy), "--format", "json"], cwd=tmp_path).returncode == 0
    tables = ("runs", "jobs", "steps", "pipeline_files", "step_classes")
    with (
        duckdb.connect(str(copy), read_only=True) as a,
        duckdb.connect(str(demo_db), read_only=True) as b,
    ):
        for table in tables:
            query = f"SELECT * FROM {table} ORDER BY ALL"
            assert a.execute(query).fetchall() == b.execute(query).fetchall(), table


@pytest.mark.parametrize("output_format", ["table", "json", "markdown", "csv"])
def test_analyze_every_format(demo_db: Path, output_format: str) -> None:
    result = run(
        [
            "analyze",
            "--db",
            str(demo_db),
            "--format",
            output_format,
            "--project",
            "acme/storefront",
        ],
        cwd=demo_db.parent,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if output_format == "json":
        assert json.loads(out)["period"]["projects"] == 1
    elif output_format == "markdown":
        assert out.startswith("## ci-profile")
        assert "| category | time | share |" in out
        assert "acme/payments-api" not in out
    elif output_format == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows[0].keys() >= {"section", "category", "seconds", "share"}
        assert {r["section"] for r in rows} >= {
            "categories",
            "project",
            "job",
            "top_steps",
            "environment",
        }
    else:
        assert "By project" in out and "acme/storefront" in out


def test_analyze_empty_period_says_not_enough_data(demo_db: Path) -> None:
    for output_format in ("table", "json", "markdown", "csv"):
        result = run(
            ["analyze", "--db", str(demo_db), "--since", "2030-01-01", "--format", output_format],
            cwd=demo_db.parent,
        )
        assert result.returncode == 0, result.stderr
        assert "NaN" not in result.stdout
    result = run(["analyze", "--db", str(demo_db), "--since", "2030-01-01"], cwd=demo_db.parent)
    assert "nothing to analyze" in result.stdout


def test_collect_github_end_to_end(tmp_path: Path) -> None:
    history = RepoHistory("acme", "shop", runs=30)
    with FakeGitHub() as gh:
        gh.history_repo(history)
        env = {"GITHUB_TOKEN": DEFAULT_TOKEN}
        args = [
            "collect",
            "github",
            "acme/shop",
            "--since",
            "2024-05-01",
            "--api-url",
            gh.url,
            "--db",
            "x.duckdb",
        ]
        first = run(args, cwd=tmp_path, env=env)
        assert first.returncode == 0, first.stderr
        assert "acme/shop: 30 runs listed, 30 fetched" in first.stdout
        assert "rate limit left" in first.stdout
        second = run(args, cwd=tmp_path, env=env)
        assert second.returncode == 0, second.stderr
        assert "0 fetched" in second.stdout or "1 fetched" in second.stdout
    analysis = run(["analyze", "--db", "x.duckdb", "--format", "json"], cwd=tmp_path)
    assert json.loads(analysis.stdout)["period"]["projects"] == 1
    for output in (first.stdout, first.stderr, second.stdout, second.stderr, analysis.stdout):
        assert DEFAULT_TOKEN not in output
    assert DEFAULT_TOKEN.encode() not in (tmp_path / "x.duckdb").read_bytes()


def test_collect_bad_inputs(tmp_path: Path) -> None:
    with FakeGitHub() as gh:
        gh.history_repo(RepoHistory("acme", "shop", runs=8))
        base = [
            "collect",
            "github",
            "--since",
            "2024-05-01",
            "--api-url",
            gh.url,
            "--db",
            "x.duckdb",
        ]
        bad_token = run(
            [*base, "acme/shop"], cwd=tmp_path, env={"GITHUB_TOKEN": "ghp_not_the_right_one_123"}
        )
        assert_one_line_error(bad_token, 4, "rejected the token")
        assert "ghp_not_the_right_one_123" not in bad_token.stderr + bad_token.stdout
        missing = run([*base, "acme/nothing"], cwd=tmp_path, env={"GITHUB_TOKEN": DEFAULT_TOKEN})
        assert_one_line_error(missing, 4, "not found")
        malformed = run([*base, "not-a-repo"], cwd=tmp_path, env={"GITHUB_TOKEN": DEFAULT_TOKEN})
        assert_one_line_error(malformed, 2, "OWNER/REPO")
        since = run(
            ["collect", "github", "acme/shop", "--since", "last tuesday", "--db", "x.duckdb"],
            cwd=tmp_path,
        )
        assert_one_line_error(since, 2, "--since")
        gh.budget(DEFAULT_TOKEN).remaining = 0
        limited = run(
            [*base, "acme/shop", "--max-wait", "0"],
            cwd=tmp_path,
            env={"GITHUB_TOKEN": DEFAULT_TOKEN},
        )
        assert_one_line_error(limited, 4, "rate limit exhausted")
    unreachable = run(
        ["collect", "github", "acme/shop", "--api-url", "http://127.0.0.1:9", "--db", "x.duckdb"],
        cwd=tmp_path,
    )
    assert_one_line_error(unreachable, 4, "cannot connect")


def test_store_problems_are_one_line_errors(demo_db: Path, tmp_path: Path) -> None:
    assert_one_line_error(
        run(["analyze", "--db", "missing.duckdb"], cwd=tmp_path), 3, "no database at"
    )
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"\xff\xfe definitely not duckdb \x00" * 64)
    assert_one_line_error(
        run(["analyze", "--db", str(junk)], cwd=tmp_path), 3, "cannot use database"
    )
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(demo_db)!r}); print('ok', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        assert_one_line_error(
            run(["analyze", "--db", str(demo_db)], cwd=tmp_path), 3, "in use by another"
        )
    finally:
        holder.kill()
        holder.wait()
    # Nothing was lost: the database still answers afterwards.
    assert run(["analyze", "--db", str(demo_db), "--format", "json"], cwd=tmp_path).returncode == 0


def test_user_rules_from_config_files(demo_db: Path, tmp_path: Path) -> None:
    (tmp_path / "ci-profile.toml").write_text(
        textwrap.dedent(
            """\
            [[rule]]
            id = "acme-soak"
            category = "test"
            description = "Our soak suite"
            name = "^Soak test$"

            [[rule]]
            id = "acme-helm-repo-is-environment"
            category = "environment"
            run = "helm repo add"
            """
        )
    )
    result = run(["analyze", "--db", str(demo_db), "--format", "json"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    steps = {s["step"]: s for s in json.loads(result.stdout)["top_steps"]}
    assert steps["Soak test"]["rule"] == "acme-soak"
    with duckdb.connect(str(demo_db), read_only=True) as con:
        rules = {r[0] for r in con.execute("SELECT DISTINCT rule FROM classified_steps").fetchall()}
    assert "acme-helm-repo-is-environment" in rules
    (tmp_path / "ci-profile.toml").write_text(
        '[[rule]]\nid = "broken"\ncategory = "test"\nname = "(unclosed"\n'
    )
    assert_one_line_error(run(["analyze", "--db", str(demo_db)], cwd=tmp_path), 2, "broken")
    (tmp_path / "ci-profile.toml").write_bytes(b'[[rule]]\nid = "\xff\xfe"\n')
    assert_one_line_error(
        run(["analyze", "--db", str(demo_db)], cwd=tmp_path), 2, "ci-profile.toml"
    )
    (tmp_path / "ci-profile.toml").unlink()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ci-profile]\n[[tool.ci-profile.rule]]\nid = "py-soak"\ncategory = "lint"\nname = "^Soak test$"\n'
    )
    result = run(["analyze", "--db", str(demo_db), "--format", "json"], cwd=tmp_path)
    steps = {s["step"]: s for s in json.loads(result.stdout)["top_steps"]}
    assert steps["Soak test"]["category"] == "lint"
