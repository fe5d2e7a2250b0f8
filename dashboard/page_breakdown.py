"""Breakdown: time by category per week, project › pipeline › job › category, provider and
runner-label splits, and every category explained down to its steps and rules."""

from __future__ import annotations

from typing import Any

import streamlit as st
from ci_profile.analysis.breakdown import Report
from ci_profile.analysis.classify import CATEGORIES
from ci_profile.dashboard import charts, ui

SHARE_COLUMNS = {
    "runner_h": st.column_config.NumberColumn("runner time", format="%.1f h"),
    "queue_h": st.column_config.NumberColumn("queue", format="%.1f h"),
    "provisioning_share": ui.share_column("provisioning"),
    "environment_share": ui.share_column("environment"),
    "test_share": ui.share_column("test"),
}


def _share_table(rows: list[dict[str, Any]], keys: tuple[str, ...], key: str) -> None:
    table = [
        {
            **{k: row[k] for k in keys},
            "runs": row["runs"],
            "runner_h": float(row["runner_s"] or 0) / 3600,
            "provisioning_share": ui.pct(row["provisioning_share"]),
            "environment_share": ui.pct(row["environment_share"]),
            "test_share": ui.pct(row["test_share"]),
            "queue_h": float(row["queue_s"] or 0) / 3600,
        }
        for row in rows
    ]
    st.dataframe(table, hide_index=True, column_config=SHARE_COLUMNS, key=key)


def render() -> None:
    ctx = ui.context()
    st.title("Breakdown")
    st.caption(ui.describe(ctx.scope))
    ui.warnings(ctx)
    report: Report = ctx.load("report", ctx.scope)
    if not report.period["jobs"]:
        ui.no_jobs()

    include_queue = st.toggle("Include queue time", value=True, key="breakdown_queue")
    weekly = ctx.load("weekly", ctx.scope)
    st.plotly_chart(
        charts.weekly_stacked(weekly, include_queue=include_queue), key="breakdown_weekly"
    )

    tree = ctx.load("hierarchy", ctx.scope, top_jobs=60)
    st.plotly_chart(charts.treemap(tree), key="breakdown_treemap")
    st.caption(
        "Click a box to zoom in, the top bar to zoom out. The 60 jobs with the most runner "
        "time are named; the rest of each pipeline is `(other jobs)`."
    )

    left, right = st.columns(2)
    left.plotly_chart(
        charts.split_bars(ctx.load("split", ctx.scope, "provider"), title="By provider"),
        key="breakdown_provider",
    )
    right.plotly_chart(
        charts.split_bars(ctx.load("split", ctx.scope, "labels"), title="By runner labels"),
        key="breakdown_labels",
    )

    by_project, by_pipeline = st.tabs(["By project", "By pipeline"])
    with by_project:
        _share_table(report.by_project, ("provider", "project"), "breakdown_by_project")
    with by_pipeline:
        _share_table(
            report.by_pipeline, ("provider", "project", "pipeline"), "breakdown_by_pipeline"
        )

    st.subheader("Explain a category")
    category = st.selectbox(
        "Category",
        CATEGORIES,
        index=CATEGORIES.index("environment"),
        key="breakdown_category",
        format_func=lambda c: (
            f"{c} — {ui.duration(report.categories[c]['seconds'])} "
            f"({ui.percent(report.categories[c]['share'])})"
        ),
    )
    steps = ctx.load("category_steps", ctx.scope, category, limit=100)
    total = report.categories[category]["seconds"]
    shown = sum(float(r["total_s"] or 0) for r in steps)
    st.caption(
        f"The steps behind {ui.duration(total)} of `{category}`, and the rule that classified "
        f"each (rules are listed on the Data page). "
        + (
            f"Top {len(steps)} rows shown: {ui.percent(shown / total if total else None)} of it."
            if total
            else ""
        )
    )
    st.dataframe(
        [
            {
                "project": r["project"],
                "pipeline": r["pipeline"],
                "job": r["job"],
                "step": r["step"],
                "rule": r["rule"],
                "times": r["occurrences"],
                "total_h": float(r["total_s"] or 0) / 3600,
                "median_s": r["median_s"],
            }
            for r in steps
        ],
        hide_index=True,
        column_config={
            "total_h": st.column_config.NumberColumn("total", format="%.2f h"),
            "median_s": st.column_config.NumberColumn("median", format="%.0f s"),
        },
        key="breakdown_category_steps",
    )


if __name__ == "__main__":
    render()
