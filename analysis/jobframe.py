"""The job frame: one temporary DuckDB table of the jobs in the period, with their times as epoch
seconds, and one of their run attempts. Every section beyond the breakdown reads these.

A job's *ready* time is ``started_at - queued_s`` when both are known (GitHub: its creation;
GitLab: when it became pending), ``finished_at - queued_s`` for a job that waited and never
started, else ``created_at``. Its *span* is ready -> finished: queue wait included, because a
developer waits through it. A job is *eligible* for the critical path when its span is known and
non-negative, it was not skipped, and it started (or is known to have waited). Clock skew
(finished before started) makes a job ineligible rather than producing a negative time.

A run attempt is (provider, project, run_id, attempt). It is *analyzable* when it has finished
(its normalized ``runs.conclusion`` is set; without a runs row: no job still open) and has at
least one eligible job; its wall time is min(ready) -> max(finished) over its eligible jobs.

Keys are 64-bit hashes (``jid`` of provider, project, job_id; ``rid`` of the run attempt), so the
steps are tied to their jobs by an integer, not a four-string join: a job's seconds per category
come from ``job_facts`` and its steps from ``step_facts`` (``analysis.facts``, written with each
classification), never from joining ``steps`` to ``step_classes`` here.

The tables are connection-local (``TEMP``) and rebuilt on every call, so concurrent readers of
the same database never see each other's frames. The steps frame is a view over
``step_facts``: millions of step rows are read where they lie, never copied.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
from ci_profile.analysis.facts import JOB_KEY, PIPELINE_SQL, STEP_CATEGORIES

if TYPE_CHECKING:
    from ci_profile.analysis.breakdown import Filters

JOBS = "_cip_jobs"
RUNS = "_cip_runs"
STEPS = "_cip_steps"
# The frame of every stored job and run, kept in the store with each classification
# (``analysis.run_facts``) together with every run's critical path and what-if.
STORED_JOBS = "frame_jobs"
STORED_RUNS = "frame_runs"
# Which classification those stored facts belong to, and the what-if's session start.
FACTS_STATE = "run_facts_state"
# Analyzable run attempts of the frame whose facts are read from the store (all of their jobs
# are in the frame) and those computed here (some of their jobs fall outside the period).
WHOLE = "_cip_whole"
SCOPE = "_cip_scope"

_RUNS_SQL = f"""
        WITH agg AS (
            SELECT rid, any_value(provider) AS provider, any_value(project) AS project,
                   any_value(run_id) AS run_id, any_value(attempt) AS attempt,
                   any_value(pipeline) AS pipeline, any_value(sha) AS sha,
                   any_value(pipeline_path) AS pipeline_path,
                   any_value(run_status) AS run_status,
                   any_value(run_conclusion) AS run_conclusion,
                   bool_or(has_run) AS has_run,
                   min(moment) AS moment,
                   count(*) AS jobs, count(*) FILTER (WHERE eligible) AS eligible_jobs,
                   count(*) FILTER (WHERE has_slice) AS sliced_jobs,
                   bool_and(fin_e IS NOT NULL OR coalesce(conclusion, '') = 'skipped')
                       AS all_closed,
                   min(ready_e) FILTER (WHERE eligible) AS run_start,
                   max(fin_e) FILTER (WHERE eligible) AS run_end,
                   max(span_s) FILTER (WHERE eligible) AS longest_job_s,
                   (max({{'f': fin_e, 'j': jid}}) FILTER (WHERE eligible)).j AS last_jid
            FROM {JOBS} GROUP BY rid
        )
        SELECT *, finished AND eligible_jobs > 0 AS analyzable, run_end - run_start AS wall_s
        FROM (SELECT *, CASE WHEN has_run THEN run_conclusion IS NOT NULL ELSE all_closed END
                            AS finished
              FROM agg)
