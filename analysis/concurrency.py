"""Concurrency: how many jobs ran (and waited) at once, per runner label. It explains queue time.

*Running* is started -> finished (a job holds a runner); *waiting* is ready -> started (or ->
finished for a job that never started). Both are running sums over +1/-1 events, ordered by
time with ends before starts at the same instant, so a job ending at the second another starts
does not count as overlap. The peak is the maximum of that sum; the mean is runner time divided
by the period. Per day: the peaks within that day. Per hour of day (UTC): the mean number
running, from the runner time of jobs that *started* in that hour, and the queue waits of jobs
that became ready in it. Labels are the job's runner labels joined with "," (one pool each).
"""

from __future__ import annotations

from typing import Any

import duckdb
from ci_profile.analysis.jobframe import JOBS, drop_temporary, records, utc_date, utc_hour

EVENTS = "_cip_conc_events"
# Every stored job's events with their levels, written with the run facts
# (``analysis.run_facts``): the running sum over all of history is a sort of millions of
# events, the section's only expensive step, and it depends on the stored jobs alone.
STORED_EVENTS = "conc_events"
_POOLS = "_cip_conc_pools"


def build_events(con: duckdb.DuckDBPyConnection) -> None:
    """+1/-1 events per pool (an integer key) of the frame's jobs, kind 0 = running,
    1 = waiting, each with the level (jobs at once) after it."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {EVENTS} AS
        WITH j AS (
            SELECT hash(provider, label) AS lid, start_e, fin_e, ready_e, wait_s, runner_s
            FROM {JOBS}
        ),
        ev AS (
            SELECT lid, 0 AS kind, start_e AS t, 1 AS d FROM j WHERE runner_s IS NOT NULL
            UNION ALL
            SELECT lid, 0, fin_e, -1 FROM j WHERE runner_s IS NOT NULL
            UNION ALL
            SELECT lid, 1, ready_e, 1 FROM j WHERE wait_s > 0
            UNION ALL
            SELECT lid, 1, ready_e + wait_s, -1 FROM j WHERE wait_s > 0
        )
        -- Each pool's events sum to zero (every +1 has its -1), so one running sum over all
        -- pools in (pool, kind, time) order is each pool's own: no partitions to sort apart,
        -- which halves the cost.
        SELECT lid, kind, t,
               CAST(sum(d) OVER (ORDER BY lid, kind, t, d ROWS UNBOUNDED PRECEDING) AS BIGINT)
                   AS level
        FROM ev
        """
    )


