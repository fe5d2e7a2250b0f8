"""Waste: runner time that bought no result, the jobs and steps that fail most, flaky signals.

- *Failed / cancelled jobs*: runner time of jobs that concluded ``failure`` / ``cancelled``.
- *Failed / cancelled attempts*: runner time of every job in a run attempt that concluded so
  (successful jobs of a failed attempt are usually run again).
- *Re-runs*: runner time of attempts > 1; *superseded*: of attempts a later attempt replaced.
- *Wasted* (the one total, no overlap; the dashboard's "failure / retry waste"): every job of an
  attempt a later attempt replaced, plus the failed and cancelled jobs of final attempts.
- *Flaky*: a job that failed and later passed at the same commit (same provider, project,
  pipeline, job name and SHA), whether by a re-run or a new run of the same commit.

All SQL over the job frame; failing steps are those whose ``conclusion`` is ``failure``.
"""

from __future__ import annotations

from typing import Any

import duckdb
from ci_profile.analysis.jobframe import JOBS, STEPS, job_names, records


def wasted_filter(superseded: str, conclusion: str) -> str:
    """The FILTER condition of *wasted* runner time, given SQL for "a later attempt replaced this
    job's attempt" and for the job's conclusion: the one definition both analyze and the
    dashboard use."""
    return f"({superseded}) OR {conclusion} IN ('failure', 'cancelled')"


def compute(con: duckdb.DuckDBPyConnection, *, top: int = 15) -> dict[str, Any]:
    totals = records(
        con,
        f"""
        WITH j AS (
            SELECT *, attempt < max(attempt) OVER (PARTITION BY provider, project, run_id)
                          AS superseded
            FROM {JOBS}
        )
        SELECT count(*) AS jobs,
               round(coalesce(sum(runner_s), 0), 1) AS runner_s,
               round(coalesce(sum(runner_s) FILTER (WHERE conclusion = 'failure'), 0), 1)
                   AS failed_jobs_s,
               round(coalesce(sum(runner_s) FILTER (WHERE conclusion = 'cancelled'), 0), 1)
                   AS cancelled_jobs_s,
               round(coalesce(sum(runner_s) FILTER (WHERE run_conclusion = 'failure'), 0), 1)
                   AS failed_attempts_s,
               round(coalesce(sum(runner_s) FILTER (WHERE run_conclusion = 'cancelled'), 0), 1)
                   AS cancelled_attempts_s,
               round(coalesce(sum(runner_s) FILTER (WHERE attempt > 1), 0), 1) AS rerun_s,
               round(coalesce(sum(runner_s) FILTER (WHERE superseded), 0), 1) AS superseded_s,
               round(coalesce(sum(runner_s) FILTER (
                   WHERE {wasted_filter("superseded", "conclusion")}), 0), 1) AS wasted_s,
               count(DISTINCT (provider, project, run_id)) FILTER (WHERE attempt > 1)
                   AS rerun_runs
        FROM j
        """,
    )[0]
    runner = float(totals["runner_s"] or 0.0)
    for key in (
        "failed_jobs_s",
        "cancelled_jobs_s",
        "failed_attempts_s",
        "cancelled_attempts_s",
        "rerun_s",
        "superseded_s",
        "wasted_s",
    ):
        totals[key[:-2] + "_share"] = round(float(totals[key]) / runner, 4) if runner else None
    failing_jobs = records(
        con,
        f"""
        SELECT provider, project, pipeline, job, count(*) AS jobs,
               count(*) FILTER (WHERE conclusion = 'failure') AS failures,
               count(*) FILTER (WHERE conclusion = 'cancelled') AS cancellations,
               round(count(*) FILTER (WHERE conclusion = 'failure')
                     / nullif(count(*) FILTER (WHERE conclusion IN ('success', 'failure')), 0),
                     4) AS failure_rate,
               round(coalesce(sum(runner_s) FILTER (WHERE conclusion = 'failure'), 0), 1)
                   AS failed_runner_s
        FROM {JOBS}
        GROUP BY ALL
        HAVING count(*) FILTER (WHERE conclusion IN ('failure', 'cancelled')) > 0
        ORDER BY failures DESC, failed_runner_s DESC, provider, project, pipeline, job
        LIMIT {int(top)}
        """,
    )
    failing_steps = records(
        con,
        f"""
        WITH failed AS (  -- by the job's integer key; its names are looked up after
            SELECT job_key, step, category, rule, count(*) AS failures,
                   round(median(duration_s), 1) AS median_s
            FROM {STEPS} WHERE conclusion = 'failure' AND job_key IS NOT NULL
            GROUP BY ALL
        ),
        named AS ({job_names("SELECT job_key FROM failed")})
        SELECT n.provider, n.project, n.pipeline, n.job, f.step, f.category, f.rule,
               f.failures, f.median_s
        FROM failed f JOIN named n USING (job_key)
        ORDER BY failures DESC, provider, project, pipeline, job, step
        LIMIT {int(top)}
        """,
    )
    flaky = records(
        con,
        f"""
        WITH failed AS (  -- only a sha that failed can be flaky: a tenth of the groups
            SELECT DISTINCT job_key, sha FROM {JOBS}
            WHERE conclusion = 'failure' AND sha IS NOT NULL
        ),
        per_sha AS (  -- by the job's integer key; its names are looked up after
            SELECT j.job_key, j.sha,
                   min(j.fin_e) FILTER (WHERE j.conclusion = 'failure') AS first_failure,
                   max(j.fin_e) FILTER (WHERE j.conclusion = 'success') AS last_success,
                   sum(j.runner_s) FILTER (WHERE j.conclusion = 'failure') AS failed_s
            FROM {JOBS} j SEMI JOIN failed f ON f.job_key = j.job_key AND f.sha = j.sha
            GROUP BY ALL
        ),
        per_job AS (
            SELECT job_key,
                   count(*) FILTER (WHERE first_failure IS NOT NULL) AS shas_failed,
                   count(*) FILTER (WHERE last_success > first_failure) AS shas_flaky,
                   round(count(*) FILTER (WHERE last_success > first_failure)
                         / nullif(count(*) FILTER (WHERE first_failure IS NOT NULL), 0), 4)
                       AS flaky_rate,
                   round(coalesce(sum(failed_s) FILTER (WHERE last_success > first_failure),
                                  0), 1) AS flaky_failed_runner_s
            FROM per_sha GROUP BY job_key
            HAVING count(*) FILTER (WHERE last_success > first_failure) > 0
        ),
        named AS ({job_names("SELECT job_key FROM per_job")})
        SELECT n.provider, n.project, n.pipeline, n.job, p.* EXCLUDE (job_key)
        FROM per_job p JOIN named n USING (job_key)
        ORDER BY shas_flaky DESC, flaky_failed_runner_s DESC, provider, project, pipeline, job
        LIMIT {int(top)}
        """,
    )
    return {
        "status": "ok" if totals["jobs"] else "not enough data",
        "totals": totals,
        "failing_jobs": failing_jobs,
        "failing_steps": failing_steps,
        "flaky": flaky,
    }
