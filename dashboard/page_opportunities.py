"""Opportunities: environment time per job, and what moving it to a shared cluster would save."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st
from ci_profile.analysis import stored_files
from ci_profile.analysis.breakdown import Report
from ci_profile.core.errors import CIProfileError, StoreLockedError
from ci_profile.dashboard import charts, data, ui
from ci_profile.migrate.mirrord import script_name
from ci_profile.migrate.plan import plan_stored, unified_diff

WEEKS_PER_MONTH = 52.0 / 12.0


def _whatif(ctx: ui.Context) -> tuple[dict[str, Any] | None, str | None]:
    """The analysis' what-if (each run recomputed without its environment steps), or why not."""
    try:
        section = data.load(ctx.db, "whatif", ctx.scope)
    except StoreLockedError as exc:
        ui.busy(exc)
    except Exception as exc:  # an estimate that fails must not take the page down
        return None, f"the saving estimate failed ({type(exc).__name__}: {exc})"
    if isinstance(section, dict) and section.get("status") == "ok" and section.get("by_job"):
        return section, None
    return None, "the saving estimate has not enough finished runs in this selection"


def _raw_environment(report: Report) -> None:
    rows = report.environment
    st.caption(
        "**Raw environment time** — the seconds these jobs spend in steps classified "
        "`environment` (creating clusters, starting service containers and compose stacks, "
        "installing charts, waiting for readiness). It is the upper bound of what a shared "
        "cluster removes: the cost of starting a session against the shared cluster is not "
        "subtracted, and the wall-clock effect on each run is not modelled."
    )
    st.plotly_chart(
        charts.savings_bars(rows[:15], value="per_week_s", title="Environment time per week"),
        key="opportunities_chart",
    )
    st.dataframe(
        [
            {
                "project": r["project"],
                "pipeline": r["pipeline"],
                "job": r["job"],
                "runs": r["runs"],
                "environment_h": float(r["environment_s"] or 0) / 3600,
                "median_min": float(r["median_per_run_s"] or 0) / 60,
                "p90_min": float(r["p90_per_run_s"] or 0) / 60,
                "share_of_job": ui.pct(r["share_of_job"]),
                "week_h": float(r["per_week_s"] or 0) / 3600,
                "month_h": float(r["per_week_s"] or 0) * WEEKS_PER_MONTH / 3600,
            }
            for r in rows
        ],
        hide_index=True,
        column_config={
            "environment_h": st.column_config.NumberColumn("environment (period)", format="%.1f h"),
            "median_min": st.column_config.NumberColumn("median / run", format="%.1f min"),
            "p90_min": st.column_config.NumberColumn("p90 / run", format="%.1f min"),
            "share_of_job": ui.share_column("share of job"),
            "week_h": st.column_config.NumberColumn("saving / week", format="%.1f h"),
            "month_h": st.column_config.NumberColumn("saving / month", format="%.1f h"),
        },
        key="opportunities_table",
    )


def _estimated(section: dict[str, Any]) -> None:
    rows = section["by_job"]
    st.caption(
        f"**Estimated saving** — each run recomputed with {section.get('removes', 'environment')} "
        f"removed and a session start of {section.get('session_start_s', 0):.0f} s added per "
        "changed job (queue waits and other steps kept as observed)."
    )
    st.plotly_chart(
        charts.savings_bars(
            rows[:15], value="wall_saving_per_week_s", title="Wall-clock saving per week"
        ),
        key="opportunities_chart",
    )
    st.dataframe(
        [
            {
                "project": r["project"],
                "pipeline": r["pipeline"],
                "job": r["job"],
                "runs": r["runs_affected"],
                "median_min": float(r["median_saving_per_run_s"] or 0) / 60,
                "wall_week_h": float(r["wall_saving_per_week_s"] or 0) / 3600,
                "runner_month_h": float(r["runner_saving_per_month_s"] or 0) / 3600,
                "runner_week_h": float(r["runner_saving_per_month_s"] or 0)
                / WEEKS_PER_MONTH
                / 3600,
            }
            for r in rows
        ],
        hide_index=True,
        column_config={
            "median_min": st.column_config.NumberColumn("median saving / run", format="%.1f min"),
            "wall_week_h": st.column_config.NumberColumn("wall-clock / week", format="%.1f h"),
            "runner_week_h": st.column_config.NumberColumn("runner / week", format="%.1f h"),
            "runner_month_h": st.column_config.NumberColumn("runner / month", format="%.1f h"),
        },
        key="opportunities_table",
    )


