"""Where the time goes: category totals, provisioning vs test shares, queue, costly steps.

Every figure is one DuckDB query over the store (no Python loops over rows). Every second of a
job lands in exactly one category: its queue wait is ``queue``, each step's time the step's
category, and job time that no step accounts for is ``other`` (rule ``unaccounted``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
from ci_profile.analysis.classify import CATEGORIES
from ci_profile.analysis.jobframe import (
    JOBS,
    RUNS,
    STEPS,
    build_frame,
    drop_frame,
    exact_sum,
    job_names,
    unordered,
)

if TYPE_CHECKING:
    from ci_profile.analysis.sections import AnalysisOptions

PROVISIONING = ("setup", "dependencies", "environment", "teardown")


@dataclass(frozen=True)
class Filters:
    projects: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def sql(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.projects:
            clauses.append(f"j.project IN ({', '.join('?' * len(self.projects))})")
            params.extend(self.projects)
        if self.providers:
            clauses.append(f"j.provider IN ({', '.join('?' * len(self.providers))})")
            params.extend(self.providers)
        moment = "coalesce(j.created_at, j.started_at, r.created_at)"
        if self.since is not None:
            clauses.append(f"{moment} >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append(f"{moment} < ?")
            params.append(self.until)
        return (" AND ".join(clauses) or "TRUE"), params


@dataclass
class Report:
    period: dict[str, Any]
    categories: dict[str, dict[str, float]]
    headline: dict[str, Any]
    by_project: list[dict[str, Any]] = field(default_factory=list)
    by_pipeline: list[dict[str, Any]] = field(default_factory=list)
    by_job: list[dict[str, Any]] = field(default_factory=list)
    queue: dict[str, Any] = field(default_factory=dict)
    top_steps: list[dict[str, Any]] = field(default_factory=list)
    environment: list[dict[str, Any]] = field(default_factory=list)
    # Sections computed on request (analysis.sections); None when not asked for.
    claim: dict[str, Any] | None = None
    critical_path: dict[str, Any] | None = None
    whatif: dict[str, Any] | None = None
    percentiles: dict[str, Any] | None = None
    trends: dict[str, Any] | None = None
    waste: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None
    concurrency: dict[str, Any] | None = None
    data_quality: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        base = {
            "period": self.period,
            "categories": self.categories,
            "headline": self.headline,
            "by_project": self.by_project,
            "by_pipeline": self.by_pipeline,
            "by_job": self.by_job,
            "queue": self.queue,
            "top_steps": self.top_steps,
            "environment": self.environment,
        }
        extra = {
            "claim": self.claim,
            "critical_path": self.critical_path,
            "whatif": self.whatif,
            "percentiles": self.percentiles,
            "trends": self.trends,
            "waste": self.waste,
            "cost": self.cost,
            "concurrency": self.concurrency,
            "data_quality": self.data_quality,
        }
        return base | {key: value for key, value in extra.items() if value is not None}


def period_frames(filters: Filters) -> tuple[str, list[Any]]:
    where, params = filters.sql()
    sql = f"""
    jf AS (
        SELECT hash(j.provider, j.project, j.job_id) AS jid,
               j.provider, j.project, j.job_id, j.run_id, j.attempt, j.name AS job,
               coalesce(r.pipeline, r.pipeline_path, '(unknown pipeline)') AS pipeline,
               j.queued_s, j.created_at,
               CASE WHEN j.finished_at >= j.started_at
                    THEN epoch(j.finished_at) - epoch(j.started_at) END AS run_s
        FROM jobs j
        LEFT JOIN runs r ON r.provider = j.provider AND r.project = j.project
                        AND r.run_id = j.run_id AND r.attempt = j.attempt
        WHERE {where}
    ),
    st AS (
        SELECT jf.provider, jf.project, jf.pipeline, jf.job, jf.job_id, jf.run_id, jf.attempt,
               sf.name AS step, sf.category, sf.rule, coalesce(sf.duration_s, 0) AS seconds
        FROM step_facts sf JOIN jf USING (jid)
    ),
    covered AS (
        SELECT provider, project, job_id, sum(seconds) AS seconds FROM st GROUP BY ALL
    ),
    slices AS (
        SELECT provider, project, pipeline, job, job_id, run_id, attempt, category, rule, seconds
        FROM st
        UNION ALL
        SELECT provider, project, pipeline, job, job_id, run_id, attempt, 'queue', 'queue',
               queued_s
        FROM jf WHERE queued_s > 0
        UNION ALL
        SELECT jf.provider, jf.project, jf.pipeline, jf.job, jf.job_id, jf.run_id, jf.attempt,
               'other', 'unaccounted', jf.run_s - coalesce(c.seconds, 0)
        FROM jf LEFT JOIN covered c USING (provider, project, job_id)
        WHERE jf.run_s - coalesce(c.seconds, 0) > 0
    )
    """
    return sql, params


def _ratio(part: float | None, whole: float | None) -> float | None:
    if not whole or part is None:
        return None if not whole else 0.0
    return round(part / whole, 4)


def _shaped(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for named in raw:
        for key in ("runner_s", "provisioning_s", "environment_s", "test_s", "queue_s"):
            named[key] = round(float(named[key] or 0.0), 1)
        named["provisioning_share"] = _ratio(named["provisioning_s"], named["runner_s"])
        named["test_share"] = _ratio(named["test_s"], named["runner_s"])
        named["environment_share"] = _ratio(named["environment_s"], named["runner_s"])
        rows.append(named)
    return rows


def build_report(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    *,
    top: int = 10,
    sections: Collection[str] = (),
    options: AnalysisOptions | None = None,
    stored: bool = False,
) -> Report:
    """The breakdown, plus the requested ``sections`` (see ``analysis.sections.SECTIONS``).

    The jobs, steps and slices of the period are materialized once (``analysis.jobframe``), so
    the one expensive join (steps x their classes x jobs) runs once, not once per figure.
    ``stored``: the classification is current, so the frame and every run's critical path and
    what-if are read from the store (``analysis.run_facts``) where they apply.
    """
    with unordered(con):
        summary = build_frame(con, filters, stored=stored)
        try:
            report = _frame_breakdown(con, top=top)
            if sections:
                from ci_profile.analysis.sections import add_sections

                add_sections(con, report, filters, sections, options, summary=summary)
        finally:
            drop_frame(con)
    return report


def _frame_shares(group_cols: str, key: str | None = None) -> str:
    """Shares per ``group_cols``. ``key``: an integer column that determines them (grouping a
    million rows by it, not by four strings, costs a third less); without one, the groups are
    a project's or pipeline's, which each run belongs to one of, so their runs are counted in
    the run frame (``sliced_jobs``) instead of as distinct run keys of a million jobs."""
    provisioning = " + ".join(f"{c}_s" for c in PROVISIONING)
    names = [c.strip() for c in group_cols.split(",")]
    selected = ", ".join(f"any_value({c}) AS {c}" for c in names) if key else group_cols
    sums = f"""
           {exact_sum("steps_s + greatest(coalesce(runner_s, 0) - steps_s, 0)")} AS runner_s,
           {exact_sum(provisioning)} AS provisioning_s,
           {exact_sum("environment_s")} AS environment_s, {exact_sum("test_s")} AS test_s,
           {exact_sum("queued_raw", "queued_raw > 0")} AS queue_s
    """
    if key:
        return f"""
        SELECT {selected}, count(DISTINCT rid) AS runs, count(*) AS jobs, {sums}
        FROM {JOBS} WHERE has_slice
        GROUP BY {key}
        ORDER BY runner_s DESC NULLS LAST, {group_cols}
        """
    return f"""
    WITH shares AS (
        SELECT {group_cols}, count(*) AS jobs, {sums}
        FROM {JOBS} WHERE has_slice GROUP BY {group_cols}
    ),
    runs AS (
        SELECT {group_cols}, count(*) AS runs FROM {RUNS} WHERE sliced_jobs > 0
        GROUP BY {group_cols}
    )
    SELECT {group_cols}, runs.runs, shares.* EXCLUDE ({group_cols})
    FROM shares JOIN runs USING ({group_cols})
    ORDER BY runner_s DESC NULLS LAST, {group_cols}
    """


def _frame_breakdown(con: duckdb.DuckDBPyConnection, *, top: int) -> Report:
    """``_breakdown``'s figures from the job frame's per-job sums (same numbers, integer keys,
    no per-figure join of steps and jobs)."""
    sums = ", ".join(exact_sum(f"{c}_s") for c in CATEGORIES if c != "queue")
    row = con.execute(
        f"""
        SELECT min(created_at), max(created_at), (SELECT count(*) FROM {RUNS}), count(*),
               count(DISTINCT project), {exact_sum("queued_raw", "queued_raw > 0")},
               {sums}
        FROM {JOBS}
        """
    ).fetchone()
    first, last, runs, jobs, projects, *seconds = row or (None, None, 0, 0, 0)
    totals = dict(zip(CATEGORIES, seconds, strict=True)) if jobs else {}
    report = _report(
        {
            "from": first.isoformat() if first else None,
            "to": last.isoformat() if last else None,
            "runs": int(runs or 0),
            "jobs": int(jobs or 0),
            "projects": int(projects or 0),
        },
        totals,
    )
    for attr, cols, key in (
        ("by_project", "provider, project", None),
        ("by_pipeline", "provider, project, pipeline", None),
        ("by_job", "provider, project, pipeline, job", "job_key"),
    ):
        setattr(report, attr, _shaped(dict_rows(con, _frame_shares(cols, key), [])))
    queue = con.execute(
        f"""SELECT count(queued_raw), quantile_cont(queued_raw, 0.5),
                   quantile_cont(queued_raw, 0.9), max(queued_raw), sum(queued_raw)
            FROM {JOBS} WHERE queued_raw IS NOT NULL"""
    ).fetchone() or (0, None, None, None, None)
    report.queue = _queue(queue)
    report.top_steps = dict_rows(
        con,
        f"""
        WITH per_step AS (  -- by the job's integer key; its names are looked up after
            SELECT job_key, step, category, rule,
                   round(sum(coalesce(duration_s, 0)), 1) AS total_s, count(*) AS runs
            FROM {STEPS} WHERE job_key IS NOT NULL
            GROUP BY ALL
        ),
        named AS ({job_names("SELECT job_key FROM per_step")}),
        top AS (
            SELECT n.provider, n.project, n.pipeline, n.job, p.*
            FROM per_step p JOIN named n USING (job_key)
            ORDER BY total_s DESC, step, provider, project, pipeline, job, category, rule
            LIMIT {int(top)}
        ),
        -- A median needs every value of its group: only the top steps' are gathered.
        medians AS (
            SELECT t.job_key, t.step, t.category, t.rule,
                   round(median(coalesce(s.duration_s, 0)), 1) AS median_s
            FROM top t
            JOIN {STEPS} s ON s.job_key = t.job_key AND s.step IS NOT DISTINCT FROM t.step
                          AND s.category = t.category AND s.rule = t.rule
            GROUP BY ALL
        )
        SELECT t.provider, t.project, t.pipeline, t.job, t.step, t.category, t.rule,
               t.total_s, t.runs, m.median_s
        FROM top t
        JOIN medians m ON m.job_key = t.job_key AND m.step IS NOT DISTINCT FROM t.step
                      AND m.category = t.category AND m.rule = t.rule
        ORDER BY total_s DESC, step, provider, project, pipeline, job, category, rule
        """,
        [],
    )
    report.environment = dict_rows(
        con,
        f"""
        WITH span AS (
            SELECT greatest(epoch(max(created_at)) - epoch(min(created_at)), 86400)
                   / 604800.0 AS weeks
            FROM {JOBS}
        ),
        per_job AS (
            SELECT provider, project, pipeline, job, environment_s AS env_s,
                   steps_s + greatest(coalesce(runner_s, 0) - steps_s, 0) AS job_s
            FROM {JOBS} WHERE has_slice
        )
        SELECT provider, project, pipeline, job, count(*) AS runs,
               round(sum(env_s), 1) AS environment_s,
               round(median(env_s), 1) AS median_per_run_s,
               round(quantile_cont(env_s, 0.9), 1) AS p90_per_run_s,
               round(sum(env_s) / nullif(sum(job_s), 0), 4) AS share_of_job,
               round(sum(env_s) / any_value(span.weeks), 1) AS per_week_s
        FROM per_job, span WHERE env_s > 0
        GROUP BY provider, project, pipeline, job
        ORDER BY sum(env_s) DESC, provider, project, pipeline, job""",
        [],
    )
    return report


def _report(period: dict[str, Any], totals: dict[str, Any]) -> Report:
    grand = float(sum(v or 0.0 for v in totals.values()))
    categories = {
        c: {
            "seconds": round(float(totals.get(c) or 0.0), 1),
            "share": _ratio(float(totals.get(c) or 0.0), grand) or 0.0,
        }
        for c in CATEGORIES
    }
    runner = grand - float(totals.get("queue") or 0.0)
    provisioning = sum(float(totals.get(c) or 0.0) for c in PROVISIONING)
    test = float(totals.get("test") or 0.0)
    headline = {
        "total_s": round(grand, 1),
        "runner_s": round(runner, 1),
        "queue_s": round(float(totals.get("queue") or 0.0), 1),
        "provisioning_s": round(provisioning, 1),
        "test_s": round(test, 1),
        "provisioning_share": _ratio(provisioning, runner),
        "test_share": _ratio(test, runner),
        "environment_share": _ratio(float(totals.get("environment") or 0.0), runner),
        "provisioning_categories": list(PROVISIONING),
    }
    return Report(period=period, categories=categories, headline=headline)


def _queue(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "jobs": int(row[0] or 0),
        "p50_s": round_s(row[1]),
        "p90_s": round_s(row[2]),
        "max_s": round_s(row[3]),
        "total_s": round_s(row[4]),
    }


def dict_rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """Rows of a query as dicts, values as DuckDB gives them."""
    cursor = con.execute(sql, list(params))
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def round_s(value: float | None) -> float | None:
    """Seconds to a tenth, None kept."""
    return None if value is None else round(float(value), 1)