def compute(con: duckdb.DuckDBPyConnection, *, stored_events: bool = False) -> dict[str, Any]:
    """The ``concurrency`` section. ``stored_events``: the frame is every stored job and the
    run facts are current, so the events are read from the store."""
    if stored_events:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {EVENTS} AS SELECT * FROM {STORED_EVENTS}")
    else:
        build_events(con)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_POOLS} AS
        SELECT DISTINCT hash(provider, label) AS lid, provider, label FROM {JOBS}
        """
    )
    try:
        return _section(con)
    finally:
        drop_temporary(con, only=(EVENTS, _POOLS))


def _section(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    by_label = records(
        con,
        f"""
        WITH span AS (
            SELECT greatest(max(fin_e) - min(ready_e), 1) AS span_s FROM {JOBS}
            WHERE runner_s IS NOT NULL
        ),
        jobs AS (
            SELECT provider, label, count(*) AS jobs, sum(runner_s) AS runner_s,
                   quantile_cont(wait_s, 0.5) AS p50_queue_s,
                   quantile_cont(wait_s, 0.9) AS p90_queue_s
            FROM {JOBS} WHERE runner_s IS NOT NULL GROUP BY ALL
        ),
        levels AS (SELECT lid, kind, max(level) AS peak FROM {EVENTS} GROUP BY ALL),
        -- the first moment of each peak: ties would otherwise pick any (two plain passes
        -- cost a quarter of an arg_max over structs)
        moments AS (
            SELECT e.lid, e.kind, l.peak, min(e.t) AS first_e
            FROM {EVENTS} e JOIN levels l ON l.lid = e.lid AND l.kind = e.kind
            WHERE e.level = l.peak
            GROUP BY ALL
        ),
        peaks AS (
            SELECT p.provider, p.label,
                   max(peak) FILTER (WHERE kind = 0) AS peak_running,
                   max(first_e) FILTER (WHERE kind = 0) AS peak_running_e,
                   max(peak) FILTER (WHERE kind = 1) AS peak_waiting,
                   max(first_e) FILTER (WHERE kind = 1) AS peak_waiting_e
            FROM moments m JOIN {_POOLS} p USING (lid)
            GROUP BY p.provider, p.label
        )
        SELECT j.provider, j.label, j.jobs, round(j.runner_s, 1) AS runner_s,
               coalesce(p.peak_running, 0) AS peak_running,
               to_timestamp(p.peak_running_e) AS peak_running_at,
               round(j.runner_s / span.span_s, 2) AS mean_running,
               coalesce(p.peak_waiting, 0) AS peak_waiting,
               to_timestamp(p.peak_waiting_e) AS peak_waiting_at,
               round(j.p50_queue_s, 1) AS p50_queue_s,
               CASE WHEN j.jobs >= 10 THEN round(j.p90_queue_s, 1) END AS p90_queue_s
        FROM jobs j LEFT JOIN peaks p USING (provider, label) CROSS JOIN span
        ORDER BY j.runner_s DESC, j.provider, j.label
        """,
    )
    daily = records(
        con,
        f"""
        WITH daily AS (
            SELECT lid, CAST(floor(t / 86400) AS BIGINT) AS d,
                   max(level) FILTER (WHERE kind = 0) AS peak_running,
                   max(level) FILTER (WHERE kind = 1) AS peak_waiting
            FROM {EVENTS} GROUP BY ALL
        ),
        peaks AS (
            SELECT p.provider, p.label, (DATE '1970-01-01' + CAST(d AS INTEGER))
                       AS day, peak_running, peak_waiting
            FROM daily JOIN {_POOLS} p USING (lid)
        ),
        jobs AS (
            SELECT provider, label, {utc_date("start_e")} AS day,
                   count(*) AS jobs, sum(runner_s) AS runner_s,
                   quantile_cont(wait_s, 0.9) AS p90_queue_s
            FROM {JOBS} WHERE runner_s IS NOT NULL GROUP BY ALL
        )
        SELECT provider, label, day, coalesce(j.jobs, 0) AS jobs,
               round(coalesce(j.runner_s, 0), 1) AS runner_s,
               coalesce(p.peak_running, 0) AS peak_running,
               coalesce(p.peak_waiting, 0) AS peak_waiting,
               CASE WHEN j.jobs >= 10 THEN round(j.p90_queue_s, 1) END AS p90_queue_s
        FROM peaks p FULL JOIN jobs j USING (provider, label, day)
        ORDER BY provider, label, day
        """,
    )
    by_hour = records(
        con,
        f"""
        WITH days AS (
            SELECT greatest((max(fin_e) - min(ready_e)) / 86400.0, 1) AS days FROM {JOBS}
            WHERE runner_s IS NOT NULL
        ),
        started AS (
            SELECT provider, label, {utc_hour("start_e")} AS hour,
                   count(*) AS jobs, sum(runner_s) AS runner_s
            FROM {JOBS} WHERE runner_s IS NOT NULL GROUP BY ALL
        ),
        ready AS (
            SELECT provider, label, {utc_hour("ready_e")} AS hour,
                   quantile_cont(wait_s, 0.5) AS p50_queue_s,
                   quantile_cont(wait_s, 0.9) AS p90_queue_s, count(*) AS waited
            FROM {JOBS} WHERE wait_s IS NOT NULL AND coalesce(conclusion, '') <> 'skipped'
            GROUP BY ALL
        )
        SELECT provider, label, hour, coalesce(s.jobs, 0) AS jobs,
               round(coalesce(s.runner_s, 0) / (3600.0 * days.days), 2) AS mean_running,
               round(r.p50_queue_s, 1) AS p50_queue_s,
               CASE WHEN r.waited >= 10 THEN round(r.p90_queue_s, 1) END AS p90_queue_s
        FROM started s FULL JOIN ready r USING (provider, label, hour) CROSS JOIN days
        ORDER BY provider, label, hour
        """,
    )
    return {
        "status": "ok" if by_label else "not enough data",
        "by_label": by_label,
        "by_hour": by_hour,
        "daily": daily,
    }
