"""Waste, cost and concurrency on hand-built runs; every format renders every section."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from ci_profile.analysis import cost
from ci_profile.analysis.breakdown import Filters, build_report, period_frames
from ci_profile.analysis.explore import run_figures
from ci_profile.analysis.render import to_csv, to_json, to_markdown, to_rich
from ci_profile.analysis.sections import SECTIONS, AnalysisOptions, options_from_config
from ci_profile.core.store import Store
from reference_breakdown import reference_breakdown
from rich.console import Console
from test_analysis_world import T0, J, R, S, job, mem, report, write

__all__ = ["mem"]


def retried() -> list[R]:
    failing = job("e2e", 0, 10, 110, env=50)
    failing.conclusion = "failure"
    failing.steps[-1].conclusion = "failure"
    cancelled = job("e2e", 500, 505, 530)
    cancelled.conclusion = "cancelled"
    return [
        R("1", [job("build", 0, 0, 60), failing], attempt=1, conclusion="failure", sha="abc"),
        R(
            "1",
            [job("build", 1000, 1000, 1060), job("e2e", 1000, 1010, 1110, env=50)],
            attempt=2,
            conclusion="success",
            sha="abc",
        ),
        R("2", [cancelled], conclusion="cancelled", sha="def"),
    ]


def test_waste_counts_failures_cancellations_reruns_and_flakes(mem: Store) -> None:
    write(mem, retried())
    w = report(mem, ["waste"]).waste
    assert w is not None
    t = w["totals"]
    assert t["runner_s"] == 60 + 100 + 60 + 100 + 25
    assert t["failed_jobs_s"] == 100 and t["cancelled_jobs_s"] == 25
    assert t["failed_attempts_s"] == 160 and t["cancelled_attempts_s"] == 25
    assert t["rerun_s"] == 160 and t["superseded_s"] == 160 and t["rerun_runs"] == 1
    assert t["failed_jobs_share"] == round(100 / 345, 4)
    (e2e,) = [r for r in w["failing_jobs"] if r["job"] == "e2e"]
    assert (e2e["failures"], e2e["cancellations"], e2e["failure_rate"]) == (1, 1, 0.5)
    (step,) = w["failing_steps"]
    assert step["step"] == "Run tests" and step["category"] == "test"
    (flaky,) = w["flaky"]
    assert (flaky["job"], flaky["shas_failed"], flaky["shas_flaky"]) == ("e2e", 1, 1)
    assert flaky["flaky_failed_runner_s"] == 100
    # Wasted counts each second once: attempt 1 (replaced) plus the cancelled job of run 2.
    assert t["wasted_s"] == 160 + 25


def test_analyze_and_the_dashboard_agree_on_waste(mem: Store) -> None:
    write(mem, retried())
    w = report(mem, ["waste"]).waste
    assert w is not None
    figures = run_figures(mem.con, Filters())
    assert figures["waste_s"] == w["totals"]["wasted_s"] == 185
    assert figures["retried_s"] == 160 and figures["failed_s"] == 25


def test_cost_prices_runner_minutes_by_label(mem: Store) -> None:
    jobs = [
        job("linux", 0, 0, 61, labels=("ubuntu-latest",)),
        job("big", 0, 0, 120, labels=("ubuntu-latest-16-cores",)),
        job("win", 0, 0, 60, labels=("windows-latest",)),
        job("mac", 0, 0, 60, labels=("macos-14",)),
        job("own", 0, 0, 600, env=300, labels=("self-hosted", "linux", "x64")),
        job("odd", 0, 0, 60, labels=("team-pool",)),
    ]
    write(mem, [R("1", jobs)])
    c = report(mem, ["cost"]).cost
    assert c is not None
    assert c["prices_as_of"] == "2026-01-01" and "docs.github.com" in c["prices_source"]
    labels = {r["label"]: r for r in c["by_label"]}
    assert labels["ubuntu-latest"]["billed_minutes"] == 2  # 61 s rounds up to 2 minutes
    assert labels["ubuntu-latest"]["cost"] == 0.01  # 2 x $0.006, rounded to cents
    assert labels["ubuntu-latest-16-cores"]["price_id"] == "github-linux-16-core"
    assert labels["windows-latest"]["per_minute"] == 0.010
    assert labels["macos-14"]["per_minute"] == 0.062
    assert labels["self-hosted,linux,x64"]["cost"] == 0.0
    assert labels["team-pool"]["price_id"] == "unpriced"
    assert c["unpriced_labels"] == ["github: team-pool"]
    assert c["total"]["cost"] == pytest.approx(2 * 0.006 + 2 * 0.042 + 0.010 + 0.062, abs=0.01)


def test_cost_table_from_config_goes_first(mem: Store) -> None:
    write(mem, [R("1", [job("own", 0, 0, 600, env=300, labels=("self-hosted", "large"))])])
    options = options_from_config(
        {
            "cost": {
                "round_up_per_job": False,
                "price": [{"id": "ours", "labels": "large", "per_minute": 0.05}],
            }
        },
        "ci-profile.toml",
    )
    out = build_report(mem.con, Filters(), sections=["cost", "opportunities"], options=options)
    assert out.cost is not None
    (row,) = out.cost["by_label"]
    assert (row["price_id"], row["cost"]) == ("ours", 0.5)
    assert out.cost["by_category"]["environment"] == 0.25
    assert out.whatif is not None
    assert out.whatif["all"]["money_saving"] == pytest.approx((300 - 20) / 60 * 0.05, abs=0.01)


def test_default_prices_match_the_pricing_page() -> None:
    book = cost.default_price_book()
    rate = {p.id: p.per_minute for p in book.prices}
    assert rate["github-linux-2-core"] == 0.006
    assert rate["github-windows-2-core"] == 0.010
    assert rate["github-macos"] == 0.062
    assert rate["self-hosted"] == 0.0
    assert book.price_for("github", "ubuntu-24.04-arm") is not None
    assert book.price_for("github", "ubuntu-24.04-arm").id == "github-linux-2-core-arm"  # type: ignore[union-attr]
    assert book.price_for("gitlab", "saas-linux-small-amd64") is None


def test_concurrency_peaks_per_label(mem: Store) -> None:
    jobs = [job("a", 0, 0, 100), job("b", 0, 50, 150), job("c", 40, 100, 200)]
    jobs.append(job("other-pool", 0, 0, 300, labels=("self-hosted",)))
    write(mem, [R("1", jobs)])
    cc = report(mem, ["concurrency"]).concurrency
    assert cc is not None
    pools = {r["label"]: r for r in cc["by_label"]}
    hosted = pools["ubuntu-latest"]
    assert hosted["peak_running"] == 2  # c starts the second a ends: not an overlap
    assert hosted["peak_waiting"] == 2  # b waits 0-50, c waits 40-100
    assert hosted["peak_running_at"] == T0 + timedelta(seconds=50)
    assert pools["self-hosted"]["peak_running"] == 1
    assert {r["hour"] for r in cc["by_hour"]} == {9}


def _world() -> list[R]:
    runs = retried()
    runs.append(R("3", [job("soak", 2000, 2000, 4000, env=600)], sha="ghi"))
    return runs


@pytest.mark.parametrize("output", ["table", "json", "markdown", "csv"])
def test_every_format_renders_every_section(mem: Store, output: str) -> None:
    write(mem, _world())
    out = report(mem)
    text = _render(out, output)
    assert "NaN" not in text and "Infinity" not in text
    if output == "json":
        data = json.loads(text)
        for key in (
            "period",
            "categories",
            "headline",
            "by_project",
            "by_pipeline",
            "by_job",
            "queue",
            "top_steps",
            "environment",
            "claim",
            "critical_path",
            "whatif",
            "percentiles",
            "trends",
            "waste",
            "cost",
            "concurrency",
        ):
            assert key in data
    elif output == "csv":
        sections = {row["section"] for row in csv.DictReader(io.StringIO(text))}
        assert {
            "categories",
            "claim",
            "critical_path",
            "opportunities",
            "trends_weekly",
            "waste",
            "cost_label",
            "concurrency",
        } <= sections
    else:
        for title in (
            "Runner time (cost) vs critical path",
            "Opportunities",
            "Run duration percentiles",
            "Weekly trend",
            "Duration regressions",
            "Waste",
            "Cost by runner label",
            "Concurrency by runner label",
        ):
            assert title in text
    if output == "markdown":
        assert text.startswith("## ci-profile") and "> Claim tested:" in text
        assert "| category | runner time | share | on critical path | share |" in text


def _render(out: object, output: str) -> str:
    if output == "table":
        console = Console(width=200, record=True, file=io.StringIO())
        console.print(to_rich(out))  # type: ignore[arg-type]
        return console.export_text()
    return {"json": to_json, "markdown": to_markdown, "csv": to_csv}[output](out)  # type: ignore[operator]


@pytest.mark.parametrize("output", ["table", "json", "markdown", "csv"])
def test_an_empty_period_says_not_enough_data(mem: Store, output: str) -> None:
    write(mem, _world())
    out = report(mem, filters=Filters(since=T0 + timedelta(days=400)))
    text = _render(out, output)
    assert "NaN" not in text
    if output in ("table", "markdown"):
        assert "not enough data" in text
    if output == "json":
        data = json.loads(text)
        assert data["critical_path"]["status"] == "not enough data"
        assert data["claim"]["cost"]["verdict"] == "not enough data"


def test_sections_can_be_chosen(mem: Store) -> None:
    write(mem, _world())
    out = report(mem, ["cost"]).as_dict()
    assert "cost" in out and "critical_path" not in out and "whatif" not in out
    with pytest.raises(ValueError, match="unknown section"):
        report(mem, ["nope"])
    assert set(SECTIONS) == {
        "critical-path",
        "opportunities",
        "percentiles",
        "trends",
        "waste",
        "cost",
        "concurrency",
    }


def test_the_breakdown_is_unchanged_by_the_job_frame(mem: Store) -> None:
    write(mem, _world())
    for filters in (Filters(), Filters(projects=("acme/app",)), Filters(since=T0)):
        frames, params = period_frames(filters)
        reference = reference_breakdown(mem.con, frames, params, top=10).as_dict()
        fast = build_report(mem.con, filters, options=AnalysisOptions()).as_dict()
        assert fast == reference


def test_temporary_tables_do_not_outlive_the_report(mem: Store) -> None:
    write(mem, _world())
    report(mem)
    left = mem.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE '_cip%'"
    ).fetchall()
    assert left == []


def test_steps_without_times_and_jobs_without_steps(mem: Store) -> None:
    odd = J("odd", 0, 0, 50, [S("mystery", "other", None, None)])
    write(mem, [R("1", [odd, J("bare", 0, 1, 30)])])
    out = report(mem)
    assert out.critical_path is not None and out.critical_path["wall_s"] == 50.0
    assert "NaN" not in to_json(out)


def test_names_print_as_they_are_not_as_markup(mem: Store) -> None:
    write(mem, [R("1", [job("build [bold]", 0, 0, 60), job("e2e [linux]", 60, 60, 160, env=50)])])
    text = _render(report(mem), "table")
    assert "build [bold]" in text and "e2e [linux]" in text
    assert "ci-profile.toml [cost]" in text
