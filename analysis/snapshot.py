"""A selection's rows in memory, so that a dashboard page's many queries do not each visit the
file and scan all of its history.

:func:`snapshot` copies out of the database what one selection (:class:`Filters`) can touch: its
jobs, every attempt of their runs and the pipeline files those ran, and their ``step_facts`` and
``job_facts`` (``analysis.facts``: classified steps keyed by the job hash).
:meth:`Snapshot.connect` registers the copies under the store's names in an in-memory DuckDB,
where ``build_report`` (its what-if included) and every query of ``ci_profile.analysis.explore``
and ``timeline`` give the same answers as on the file, for filters at least as narrow as the
snapshot's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
from ci_profile.analysis.breakdown import Filters
from ci_profile.analysis.facts import JID

SNAPSHOT_TABLES = (
    "jobs",
    "runs",
    "pipeline_files",
    "step_facts",
    "job_facts",
)
_RUN_OF_JOB = (
    "r.provider = j.provider AND r.project = j.project AND r.run_id = j.run_id "
    "AND r.attempt = j.attempt"
)


@dataclass(frozen=True)
class Snapshot:
    """The rows a selection can touch, in memory: its jobs, every attempt of their runs, the
    files they ran, and their step and job facts.

    Every query of ``explore`` and ``build_report`` gives the same answer on :meth:`connect` as
    on the database for filters at least as narrow as the snapshot's; the file is visited
    once per selection instead of once per query.
    """

    jobs: Any  # pyarrow.Table
    runs: Any
    pipeline_files: Any  # those the runs ran (the critical path reads their `needs:`)
    step_facts: Any  # analysis.facts of the jobs
    job_facts: Any

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory connection with the snapshot registered under the store's names."""
        con = duckdb.connect(":memory:")
        # DuckDB 1.5 pushes a join's key range into the scan of a registered Arrow table as a
        # pyarrow expression, which fails for UBIGINT keys above 2**63 (half of all `jid`s):
        # "OverflowError: Python int too large to convert to C long".
        con.execute("SET disabled_optimizers = 'join_filter_pushdown'")
        for name in SNAPSHOT_TABLES:
            con.register(name, getattr(self, name))
        return con

    @property
    def nbytes(self) -> int:
        return int(sum(getattr(self, name).nbytes for name in SNAPSHOT_TABLES))


def snapshot(con: duckdb.DuckDBPyConnection, filters: Filters) -> Snapshot:
    """Copy what ``filters`` select out of the database (see :class:`Snapshot`)."""
    where, params = filters.sql()
    row = con.execute("SELECT current_database()").fetchone()
    main = '"' + str(row[0] if row else "memory").replace('"', '""') + '".main'
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _snap_jobs AS
        SELECT j.* FROM {main}.jobs j LEFT JOIN {main}.runs r ON {_RUN_OF_JOB}
        WHERE {where}""",
        params,
    )
    jobs = con.execute("SELECT * FROM _snap_jobs").to_arrow_table()
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _snap_runs AS
        SELECT r.* FROM {main}.runs r
        SEMI JOIN (SELECT DISTINCT provider, project, run_id FROM _snap_jobs) k
            ON r.provider = k.provider AND r.project = k.project AND r.run_id = k.run_id"""
    )
    runs = con.execute("SELECT * FROM _snap_runs").to_arrow_table()
    files = con.execute(
        f"""SELECT pf.* FROM {main}.pipeline_files pf
        SEMI JOIN (SELECT DISTINCT provider, project, pipeline_path, sha FROM _snap_runs) k
            ON pf.provider = k.provider AND pf.project = k.project
           AND pf.path = k.pipeline_path AND pf.sha = k.sha"""
    ).to_arrow_table()
    con.execute(f"CREATE OR REPLACE TEMP TABLE _snap_jids AS SELECT {JID} AS jid FROM _snap_jobs")
    facts = {
        table: con.execute(
            f"SELECT x.* FROM {main}.{table} x SEMI JOIN _snap_jids k ON x.jid = k.jid"
        ).to_arrow_table()
        for table in ("step_facts", "job_facts")
    }
    return Snapshot(jobs=jobs, runs=runs, pipeline_files=files, **facts)
