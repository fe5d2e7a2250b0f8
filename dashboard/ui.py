"""What every page shares: the sidebar filters, the page context, the helpful problem pages.

``app.py`` builds the :class:`Context` once per script run (database path, the filters chosen in
the sidebar, the options they offer) and the page scripts read it with :func:`context`. The
sidebar is drawn by the entry script before the page, so the filters are the same widgets on
every page and keep their values when the user switches pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NoReturn

import streamlit as st
from ci_profile.analysis import render
from ci_profile.analysis.explore import DatabaseStatus, Options, Scope, default_period
from ci_profile.core.errors import StoreError, StoreLockedError
from ci_profile.dashboard import data

_CONTEXT_KEY = "ci_profile_context"
TIMELINE_RUN_KEY = "timeline_run"


@dataclass(frozen=True)
class Context:
    db: str
    scope: Scope
    options: Options
    status: DatabaseStatus

    def load(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """A cached query on this database (see :func:`ci_profile.dashboard.data.load`); on
        failure, a message on the page instead of a traceback, and the page stops."""
        return fetch(self.db, name, *args, **kwargs)


def fetch(db: str, name: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return data.load(db, name, *args, **kwargs)
    except StoreLockedError as exc:
        busy(exc)
    except StoreError as exc:
        st.error(f"{exc}")
        st.stop()
    except FileNotFoundError:
        st.error(f"The database {db} disappeared; reload the page.")
        st.stop()


def set_context(ctx: Context) -> None:
    st.session_state[_CONTEXT_KEY] = ctx


def context() -> Context:
    ctx = st.session_state.get(_CONTEXT_KEY)
    if not isinstance(ctx, Context):
        st.error("Open the dashboard through its main page (`ci-profile dashboard`).")
        st.stop()
    return ctx


# -- problems ---------------------------------------------------------------------------------


def show_problem(problem: data.Problem) -> None:
    """A page that says what is wrong and what to run, instead of a traceback."""
    st.title("ci-profile")
    box = st.warning if problem.kind in ("empty", "locked") else st.error
    box(f"**{problem.title}**\n\n{problem.detail}")
    if problem.commands:
        st.markdown("Run one of these in a terminal:")
        for command in problem.commands:
            st.code(command, language="bash")
    if problem.kind == "locked":
        st.button("Retry now", key="retry_locked")


def busy(exc: Exception) -> NoReturn:
    """Shown inside a page when one load gives up waiting for a writer."""
    st.warning(
        f"{exc}. `ci-profile collect` is writing; the numbers will load on the next "
        "interaction (or press Retry)."
    )
    st.button("Retry", key="retry_busy")
    st.stop()


# -- filters ----------------------------------------------------------------------------------


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _keep_valid(key: str, options: list[str]) -> None:
    chosen = st.session_state.get(key)
    if isinstance(chosen, list):
        allowed = set(options)
        st.session_state[key] = [value for value in chosen if value in allowed]


def sidebar_filters(options: Options) -> Scope:
    """Provider, project, pipeline, branch and date range, in the sidebar (empty means all)."""
    bar = st.sidebar
    bar.header("Filters")
    period = default_period(options.last)
    first = options.first.date() if options.first else date.today()
    last = options.last.date() if options.last else date.today()
    if period is not None:
        default_range = (max(period[0].date(), first), (period[1] - timedelta(days=1)).date())
    else:
        default_range = (first, last)
    if "f_period" not in st.session_state:
        st.session_state["f_period"] = default_range
    picked: Any = bar.date_input(
        "Period",
        min_value=first,
        max_value=last,
        key="f_period",
        help="Jobs created in these days (UTC). The Overview compares with the period of "
        "the same length just before.",
    )
    days = list(picked) if isinstance(picked, (tuple, list)) else [picked]
    start_day = days[0] if days else default_range[0]
    end_day = days[1] if len(days) > 1 else start_day

    _keep_valid("f_providers", options.providers)
    providers = bar.multiselect(
        "Provider", options.providers, key="f_providers", placeholder="all providers"
    )
    project_names = sorted(
        {p for provider, p in options.projects if not providers or provider in providers}
    )
    _keep_valid("f_projects", project_names)
    projects = bar.multiselect(
        "Project", project_names, key="f_projects", placeholder="all projects"
    )
    _keep_valid("f_pipelines", options.pipelines)
    pipelines = bar.multiselect(
        "Pipeline", options.pipelines, key="f_pipelines", placeholder="all pipelines"
    )
    _keep_valid("f_branches", options.branches)
    branches = bar.multiselect(
        "Branch", options.branches, key="f_branches", placeholder="all branches"
    )
    bar.caption(
        f"{options.first:%Y-%m-%d} – {options.last:%Y-%m-%d} stored"
        if options.first and options.last
        else "no dated jobs stored"
    )
    return Scope(
        projects=tuple(projects),
        providers=tuple(providers),
        since=_utc(start_day),
        until=_utc(end_day) + timedelta(days=1),
        pipelines=tuple(pipelines),
        branches=tuple(branches),
    )


def describe(scope: Scope) -> str:
    """The selection in words, for captions."""
    parts = []
    if scope.since and scope.until:
        parts.append(f"{scope.since:%Y-%m-%d} to {(scope.until - timedelta(days=1)):%Y-%m-%d}")
    for label, values in (
        ("provider", scope.providers),
        ("project", scope.projects),
        ("pipeline", scope.pipelines),
        ("branch", scope.branches),
    ):
        if values:
            parts.append(f"{label} {', '.join(values)}")
    return " · ".join(parts) or "everything stored"


def warnings(ctx: Context) -> None:
    """Caveats about the stored data that change how its numbers read."""
    if ctx.status.unclassified_steps:
        st.warning(
            f"{ctx.status.unclassified_steps:,} steps are not classified yet and count as "
            f"`other`: run `ci-profile analyze --db {ctx.db}` once to classify them."
        )
    if ctx.status.steps == 0:
        st.warning(
            "No step timings are stored, so job time cannot be split into categories (it "
            "shows as `other`, rule `unaccounted`). Collect again with a provider and token "
            "that expose steps."
        )
        return
    bare = [
        row
        for row in ctx.load("collection")
        if row["jobs"]
        and not row["steps"]
        and (not ctx.scope.projects or row["project"] in ctx.scope.projects)
    ]
    if bare:
        names = ", ".join(f"`{row['project']}`" for row in bare)
        st.info(
            f"{names}: jobs but no step timings stored, so their job time shows as `other` "
            "(rule `unaccounted`). See the Data page."
        )


def no_jobs() -> NoReturn:
    st.info("No jobs match these filters. Widen the period or clear a filter in the sidebar.")
    st.stop()


# -- formatting -------------------------------------------------------------------------------


def share_column(label: str) -> Any:
    """A 0-100 % bar column; feed it :func:`pct` values."""
    return st.column_config.ProgressColumn(label, format="%.1f%%", min_value=0.0, max_value=100.0)


def pct(share: float | None) -> float | None:
    return None if share is None else round(float(share) * 100, 1)


def duration(seconds: float | None) -> str:
    """``render.duration``, and "n/a" for NaN too (a generated database may hold NaN)."""
    return render.duration(None if seconds is None or seconds != seconds else seconds)


def percent(share: float | None) -> str:
    return render.percent(None if share is None or share != share else share)


def when(moment: datetime | None) -> str:
    return "(no date)" if moment is None else f"{moment:%Y-%m-%d %H:%M}"


def hours(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "n/a"
    value = float(seconds) / 3600
    return f"{value:,.1f} h" if value < 100 else f"{value:,.0f} h"


def change(now: float | None, before: float | None, kind: str) -> str | None:
    """A metric delta: relative change for amounts, points for shares, time for durations."""
    if now is None or before is None:
        return None
    if kind == "share":
        points = round((now - before) * 100, 1)
        return None if points == 0 else f"{points:+.1f} pp"
    if kind == "duration":
        diff = round(now - before)
        return None if diff == 0 else ("+" if diff > 0 else "-") + duration(abs(diff))
    if not before:
        return None
    relative = round((now - before) / before * 100)
    return None if relative == 0 else f"{relative:+.0f}%"


__all__ = [
    "TIMELINE_RUN_KEY",
    "Context",
    "busy",
    "change",
    "context",
    "describe",
    "duration",
    "fetch",
    "hours",
    "no_jobs",
    "pct",
    "percent",
    "set_context",
    "share_column",
    "show_problem",
    "sidebar_filters",
    "warnings",
    "when",
]
