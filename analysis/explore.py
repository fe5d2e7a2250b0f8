"""What the dashboard explores beyond the report: filter options, trends, splits, drill-downs.

Every function here is one or a few aggregated DuckDB queries over the same job/step frames as
:func:`ci_profile.analysis.breakdown.build_report` (``period_frames``: jobs joined to runs, their
``step_facts``, queue waits and unaccounted job time as slices), so a
figure on a dashboard page adds up to the same seconds as the report. Results are plain lists
of dicts (JSON-able, cheap to cache); nothing here imports streamlit or plotly.

:class:`Scope` extends the report's :class:`Filters` with the pipeline and branch filters the
dashboard offers; ``build_report`` accepts it unchanged because the extra conditions go into
the same ``WHERE`` over ``jobs j`` and ``runs r``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
from ci_profile.analysis.breakdown import PROVISIONING, Filters, dict_rows, period_frames, round_s
from ci_profile.analysis.classify import CATEGORIES, Rule
from ci_profile.analysis.waste import wasted_filter

PIPELINE_SQL = "coalesce(r.pipeline, r.pipeline_path, '(unknown pipeline)')"
MAX_OPTIONS = 500


@dataclass(frozen=True)
class Scope(Filters):
    """The report's filters plus pipelines (by display name) and branches."""

    pipelines: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()

    def sql(self) -> tuple[str, list[Any]]:
        where, params = super().sql()
        clauses = [where]
        if self.pipelines:
            clauses.append(f"{PIPELINE_SQL} IN ({', '.join('?' * len(self.pipelines))})")
            params.extend(self.pipelines)
        if self.branches:
            clauses.append(f"r.branch IN ({', '.join('?' * len(self.branches))})")
            params.extend(self.branches)
        return " AND ".join(clauses), params

    def previous(self) -> Scope | None:
        """The period of the same length just before this one (None without both bounds)."""
        if self.since is None or self.until is None:
            return None
        length = self.until - self.since
        return Scope(
            projects=self.projects,
            providers=self.providers,
            since=self.since - length,
            until=self.since,
            pipelines=self.pipelines,
            branches=self.branches,
        )


# -- what there is --------------------------------------------------------------------------


@dataclass(frozen=True)
class DatabaseStatus:
    runs: int
    jobs: int
    steps: int
    unclassified_steps: int
    classified_at: datetime | None


def database_status(con: duckdb.DuckDBPyConnection) -> DatabaseStatus:
    """Counts, and how many steps have no stored class (new since the last refresh). Cheap on
    a big database: counts only, no joins."""
    row = con.execute(
        """
        SELECT (SELECT count(*) FROM runs), (SELECT count(*) FROM jobs),
               (SELECT count(*) FROM steps), (SELECT count(*) FROM step_classes),
               (SELECT max(classified_at) FROM classification_state)
        """
    ).fetchone()
    runs, jobs, steps, classes, classified_at = row or (0, 0, 0, 0, None)
    return DatabaseStatus(
        int(runs), int(jobs), int(steps), max(int(steps) - int(classes), 0), classified_at
    )


@dataclass(frozen=True)
class Options:
    """What the filters can choose from (most used first for pipelines and branches)."""

    providers: list[str]
    projects: list[tuple[str, str]]
    pipelines: list[str]
    branches: list[str]
    first: datetime | None
    last: datetime | None


