"""`ci-profile collect jenkins` and the Jenkins sample, end to end as a user runs them."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import duckdb
import pytest
from ci_profile.collectors.jenkins_sample import load_jenkins_sample
from ci_profile.core.store import Store
from fakejenkins import DEFAULT_TOKEN, DEFAULT_USER, FakeJenkins
from jenkins_payloads import JobHistory

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = REPO_ROOT / "sample-data"
JOB = "team/service/main"


def run(
    args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JENKINS_", "CI_PROFILE_")) and k not in ("GITHUB_TOKEN", "GH_TOKEN")
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


def credentials(url: str, token: str = DEFAULT_TOKEN) -> dict[str, str]:
    return {"JENKINS_USER": DEFAULT_USER, "JENKINS_TOKEN": token, "JENKINS_URL": url}


def test_collect_jenkins_end_to_end(tmp_path: Path) -> None:
    history = JobHistory(JOB, builds=30, in_progress=1)
    args = ["collect", "jenkins", JOB, "--since", "2024-05-01", "--db", "x.duckdb"]
    with FakeJenkins() as fj:
        fj.add_job(history)
        first = run(args, cwd=tmp_path, env=credentials(fj.url))
        assert first.returncode == 0, first.stderr
        stages = sum(len(d["stages"]) for d in history.describes.values())
        assert f"{JOB}: 30 builds listed, 30 fetched (30 builds, {stages} stages," in first.stdout
        assert "31 requests (0 retried)" in first.stdout
        (running,) = history.in_progress_numbers()
        history.finish(running)
        history.extend(2)
        # --url instead of JENKINS_URL.
        env = {k: v for k, v in credentials(fj.url).items() if k != "JENKINS_URL"}
        second = run([*args, "--url", fj.url], cwd=tmp_path, env=env)
        assert second.returncode == 0, second.stderr
        assert f"{JOB}: 3 builds listed, 3 fetched" in second.stdout
        assert "4 requests" in second.stdout
        assert fj.errors == []
    analysis = run(["analyze", "--db", "x.duckdb", "--format", "json"], cwd=tmp_path)
    report = json.loads(analysis.stdout)
    assert report["period"]["projects"] == 1 and report["period"]["runs"] == 32
    jobs = {j["job"]: j for j in report["by_job"]}
    assert jobs["E2E (kind)"]["environment_share"] > 0.3
    assert jobs["Unit"]["test_share"] > 0.9
    assert report["categories"]["other"]["share"] < 0.02
    for output in (first.stdout, first.stderr, second.stdout, second.stderr, analysis.stdout):
        assert DEFAULT_TOKEN not in output
    assert DEFAULT_TOKEN.encode() not in (tmp_path / "x.duckdb").read_bytes()


def test_collect_jenkins_bad_inputs(tmp_path: Path) -> None:
    base = ["collect", "jenkins", "--since", "2024-05-01", "--db", "x.duckdb"]
    with FakeJenkins() as fj:
        fj.add_job(JobHistory(JOB, builds=4))
        bad = run([*base, JOB], cwd=tmp_path, env=credentials(fj.url, "11aa-wrong-token-99"))
        one_line_error(bad, 4, "Jenkins rejected the credentials (HTTP 401)")
        assert "11aa-wrong-token-99" not in bad.stdout + bad.stderr
        anonymous = run([*base, JOB, "--url", fj.url], cwd=tmp_path)
        one_line_error(anonymous, 4, "anonymous access")
        assert "trying anonymous read access" in anonymous.stderr
        missing = run([*base, "team/service/nope"], cwd=tmp_path, env=credentials(fj.url))
        one_line_error(missing, 4, "Jenkins: job team/service/nope not found")
        folder = run([*base, "team"], cwd=tmp_path, env=credentials(fj.url))
        one_line_error(folder, 2, "not a job")
        wrong = run([*base, JOB], cwd=tmp_path, env=credentials(fj.url + "/ci"))
        one_line_error(wrong, 4, "no Jenkins API at this URL")
        no_url = {k: v for k, v in credentials(fj.url).items() if k != "JENKINS_URL"}
        one_line_error(run([*base, JOB], cwd=tmp_path, env=no_url), 2, "no Jenkins URL")
        since = run(
            ["collect", "jenkins", JOB, "--since", "soon", "--db", "x.duckdb"],
            cwd=tmp_path,
            env=credentials(fj.url),
        )
        one_line_error(since, 2, "--since")
        assert fj.errors == []
    with duckdb.connect(str(tmp_path / "x.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_collect_jenkins_without_stage_view(tmp_path: Path) -> None:
    with FakeJenkins(stage_view=False) as fj:
        fj.add_job(JobHistory(JOB, builds=5, in_progress=0))
        result = run(
            ["collect", "jenkins", JOB, "--since", "2024-05-01", "--db", "x.duckdb"],
            cwd=tmp_path,
            env=credentials(fj.url),
        )
    assert result.returncode == 0, result.stderr
    assert "warning: Jenkins has no Pipeline Stage View plugin" in result.stderr
    assert (
        f"{JOB}: 5 builds listed, 5 fetched (5 builds, 5 stages, 0 steps stored)" in result.stdout
    )


# -- the sample ------------------------------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_jenkins", SAMPLE / "generate_jenkins.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_jenkins"] = module
    spec.loader.exec_module(module)
    return module


def test_the_sample_is_what_the_generator_writes() -> None:
    generator = _generator()
    history = SAMPLE / "jenkins" / "platform" / "inventory-service" / "ci-history"
    builds, describes = generator.generate()
    assert builds == (history / "builds.json").read_bytes()
    assert describes == (history / "describe.json").read_bytes()
    jenkinsfile = (history.parent / "Jenkinsfile").read_text()
    assert generator.verify(json.loads(builds), json.loads(describes), jenkinsfile) == []


def test_the_sample_loads_through_the_normalizers(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.duckdb") as store:
        loaded = load_jenkins_sample(SAMPLE / "jenkins", store)
        assert loaded.projects == ["platform/inventory-service"]
        data = json.loads(
            (SAMPLE / "jenkins/platform/inventory-service/ci-history/builds.json").read_bytes()
        )
        assert loaded.runs == len(data["allBuilds"]) == store.counts()["runs"]
        con = store.con
        branches = con.execute(
            "SELECT DISTINCT stage FROM jobs WHERE name IN ('Unit', 'Migrations') AND started_at "
            "IS NOT NULL"
        ).fetchall()
        assert branches == [("Checks",)]
        events = dict(con.execute("SELECT event, count(*) FROM runs GROUP BY ALL").fetchall())
        assert set(events) == {"push", "schedule", "manual", "rebuild", "replay"}
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'in_progress'").fetchone() == (
            1,
        )
        # Before the Metrics plugin was installed queue time is unknown: NULL, not 0.
        queued = con.execute(
            "SELECT count(*), count(queued_s), min(queued_s) FROM jobs "
            "WHERE name = 'Declarative: Checkout SCM'"
        ).fetchone()
        assert queued is not None and queued[0] > queued[1] > 0 and queued[2] > 0
        shas = con.execute("SELECT count(DISTINCT sha) FROM runs").fetchone()
        files = con.execute("SELECT count(DISTINCT sha), count(content) FROM pipeline_files")
        assert shas is not None and files.fetchone() == (shas[0], shas[0])
        commands = {
            r[0]
            for r in con.execute("SELECT command FROM steps WHERE command IS NOT NULL").fetchall()
        }
        assert "docker compose -f ci/compose.yml up -d --wait" in commands
        assert con.execute(
            "SELECT count(*) FROM jobs WHERE finished_at < started_at OR queued_s < 0"
        ).fetchone() == (0,)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    workdir = tmp_path_factory.mktemp("jenkins-demo")
    result = run(["demo", "--db", "demo.duckdb", "--format", "json"], cwd=workdir)
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def test_demo_shows_the_jenkins_job_beside_github(demo_report: dict[str, object]) -> None:
    projects = {p["project"] for p in demo_report["by_project"]}  # type: ignore[attr-defined]
    assert {"platform/inventory-service", "acme/storefront", "acme/payments-api"} <= projects
    jobs = {(j["project"], j["job"]): j for j in demo_report["by_job"]}  # type: ignore[attr-defined]
    assert jobs[("platform/inventory-service", "E2E (kind)")]["environment_share"] > 0.5
    assert jobs[("platform/inventory-service", "Unit")]["test_share"] > 0.9
    assert jobs[("platform/inventory-service", "Integration (compose)")]["environment_share"] > 0.2
