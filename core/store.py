"""The DuckDB store: schema, migrations and idempotent bulk upserts.

The only module that speaks SQL DDL. Tables `runs`, `jobs` and `steps` are a contract (DESIGN
"Records and the store"): columns may be added, never renamed. Every write of collected data
goes through :meth:`Store.write`, one transaction per batch, through Arrow, so the cursors and
ETags that a batch advances commit together with its rows or not at all.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from ci_profile.core.errors import StoreError, StoreLockedError
from ci_profile.core.records import Batch

if TYPE_CHECKING:
    import pyarrow as pa

# Ordered migrations: index i brings a database from version i to i + 1. Never edit a shipped
# entry; append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        provider VARCHAR NOT NULL, project VARCHAR NOT NULL, run_id VARCHAR NOT NULL,
        attempt INTEGER NOT NULL, pipeline VARCHAR, pipeline_path VARCHAR, event VARCHAR,
        branch VARCHAR, sha VARCHAR, status VARCHAR, conclusion VARCHAR,
        created_at TIMESTAMPTZ, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, url VARCHAR,
        run_number BIGINT, updated_at TIMESTAMPTZ,
        PRIMARY KEY (provider, project, run_id, attempt)
    );
    CREATE TABLE jobs (
        provider VARCHAR NOT NULL, project VARCHAR NOT NULL, job_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL, attempt INTEGER NOT NULL, name VARCHAR, stage VARCHAR,
        status VARCHAR, conclusion VARCHAR, created_at TIMESTAMPTZ, started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ, queued_s DOUBLE, runner VARCHAR, labels VARCHAR[], url VARCHAR,
        PRIMARY KEY (provider, project, job_id)
    );
    CREATE TABLE steps (
        provider VARCHAR NOT NULL, project VARCHAR NOT NULL, job_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL, name VARCHAR, status VARCHAR, conclusion VARCHAR,
        started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, source VARCHAR,
        PRIMARY KEY (provider, project, job_id, seq)
    );
    CREATE TABLE pipeline_files (
        provider VARCHAR NOT NULL, project VARCHAR NOT NULL, path VARCHAR NOT NULL,
        sha VARCHAR NOT NULL, content VARCHAR,
        PRIMARY KEY (provider, project, path, sha)
    );
    CREATE TABLE cursors (
        provider VARCHAR NOT NULL, project VARCHAR NOT NULL, scope VARCHAR NOT NULL,
        value VARCHAR, updated_at TIMESTAMPTZ,
        PRIMARY KEY (provider, project, scope)
    );
    CREATE TABLE http_etags (
        request_key VARCHAR PRIMARY KEY, etag VARCHAR NOT NULL, next_url VARCHAR
    );
    CREATE TABLE step_classes (
        provider VARCHAR NOT NULL, project VARCHAR NOT NULL, job_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL, category VARCHAR NOT NULL, rule VARCHAR NOT NULL,
        yaml_job VARCHAR, uses VARCHAR, command VARCHAR,
        PRIMARY KEY (provider, project, job_id, seq)
    );
    CREATE TABLE classification_state (fingerprint VARCHAR, classified_at TIMESTAMPTZ);
    CREATE VIEW classified_steps AS
        SELECT s.provider, s.project, s.job_id, s.seq, s.name,
               coalesce(c.category, 'other') AS category,
               coalesce(c.rule, 'unclassified') AS rule,
               c.yaml_job, c.uses, c.command, s.started_at, s.finished_at,
               CASE WHEN s.finished_at >= s.started_at
                    THEN epoch(s.finished_at) - epoch(s.started_at) END AS duration_s,
               s.source
        FROM steps s
        LEFT JOIN step_classes c USING (provider, project, job_id, seq);
    """,
    # 2: the command a provider reports for a step itself (Jenkins `sh` nodes).
    """
    ALTER TABLE steps ADD COLUMN command VARCHAR;
    """,
    # 3: child/downstream pipelines (GitLab) point at their parent run.
    """
    ALTER TABLE runs ADD COLUMN parent_run_id VARCHAR;
    """,
    # 4: what analysis reads per step and per job, written with each classification, keyed by
    # the job's 64-bit hash so that analysis never joins millions of steps on four text keys.
    # Derived data: no keys to enforce, rebuilt whole; step_classes loses its primary key
    # too (maintaining that index made a million-job classification take minutes; the view
    # classified_steps binds it by name and needs no change). The fingerprint is reset so the
    # next analysis fills all three.
    """
    DROP TABLE step_classes;
    CREATE TABLE step_classes (
        provider VARCHAR NOT NULL, project VARCHAR NOT NULL, job_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL, category VARCHAR NOT NULL, rule VARCHAR NOT NULL,
        yaml_job VARCHAR, uses VARCHAR, command VARCHAR
    );
    CREATE TABLE step_facts (
        jid UBIGINT NOT NULL, seq INTEGER NOT NULL, name VARCHAR, category VARCHAR NOT NULL,
        rule VARCHAR NOT NULL, yaml_job VARCHAR, duration_s DOUBLE, start_e DOUBLE,
        fin_e DOUBLE, conclusion VARCHAR
    );
    CREATE TABLE job_facts (
        jid UBIGINT NOT NULL, yaml_job VARCHAR, steps INTEGER NOT NULL, steps_s DOUBLE NOT NULL,
        setup_s DOUBLE NOT NULL, dependencies_s DOUBLE NOT NULL, environment_s DOUBLE NOT NULL,
        build_s DOUBLE NOT NULL, test_s DOUBLE NOT NULL, lint_s DOUBLE NOT NULL,
        teardown_s DOUBLE NOT NULL, publish_s DOUBLE NOT NULL, other_s DOUBLE NOT NULL,
        removable_s DOUBLE NOT NULL
    );
    DELETE FROM classification_state;
    """,
    # 5: every run's frame, critical path and what-if are stored after each classification
    # (analysis.run_facts creates those tables); the fingerprint is reset so the next analysis
    # writes them.
    """
    DELETE FROM classification_state;
    """,
    # 6: every write counts itself, so that analysis can tell that nothing was written since
    # its last look without hashing millions of rows (analysis.refresh); `refresh_seen`
    # remembers what it found then.
    """
    CREATE TABLE store_writes (writes BIGINT NOT NULL);
    INSERT INTO store_writes VALUES (0);
    CREATE TABLE refresh_seen (writes_key VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL);
    """,
    # 7: a step's facts carry its job's key (analysis groups steps by job without joining a
    # million jobs); the fingerprint is reset so the next analysis fills it.
    """
    ALTER TABLE step_facts ADD COLUMN job_key UBIGINT;
    DELETE FROM classification_state;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class StoredRun:
    """What an incremental collector needs to know about a run it stored before."""

    run_id: str
    attempt: int
    status: str | None
    updated_at: datetime | None
    created_at: datetime | None
    parent_run_id: str | None
    pipeline: str | None
    pipeline_path: str | None


def _map_duckdb_error(exc: duckdb.Error, path: str) -> StoreError:
    message = str(exc)
    if re.search(r"lock", message, re.IGNORECASE):
        pid = re.search(r"PID (\d+)", message)
        holder = f" (held by process {pid.group(1)})" if pid else ""
        return StoreLockedError(
            f"database {path} is in use by another ci-profile process{holder}; "
            "wait for it to finish or use another --db"
        )
    return StoreError(f"cannot use database {path}: {message.splitlines()[0]}")


class Store:
    """A ci-profile database. Open with :meth:`open`; use as a context manager."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only

    @classmethod
    def open(cls, path: str | Path, *, read_only: bool = False) -> Store:
        spec = str(path)
        if spec != ":memory:":
            file = Path(spec)
            if read_only and not file.exists():
                raise StoreError(
                    f"no database at {spec}; run `ci-profile demo` or `ci-profile collect` first"
                )
            if file.is_dir():
                raise StoreError(f"cannot use database {spec}: it is a directory")
        try:
            con = duckdb.connect(spec, read_only=read_only)
        except duckdb.Error as exc:
            raise _map_duckdb_error(exc, spec) from None
        store = cls(con, spec, read_only)
        try:
            store._migrate()
        except duckdb.Error as exc:
            con.close()
            raise _map_duckdb_error(exc, spec) from None
        except StoreError:
            con.close()
            raise
        return store

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ---------------------------------------------------------------------------

    def schema_version(self) -> int:
        has_table = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        ).fetchone()
        if not has_table or not has_table[0]:
            return 0
        row = self.con.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this "
                f"ci-profile understands ({SCHEMA_VERSION}); upgrade ci-profile"
            )
        if version == SCHEMA_VERSION:
            return
        if self.read_only:
            raise StoreError(
                f"database {self.path} has schema version {version}; open it once for "
                "writing (for example with `ci-profile analyze`) to upgrade it"
            )
        if version == 0 and self._has_foreign_tables():
            raise StoreError(f"{self.path} is a DuckDB database, but not a ci-profile one")
        with self.transaction():
            self.con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)")
            for number in range(version, SCHEMA_VERSION):
                self.con.execute(MIGRATIONS[number])
                self.con.execute("INSERT INTO schema_version VALUES (?)", [number + 1])

    def _has_foreign_tables(self) -> bool:
        row = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchone()
        return bool(row and row[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- writes ---------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        """Upsert one batch and advance its cursors and ETags, atomically."""
        from ci_profile.core.arrow_rows import batch_tables  # pyarrow: only writes need it

        runs, jobs, steps, files = batch_tables(batch)
        try:
            try:
                # Most batches hold only runs and jobs never stored before. Plain INSERTs write
                # those about twice as fast as INSERT OR REPLACE, and they need no lookup of
                # stored jobs: the primary keys themselves tell when a batch re-fetches a row
                # (a constraint error aborts the transaction and nothing of it stays).
                with self.transaction():
                    self._write(batch, runs, jobs, steps, files, upsert=False)
            except duckdb.ConstraintException:
                with self.transaction():
                    self._write(batch, runs, jobs, steps, files, upsert=True)
        except duckdb.Error as exc:
            raise _map_duckdb_error(exc, self.path) from None

    def _write(
        self,
        batch: Batch,
        runs: pa.Table,
        jobs: pa.Table,
        steps: pa.Table,
        files: pa.Table,
        *,
        upsert: bool,
    ) -> None:
        # A job's steps are replaced as a whole: a re-fetched job may have fewer steps. Only
        # jobs stored before can have steps to replace, and when `upsert` is False the plain
        # INSERT of `jobs` proves that none of them was; finding them in `jobs` spares a scan
        # of the (eight times larger) steps table for every batch.
        job_keys = {(j.provider, j.project, j.job_id) for j in batch.jobs}
        doomed = {(s.provider, s.project, s.job_id) for s in batch.steps} - job_keys
        if upsert:
            doomed |= self._stored_jobs_among(job_keys)
        self._insert("runs", runs, replace=upsert)
        self._insert("jobs", jobs, replace=upsert)
        self._delete_steps_of(doomed)
        self._insert("steps", steps)
        self._insert("pipeline_files", files, replace=True)
        self.con.execute("UPDATE store_writes SET writes = writes + 1")
        now = datetime.now(UTC)
        for (provider, project, scope), value in batch.cursors.items():
            self.con.execute(
                "INSERT OR REPLACE INTO cursors VALUES (?, ?, ?, ?, ?)",
                [provider, project, scope, value, now],
            )
        for key, (etag, next_url) in batch.etags.items():
            self.con.execute(
                "INSERT OR REPLACE INTO http_etags VALUES (?, ?, ?)", [key, etag, next_url]
            )

    def _insert(self, table: str, data: pa.Table, *, replace: bool = False) -> None:
        if not data.num_rows:
            return
        columns = ", ".join(data.column_names)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        self.con.register("_incoming", data)
        try:
            self.con.execute(f"{verb} INTO {table} ({columns}) SELECT {columns} FROM _incoming")
        finally:
            self.con.unregister("_incoming")

    def _stored_jobs_among(self, job_keys: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        if not job_keys:
            return set()
        from ci_profile.core.arrow_rows import key_table

        self.con.register("_asked", key_table(job_keys))
        try:
            rows = self.con.execute(
                "SELECT provider, project, job_id FROM jobs WHERE (provider, project, job_id) IN "
                "(SELECT (provider, project, job_id) FROM _asked)"
            ).fetchall()
        finally:
            self.con.unregister("_asked")
        return {(r[0], r[1], r[2]) for r in rows}

    def _delete_steps_of(self, job_keys: set[tuple[str, str, str]]) -> None:
        if not job_keys:
            return
        from ci_profile.core.arrow_rows import key_table

        self.con.register("_doomed", key_table(job_keys))
        try:
            self.con.execute(
                "DELETE FROM steps WHERE (provider, project, job_id) IN "
                "(SELECT (provider, project, job_id) FROM _doomed)"
            )
        finally:
            self.con.unregister("_doomed")

    def replace_step_classes(
        self,
        classes: pa.Table,
        fingerprint: str,
        derived: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Swap in a fresh classification of every step, recording what produced it.

        ``derived``: (table, SELECT) pairs of tables computed from it (``step_facts``,
        ``job_facts``), each rebuilt in order in the same transaction, so a reader never sees
        classes and facts of different classifications."""
        from ci_profile.core.arrow_rows import STEP_CLASS_SCHEMA

        try:
            with self.transaction():
                self.con.execute("DELETE FROM step_classes")
                self._insert("step_classes", classes.cast(STEP_CLASS_SCHEMA))
                for table, select in derived:
                    self.con.execute(f"DELETE FROM {table}")
                    self.con.execute(f"INSERT INTO {table} BY NAME {select}")
                self.con.execute("DELETE FROM classification_state")
                self.con.execute(
                    "INSERT INTO classification_state VALUES (?, ?)",
                    [fingerprint, datetime.now(UTC)],
                )
        except duckdb.Error as exc:
            raise _map_duckdb_error(exc, self.path) from None

    def replace_tables(self, tables: Sequence[tuple[str, str]]) -> None:
        """Create or replace whole derived tables, (name, SELECT) in order, in one
        transaction (analysis.run_facts: every run's frame, critical path and what-if)."""
        try:
            with self.transaction():
                for table, select in tables:
                    self.con.execute(f"CREATE OR REPLACE TABLE {table} AS {select}")
        except duckdb.Error as exc:
            raise _map_duckdb_error(exc, self.path) from None

    # -- reads the collectors need ----------------------------------------------------------

    def cursor(self, provider: str, project: str, scope: str) -> str | None:
        row = self.con.execute(
            "SELECT value FROM cursors WHERE provider = ? AND project = ? AND scope = ?",
            [provider, project, scope],
        ).fetchone()
        return None if row is None else row[0]

    def etag(self, request_key: str) -> tuple[str, str | None] | None:
        row = self.con.execute(
            "SELECT etag, next_url FROM http_etags WHERE request_key = ?", [request_key]
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def finished_runs(self, provider: str, project: str) -> dict[str, tuple[int, datetime | None]]:
        """run_id -> (latest attempt, updated_at) for runs whose latest attempt has finished."""
        rows = self.con.execute(
            """
            SELECT run_id, attempt, updated_at FROM runs
            WHERE provider = ? AND project = ? AND status = 'completed'
            QUALIFY attempt = max(attempt) OVER (PARTITION BY run_id)
            """,
            [provider, project],
        ).fetchall()
        return {r[0]: (int(r[1]), r[2]) for r in rows}

    def known_pipeline_files(self, provider: str, project: str) -> set[tuple[str, str]]:
        rows = self.con.execute(
            "SELECT path, sha FROM pipeline_files WHERE provider = ? AND project = ?",
            [provider, project],
        ).fetchall()
        return {(r[0], r[1]) for r in rows}

    def unfetched_pipeline_files(self, provider: str, project: str) -> list[tuple[str, str]]:
        """(path, sha) of the pipeline files stored runs ran that were never stored (a
        collection stopped by its request budget before fetching them)."""
        rows = self.con.execute(
            """
            SELECT DISTINCT r.pipeline_path, r.sha FROM runs r
            WHERE r.provider = ? AND r.project = ?
              AND r.pipeline_path IS NOT NULL AND r.sha IS NOT NULL
              AND NOT EXISTS (
                  SELECT 1 FROM pipeline_files f
                  WHERE f.provider = r.provider AND f.project = r.project
                    AND f.path = r.pipeline_path AND f.sha = r.sha)
            ORDER BY ALL
            """,
            [provider, project],
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def stored_runs(self, provider: str, project: str) -> list[StoredRun]:
        rows = self.con.execute(
            "SELECT run_id, attempt, status, updated_at, created_at, parent_run_id, pipeline, "
            "pipeline_path FROM runs WHERE provider = ? AND project = ? ORDER BY run_id, attempt",
            [provider, project],
        ).fetchall()
        return [StoredRun(*row) for row in rows]

    def stored_jobs(
        self, provider: str, project: str
    ) -> dict[str, tuple[str | None, datetime | None]]:
        """job_id -> (status, finished_at)."""
        rows = self.con.execute(
            "SELECT job_id, status, finished_at FROM jobs WHERE provider = ? AND project = ?",
            [provider, project],
        ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def pipeline_file(self, provider: str, project: str, path: str, sha: str) -> str | None:
        row = self.con.execute(
            "SELECT content FROM pipeline_files "
            "WHERE provider = ? AND project = ? AND path = ? AND sha = ?",
            [provider, project, path, sha],
        ).fetchone()
        return None if row is None else row[0]

    def writes(self) -> int:
        """How many batches were ever written (``write``): it changes with every write."""
        row = self.con.execute("SELECT max(writes) FROM store_writes").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def remember_refresh(self, writes_key: str, fingerprint: str) -> None:
        """Record that the store as of ``writes_key`` had this classification ``fingerprint``."""
        try:
            with self.transaction():
                self.con.execute("DELETE FROM refresh_seen")
                self.con.execute(
                    f"INSERT INTO refresh_seen VALUES ({literal(writes_key)}, "
                    f"{literal(fingerprint)})"
                )
        except duckdb.Error as exc:
            raise _map_duckdb_error(exc, self.path) from None

    def remembered_refresh(self, writes_key: str) -> str | None:
        """The fingerprint recorded for ``writes_key``, if that is what was last recorded."""
        row = self.con.execute(
            f"SELECT max(fingerprint) FROM refresh_seen WHERE writes_key = {literal(writes_key)}"
        ).fetchone()
        return None if row is None else row[0]

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for table in ("runs", "jobs", "steps", "pipeline_files"):
            row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            result[table] = int(row[0]) if row else 0
        return result


def open_when_free(
    path: str | Path,
    *,
    timeout_s: float = 60.0,
    read_only: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Store:
    """:meth:`Store.open`, waiting up to ``timeout_s`` while another process holds the file
    (a collection between two batches, a dashboard query)."""
    deadline = clock() + timeout_s
    delay = 0.05
    while True:
        try:
            return Store.open(path, read_only=read_only)
        except StoreLockedError:
            if clock() >= deadline:
                raise
            sleep(delay)
            delay = min(delay * 2, 1.0)


def literal(text: str) -> str:
    """``text`` as a SQL string literal. The read path of ``analyze`` binds no parameters:
    DuckDB's first bound parameter (or registered Arrow table) imports pandas to check its
    type, half a second of every command's start."""
    return "'" + text.replace("'", "''") + "'"
