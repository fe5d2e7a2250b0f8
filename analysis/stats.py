"""Percentiles, weekly trends and duration regressions, all DuckDB SQL over the job frame.

Durations are of *successful* runs and jobs: a failure or a cancellation cuts a run short and
would pull every percentile down. Queue time counts every job that waited. A percentile is shown
only with enough samples for it to mean something: at least 1/(1-p) of them (2 for p50, 10 for
p90, 20 for p95), so at least one sample lies above an interpolated p90; otherwise it is None
("not enough data").

Regressions: for every job (project, pipeline, job name), the successful runs of the last
``RECENT_DAYS`` days of the period are compared with those of the ``BASELINE_DAYS`` before. A job
is flagged when both hold:

1. its recent median exceeds the baseline median by more than its own spread: ``SPREAD_FACTOR``
   robust standard deviations (1.4826 x the median absolute deviation of the baseline), and at
   least ``MIN_RELATIVE`` of the baseline median and ``MIN_ABSOLUTE_S``;
2. a one-sided Mann-Whitney U test (normal approximation with tie and continuity corrections)
   gives z >= ``Z_THRESHOLD`` (p <= 0.01) that recent durations are larger.

Why: CI durations are heavy-tailed (cache misses, retries, timeouts), so a mean and standard
deviation are dominated by a few outliers; the median and the MAD are not. The MAD rule alone
fires on noise when a week has few runs; the rank test alone flags shifts that are statistically
certain but too small to matter on large samples. Together: a shift that is both larger than
the job's normal run-to-run variation and unlikely to be chance. The rank test is
distribution-free (no normality assumption) and is computed in SQL from average ranks.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
from ci_profile.analysis.breakdown import PROVISIONING
from ci_profile.analysis.jobframe import JOBS, RUNS, records, utc_week

PERCENTILES = (0.5, 0.9, 0.95)
RECENT_DAYS = 7
BASELINE_DAYS = 28
MIN_RECENT = 5
MIN_BASELINE = 10
SPREAD_FACTOR = 1.0
MIN_RELATIVE = 0.05
MIN_ABSOLUTE_S = 5.0
Z_THRESHOLD = 2.326
MAD_TO_SIGMA = 1.4826


def min_samples(p: float) -> int:
    """Samples needed before percentile ``p`` is reported: ceil(1 / (1 - p))."""
    return math.ceil(round(1 / (1 - p), 6))


def _guarded(values: str, n: str) -> str:
    parts = []
    for index, p in enumerate(PERCENTILES, 1):
        name = f"p{round(p * 100)}_s"
        parts.append(
            f"CASE WHEN {n} >= {min_samples(p)} THEN round({values}[{index}], 1) END AS {name}"
        )
    return ", ".join(parts)


def percentiles(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    qs = "[" + ", ".join(str(p) for p in PERCENTILES) + "]"
    level = """CASE WHEN GROUPING(label) = 0 THEN 'label'
                    WHEN GROUPING(job) = 0 THEN 'job'
                    WHEN GROUPING(pipeline) = 0 THEN 'pipeline' ELSE 'project' END"""
    sets = """GROUPING SETS ((provider, project), (provider, project, pipeline),
                             (provider, project, pipeline, job), (provider, label))"""
    rows = records(
        con,
        f"""
        WITH q AS (
            SELECT 'run_duration' AS metric,
                   CASE WHEN GROUPING(pipeline) = 0 THEN 'pipeline' ELSE 'project' END AS level,
                   provider, project, pipeline, NULL::VARCHAR AS job, NULL::VARCHAR AS label,
                   count(*) AS n, quantile_cont(wall_s, {qs}) AS qv
            FROM {RUNS} WHERE analyzable AND run_conclusion = 'success'
            GROUP BY GROUPING SETS ((provider, project), (provider, project, pipeline))
            UNION ALL
            SELECT 'job_duration', {level}, provider, project, pipeline, job, label,
                   count(*), quantile_cont(runner_s, {qs})
            FROM {JOBS} WHERE runner_s IS NOT NULL AND conclusion = 'success'
            GROUP BY {sets}
            UNION ALL
            SELECT 'queue', {level}, provider, project, pipeline, job, label,
                   count(*), quantile_cont(wait_s, {qs})
            FROM {JOBS} WHERE wait_s IS NOT NULL AND coalesce(conclusion, '') <> 'skipped'
            GROUP BY {sets}
        )
        SELECT metric, level, provider, project, pipeline, job, label, n, {_guarded("qv", "n")}
        FROM q
        ORDER BY metric, level, provider, project NULLS FIRST, pipeline NULLS FIRST,
                 job NULLS FIRST, label NULLS FIRST
        """,
    )
    return {
        "status": "ok" if rows else "not enough data",
        "durations_of": "successful runs and jobs; queue: every job that waited",
        "min_samples": {f"p{round(p * 100)}": min_samples(p) for p in PERCENTILES},
        "rows": rows,
    }


def weekly(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per pipeline and ISO week (Monday, UTC): runs, durations, queue, runner time, shares."""
    provisioning = " + ".join(f"{c}_s" for c in PROVISIONING if c != "queue")
    week = utc_week("epoch(moment)")
    qs = "[0.5, 0.9]"
    return records(
        con,
        f"""
        WITH runs AS (
            SELECT provider, project, pipeline, {week} AS week, count(*) AS runs,
                   count(*) FILTER (WHERE run_conclusion = 'success') AS successful_runs,
                   count(*) FILTER (WHERE run_conclusion = 'failure') AS failed_runs,
                   quantile_cont(wall_s, {qs}) FILTER (WHERE run_conclusion = 'success') AS wall
            FROM {RUNS} WHERE analyzable GROUP BY ALL
        ),
        jobs AS (
            SELECT provider, project, pipeline, {week} AS week, count(*) AS jobs,
                   sum(runner_s) AS runner_s, sum({provisioning}) AS provisioning_s,
                   sum(environment_s) AS environment_s, sum(test_s) AS test_s,
                   quantile_cont(wait_s, {qs}) AS queue
            FROM {JOBS} WHERE coalesce(conclusion, '') <> 'skipped' GROUP BY ALL
        )
        SELECT provider, project, pipeline, week, coalesce(r.runs, 0) AS runs,
               coalesce(r.successful_runs, 0) AS successful_runs,
               coalesce(r.failed_runs, 0) AS failed_runs, j.jobs,
               CASE WHEN r.successful_runs >= 2 THEN round(r.wall[1], 1) END AS p50_run_s,
               CASE WHEN r.successful_runs >= 10 THEN round(r.wall[2], 1) END AS p90_run_s,
               round(j.queue[1], 1) AS p50_queue_s,
               CASE WHEN j.jobs >= 10 THEN round(j.queue[2], 1) END AS p90_queue_s,
               round(coalesce(j.runner_s, 0), 1) AS runner_s,
               round(j.provisioning_s / nullif(j.runner_s, 0), 4) AS provisioning_share,
               round(j.environment_s / nullif(j.runner_s, 0), 4) AS environment_share,
               round(j.test_s / nullif(j.runner_s, 0), 4) AS test_share
        FROM jobs j FULL JOIN runs r USING (provider, project, pipeline, week)
        ORDER BY provider, project, pipeline, week
        """,
    )