"""


@dataclass(frozen=True)
class FrameSummary:
    jobs: int
    eligible_jobs: int
    runs: int
    analyzable_runs: int
    unfinished_runs: int
    jobs_without_times: int
    skewed_jobs: int
    never_started_jobs: int
    # Read from the store's frame (see ``build_frame``), and that frame is every stored job
    # (no filter); not part of the data-quality figures.
    stored: bool = False
    everything: bool = False

    def as_dict(self) -> dict[str, int]:
        return {
            "jobs": self.jobs,
            "eligible_jobs": self.eligible_jobs,
            "runs": self.runs,
            "analyzable_runs": self.analyzable_runs,
            "unfinished_runs": self.unfinished_runs,
            "jobs_without_times": self.jobs_without_times,
            "skewed_jobs": self.skewed_jobs,
            "never_started_jobs": self.never_started_jobs,
        }


def build_frame(
    con: duckdb.DuckDBPyConnection, filters: Filters, *, stored: bool = False
) -> FrameSummary:
    """(Re)build the job and run frames for ``filters``; returns what went in and what did not.

    ``stored``: the store's frame (``frame_jobs``, ``frame_runs``) is current (the caller has
    just checked the classification fingerprint), so the frame is read from it instead of
    being computed from ``jobs`` and ``runs``; every section then reads the stored facts of
    the runs all of whose jobs are in the period."""
    where, params = filters.sql()
    everything = stored and where == "TRUE"
    drop_frame(con)
    if everything:
        con.execute(f"CREATE TEMP VIEW {JOBS} AS SELECT * FROM {STORED_JOBS}")
    elif stored:
        _stored_frame(con, where, params)
    else:
        _computed_frame(con, where, params)
    # Steps are read where they lie (no copy of millions of rows), with their job's key: as
    # stored with them when the classification is current, else from the frame's jobs.
    columns = (
        "s.name AS step, s.category, s.rule, s.yaml_job, s.duration_s, s.start_e, s.fin_e, "
        "s.conclusion"
    )
    if stored:
        period = "" if everything else f"WHERE s.jid IN (SELECT jid FROM {JOBS})"
        steps = f"SELECT s.jid, s.job_key, {columns} FROM step_facts s {period}"
    else:
        steps = f"SELECT s.jid, j.job_key, {columns} FROM step_facts s JOIN {JOBS} j USING (jid)"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {STEPS} AS {steps}")
    if everything:
        con.execute(f"CREATE TEMP VIEW {RUNS} AS SELECT * FROM {STORED_RUNS}")
    else:
        con.execute(f"CREATE TEMP TABLE {RUNS} AS {_RUNS_SQL}")
    _define_scope(con, stored)
    row = con.execute(
        f"""
        SELECT (SELECT count(*) FROM {JOBS}),
               (SELECT count(*) FILTER (WHERE eligible) FROM {JOBS}),
               (SELECT count(*) FROM {RUNS}),
               (SELECT count(*) FILTER (WHERE analyzable) FROM {RUNS}),
               (SELECT count(*) FILTER (WHERE NOT finished) FROM {RUNS}),
               (SELECT count(*) FILTER (WHERE excluded = 'no_times') FROM {JOBS}),
               (SELECT count(*) FILTER (WHERE excluded = 'skew') FROM {JOBS}),
               (SELECT count(*) FILTER (WHERE excluded = 'never_started') FROM {JOBS})
        """
    ).fetchone()
    jobs, eligible, runs, analyzable, unfinished, no_times, skewed, never = (
        int(v or 0) for v in (row or (0,) * 8)
    )
    return FrameSummary(
        jobs,
        eligible,
        runs,
        analyzable,
        unfinished,
        no_times,
        skewed,
        never,
        stored=stored,
        everything=everything,
    )


def _stored_frame(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> None:
    """The stored frame's jobs of the period."""
    con.execute(
        f"""
        CREATE TEMP TABLE {JOBS} AS
        SELECT f.* FROM {STORED_JOBS} f
        SEMI JOIN (SELECT hash(j.provider, j.project, j.job_id) AS jid {_scope_sql(where)}) k
               ON k.jid = f.jid
        """,
        params,
    )


