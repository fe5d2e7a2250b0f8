"""The measured evidence for a migration: per pipeline file and YAML job, what its environment
steps take per run and what removing them saves.

Environment steps are what the what-if removes (``jobframe``: category ``environment``, the
teardown rules and the ``Post`` hooks of environment steps). Seconds are summed per run attempt
over the runtime jobs of one YAML job (matrix legs included), then the median and p90 are taken
over run attempts. The saving is the what-if's (``analysis.whatif``, reached through
``build_report``): the median wall-clock saving per affected run with the session start added,
and the runner time saved per month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
from ci_profile.analysis.breakdown import Filters, build_report
from ci_profile.analysis.jobframe import JOBS, RUNS, build_frame, drop_frame, unordered
from ci_profile.analysis.sections import AnalysisOptions


@dataclass(frozen=True, slots=True)
class JobEnvironment:
    pipeline_path: str
    yaml_job: str
    runs: int
    runs_per_week: float
    median_s: float
    p90_s: float
    saving_per_run_s: float
    runner_saving_per_month_s: float


def projects(con: duckdb.DuckDBPyConnection, provider: str) -> list[str]:
    rows = con.execute(
        "SELECT DISTINCT project FROM runs WHERE provider = ? ORDER BY project", [provider]
    ).fetchall()
    return [str(row[0]) for row in rows]


def job_environments(
    con: duckdb.DuckDBPyConnection, provider: str, project: str, session_start_s: float
) -> dict[tuple[str, str], JobEnvironment]:
    """(pipeline path without ``@ref``, YAML job key) -> its environment time and saving."""
    filters = Filters(projects=(project,), providers=(provider,))
    report = build_report(
        con,
        filters,
        sections=("opportunities",),
        options=AnalysisOptions(session_start_s=session_start_s),
    )
    savings = {
        (str(row["pipeline"]), str(row["job"])): row
        for row in (report.whatif or {}).get("by_job", [])
    }
    with unordered(con):
        build_frame(con, filters)
        try:
            rows = con.execute(
                f"""
                WITH legs AS (
                    SELECT regexp_replace(j.pipeline_path, '@.*$', '') AS path, j.yaml_job,
                           j.pipeline, j.job, j.rid, j.removable_s, j.moment
                    FROM {JOBS} j JOIN {RUNS} r ON r.rid = j.rid AND r.analyzable
                    WHERE j.eligible AND j.yaml_job IS NOT NULL AND j.pipeline_path IS NOT NULL
                ),
                per_run AS (
                    SELECT path, yaml_job, rid, sum(removable_s) AS env_s
                    FROM legs GROUP BY path, yaml_job, rid
                ),
                span AS (
                    SELECT path, yaml_job,
                           greatest((epoch(max(moment)) - epoch(min(moment))) / 604800.0,
                                    1.0 / 7.0) AS weeks,
                           list(DISTINCT struct_pack(pipeline := pipeline, job := job))
                               AS runtime_jobs
                    FROM legs GROUP BY path, yaml_job
                )
                SELECT p.path, p.yaml_job, count(*) AS runs, any_value(s.weeks) AS weeks,
                       median(p.env_s) AS median_s, quantile_cont(p.env_s, 0.9) AS p90_s,
                       any_value(s.runtime_jobs) AS runtime_jobs
                FROM per_run p
                JOIN span s USING (path, yaml_job)
                GROUP BY p.path, p.yaml_job
                ORDER BY p.path, p.yaml_job
                """
            ).fetchall()
        finally:
            drop_frame(con)
    out: dict[tuple[str, str], JobEnvironment] = {}
    for path, yaml_job, runs, weeks, median_s, p90_s, runtime_jobs in rows:
        matched = [
            savings[(job["pipeline"], job["job"])]
            for job in runtime_jobs
            if (job["pipeline"], job["job"]) in savings
        ]
        out[(str(path), str(yaml_job))] = JobEnvironment(
            pipeline_path=str(path),
            yaml_job=str(yaml_job),
            runs=int(runs),
            runs_per_week=float(runs) / float(weeks),
            median_s=float(median_s or 0.0),
            p90_s=float(p90_s or 0.0),
            saving_per_run_s=_largest(matched, "median_saving_per_run_s"),
            runner_saving_per_month_s=sum(
                float(m.get("runner_saving_per_month_s") or 0.0) for m in matched
            ),
        )
    return out


def _largest(rows: list[Mapping[str, object]], key: str) -> float:
    """Matrix legs run side by side: the run saves what its slowest leg saves, not their sum."""
    values = [float(v) for r in rows if isinstance(v := r.get(key), int | float)]
    return max(values, default=0.0)