def render() -> None:
    ctx = ui.context()
    st.title("Opportunities")
    st.caption(ui.describe(ctx.scope))
    ui.warnings(ctx)
    report: Report = ctx.load("report", ctx.scope)
    if not report.period["jobs"]:
        ui.no_jobs()
    if not report.environment:
        st.success(
            "No job in this selection spends time building an environment (no steps "
            "classified `environment`): nothing for a shared cluster to take away."
        )
        st.stop()
    total_week = sum(float(r["per_week_s"] or 0) for r in report.environment)
    section, why_not = _whatif(ctx)
    cols = st.columns(4)
    cols[0].metric(
        "Environment time / week",
        ui.hours(total_week),
        help="Runner time in `environment` steps, per week of the period.",
        border=True,
    )
    cols[1].metric(
        "Share of runner time",
        ui.percent(report.headline["environment_share"]),
        border=True,
    )
    if section is not None:
        overall = section["all"]
        month = float(overall.get("runner_saving_per_month_s") or 0)
        cols[2].metric(
            "Estimated saving / week",
            ui.hours(month / WEEKS_PER_MONTH),
            help="Runner time removed minus the session starts added, per week.",
            border=True,
        )
        cols[3].metric(
            "Estimated saving / month",
            ui.hours(month),
            help=f"Wall-clock: {ui.duration(overall.get('median_saving_per_run_s'))} less per "
            f"affected run (median), {ui.percent(overall.get('wall_saving_share'))} of all "
            "pipeline wall time.",
            border=True,
        )
        _estimated(section)
    else:
        cols[2].metric(
            "Environment time / month", ui.hours(total_week * WEEKS_PER_MONTH), border=True
        )
        st.caption(f"No estimate: {why_not}; showing the raw environment time instead.")
        _raw_environment(report)

    st.subheader("Migration plan")
    labels = [f"{r['project']} › {r['pipeline']} › {r['job']}" for r in report.environment]
    chosen = st.selectbox(
        "Job", range(len(labels)), format_func=labels.__getitem__, key="opportunities_job"
    )
    _migration(ctx, report.environment[int(chosen or 0)])


def _migration(ctx: ui.Context, row: dict[str, Any]) -> None:
    """What ``ci-profile migrate plan`` proposes for the job, planned on the pipeline file as
    last stored (no checkout needed)."""
    if row["provider"] == "jenkins":
        st.info(
            "`ci-profile migrate` rewrites GitHub Actions workflows and GitLab CI files; a "
            "Jenkinsfile's environment stages are for you to move by hand."
        )
        return
    stored: stored_files.StoredPipeline | None = ctx.load(
        "stored_pipeline", row["provider"], row["project"], row["pipeline"], row["job"]
    )
    if stored is None:
        st.info(
            "No pipeline file of this job is stored (Jenkins, or collected without files): run "
            "`ci-profile migrate plan --repo-dir <checkout>` in a checkout of the repository."
        )
        return
    try:
        plan = plan_stored(stored.files)
    except CIProfileError as exc:
        st.warning(f"No plan for `{stored.path}` at {stored.sha[:12]}: {exc}")
        return
    findings = [f for f in plan.findings if f.file == stored.path]
    mine = [f for f in findings if f.job == stored.yaml_job] or findings
    if not mine:
        st.info(f"`migrate plan` finds nothing to migrate in `{stored.path}`.")
        return
    st.caption(
        f"`ci-profile migrate plan` on `{stored.path}` as stored at commit {stored.sha[:12]}; "
        "`ci-profile migrate pr` opens it as a pull/merge request."
    )
    for finding in mine:
        lines = f"{finding.lines[0]}-{finding.lines[1]}"
        st.markdown(
            f"**{finding.job}** (lines {lines}): **{finding.action}**. {finding.reason}  \n"
            f"Patterns: {', '.join(finding.patterns)}"
        )
        for task in finding.manual_tasks:
            st.markdown(f"- [ ] {task}")
    configs = {f.config_file for f in mine if f.config_file}
    mirrord_files = configs | {script_name(c) for c in configs}
    changes = [c for c in plan.changes if c.path == stored.path or c.path in mirrord_files]
    if changes:
        st.code(
            unified_diff(dataclasses.replace(plan, changes=changes)),
            language="diff",
        )


if __name__ == "__main__":
    render()