def filter_options(con: duckdb.DuckDBPyConnection, limit: int = MAX_OPTIONS) -> Options:
    providers = [
        r[0] for r in con.execute("SELECT DISTINCT provider FROM jobs ORDER BY 1").fetchall()
    ]
    projects = [
        (r[0], r[1])
        for r in con.execute("SELECT DISTINCT provider, project FROM jobs ORDER BY 2, 1").fetchall()
    ]
    pipelines = [
        r[0]
        for r in con.execute(
            f"SELECT {PIPELINE_SQL} AS p, count(*) AS n FROM runs r "
            f"GROUP BY p ORDER BY n DESC, p LIMIT {int(limit)}"
        ).fetchall()
    ]
    branches = [
        r[0]
        for r in con.execute(
            "SELECT branch, count(*) AS n FROM runs WHERE branch IS NOT NULL "
            f"GROUP BY branch ORDER BY n DESC, branch LIMIT {int(limit)}"
        ).fetchall()
    ]
    bounds = con.execute(
        "SELECT min(coalesce(created_at, started_at)), max(coalesce(created_at, started_at)) "
        "FROM jobs"
    ).fetchone() or (None, None)
    return Options(providers, projects, pipelines, sorted(branches), bounds[0], bounds[1])


# -- overview -------------------------------------------------------------------------------


def run_figures(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, Any]:
    """Pipeline (run attempt) durations and what failures and re-runs cost.

    A run counts when any of its jobs is in the filters. Its duration is ``started_at`` to
    ``finished_at`` of the attempt. Waste is runner time that bought no green result, as
    :func:`ci_profile.analysis.waste.wasted_filter` defines it for ``analyze`` too.
    """
    frames, params = period_frames(filters)
    row = con.execute(
        f"""WITH {frames},
        keys AS (SELECT DISTINCT provider, project, run_id, attempt FROM jf),
        ra AS (
            SELECT r.provider, r.project, r.run_id, r.attempt,
                   CASE WHEN r.finished_at >= coalesce(r.started_at, r.created_at)
                        THEN epoch(r.finished_at) - epoch(coalesce(r.started_at, r.created_at))
                   END AS duration_s
            FROM runs r JOIN keys USING (provider, project, run_id, attempt)
        )
        SELECT count(*), count(duration_s), quantile_cont(duration_s, 0.5),
               quantile_cont(duration_s, 0.9)
        FROM ra""",
        params,
    ).fetchone() or (0, 0, None, None)
    wasted_where = wasted_filter("jf.attempt < l.last_attempt", "j.conclusion")
    waste = con.execute(
        f"""WITH {frames},
        latest AS (
            SELECT provider, project, run_id, max(attempt) AS last_attempt
            FROM runs GROUP BY ALL
        )
        SELECT
            sum(jf.run_s) FILTER (WHERE jf.attempt < l.last_attempt) AS retried_s,
            sum(jf.run_s) FILTER (WHERE {wasted_where}) AS wasted_s,
            sum(jf.run_s) AS runner_s,
            count(*) FILTER (WHERE j.conclusion IN ('failure', 'cancelled')) AS failed_jobs,
            count(DISTINCT (jf.provider, jf.project, jf.run_id, jf.attempt))
                FILTER (WHERE jf.attempt < l.last_attempt) AS retried_attempts
        FROM jf
        JOIN jobs j USING (provider, project, job_id)
        LEFT JOIN latest l ON l.provider = jf.provider AND l.project = jf.project
                          AND l.run_id = jf.run_id""",
        params,
    ).fetchone() or (None, None, None, 0, 0)
    retried, wasted_s, runner, failed_jobs, retried_attempts = waste
    wasted = float(wasted_s or 0.0)
    failed = wasted - float(retried or 0.0)
    return {
        "runs": int(row[0] or 0),
        "timed_runs": int(row[1] or 0),
        "p50_s": round_s(row[2]),
        "p90_s": round_s(row[3]),
        "waste_s": round(wasted, 1),
        "retried_s": round_s(retried) or 0.0,
        "failed_s": round_s(failed) or 0.0,
        "waste_share": round(wasted / float(runner), 4) if runner else None,
        "failed_jobs": int(failed_jobs or 0),
        "retried_attempts": int(retried_attempts or 0),
    }


# -- breakdown ------------------------------------------------------------------------------