def _define_scope(con: duckdb.DuckDBPyConnection, stored: bool) -> None:
    whole = (
        f"""
        SELECT r.rid FROM {RUNS} r JOIN {STORED_RUNS} f USING (rid)
        WHERE r.analyzable AND f.analyzable AND f.jobs = r.jobs
        """
        if stored
        else f"SELECT rid FROM {RUNS} WHERE FALSE"
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {WHOLE} AS {whole}")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {SCOPE} AS
        SELECT rid FROM {RUNS} WHERE analyzable AND rid NOT IN (SELECT rid FROM {WHOLE})
        """
    )


def combine(
    con: duckdb.DuckDBPyConnection, name: str, live: str, stored_table: str, *, reuse: bool = True
) -> None:
    """``name``: a view of the rows computed here (``live``) and, if the frame is stored (and
    ``reuse``), the stored rows (``stored_table``) of the runs read whole from the store."""
    row = con.execute(
        f"SELECT (SELECT count(*) FROM {WHOLE}), (SELECT count(*) FROM {SCOPE})"
    ).fetchone()
    whole, computed = (int(row[0]), int(row[1])) if row else (0, 0)
    union = ""
    if reuse and whole:
        # Every stored run is read whole when nothing is computed here and the frame is all
        # of them: no need to filter the stored rows.
        everything = not computed and _all_stored(con, whole)
        keep = "" if everything else f" WHERE rid IN (SELECT rid FROM {WHOLE})"
        union = f" UNION ALL BY NAME SELECT * FROM {stored_table}{keep}"
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {live}{union}")


def _all_stored(con: duckdb.DuckDBPyConnection, whole: int) -> bool:
    row = con.execute(f"SELECT count(*) FROM {STORED_RUNS} WHERE analyzable").fetchone()
    return row is not None and int(row[0]) == whole


def _scope_sql(where: str) -> str:
    return f"""
        FROM jobs j
        LEFT JOIN runs r ON r.provider = j.provider AND r.project = j.project
                        AND r.run_id = j.run_id AND r.attempt = j.attempt
        WHERE {where}
    """


def _computed_frame(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> None:
    scope = _scope_sql(where)
    fills = [f"coalesce(s.{c}_s, 0) AS {c}_s" for c in STEP_CATEGORIES if c != "other"]
    # Job time no step accounts for is `other`, as in the breakdown.
    fills.append(
        "coalesce(s.other_s, 0) + greatest(coalesce(runner_s, 0) - coalesce(s.steps_s, 0), 0)"
        " AS other_s"
    )
    category_fill = ", ".join(fills)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {JOBS} AS
        WITH base AS (
            SELECT j.provider, j.project, j.job_id, j.run_id, j.attempt, j.name AS job, j.stage,
                   j.status, j.conclusion,
                   {PIPELINE_SQL} AS pipeline,
                   r.pipeline_path, r.sha, r.status AS run_status,
                   r.run_id IS NOT NULL AS has_run, r.conclusion AS run_conclusion,
                   coalesce(nullif(array_to_string(j.labels, ','), ''), '(none)') AS label,
                   coalesce(j.created_at, j.started_at, r.created_at) AS moment,
                   j.created_at,
                   CASE WHEN isfinite(j.queued_s) THEN j.queued_s END AS queued_raw,
                   CASE WHEN isfinite(j.queued_s) AND j.queued_s >= 0 THEN j.queued_s END
                       AS queued_s,
                   epoch(j.created_at) AS created_e, epoch(j.started_at) AS start_e,
                   epoch(j.finished_at) AS fin_e
            {scope}
        ),
        timed AS (
            SELECT *,
                   CASE
                       WHEN start_e IS NOT NULL AND queued_s IS NOT NULL
                           THEN least(start_e - queued_s, start_e)
                       WHEN start_e IS NULL AND queued_s IS NOT NULL AND fin_e IS NOT NULL
                           THEN fin_e - queued_s
                       WHEN start_e IS NOT NULL THEN least(created_e, start_e)
                       ELSE created_e
                   END AS ready_e,
                   CASE WHEN fin_e >= start_e THEN fin_e - start_e END AS runner_s
            FROM base
        )
        SELECT hash(provider, project, job_id) AS jid,
               hash(provider, project, run_id, attempt) AS rid,
               {JOB_KEY} AS job_key,
               t.*,
               CASE WHEN fin_e >= ready_e THEN fin_e - ready_e END AS span_s,
               CASE WHEN fin_e >= ready_e
                    THEN greatest(coalesce(least(start_e, fin_e), fin_e) - ready_e, 0)
               END AS wait_s,
               (ready_e IS NOT NULL AND fin_e IS NOT NULL AND fin_e >= ready_e
                AND (start_e IS NULL OR fin_e >= start_e)
                AND coalesce(conclusion, '') <> 'skipped'
                AND (start_e IS NOT NULL OR queued_s IS NOT NULL)) AS eligible,
               CASE
                   WHEN coalesce(conclusion, '') = 'skipped' THEN 'skipped'
                   WHEN ready_e IS NULL OR fin_e IS NULL THEN 'no_times'
                   WHEN fin_e < ready_e OR fin_e < start_e THEN 'skew'
                   WHEN start_e IS NULL AND queued_s IS NULL THEN 'never_started'
               END AS excluded,
               s.yaml_job, coalesce(s.steps, 0) AS steps, coalesce(s.steps_s, 0) AS steps_s,
               {category_fill},
               CASE WHEN runner_s IS NOT NULL
                    THEN least(coalesce(s.removable_s, 0), runner_s) ELSE 0 END AS removable_s,
               -- has a slice in the breakdown: steps, a queue wait or unaccounted job time
               (coalesce(s.steps, 0) > 0 OR queued_raw > 0
                OR runner_s - coalesce(s.steps_s, 0) > 0) AS has_slice
        FROM timed t
        LEFT JOIN job_facts s ON s.jid = hash(t.provider, t.project, t.job_id)
        """,
        params,
    )


