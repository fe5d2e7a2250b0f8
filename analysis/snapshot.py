"""A selection's rows in memory, so that a dashboard page's many queries do not each pay for
joining millions of steps to their classes.

:func:`snapshot` copies out of the database what one selection (:class:`Filters`) can touch: its
jobs, every attempt of their runs and the pipeline files those ran, and their
``classified_steps`` (the stored view's own definition evaluated over just those jobs' steps).
:meth:`Snapshot.connect` registers the copies under the store's names in an in-memory DuckDB,
where ``build_report`` (its what-if included) and every query of ``ci_profile.analysis.explore``
and ``timeline`` give the same answers as on the file, for filters at least as narrow as the
snapshot's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import duckdb
from ci_profile.analysis.breakdown import Filters
from ci_profile.analysis.facts import JID

SNAPSHOT_TABLES = (
    "jobs",
    "runs",
    "classified_steps",
    "pipeline_files",
    "step_facts",
    "job_facts",
)
_VIEW_HEAD = re.compile(r"^\s*CREATE\s+VIEW\s+\S+\s+AS\s+", re.IGNORECASE)
_RUN_OF_JOB = (
    "r.provider = j.provider AND r.project = j.project AND r.run_id = j.run_id "
    "AND r.attempt = j.attempt"
)


@dataclass(frozen=True)
class Snapshot:
    """The rows a selection can touch, in memory: its jobs, every attempt of their runs, and
    their classified steps (the ``classified_steps`` view evaluated once).

    Every query of this module and ``build_report`` gives the same answer on
    :meth:`connect` as on the database for filters at least as narrow as the snapshot's, in
    milliseconds instead of seconds: on a big database the cost is joining ten million steps
    to their classes, and a snapshot pays it once per selection instead of once per query.
    """

    jobs: Any  # pyarrow.Table
    runs: Any
    classified_steps: Any
    pipeline_files: Any  # those the runs ran (the critical path reads their `needs:`)
    step_facts: Any  # analysis.facts of the jobs
    job_facts: Any

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory connection with the snapshot registered under the store's names."""
        con = duckdb.connect(":memory:")
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
    view = con.execute(
        "SELECT sql FROM duckdb_views() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND view_name = 'classified_steps'"
    ).fetchone()
    body = _VIEW_HEAD.sub("", str(view[0]), count=1) if view else ""
    if where == "TRUE":
        steps = con.execute(f"SELECT * FROM {main}.classified_steps").to_arrow_table()
    elif body and body != str(view[0] if view else ""):
        # The view's own definition over the selected jobs' steps and classes: temp tables of
        # the same names shadow the stored ones inside a temp view.
        for table in ("steps", "step_classes"):
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {table} AS
                SELECT x.* FROM {main}.{table} x
                SEMI JOIN _snap_jobs k ON x.provider = k.provider AND x.project = k.project
                                      AND x.job_id = k.job_id"""
            )
        con.execute(f"CREATE OR REPLACE TEMP VIEW _snap_classified AS {body}")
        steps = con.execute("SELECT * FROM _snap_classified").to_arrow_table()
    else:
        steps = con.execute(
            f"""SELECT cs.* FROM {main}.classified_steps cs
            SEMI JOIN _snap_jobs k ON cs.provider = k.provider AND cs.project = k.project
                                  AND cs.job_id = k.job_id"""
        ).to_arrow_table()
    con.execute(f"CREATE OR REPLACE TEMP TABLE _snap_jids AS SELECT {JID} AS jid FROM _snap_jobs")
    facts = {
        table: con.execute(
            f"SELECT x.* FROM {main}.{table} x SEMI JOIN _snap_jids k ON x.jid = k.jid"
        ).to_arrow_table()
        for table in ("step_facts", "job_facts")
    }
    return Snapshot(jobs=jobs, runs=runs, classified_steps=steps, pipeline_files=files, **facts)