def regressions(con: duckdb.DuckDBPyConnection, *, top: int = 20) -> dict[str, Any]:
    method = {
        "test": "median shift beyond the baseline's robust spread AND one-sided Mann-Whitney U",
        "recent_days": RECENT_DAYS,
        "baseline_days": BASELINE_DAYS,
        "min_recent": MIN_RECENT,
        "min_baseline": MIN_BASELINE,
        "spread_factor": SPREAD_FACTOR,
        "min_relative": MIN_RELATIVE,
        "min_absolute_s": MIN_ABSOLUTE_S,
        "z_threshold": Z_THRESHOLD,
    }
    recent_s, baseline_s = RECENT_DAYS * 86400, (RECENT_DAYS + BASELINE_DAYS) * 86400
    rows = records(
        con,
        f"""
        WITH bounds AS (SELECT max(epoch(moment)) AS end_e FROM {JOBS}),
        samples AS (
            SELECT j.provider, j.project, j.pipeline, j.job, j.runner_s AS x,
                   epoch(j.moment) > b.end_e - {recent_s} AS recent
            FROM {JOBS} j, bounds b
            WHERE j.conclusion = 'success' AND j.runner_s IS NOT NULL
              AND epoch(j.moment) > b.end_e - {baseline_s}
        ),
        ranked AS (
            SELECT *,
                   rank() OVER g + (count(*) OVER (PARTITION BY provider, project, pipeline,
                                                   job, x) - 1) / 2.0 AS r
            FROM samples
            WINDOW g AS (PARTITION BY provider, project, pipeline, job ORDER BY x)
        ),
        ties AS (
            SELECT provider, project, pipeline, job, sum(t * t * t - t) AS tie_term
            FROM (SELECT provider, project, pipeline, job, x, count(*) AS t
                  FROM samples GROUP BY ALL)
            GROUP BY ALL
        ),
        groups AS (
            SELECT provider, project, pipeline, job,
                   count(*) FILTER (WHERE recent) AS n1,
                   count(*) FILTER (WHERE NOT recent) AS n2,
                   sum(r) FILTER (WHERE recent) AS r1,
                   median(x) FILTER (WHERE recent) AS recent_median,
                   median(x) FILTER (WHERE NOT recent) AS baseline_median
            FROM ranked GROUP BY ALL
        ),
        mad AS (
            SELECT s.provider, s.project, s.pipeline, s.job,
                   median(abs(s.x - g.baseline_median)) AS mad
            FROM samples s JOIN groups g USING (provider, project, pipeline, job)
            WHERE NOT s.recent GROUP BY ALL
        ),
        tested AS (
            SELECT g.*, m.mad, t.tie_term,
                   g.r1 - g.n1 * (g.n1 + 1) / 2.0 AS u,
                   g.n1 * g.n2 / 12.0 * ((g.n1 + g.n2 + 1)
                       - t.tie_term / ((g.n1 + g.n2) * (g.n1 + g.n2 - 1.0))) AS var_u,
                   greatest({SPREAD_FACTOR} * {MAD_TO_SIGMA} * m.mad,
                            {MIN_RELATIVE} * g.baseline_median, {MIN_ABSOLUTE_S}) AS threshold_s
            FROM groups g
            JOIN mad m USING (provider, project, pipeline, job)
            JOIN ties t USING (provider, project, pipeline, job)
            WHERE g.n1 >= {MIN_RECENT} AND g.n2 >= {MIN_BASELINE}
        ),
        scored AS (
            SELECT *,
                   CASE WHEN var_u > 0
                        THEN (u - n1 * n2 / 2.0 - 0.5) / sqrt(var_u) ELSE 0 END AS z
            FROM tested
        )
        SELECT provider, project, pipeline, job, n1 AS recent_n, n2 AS baseline_n,
               round(recent_median, 1) AS recent_median_s,
               round(baseline_median, 1) AS baseline_median_s,
               round(mad, 1) AS baseline_mad_s, round(threshold_s, 1) AS threshold_s,
               round(recent_median - baseline_median, 1) AS change_s,
               round((recent_median - baseline_median) / nullif(baseline_median, 0), 4)
                   AS change_share,
               round(z, 2) AS z,
               (recent_median - baseline_median > threshold_s AND z >= {Z_THRESHOLD})
                   AS regressed
        FROM scored
        ORDER BY regressed DESC, z DESC, provider, project, pipeline, job
        """,
    )
    untested = con.execute(
        f"""
        SELECT count(*) FROM (SELECT DISTINCT provider, project, pipeline, job FROM {JOBS}
                              WHERE conclusion = 'success')
        """
    ).fetchone()
    flagged = [r for r in rows if r["regressed"]]
    return {
        "method": method,
        "status": "ok" if rows else "not enough data",
        "tested": len(rows),
        "untested": max(int(untested[0] if untested else 0) - len(rows), 0),
        "flagged": len(flagged),
        "rows": flagged + [r for r in rows if not r["regressed"]][: max(top - len(flagged), 0)],
    }


def trends(con: duckdb.DuckDBPyConnection, *, top: int = 20) -> dict[str, Any]:
    series = weekly(con)
    return {
        "status": "ok" if series else "not enough data",
        "weekly": series,
        "regressions": regressions(con, top=top),
    }
