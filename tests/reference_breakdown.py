"""The breakdown as first written: plain CTEs over ``period_frames``, one query per figure.

Kept in the tests as an independent oracle for the faster job-frame path in ``build_report``.
"""

from __future__ import annotations

from typing import Any

import duckdb
from ci_profile.analysis.breakdown import (
    PROVISIONING,
    Report,
    _queue,
    _report,
    _shaped,
    dict_rows,
)


def _shares(group_cols: str, frames: str) -> str:
    provisioning = ", ".join(f"'{c}'" for c in PROVISIONING)
    return f"""
    WITH {frames}
    SELECT {group_cols},
           count(DISTINCT (provider, project, run_id, attempt)) AS runs,
           count(DISTINCT job_id) AS jobs,
           sum(seconds) FILTER (WHERE category <> 'queue') AS runner_s,
           sum(seconds) FILTER (WHERE category IN ({provisioning})) AS provisioning_s,
           sum(seconds) FILTER (WHERE category = 'environment') AS environment_s,
           sum(seconds) FILTER (WHERE category = 'test') AS test_s,
           sum(seconds) FILTER (WHERE category = 'queue') AS queue_s
    FROM slices GROUP BY {group_cols}
    ORDER BY runner_s DESC NULLS LAST
    """


def _share_rows(
    con: duckdb.DuckDBPyConnection, group_cols: str, frames: str, params: list[Any]
) -> list[dict[str, Any]]:
    return _shaped(dict_rows(con, _shares(group_cols, frames), params))


def reference_breakdown(
    con: duckdb.DuckDBPyConnection, frames: str, params: list[Any], *, top: int
) -> Report:
    period_row = con.execute(
        f"""WITH {frames}
        SELECT min(created_at), max(created_at),
               count(DISTINCT (provider, project, run_id, attempt)), count(*),
               count(DISTINCT project)
        FROM jf""",
        params,
    ).fetchone()
    first, last, runs, jobs, projects = period_row or (None, None, 0, 0, 0)
    period = {
        "from": first.isoformat() if first else None,
        "to": last.isoformat() if last else None,
        "runs": int(runs or 0),
        "jobs": int(jobs or 0),
        "projects": int(projects or 0),
    }
    totals = dict(
        con.execute(
            f"WITH {frames} SELECT category, sum(seconds) FROM slices GROUP BY category", params
        ).fetchall()
    )
    report = _report(period, totals)
    report.by_project = _share_rows(con, "provider, project", frames, params)
    report.by_pipeline = _share_rows(con, "provider, project, pipeline", frames, params)
    report.by_job = _share_rows(con, "provider, project, pipeline, job", frames, params)
    queue = con.execute(
        f"""WITH {frames}
        SELECT count(queued_s), quantile_cont(queued_s, 0.5), quantile_cont(queued_s, 0.9),
               max(queued_s), sum(queued_s)
        FROM jf WHERE queued_s IS NOT NULL""",
        params,
    ).fetchone() or (0, None, None, None, None)
    report.queue = _queue(queue)
    report.top_steps = dict_rows(
        con,
        f"""WITH {frames}
        SELECT provider, project, pipeline, job, step, category, rule,
               round(sum(seconds), 1) AS total_s, count(*) AS runs,
               round(median(seconds), 1) AS median_s
        FROM st GROUP BY ALL
        ORDER BY total_s DESC, step, provider, project, pipeline, job, category, rule
        LIMIT {int(top)}""",
        params,
    )
    report.environment = dict_rows(
        con,
        f"""WITH {frames},
        per_job AS (
            SELECT provider, project, pipeline, job, job_id,
                   sum(seconds) FILTER (WHERE category = 'environment') AS env_s,
                   sum(seconds) FILTER (WHERE category <> 'queue') AS job_s
            FROM slices GROUP BY ALL
        ),
        span AS (
            SELECT greatest(epoch(max(created_at)) - epoch(min(created_at)), 86400)
                   / 604800.0 AS weeks
            FROM jf
        )
        SELECT provider, project, pipeline, job, count(*) AS runs,
               round(sum(env_s), 1) AS environment_s,
               round(median(env_s), 1) AS median_per_run_s,
               round(quantile_cont(env_s, 0.9), 1) AS p90_per_run_s,
               round(sum(env_s) / nullif(sum(job_s), 0), 4) AS share_of_job,
               round(sum(env_s) / any_value(span.weeks), 1) AS per_week_s
        FROM per_job, span WHERE env_s > 0
        GROUP BY provider, project, pipeline, job
        ORDER BY sum(env_s) DESC""",
        params,
    )
    return report
