"""`ci-profile analyze` with the new sections, end to end through the console entry point."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from test_cli import assert_one_line_error, run

NEW_KEYS = {
    "claim",
    "critical_path",
    "whatif",
    "percentiles",
    "trends",
    "waste",
    "cost",
    "concurrency",
}
OLD_KEYS = {
    "period",
    "categories",
    "headline",
    "by_project",
    "by_pipeline",
    "by_job",
    "queue",
    "top_steps",
    "environment",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("analysis-demo")
    result = run(["demo", "--db", "demo.duckdb", "--format", "json"], cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir / "demo.duckdb"


def analyze(db: Path, *args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    result = run(["analyze", "--db", str(db), *args], cwd=cwd or db.parent)
    return result.returncode, result.stdout, result.stderr


def test_every_section_by_default_and_the_old_keys_kept(demo: Path) -> None:
    code, out, err = analyze(demo, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= OLD_KEYS | NEW_KEYS
    cp = data["critical_path"]
    assert cp["status"] == "ok" and cp["runs"] > 300
    assert cp["dependency_model"]["jobs_needs"] > 0
    paths: dict[tuple[str, str], dict[str, object]] = {}
    for p in cp["paths"]:  # most frequent first
        paths.setdefault((p["project"], p["pipeline"]), p)
    assert paths[("acme/payments-api", "ci")]["chain"] == "build → e2e-kind"
    jobs = {(r["project"], r["job"]): r for r in cp["by_job"]}
    assert jobs[("acme/payments-api", "e2e-kind")]["on_path_share"] > 0.9
    assert jobs[("acme/payments-api", "golangci")]["on_path_share"] < 0.1
    wi = data["whatif"]
    assert wi["session_start_s"] == 20.0
    assert 0 < wi["all"]["wall_saving_s"] <= wi["all"]["runner_saving_s"] + 1
    assert data["claim"]["cost"]["verdict"] in ("true", "false")
    assert data["cost"]["prices_as_of"] == "2026-01-01"


def test_one_section(demo: Path) -> None:
    code, out, err = analyze(demo, "--format", "json", "--section", "cost")
    assert code == 0, err
    data = json.loads(out)
    assert "cost" in data and not ({"critical_path", "whatif", "trends"} & set(data))
    code, out, _ = analyze(demo, "--format", "json", "--section", "none")
    assert not (NEW_KEYS & set(json.loads(out)))


def test_session_start_cost_option_and_config(demo: Path, tmp_path: Path) -> None:
    code, out, err = analyze(
        demo, "--format", "json", "--section", "opportunities", "--session-start-cost", "1m"
    )
    assert code == 0, err
    assert json.loads(out)["whatif"]["session_start_s"] == 60.0
    (tmp_path / "ci-profile.toml").write_text("[analysis]\nsession_start_s = 45\n")
    code, out, err = analyze(demo, "--format", "json", "--section", "opportunities", cwd=tmp_path)
    assert code == 0, err
    assert json.loads(out)["whatif"]["session_start_s"] == 45.0
    bad = run(["analyze", "--db", str(demo), "--session-start-cost", "soon"], cwd=tmp_path)
    assert_one_line_error(bad, 2, "--session-start-cost")
    (tmp_path / "ci-profile.toml").write_text('[cost]\nprice = [{labels = "(", per_minute = 1}]\n')
    assert_one_line_error(
        run(["analyze", "--db", str(demo)], cwd=tmp_path), 2, "regular expression"
    )


def test_provisioning_gate(demo: Path) -> None:
    code, out, err = analyze(
        demo,
        "--format",
        "markdown",
        "--section",
        "none",
        "--fail-if-provisioning-share-above",
        "0.1",
    )
    assert code == 1
    assert out.startswith("## ci-profile")  # the report is still written
    assert "gate failed: provisioning is" in err and "of runner time" in err
    assert "Traceback" not in err
    code, _, err = analyze(
        demo, "--format", "json", "--section", "none", "--fail-if-provisioning-share-above", "0.99"
    )
    assert code == 0, err
    code, out, err = analyze(
        demo,
        "--format",
        "json",
        "--section",
        "none",
        "--gate-basis",
        "critical-path",
        "--fail-if-provisioning-share-above",
        "0.05",
    )
    assert code == 1 and "critical path" in err
    assert "critical_path" not in json.loads(out)  # computed for the gate, not shown
    bad = run(
        ["analyze", "--db", str(demo), "--fail-if-provisioning-share-above", "7"], cwd=demo.parent
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_markdown_reads_as_a_job_summary(demo: Path) -> None:
    code, out, err = analyze(demo, "--format", "markdown")
    assert code == 0, err
    assert out.startswith("## ci-profile: where the CI time goes")
    assert "> Claim tested:" in out
    for title in (
        "### Runner time (cost) vs critical path (waiting), by category",
        "### Jobs on the critical path",
        "### Opportunities: what removing environment provisioning would change",
        "### Run duration percentiles",
        "### Duration regressions",
        "### Waste: runner time that bought no result",
        "### Cost by runner label",
        "### Concurrency by runner label",
    ):
        assert title in out
    tables = [line for line in out.splitlines() if line.startswith("|")]
    assert all(line.endswith("|") for line in tables)
    assert "NaN" not in out


@pytest.mark.parametrize("output", ["table", "csv"])
def test_table_and_csv_keep_the_sections(demo: Path, output: str) -> None:
    code, out, err = analyze(demo, "--format", output)
    assert code == 0, err
    if output == "csv":
        sections = {r["section"] for r in csv.DictReader(io.StringIO(out))}
        assert {
            "critical_path",
            "opportunities",
            "percentiles_run_duration",
            "trends_weekly",
            "regressions",
            "waste",
            "cost_label",
            "concurrency",
        } <= sections
    else:
        assert "Jobs on the critical path" in out and "Cost by runner label" in out


def test_empty_period_every_section_every_format(demo: Path) -> None:
    for output in ("table", "json", "markdown", "csv"):
        code, out, err = analyze(demo, "--since", "2030-01-01", "--format", output)
        assert code == 0, err
        assert "NaN" not in out
        if output == "json":
            data = json.loads(out)
            assert data["critical_path"]["status"] == "not enough data"
            assert data["whatif"]["status"] == "not enough data"
