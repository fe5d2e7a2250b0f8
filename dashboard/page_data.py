"""Data: what was collected when, per project, and the classification rules in force (with
the steps that fell into ``other``)."""

from __future__ import annotations

from typing import Any

import streamlit as st
from ci_profile.analysis.classify import Rule, build_rules
from ci_profile.analysis.explore import rules_table
from ci_profile.core import config
from ci_profile.core.errors import ConfigError
from ci_profile.dashboard import ui


def _rules() -> tuple[list[Rule], str]:
    project = config.load_project_config()
    source = project.source or "the default rules shipped with ci-profile"
    return build_rules(project.rules, project.disabled_rules), source


def render() -> None:
    ctx = ui.context()
    st.title("Data")
    status = ctx.status
    cols = st.columns(4)
    cols[0].metric("Runs", f"{status.runs:,}")
    cols[1].metric("Jobs", f"{status.jobs:,}")
    cols[2].metric("Steps", f"{status.steps:,}")
    cols[3].metric(
        "Classified",
        f"{status.classified_at:%Y-%m-%d}" if status.classified_at else "never",
        help="When `collect`, `analyze` or `demo` last refreshed `classified_steps`"
        + (f": {status.classified_at:%Y-%m-%d %H:%M} UTC." if status.classified_at else "."),
    )
    st.caption(f"Database `{ctx.db}`")
    ui.warnings(ctx)

    st.subheader("Collected, per project")
    collection: list[dict[str, Any]] = ctx.load("collection")
    st.dataframe(
        collection,
        hide_index=True,
        column_config={
            "first_run": st.column_config.DatetimeColumn("first run", format="YYYY-MM-DD HH:mm"),
            "last_run": st.column_config.DatetimeColumn("last run", format="YYYY-MM-DD HH:mm"),
            "last_update": st.column_config.DatetimeColumn(
                "last run update", format="YYYY-MM-DD HH:mm"
            ),
            "collected_at": st.column_config.DatetimeColumn(
                "last collected", format="YYYY-MM-DD HH:mm"
            ),
            "jobs_without_steps": st.column_config.NumberColumn(
                "jobs without steps",
                help="Jobs with no step timings (skipped, cancelled before start, or a "
                "provider that reports none): their time counts as `other`.",
            ),
            "cursors": st.column_config.TextColumn(
                "collection cursors", help="Where the next incremental `collect` resumes."
            ),
        },
        key="data_collection",
    )
    if all(row["collected_at"] is None for row in collection):
        st.caption(
            "No collection cursors: this data was loaded by `ci-profile demo` (or an older "
            "collector), not by an incremental `ci-profile collect`."
        )

    st.subheader("Classification rules in force")
    try:
        rules, source = _rules()
    except ConfigError as exc:
        st.error(f"The project's rule configuration is invalid: {exc}")
        rules, source = build_rules(), "the default rules (the project's rules do not load)"
    counts = ctx.load("rule_counts", ctx.scope)
    table = rules_table(rules, counts)
    used_only = st.toggle(
        "Only rules that matched a step in the selection", value=True, key="data_used"
    )
    shown = [r for r in table if r["steps"]] if used_only else table
    matched = sum(1 for r in table if r["steps"])
    st.caption(
        f"{len(rules)} rules from {source}, first match wins; {matched} of them classified "
        f"steps in the selection ({ui.describe(ctx.scope)})."
    )
    st.dataframe(
        [{**r, "hours": r["seconds"] / 3600} for r in shown],
        hide_index=True,
        column_order=("order", "rule", "category", "steps", "hours", "description"),
        column_config={"hours": st.column_config.NumberColumn("time", format="%.2f h")},
        key="data_rules",
    )

    st.subheader("What fell into `other`")
    other: list[dict[str, Any]] = ctx.load("other_steps", ctx.scope, limit=100)
    if not other:
        st.success("Nothing in the selection is `other`: every second is classified.")
    else:
        st.caption(
            "Steps no rule matched (rule `unmatched`), and job time that no step covers "
            "(rule `unaccounted`). Add a rule in `ci-profile.toml` to classify a step."
        )
        st.dataframe(
            [
                {
                    "project": r["project"],
                    "job": r["job"],
                    "step": r["step"],
                    "rule": r["rule"],
                    "times": r["occurrences"],
                    "total_min": float(r["total_s"] or 0) / 60,
                }
                for r in other
            ],
            hide_index=True,
            column_config={"total_min": st.column_config.NumberColumn("total", format="%.1f min")},
            key="data_other",
        )


if __name__ == "__main__":
    render()
