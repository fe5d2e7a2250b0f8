"""Every run's frame, critical path and what-if, and the concurrency of all jobs, kept in the
store with each classification.

A run's critical path and what-if depend on nothing but the run's own jobs, their classified
steps and its workflow file, so they are computed once, when the classification is refreshed
(``analysis.refresh``, after a collection), for every stored run, and written next to
``job_facts``:

- ``frame_jobs``, ``frame_runs``: the job and run frames (``analysis.jobframe``) of every job;
- ``path_jobs``, ``path_edges``, ``path_gates``, ``path_segments``, ``path_pieces``,
  ``path_chains``: the dependency graph and critical path of every analyzable run
  (``analysis.critical_path``);
- ``whatif_runs``, ``whatif_labels``: each what-if scenario's result per run
  (``analysis.whatif``), for the session start recorded in ``run_facts_state`` with the
  classification fingerprint they belong to;
- ``conc_events``: every job's start and end events per runner pool with the number of jobs
  running (or waiting) after each (``analysis.concurrency``), read when the period is all of
  history.

``analyze`` reads them when the classification is current (``build_frame(stored=True)``): a
run all of whose jobs are in the period is read from these tables; a run cut by the period's
edge, and every run when the what-if's session start differs from the stored one, is computed
as before. Either way the numbers are the same (tests compare them).
"""

from __future__ import annotations

import duckdb
from ci_profile.analysis import concurrency, critical_path, whatif
from ci_profile.analysis.breakdown import Filters
from ci_profile.analysis.jobframe import (
    FACTS_STATE,
    JOBS,
    RUNS,
    STORED_JOBS,
    STORED_RUNS,
    build_frame,
    drop_temporary,
    unordered,
)
from ci_profile.core.store import Store, literal

# Which tables and columns the stored facts have: facts written with another layout (by an
# older version) are rewritten, not read.
LAYOUT = 5
# (the analysis's temporary table, the stored copy)
STORED: tuple[tuple[str, str], ...] = (
    (JOBS, STORED_JOBS),
    (RUNS, STORED_RUNS),
    *((live, stored) for _, live, stored in critical_path.TABLES),
    *((live, stored) for _, live, stored in whatif.TABLES),
    (concurrency.EVENTS, concurrency.STORED_EVENTS),
)


def write_run_facts(
    store: Store,
    fingerprint: str,
    session_start_s: float = whatif.DEFAULT_SESSION_START_S,
) -> None:
    """(Re)write every stored table above from the current jobs, runs and facts, recording
    the classification ``fingerprint`` they belong to. Computed outside any transaction (in
    one, DuckDB's temporary tables keep no statistics and the graph joins plan badly), then
    swapped in whole, in one transaction."""
    con = store.con
    with unordered(con):
        build_frame(con, Filters())
        try:
            critical_path.build_graph(con)
            critical_path.walk_paths(con)
            whatif.recompute(con, session_start_s, None)
            concurrency.build_events(con)
            state = (
                f"SELECT {literal(fingerprint)} AS fingerprint, "
                f"{float(session_start_s)!r}::DOUBLE AS session_start_s, {LAYOUT} AS layout"
            )
            store.replace_tables(
                [
                    *((stored, f"SELECT * FROM {temp}") for temp, stored in STORED),
                    (FACTS_STATE, state),
                ]
            )
        finally:
            drop_temporary(con)


def stored_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The classification fingerprint the stored run facts were written for, if any."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        f"WHERE table_name = {literal(FACTS_STATE)} AND NOT temporary"
    ).fetchone()
    if exists != (1,):
        return None
    columns = {c[0] for c in con.execute(f"DESCRIBE {FACTS_STATE}").fetchall()}
    if "layout" not in columns:
        return None
    row = con.execute(
        f"SELECT max(fingerprint) FROM {FACTS_STATE} WHERE layout = {int(LAYOUT)}"
    ).fetchone()
    return None if row is None else row[0]
