"""One run, second by second: its jobs (with their queue waits) and their classified steps.

The data behind a Gantt chart of any stored run. Times are returned as seconds from the run's
first moment (the earliest of the run's and its jobs' creation), so a chart needs no timezone
handling, plus the absolute start for labels. Every step carries its category and the rule that
classified it, so a bar can explain itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
from ci_profile.analysis.breakdown import Filters, dict_rows
from ci_profile.analysis.explore import PIPELINE_SQL


@dataclass(frozen=True)
class RunKey:
    provider: str
    project: str
    run_id: str
    attempt: int

    def label(self) -> str:
        return f"{self.project} #{self.run_id} attempt {self.attempt}"


@dataclass
class RunTimeline:
    key: RunKey
    run: dict[str, Any]
    origin: datetime | None
    jobs: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


def list_runs(
    con: duckdb.DuckDBPyConnection, filters: Filters, *, limit: int = 300, search: str = ""
) -> list[dict[str, Any]]:
    """Run attempts in the filters, newest first. ``search`` matches run id, branch, sha or
    pipeline (case-insensitive substring), so any run in history can be found."""
    where, params = filters.sql()
    like = ""
    if search.strip():
        like = (
            f"AND (r.run_id ILIKE ? OR r.branch ILIKE ? OR r.sha ILIKE ? OR {PIPELINE_SQL} ILIKE ?)"
        )
        params = [*params, *([f"%{search.strip()}%"] * 4)]
    return dict_rows(
        con,
        f"""
        WITH keys AS (
            SELECT DISTINCT j.provider, j.project, j.run_id, j.attempt
            FROM jobs j
            LEFT JOIN runs r ON r.provider = j.provider AND r.project = j.project
                            AND r.run_id = j.run_id AND r.attempt = j.attempt
            WHERE {where} {like}
        )
        SELECT r.provider, r.project, r.run_id, r.attempt, r.run_number,
               {PIPELINE_SQL} AS pipeline, r.branch, r.event, r.conclusion, r.created_at,
               CASE WHEN r.finished_at >= coalesce(r.started_at, r.created_at)
                    THEN round(epoch(r.finished_at)
                               - epoch(coalesce(r.started_at, r.created_at)), 1) END
                   AS duration_s
        FROM runs r JOIN keys USING (provider, project, run_id, attempt)
        ORDER BY r.created_at DESC NULLS LAST, r.run_id DESC, r.attempt DESC
        LIMIT {int(limit)}
        """,
        params,
    )


def run_timeline(con: duckdb.DuckDBPyConnection, key: RunKey) -> RunTimeline | None:
    """The run's jobs and steps, or None when the run is not stored."""
    ident = [key.provider, key.project, key.run_id, key.attempt]
    runs = dict_rows(
        con,
        f"""SELECT provider, project, run_id, attempt, run_number, {PIPELINE_SQL} AS pipeline,
               branch, event, sha, status, conclusion, created_at, started_at, finished_at, url
        FROM runs r WHERE provider = ? AND project = ? AND run_id = ? AND attempt = ?""",
        ident,
    )
    jobs_exist = con.execute(
        "SELECT count(*) FROM jobs WHERE provider = ? AND project = ? AND run_id = ? "
        "AND attempt = ?",
        ident,
    ).fetchone()
    if not runs and not (jobs_exist and jobs_exist[0]):
        return None
    origin_row = con.execute(
        """SELECT least(
               (SELECT min(coalesce(created_at, started_at)) FROM runs
                WHERE provider = ? AND project = ? AND run_id = ? AND attempt = ?),
               (SELECT min(coalesce(created_at, started_at)) FROM jobs
                WHERE provider = ? AND project = ? AND run_id = ? AND attempt = ?))""",
        ident + ident,
    ).fetchone()
    origin = origin_row[0] if origin_row else None
    rel = "round(epoch({col}) - epoch(?::TIMESTAMPTZ), 3)"
    jobs = dict_rows(
        con,
        f"""SELECT job_id, name AS job, stage, status, conclusion, runner,
               array_to_string(labels, ', ') AS labels, url, created_at, started_at,
               finished_at, queued_s,
               {rel.format(col="created_at")} AS created_rel_s,
               {rel.format(col="started_at")} AS start_rel_s,
               {rel.format(col="finished_at")} AS end_rel_s,
               CASE WHEN finished_at >= started_at
                    THEN epoch(finished_at) - epoch(started_at) END AS run_s
        FROM jobs WHERE provider = ? AND project = ? AND run_id = ? AND attempt = ?
        ORDER BY coalesce(started_at, created_at) NULLS LAST, name, job_id""",
        [origin, origin, origin, *ident],
    )
    steps = dict_rows(
        con,
        f"""SELECT cs.job_id, cs.seq, cs.name AS step, cs.category, cs.rule, cs.uses,
               cs.command, cs.started_at, cs.finished_at, cs.duration_s,
               {rel.format(col="cs.started_at")} AS start_rel_s,
               {rel.format(col="cs.finished_at")} AS end_rel_s
        FROM classified_steps cs
        JOIN jobs j USING (provider, project, job_id)
        WHERE j.provider = ? AND j.project = ? AND j.run_id = ? AND j.attempt = ?
        ORDER BY cs.job_id, cs.seq""",
        [origin, origin, *ident],
    )
    return RunTimeline(key=key, run=runs[0] if runs else {}, origin=origin, jobs=jobs, steps=steps)
