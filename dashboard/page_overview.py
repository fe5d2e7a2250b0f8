"""Overview: the headline numbers for the period, against the period just before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st
from ci_profile.analysis.breakdown import Report
from ci_profile.dashboard import charts, ui


def _growth(now: Report, before: Report | None, limit: int = 8) -> list[dict[str, Any]]:
    """Jobs whose runner time grew the most against the previous period."""
    earlier = {
        (r["provider"], r["project"], r["pipeline"], r["job"]): r["runner_s"]
        for r in (before.by_job if before else [])
    }
    rows = []
    for row in now.by_job:
        key = (row["provider"], row["project"], row["pipeline"], row["job"])
        previous = float(earlier.get(key) or 0.0)
        rows.append(
            {
                "project": row["project"],
                "pipeline": row["pipeline"],
                "job": row["job"],
                "runner_h": row["runner_s"] / 3600,
                "before_h": previous / 3600,
                "change_h": (row["runner_s"] - previous) / 3600,
                "provisioning": ui.pct(row["provisioning_share"]),
            }
        )
    rows.sort(key=lambda r: -r["change_h"])
    return [r for r in rows if r["change_h"] > 0][:limit]


def render() -> None:
    ctx = ui.context()
    st.title("Where the CI time goes")
    st.caption(ui.describe(ctx.scope))
    ui.warnings(ctx)
    report: Report = ctx.load("report", ctx.scope)
    if not report.period["jobs"]:
        ui.no_jobs()
    runs = ctx.load("run_figures", ctx.scope)
    previous_scope = ctx.scope.previous()
    before: Report | None = None
    runs_before: dict[str, Any] = {}
    if previous_scope is not None:
        before = ctx.load("report", previous_scope)
        if before is not None and not before.period["jobs"]:
            before = None
        else:
            runs_before = ctx.load("run_figures", previous_scope)
    h, hb = report.headline, (before.headline if before else {})
    q, qb = report.queue, (before.queue if before else {})

    st.markdown(
        f"**{report.period['runs']:,} runs, {report.period['jobs']:,} jobs in "
        f"{report.period['projects']} project(s)**: provisioning took "
        f"**{ui.percent(h['provisioning_share'])}** of runner time and tests "
        f"**{ui.percent(h['test_share'])}**; jobs also waited {ui.duration(h['queue_s'])} "
        "for runners." + ("" if before else " _No data in the previous period to compare with._")
    )
    first = st.columns(4)
    first[0].metric(
        "Runner hours",
        ui.hours(h["runner_s"]),
        ui.change(h["runner_s"], hb.get("runner_s"), "amount"),
        delta_color="inverse",
        help="Time jobs ran on runners (queue excluded), summed over jobs.",
        border=True,
    )
    first[1].metric(
        "Provisioning share",
        ui.percent(h["provisioning_share"]),
        ui.change(h["provisioning_share"], hb.get("provisioning_share"), "share"),
        delta_color="inverse",
        help="setup + dependencies + environment + teardown, as a share of runner time. "
        "The Breakdown page explains every category down to its steps and rules.",
        border=True,
    )
    first[2].metric(
        "Test share",
        ui.percent(h["test_share"]),
        ui.change(h["test_share"], hb.get("test_share"), "share"),
        help="Steps classified `test`, as a share of runner time.",
        border=True,
    )
    first[3].metric(
        "Failure / retry waste",
        ui.hours(runs["waste_s"]),
        ui.change(runs["waste_s"], runs_before.get("waste_s"), "amount"),
        delta_color="inverse",
        help=f"Runner time of failed or cancelled jobs ({ui.hours(runs['failed_s'])}, "
        f"{runs['failed_jobs']} jobs) plus every job of an attempt that was re-run "
        f"({ui.hours(runs['retried_s'])}, {runs['retried_attempts']} attempts); "
        f"{ui.percent(runs['waste_share'])} of runner time.",
        border=True,
    )
    second = st.columns(4)
    for column, label, now, was, hint in (
        (
            second[0],
            "Median pipeline",
            runs["p50_s"],
            runs_before.get("p50_s"),
            "Run attempt start to finish.",
        ),
        (second[1], "p90 pipeline", runs["p90_s"], runs_before.get("p90_s"), "90th percentile."),
        (
            second[2],
            "Median queue",
            q["p50_s"],
            qb.get("p50_s"),
            "Job created to started: waiting for a runner.",
        ),
        (second[3], "p90 queue", q["p90_s"], qb.get("p90_s"), "90th percentile."),
    ):
        column.metric(
            label,
            ui.duration(now),
            ui.change(now, was, "duration"),
            delta_color="inverse",
            help=hint,
            border=True,
        )
    if previous_scope is not None:
        stored_from = ctx.options.first
        since, until = previous_scope.since, previous_scope.until
        assert since is not None and until is not None  # previous() needs both bounds
        partial = (
            f" Stored data starts {stored_from:%Y-%m-%d}, inside that period, so changes in "
            "totals overstate growth."
            if before is not None and stored_from is not None and stored_from > since
            else ""
        )
        st.caption(
            f"Changes compare with {since:%Y-%m-%d} to "
            f"{until - timedelta(days=1):%Y-%m-%d} (same length, just before)." + partial
        )

    left, right = st.columns(2)
    left.plotly_chart(charts.category_bar(report.categories), key="overview_categories")
    weekly = ctx.load("weekly", ctx.scope)
    right.plotly_chart(charts.weekly_shares(weekly), key="overview_weekly_shares")

    st.subheader("Growing the most")
    growth = _growth(report, before)
    if not growth:
        st.caption("No job grew against the previous period.")
    else:
        st.dataframe(
            growth,
            hide_index=True,
            column_config={
                "runner_h": st.column_config.NumberColumn("runner time", format="%.1f h"),
                "before_h": st.column_config.NumberColumn("previous period", format="%.1f h"),
                "change_h": st.column_config.NumberColumn("change", format="%+.1f h"),
                "provisioning": ui.share_column("provisioning share"),
            },
            key="overview_growth",
        )


if __name__ == "__main__":
    render()
