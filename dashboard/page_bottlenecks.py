"""Bottlenecks: the jobs and steps that cost the most runner and wall-clock time, with p50/p90
and weekly trends; pick one to see the runs behind the number and open any in the timeline."""

from __future__ import annotations

from typing import Any

import streamlit as st
from ci_profile.analysis.timeline import RunKey
from ci_profile.dashboard import charts, ui

RANKINGS = {
    "runner_s": "runner time (total)",
    "wall_s": "wall-clock (total, queue included)",
    "wall_p90_s": "wall-clock per run (p90)",
}
TREND = st.column_config.LineChartColumn("runner h / week", width="small", y_min=0)


def _minutes(label: str) -> Any:
    return st.column_config.NumberColumn(label, format="%.1f min")


def _runs_behind(ctx: ui.Context, row: dict[str, Any], step: str | None, key: str) -> None:
    behind: list[dict[str, Any]] = ctx.load(
        "runs_behind",
        ctx.scope,
        provider=row["provider"],
        project=row["project"],
        pipeline=row["pipeline"],
        job=row["job"],
        step=step,
    )
    what = f"step `{step}` of " if step else ""
    st.caption(
        f"{len(behind)} runs of {what}`{row['job']}` ({row['project']} › {row['pipeline']}), "
        "longest first. Pick one to open its timeline."
    )
    table = [
        {
            "when": r["created_at"],
            "run": r["run_id"],
            "attempt": r["attempt"],
            "branch": r["branch"],
            "conclusion": r["conclusion"],
            "queued_s": r["queued_s"],
            "run_min": (r["run_s"] or 0) / 60,
            **({"step_min": (r["step_s"] or 0) / 60, "rule": r["rule"]} if step else {}),
            "link": r["url"],
        }
        for r in behind
    ]
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "when": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
            "queued_s": st.column_config.NumberColumn("queue", format="%.0f s"),
            "run_min": _minutes("job time"),
            "step_min": _minutes("step time"),
            "link": st.column_config.LinkColumn("job on provider", display_text="open"),
        },
        key=f"{key}_runs",
    )
    if not behind:
        return
    keys = [RunKey(r["provider"], r["project"], r["run_id"], int(r["attempt"])) for r in behind]
    pick = st.selectbox(
        "Run",
        range(len(keys)),
        format_func=lambda i: (
            f"{ui.when(behind[i]['created_at'])} · run {behind[i]['run_id']} · "
            f"{ui.duration(behind[i]['step_s'] if step else behind[i]['run_s'])}"
        ),
        key=f"{key}_run_pick",
    )
    if st.button("Open in Run timeline", key=f"{key}_open", type="primary"):
        st.session_state[ui.TIMELINE_RUN_KEY] = keys[int(pick)]
        st.switch_page("page_timeline.py")


def _jobs(ctx: ui.Context) -> None:
    rank_by = (
        st.segmented_control(
            "Rank jobs by",
            list(RANKINGS),
            default="runner_s",
            format_func=RANKINGS.__getitem__,
            key="bottleneck_rank",
        )
        or "runner_s"
    )
    jobs: list[dict[str, Any]] = ctx.load("job_stats", ctx.scope, rank_by=rank_by, limit=25)
    if not jobs:
        st.info("No finished jobs in this selection.")
        return
    top = jobs[:15]
    for row in top:
        row["label"] = f"{row['project']} › {row['job']}"
    st.plotly_chart(
        charts.ranked_bars(
            top, label="label", value=rank_by, title=f"Top jobs by {RANKINGS[rank_by]}"
        ),
        key="bottleneck_jobs_chart",
    )
    st.dataframe(
        [
            {
                "project": r["project"],
                "pipeline": r["pipeline"],
                "job": r["job"],
                "runs": r["runs"],
                "runner_h": r["runner_s"] / 3600,
                "p50_min": r["p50_s"] / 60,
                "p90_min": r["p90_s"] / 60,
                "wall_p50_min": r["wall_p50_s"] / 60,
                "wall_p90_min": r["wall_p90_s"] / 60,
                "trend": r["trend"],
            }
            for r in jobs
        ],
        hide_index=True,
        column_config={
            "runner_h": st.column_config.NumberColumn("runner time", format="%.1f h"),
            "p50_min": _minutes("p50 run"),
            "p90_min": _minutes("p90 run"),
            "wall_p50_min": _minutes("p50 wall"),
            "wall_p90_min": _minutes("p90 wall"),
            "trend": TREND,
        },
        key="bottleneck_jobs_table",
    )
    st.markdown("**Runs behind a job**")
    index = st.selectbox(
        "Job",
        range(len(jobs)),
        format_func=lambda i: f"{jobs[i]['project']} › {jobs[i]['pipeline']} › {jobs[i]['job']}",
        key="bottleneck_job_pick",
    )
    _runs_behind(ctx, jobs[int(index)], None, "bottleneck_job")


def _steps(ctx: ui.Context) -> None:
    steps: list[dict[str, Any]] = ctx.load("step_stats", ctx.scope, limit=25)
    if not steps:
        st.info("No step timings in this selection.")
        return
    top = steps[:15]
    for row in top:
        row["label"] = f"{row['job']} › {row['step']}"
    st.plotly_chart(
        charts.ranked_bars(
            top,
            label="label",
            value="total_s",
            category="category",
            title="Top steps by runner time",
        ),
        key="bottleneck_steps_chart",
    )
    st.dataframe(
        [
            {
                "project": r["project"],
                "job": r["job"],
                "step": r["step"],
                "category": r["category"],
                "rule": r["rule"],
                "runs": r["runs"],
                "total_h": r["total_s"] / 3600,
                "p50_min": r["p50_s"] / 60,
                "p90_min": r["p90_s"] / 60,
                "trend": r["trend"],
            }
            for r in steps
        ],
        hide_index=True,
        column_config={
            "total_h": st.column_config.NumberColumn("runner time", format="%.1f h"),
            "p50_min": _minutes("p50"),
            "p90_min": _minutes("p90"),
            "trend": TREND,
        },
        key="bottleneck_steps_table",
    )
    st.markdown("**Runs behind a step**")
    index = st.selectbox(
        "Step",
        range(len(steps)),
        format_func=lambda i: f"{steps[i]['project']} › {steps[i]['job']} › {steps[i]['step']}",
        key="bottleneck_step_pick",
    )
    _runs_behind(ctx, steps[int(index)], steps[int(index)]["step"], "bottleneck_step")


def render() -> None:
    ctx = ui.context()
    st.title("Bottlenecks")
    st.caption(ui.describe(ctx.scope))
    ui.warnings(ctx)
    jobs_tab, steps_tab = st.tabs(["Jobs", "Steps"])
    with jobs_tab:
        _jobs(ctx)
    with steps_tab:
        _steps(ctx)


if __name__ == "__main__":
    render()
