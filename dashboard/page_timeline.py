"""Run timeline: any stored run as a Gantt of its jobs (queue waits drawn) and their steps."""

from __future__ import annotations

from typing import Any

import streamlit as st
from ci_profile.analysis.timeline import RunKey, RunTimeline
from ci_profile.dashboard import charts, ui


def _key(row: dict[str, Any]) -> RunKey:
    return RunKey(row["provider"], row["project"], row["run_id"], int(row["attempt"]))


def _label(row: dict[str, Any]) -> str:
    when = ui.when(row.get("created_at"))
    number = f"#{row['run_number']}" if row.get("run_number") else row["run_id"]
    attempt = f" (attempt {row['attempt']})" if int(row["attempt"]) > 1 else ""
    return (
        f"{when} · {row['project']} · {row['pipeline']} {number}{attempt} · "
        f"{row['branch'] or '?'} · {row['conclusion'] or 'running'} · "
        f"{ui.duration(row['duration_s'])}"
    )


def render() -> None:
    ctx = ui.context()
    st.title("Run timeline")
    st.caption(ui.describe(ctx.scope))
    wanted: RunKey | None = st.session_state.get(ui.TIMELINE_RUN_KEY)
    search = st.text_input(
        "Find a run",
        key="timeline_search",
        placeholder="run id, branch, commit sha or pipeline",
        help="Searches every run in the filters, newest first (up to 300 shown).",
    )
    runs: list[dict[str, Any]] = ctx.load("runs", ctx.scope, limit=300, search=search)
    keys = [_key(r) for r in runs]
    labels = {k: _label(r) for k, r in zip(keys, runs, strict=True)}
    if wanted is not None and wanted not in labels and not search.strip():
        # Opened from another page: show that run even when it is outside the filters.
        extra: RunTimeline | None = ctx.load("timeline", wanted)
        if extra is not None and extra.run:
            row = {**extra.run, "duration_s": None}
            keys.insert(0, wanted)
            labels[wanted] = _label(row)
    if not keys:
        st.info("No runs match. Clear the search or widen the filters in the sidebar.")
        st.stop()
    # Default: the newest finished run (a running one has little to draw yet).
    newest = next((i for i, r in enumerate(runs) if r["duration_s"] is not None), 0)
    index = keys.index(wanted) if wanted in keys else newest
    chosen: RunKey = st.selectbox(
        "Run", keys, index=index, format_func=lambda k: labels[k], key="timeline_pick"
    )
    data: RunTimeline | None = ctx.load("timeline", chosen)
    if data is None:
        st.warning("That run is no longer stored.")
        st.stop()
    run = data.run
    cols = st.columns(4)
    cols[0].metric("Conclusion", run.get("conclusion") or run.get("status") or "unknown")
    started, finished = run.get("started_at") or run.get("created_at"), run.get("finished_at")
    wall: float | None = (finished - started).total_seconds() if started and finished else None
    cols[1].metric("Duration", ui.duration(wall))
    runner = sum(float(j["run_s"] or 0) for j in data.jobs)
    cols[2].metric("Runner time", ui.duration(runner), help="Sum of its jobs' run times.")
    queued = sum(float(j["queued_s"] or 0) for j in data.jobs)
    cols[3].metric("Queue waits", ui.duration(queued), help="Sum over its jobs.")
    if run.get("url"):
        st.markdown(
            f"[Open on the provider]({run['url']}) · commit `{(run.get('sha') or '')[:12]}` · "
            f"event `{run.get('event')}`"
        )
    st.plotly_chart(charts.gantt(data.jobs, data.steps, title=chosen.label()), key="timeline_gantt")
    if not data.steps:
        st.info("No step timings are stored for this run's jobs: only job spans are drawn.")
    with st.expander("Steps, with the rule that classified each", expanded=False):
        names = {j["job_id"]: j["job"] for j in data.jobs}
        st.dataframe(
            [
                {
                    "job": names.get(s["job_id"], s["job_id"]),
                    "seq": s["seq"],
                    "step": s["step"],
                    "category": s["category"],
                    "rule": s["rule"],
                    "seconds": s["duration_s"],
                    "uses": s["uses"],
                    "command": (s["command"] or "")[:200],
                }
                for s in data.steps
            ],
            hide_index=True,
            key="timeline_steps",
        )


if __name__ == "__main__":
    render()