def weekly_categories(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[dict[str, Any]]:
    """Seconds per (ISO week starting Monday, category), queue included."""
    frames, params = period_frames(filters)
    return dict_rows(
        con,
        f"""WITH {frames}
        SELECT date_trunc('week', jf.created_at AT TIME ZONE 'UTC')::DATE AS week, s.category,
               round(sum(s.seconds), 1) AS seconds
        FROM slices s JOIN jf USING (provider, project, job_id)
        WHERE jf.created_at IS NOT NULL
        GROUP BY ALL ORDER BY week, category""",
        params,
    )


def hierarchy(
    con: duckdb.DuckDBPyConnection, filters: Filters, *, top_jobs: int = 60
) -> list[dict[str, Any]]:
    """Runner seconds per project, pipeline, job and category (queue excluded).

    Only the ``top_jobs`` jobs with the most runner time are kept by name; the rest of each
    pipeline is folded into one ``(other jobs)`` node so the chart stays readable.
    """
    frames, params = period_frames(filters)
    return dict_rows(
        con,
        f"""WITH {frames},
        cells AS (
            SELECT provider, project, pipeline, job, category, sum(seconds) AS seconds
            FROM slices WHERE category <> 'queue' GROUP BY ALL
        ),
        ranked AS (
            SELECT provider, project, pipeline, job,
                   row_number() OVER (ORDER BY sum(seconds) DESC) AS rank
            FROM cells GROUP BY ALL
        )
        SELECT c.provider, c.project, c.pipeline,
               CASE WHEN r.rank <= {int(top_jobs)} THEN c.job ELSE '(other jobs)' END AS job,
               c.category, round(sum(c.seconds), 1) AS seconds
        FROM cells c JOIN ranked r USING (provider, project, pipeline, job)
        GROUP BY ALL HAVING sum(c.seconds) > 0
        ORDER BY seconds DESC, c.provider, c.project, c.pipeline, job, c.category""",
        params,
    )


SPLITS = {"provider": "jf.provider", "labels": "lab.labels"}


def split(con: duckdb.DuckDBPyConnection, filters: Filters, by: str) -> list[dict[str, Any]]:
    """Seconds per category for each provider, or for each runner label set."""
    if by not in SPLITS:
        raise ValueError(f"cannot split by {by!r}: choose one of {', '.join(SPLITS)}")
    frames, params = period_frames(filters)
    return dict_rows(
        con,
        f"""WITH {frames},
        lab AS (
            SELECT provider, project, job_id,
                   coalesce(nullif(array_to_string(list_sort(labels), ', '), ''),
                            '(no labels)') AS labels
            FROM jobs
        ),
        keyed AS (
            SELECT jf.provider, jf.project, jf.job_id, {SPLITS[by]} AS key
            FROM jf LEFT JOIN lab USING (provider, project, job_id)
        )
        SELECT k.key, s.category, round(sum(s.seconds), 1) AS seconds
        FROM slices s JOIN keyed k USING (provider, project, job_id)
        GROUP BY ALL ORDER BY key, category""",
        params,
    )


_EXPLAINED = """
    explained AS (
        SELECT provider, project, pipeline, job, step, category, rule, seconds FROM st
        UNION ALL
        SELECT provider, project, pipeline, job,
               CASE rule WHEN 'queue' THEN '(waiting for a runner)'
                         ELSE '(job time no step covers)' END,
               category, rule, seconds
        FROM slices WHERE rule IN ('queue', 'unaccounted')
    )"""


def category_steps(
    con: duckdb.DuckDBPyConnection, filters: Filters, category: str, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The steps, and the rule that put each there, behind one category's seconds. Queue
    waits and job time no step covers appear as rows of their own (rules ``queue`` and
    ``unaccounted``), so the rows add up to the category's total."""
    frames, params = period_frames(filters)
    return dict_rows(
        con,
        f"""WITH {frames}, {_EXPLAINED}
        SELECT provider, project, pipeline, job, step, rule, count(*) AS occurrences,
               round(sum(seconds), 1) AS total_s, round(median(seconds), 1) AS median_s
        FROM explained WHERE category = ?
        GROUP BY ALL ORDER BY total_s DESC, provider, project, pipeline, job, step, rule
        LIMIT {int(limit)}""",
        [*params, category],
    )


# -- bottlenecks ----------------------------------------------------------------------------


JOB_RANKINGS = ("runner_s", "wall_s", "wall_p90_s")


def job_stats(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    *,
    rank_by: str = "runner_s",
    limit: int = 25,
    weeks: int = 12,
) -> list[dict[str, Any]]:
    """The top jobs by ``rank_by``: total runner time, total wall-clock (queue wait + run) or
    p90 wall-clock per run; with per-run p50/p90 and a weekly series of runner hours
    (``trend``, oldest first, at most the last ``weeks`` weeks of the selection)."""
    if rank_by not in JOB_RANKINGS:
        raise ValueError(f"cannot rank jobs by {rank_by!r}: one of {', '.join(JOB_RANKINGS)}")
    frames, params = period_frames(filters)
    return dict_rows(
        con,
        f"""WITH {frames},
        per_job AS (
            SELECT provider, project, pipeline, job, count(*) AS runs,
                   round(sum(run_s), 1) AS runner_s,
                   round(quantile_cont(run_s, 0.5), 1) AS p50_s,
                   round(quantile_cont(run_s, 0.9), 1) AS p90_s,
                   round(quantile_cont(coalesce(queued_s, 0) + run_s, 0.5), 1) AS wall_p50_s,
                   round(quantile_cont(coalesce(queued_s, 0) + run_s, 0.9), 1) AS wall_p90_s,
                   round(sum(coalesce(queued_s, 0) + run_s), 1) AS wall_s
            FROM jf WHERE run_s IS NOT NULL GROUP BY ALL
            ORDER BY {rank_by} DESC, job LIMIT {int(limit)}
        ),
        span AS (
            SELECT greatest(date_trunc('week', min(created_at) AT TIME ZONE 'UTC'),
                            date_trunc('week', max(created_at) AT TIME ZONE 'UTC')
                            - INTERVAL ({int(weeks) - 1} * 7) DAY) AS lo,
                   date_trunc('week', max(created_at) AT TIME ZONE 'UTC') AS hi
            FROM jf
        ),
        weekly AS (
            SELECT provider, project, pipeline, job,
                   date_trunc('week', created_at AT TIME ZONE 'UTC') AS week, sum(run_s) AS seconds
            FROM jf SEMI JOIN per_job USING (provider, project, pipeline, job)
            WHERE created_at IS NOT NULL GROUP BY ALL
        ),
        grid AS (
            SELECT p.provider, p.project, p.pipeline, p.job, g.week
            FROM per_job p, span, generate_series(span.lo, span.hi, INTERVAL 7 DAY) g(week)
        ),
        trend AS (
            SELECT g.provider, g.project, g.pipeline, g.job,
                   list(round(coalesce(w.seconds, 0) / 3600.0, 2) ORDER BY g.week) AS trend
            FROM grid g LEFT JOIN weekly w USING (provider, project, pipeline, job, week)
            GROUP BY ALL
        )
        SELECT p.*, t.trend FROM per_job p LEFT JOIN trend t
            USING (provider, project, pipeline, job)
        ORDER BY p.{rank_by} DESC, p.job""",
        params,
    )


def step_stats(
    con: duckdb.DuckDBPyConnection, filters: Filters, *, limit: int = 25, weeks: int = 12
) -> list[dict[str, Any]]:
    """Steps by total runner time with per-occurrence p50/p90, category, rule and a weekly
    series of hours (``trend``)."""
    frames, params = period_frames(filters)
    return dict_rows(
        con,
        f"""WITH {frames},
        sj AS (
            SELECT st.*, jf.created_at FROM st JOIN jf USING (provider, project, job_id)
        ),
        per_step AS (
            SELECT provider, project, pipeline, job, step, category, rule,
                   count(*) AS runs, round(sum(seconds), 1) AS total_s,
                   round(quantile_cont(seconds, 0.5), 1) AS p50_s,
                   round(quantile_cont(seconds, 0.9), 1) AS p90_s
            FROM sj GROUP BY ALL ORDER BY total_s DESC LIMIT {int(limit)}
        ),
        span AS (
            SELECT greatest(date_trunc('week', min(created_at) AT TIME ZONE 'UTC'),
                            date_trunc('week', max(created_at) AT TIME ZONE 'UTC')
                            - INTERVAL ({int(weeks) - 1} * 7) DAY) AS lo,
                   date_trunc('week', max(created_at) AT TIME ZONE 'UTC') AS hi
            FROM jf
        ),
        weekly AS (
            SELECT provider, project, pipeline, job, step, category, rule,
                   date_trunc('week', created_at AT TIME ZONE 'UTC') AS week,
                   sum(seconds) AS seconds
            FROM sj
            SEMI JOIN per_step USING (provider, project, pipeline, job, step, category, rule)
            WHERE created_at IS NOT NULL GROUP BY ALL
        ),
        grid AS (
            SELECT p.provider, p.project, p.pipeline, p.job, p.step, p.category, p.rule, g.week
            FROM per_step p, span, generate_series(span.lo, span.hi, INTERVAL 7 DAY) g(week)
        ),
        trend AS (
            SELECT g.provider, g.project, g.pipeline, g.job, g.step, g.category, g.rule,
                   list(round(coalesce(w.seconds, 0) / 3600.0, 2) ORDER BY g.week) AS trend
            FROM grid g LEFT JOIN weekly w
                USING (provider, project, pipeline, job, step, category, rule, week)
            GROUP BY ALL
        )
        SELECT p.*, t.trend FROM per_step p LEFT JOIN trend t
            USING (provider, project, pipeline, job, step, category, rule)
        ORDER BY p.total_s DESC""",
        params,
    )


def runs_behind(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    *,
    provider: str,
    project: str,
    pipeline: str,
    job: str,
    step: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The job runs behind a bottleneck row (longest first): when, where, how long, and for a
    step its own seconds and rule. ``run_key`` identifies the run for the timeline."""
    frames, params = period_frames(filters)
    step_join = ""
    step_cols = "NULL::DOUBLE AS step_s, NULL::VARCHAR AS rule"
    extra: list[Any] = [provider, project, pipeline, job]
    if step is not None:
        step_join = (
            "JOIN (SELECT provider, project, job_id, sum(seconds) AS step_s, any_value(rule) "
            "AS rule FROM st WHERE step = ? GROUP BY ALL) sx USING (provider, project, job_id)"
        )
        step_cols = "round(sx.step_s, 1) AS step_s, sx.rule"
        extra = [step, *extra]
    return dict_rows(
        con,
        f"""WITH {frames}
        SELECT jf.provider, jf.project, jf.run_id, jf.attempt, jf.job_id, jf.created_at,
               r.branch, r.event, j.conclusion, round(jf.queued_s, 1) AS queued_s,
               round(jf.run_s, 1) AS run_s, {step_cols}, j.url
        FROM jf {step_join}
        JOIN jobs j USING (provider, project, job_id)
        LEFT JOIN runs r ON r.provider = jf.provider AND r.project = jf.project
                        AND r.run_id = jf.run_id AND r.attempt = jf.attempt
        WHERE jf.provider = ? AND jf.project = ? AND jf.pipeline = ? AND jf.job = ?
        ORDER BY {"step_s" if step is not None else "run_s"} DESC NULLS LAST
        LIMIT {int(limit)}""",
        [*params, *extra],
    )


# -- data -----------------------------------------------------------------------------------


def collection_status(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per provider and project: what is stored, the time span, and when it was last updated."""
    return dict_rows(
        con,
        """
        WITH r AS (
            SELECT provider, project, count(*) AS runs, min(created_at) AS first_run,
                   max(created_at) AS last_run, max(updated_at) AS last_update
            FROM runs GROUP BY ALL
        ),
        j AS (SELECT provider, project, count(*) AS jobs FROM jobs GROUP BY ALL),
        s AS (
            SELECT provider, project, count(*) AS steps, count(DISTINCT job_id) AS timed_jobs
            FROM steps GROUP BY ALL
        ),
        c AS (
            SELECT provider, project, max(updated_at) AS collected_at,
                   string_agg(scope || '=' || coalesce(value, ''), '; ' ORDER BY scope)
                       AS cursors
            FROM cursors GROUP BY ALL
        )
        SELECT provider, project, coalesce(r.runs, 0) AS runs, coalesce(j.jobs, 0) AS jobs,
               coalesce(s.steps, 0) AS steps,
               coalesce(j.jobs, 0) - coalesce(s.timed_jobs, 0) AS jobs_without_steps,
               r.first_run, r.last_run, r.last_update, c.collected_at, c.cursors
        FROM r FULL JOIN j USING (provider, project)
        LEFT JOIN s USING (provider, project)
        LEFT JOIN c USING (provider, project)
        ORDER BY provider, project
        """,
    )


def rule_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[dict[str, Any]]:
    """How many steps (and seconds) in the filters each stored rule id classified."""
    frames, params = period_frames(filters)
    return dict_rows(
        con,
        f"""WITH {frames}
        SELECT rule, any_value(category) AS category, count(*) AS steps,
               round(sum(seconds), 1) AS seconds
        FROM st GROUP BY rule ORDER BY seconds DESC""",
        params,
    )


_SPECIAL_RULES = {
    "unmatched": "no rule matched: the step counts as other",
    "unclassified": "not classified yet: run `ci-profile analyze` once",
}


def rules_table(rules: Sequence[Rule], counts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every rule in force, in order (first match wins), with what it classified in the store;
    then the stored rule ids the rules in force do not have (``unmatched`` and the like)."""
    used = {str(c["rule"]): c for c in counts}
    rows: list[dict[str, Any]] = []
    for order, rule in enumerate(rules, 1):
        hit = used.pop(rule.id, None)
        rows.append(
            {
                "order": order,
                "rule": rule.id,
                "category": rule.category,
                "description": rule.description,
                "steps": int(hit["steps"]) if hit else 0,
                "seconds": float(hit["seconds"] or 0.0) if hit else 0.0,
            }
        )
    for rule_id, hit in sorted(used.items()):
        rows.append(
            {
                "order": None,
                "rule": rule_id,
                "category": hit["category"],
                "description": _SPECIAL_RULES.get(
                    rule_id, "not in the rules in force: the stored classification is older"
                ),
                "steps": int(hit["steps"]),
                "seconds": float(hit["seconds"] or 0.0),
            }
        )
    return rows


def other_steps(
    con: duckdb.DuckDBPyConnection, filters: Filters, *, limit: int = 100
) -> list[dict[str, Any]]:
    """Where ``other`` time comes from: unmatched steps by name, and job time no step covers."""
    return category_steps(con, filters, "other", limit=limit)


# -- helpers --------------------------------------------------------------------------------


def default_period(last: datetime | None, weeks: int = 4) -> tuple[datetime, datetime] | None:
    """``weeks`` calendar weeks (Monday to Sunday, UTC) up to the day of the newest job: whole
    weeks, so that the first bar of a weekly chart is not a fragment."""
    if last is None:
        return None
    day = datetime(last.year, last.month, last.day, tzinfo=last.tzinfo)
    monday = day - timedelta(days=day.weekday())
    return monday - timedelta(weeks=weeks - 1), day + timedelta(days=1)


__all__ = [
    "CATEGORIES",
    "PROVISIONING",
    "DatabaseStatus",
    "Options",
    "Scope",
    "category_steps",
    "collection_status",
    "database_status",
    "default_period",
    "filter_options",
    "hierarchy",
    "job_stats",
    "other_steps",
    "rule_counts",
    "rules_table",
    "run_figures",
    "runs_behind",
    "split",
    "step_stats",
    "weekly_categories",
]
