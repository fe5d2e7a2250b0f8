"""The dashboard's data layer: short read-only visits to the database, retried and cached.

DuckDB lets one process write a database file, and while any process has the file open for
writing no other process can open it, not even read-only (and a read-only holder keeps a writer
out). So the dashboard never keeps the file open: every load opens it read-only, runs its
queries and closes it, usually within a fraction of a second. ``ci-profile collect`` holds the
file only per batch (:class:`ci_profile.core.shared_store.SharedStore`) and waits while a reader has
it; symmetrically, a load that finds the file locked by a batch retries with backoff for a few
seconds (:func:`read`).

A page's figures are many queries over one selection (period, providers, projects, pipelines,
branches). On a big database each of them would pay again for joining millions of steps to
their classes, so the first load of a selection copies the rows it can touch into memory
(:func:`ci_profile.analysis.snapshot.snapshot`, one visit to the file) and every query of that
selection runs on the copy (``st.cache_resource``, a few selections kept).

Results are cached (``st.cache_data``) under the query, its arguments and the file's *stamp*
(modification time and size of the database and its WAL): a new batch from ``collect`` changes
the stamp, so the next interaction reads fresh numbers, and an unchanged file costs nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import streamlit as st
from ci_profile.analysis import explore, snapshot, stored_files, timeline
from ci_profile.analysis.breakdown import build_report
from ci_profile.core.errors import StoreError, StoreLockedError
from ci_profile.core.store import Store

T = TypeVar("T")

LOCK_TIMEOUT_S = 8.0
Stamp = tuple[int, int, int, int]


@dataclass(frozen=True)
class Problem:
    """Why a page cannot show data, and what to run about it."""

    kind: str  # missing | locked | old-schema | broken | empty
    title: str
    detail: str
    commands: tuple[str, ...] = ()


def stamp(path: str) -> Stamp:
    """(mtime_ns, size) of the database file and of its write-ahead log."""
    main = Path(path).stat()
    try:
        wal = Path(f"{path}.wal").stat()
        wal_stamp = (wal.st_mtime_ns, wal.st_size)
    except FileNotFoundError:
        wal_stamp = (0, 0)
    return (main.st_mtime_ns, main.st_size, *wal_stamp)


def read(
    path: str,
    query: Callable[[duckdb.DuckDBPyConnection], T],
    *,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Open ``path`` read-only, run ``query`` on it, close it. While a writer holds the file,
    retry with backoff (50 ms doubling to 500 ms) for up to ``timeout_s`` seconds (default
    :data:`LOCK_TIMEOUT_S`), then raise :class:`StoreLockedError`. DuckDB errors become
    :class:`StoreError`."""
    deadline = clock() + (LOCK_TIMEOUT_S if timeout_s is None else timeout_s)
    delay = 0.05
    while True:
        try:
            store = Store.open(path, read_only=True)
            break
        except StoreLockedError:
            if clock() >= deadline:
                raise
            sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        return query(store.con)
    except duckdb.Error as exc:
        raise StoreError(f"cannot read database {path}: {str(exc).splitlines()[0]}") from None
    finally:
        store.close()


# -- the queries the pages use, by name (the cache key names the query, not a closure) -------


def _whatif(con: duckdb.DuckDBPyConnection, filters: explore.Scope) -> dict[str, Any] | None:
    """The what-if section of the analysis (None when it has nothing to say)."""
    section = build_report(con, filters, top=25, sections=("opportunities",)).whatif
    return section if isinstance(section, dict) else None


QUERIES: dict[str, Callable[..., Any]] = {
    "status": explore.database_status,
    "options": explore.filter_options,
    "collection": explore.collection_status,
    "timeline": timeline.run_timeline,
    "stored_pipeline": stored_files.stored_pipeline,
    # Scoped: the first argument is the selection, and they run on its snapshot.
    "whatif": _whatif,
    "report": lambda con, filters: build_report(con, filters, top=25),
    "run_figures": explore.run_figures,
    "weekly": explore.weekly_categories,
    "hierarchy": explore.hierarchy,
    "split": explore.split,
    "category_steps": explore.category_steps,
    "job_stats": explore.job_stats,
    "step_stats": explore.step_stats,
    "runs_behind": explore.runs_behind,
    "rule_counts": explore.rule_counts,
    "other_steps": explore.other_steps,
    "runs": timeline.list_runs,
}
SCOPED = frozenset(QUERIES) - {"status", "options", "collection", "timeline", "stored_pipeline"}


def on_snapshot(snap: snapshot.Snapshot, name: str, *args: Any, **kwargs: Any) -> Any:
    """Run a scoped query on a selection's in-memory snapshot (the database is not touched)."""
    con = snap.connect()
    try:
        return QUERIES[name](con, *args, **kwargs)
    except duckdb.Error as exc:
        raise StoreError(f"query {name} failed: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


def run_query(path: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Run a named query now, uncached: a scoped one on a fresh snapshot of its selection."""
    if name in SCOPED:
        return on_snapshot(
            read(path, lambda con: snapshot.snapshot(con, args[0])), name, *args, **kwargs
        )
    function = QUERIES[name]
    return read(path, lambda con: function(con, *args, **kwargs))


@st.cache_resource(max_entries=4, show_spinner=False)
def _snapshot(path: str, file_stamp: Stamp, scope: explore.Scope) -> snapshot.Snapshot:
    del file_stamp  # part of the cache key only
    return read(path, lambda con: snapshot.snapshot(con, scope))


@st.cache_data(max_entries=512, show_spinner=False)
def _cached(
    path: str, file_stamp: Stamp, name: str, args: tuple[Any, ...], kwargs: tuple[Any, ...]
) -> Any:
    if name in SCOPED:
        return on_snapshot(_snapshot(path, file_stamp, args[0]), name, *args, **dict(kwargs))
    function = QUERIES[name]
    return read(path, lambda con: function(con, *args, **dict(kwargs)))


def load(path: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """A named query's result, cached until the database file changes."""
    return _cached(path, stamp(path), name, args, tuple(sorted(kwargs.items())))


def problem(path: str) -> Problem | None:
    """What stops the dashboard from showing ``path``, if anything (None: go ahead)."""
    demo = f"ci-profile demo --db {path}"
    collect = f"ci-profile collect github OWNER/REPO --db {path}"
    file = Path(path)
    if not file.exists():
        return Problem(
            "missing",
            f"No database at {path}",
            "Load the bundled sample data, or collect your own CI history, then reload this page.",
            (demo, collect),
        )
    if file.is_dir():
        return Problem("broken", f"{path} is a directory", "Point --db at a database file.")
    try:
        status = load(path, "status")
    except StoreLockedError as exc:
        return Problem(
            "locked",
            "The database is busy",
            f"{exc}. Another process has held it for more than {LOCK_TIMEOUT_S:.0f} s; "
            "`ci-profile collect` lets readers in between batches, so reload in a moment.",
        )
    except StoreError as exc:
        message = str(exc)
        if "schema version" in message and "open it once" in message:
            return Problem(
                "old-schema",
                "This database was written by an older ci-profile",
                f"{message}. The dashboard only reads, so it cannot upgrade it.",
                (f"ci-profile analyze --db {path}",),
            )
        return Problem("broken", "The database cannot be read", message)
    if status.jobs == 0:
        return Problem(
            "empty",
            "The database has no CI runs yet",
            "Collect some history (or load the sample data), then reload this page.",
            (collect, demo),
        )
    return None
