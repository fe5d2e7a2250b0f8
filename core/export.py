"""Export the store as hive-partitioned Parquet, by provider and month, for warehouse engines.

``DIR/<table>/provider=<p>/month=<YYYY-MM>/data_0.parquet`` for ``runs``, ``jobs``, ``steps`` and
``classified_steps``, with the store's own column names and types (timestamps in UTC), so
DuckDB/MotherDuck, Trino, Spark or BigQuery read the same schema the dashboard reads. The month
is the run's or job's ``created_at`` month in UTC; a job's steps and classified steps go with
their job, so one partition holds whole jobs. ``unknown`` is the month of a record without a
creation time. Each table's folder is replaced as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from ci_profile.core.errors import StoreError
from ci_profile.core.store import Store

_MONTH = "coalesce(strftime({column} AT TIME ZONE 'UTC', '%Y-%m'), 'unknown')"
_JOB_MONTH = _MONTH.format(column="j.created_at")
# Each export: the rows as stored plus the partition column ``month``.
QUERIES: dict[str, str] = {
    "runs": f"SELECT *, {_MONTH.format(column='created_at')} AS month FROM runs",
    "jobs": f"SELECT *, {_MONTH.format(column='created_at')} AS month FROM jobs",
    "steps": f"""
        SELECT s.*, {_JOB_MONTH} AS month
        FROM steps s LEFT JOIN jobs j USING (provider, project, job_id)
    """,
    "classified_steps": f"""
        SELECT c.*, {_JOB_MONTH} AS month
        FROM classified_steps c LEFT JOIN jobs j USING (provider, project, job_id)
    """,
}


@dataclass
class ExportResult:
    directory: Path
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0


def export_parquet(store: Store, directory: Path) -> ExportResult:
    """Write every table of ``QUERIES`` under ``directory`` (created if missing)."""
    if directory.exists() and not directory.is_dir():
        raise StoreError(f"cannot export to {directory}: it is a file, not a folder")
    directory.mkdir(parents=True, exist_ok=True)
    result = ExportResult(directory)
    for table, query in QUERIES.items():
        target = directory / table
        literal = str(target).replace("'", "''")
        try:
            store.con.execute(
                f"COPY ({query}) TO '{literal}' "
                "(FORMAT parquet, PARTITION_BY (provider, month), OVERWRITE true)"
            )
            row = store.con.execute(f"SELECT count(*) FROM ({query})").fetchone()
        except duckdb.Error as exc:
            raise StoreError(
                f"cannot export {table} to {target}: {str(exc).splitlines()[0]}"
            ) from None
        result.rows[table] = int(row[0]) if row else 0
        result.files += sum(1 for _ in target.rglob("*.parquet")) if target.exists() else 0
    return result