@contextmanager
def unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB fill temporary tables in parallel without keeping insertion order (every
    result this package reads has its own ORDER BY); the setting is restored afterwards."""
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    previous = bool(row[0]) if row else True
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if previous else 'false'}")


FRAME: tuple[str, ...] = (STEPS, JOBS, RUNS, WHOLE, SCOPE)


def drop_frame(con: duckdb.DuckDBPyConnection) -> None:
    drop_temporary(con, only=FRAME)


def drop_temporary(
    con: duckdb.DuckDBPyConnection,
    *,
    only: Collection[str] | None = None,
    keep: Collection[str] = (),
) -> None:
    """Drop the analysis's temporary tables and views (``_cip_*``): ``only`` these, or all
    but ``keep``; views first, as they may read the tables."""
    rows = con.execute(
        "SELECT view_name, 'VIEW' FROM duckdb_views() WHERE temporary AND NOT internal "
        "UNION ALL SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE temporary"
    ).fetchall()
    for kind in ("VIEW", "TABLE"):
        for name, of_kind in rows:
            wanted = name in only if only is not None else name.startswith("_cip_")
            if of_kind == kind and wanted and name not in keep:
                con.execute(f"DROP {kind} {name}")


def utc_date(epoch: str) -> str:
    """The UTC calendar day of epoch seconds, by arithmetic (a time zone conversion per row
    costs ten times as much)."""
    return f"(DATE '1970-01-01' + CAST(floor(({epoch}) / 86400) AS INTEGER))"


def utc_hour(epoch: str) -> str:
    return f"CAST(((floor(({epoch}) / 3600) % 24) + 24) % 24 AS INTEGER)"


def utc_week(epoch: str) -> str:
    """The Monday (UTC) of the ISO week of epoch seconds (1970-01-01 was a Thursday)."""
    days = f"CAST(floor(({epoch}) / 86400) AS INTEGER)"
    return f"(DATE '1970-01-01' + ({days} - ((({days} + 3) % 7) + 7) % 7))"


def job_names(keys: str) -> str:
    """A query of the names (provider, project, pipeline, job) of the frame's jobs whose
    ``job_key`` is among ``keys`` (a query with a ``job_key`` column): figures are grouped by
    the integer key, and the names looked up after."""
    return f"""
        SELECT job_key, any_value(provider) AS provider, any_value(project) AS project,
               any_value(pipeline) AS pipeline, any_value(job) AS job
        FROM {JOBS} SEMI JOIN ({keys}) k USING (job_key) GROUP BY job_key
    """


def exact_sum(expression: str, where: str = "TRUE") -> str:
    """A sum in fixed point (micro-units): the same total whatever order threads add in, so a
    figure rounded for display never flips between runs. Each term fits 18 digits (a job's
    seconds or money); their sum is 38 digits wide, and casting to the narrower type costs
    half as much."""
    return f"CAST(sum(CAST({expression} AS DECIMAL(18, 6))) FILTER (WHERE {where}) AS DOUBLE)"


# The types ``clean`` returns as they are, and the infinities it turns into None.
_AS_IS = frozenset((str, int, bool, type(None)))
_INFINITIES = (float("inf"), float("-inf"))


def records(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """Rows of a query as dicts, floats rounded to 0.1 s / 4 decimals, never NaN."""
    cursor = con.execute(sql, list(params))
    names = [column[0] for column in cursor.description or ()]
    # What ``clean`` returns as it is is checked inline: it skips a call per value.
    return [
        {
            name: value if type(value) in _AS_IS else clean(value)
            for name, value in zip(names, row, strict=True)
        }
        for row in cursor.fetchall()
    ]


def clean(value: Any, digits: int = 4) -> Any:
    """JSON-safe: NaN/inf become None, floats are rounded, Decimals become floats. (By exact
    type first: it runs for every value of tens of thousands of rows.)"""
    kind = type(value)
    if kind is float:
        if value != value or value in _INFINITIES:
            return None
        return round(value, digits)
    if kind in _AS_IS:
        return value
    if isinstance(value, float):
        return clean(float(value), digits)
    if kind.__name__ == "Decimal":
        return clean(float(value), digits)
    return value
