"""Records -> Arrow tables, the store's bulk write path (``core.store``): the tables' Arrow
schemas and primary keys, and the conversion that keeps the last record per key.

Apart from the store so that pyarrow (a fifth of a second to import) is loaded only by commands
that write: reading, as ``analyze`` does, needs none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

import pyarrow as pa
from ci_profile.core.records import Batch, Job, PipelineFile, Run, Step

TS = pa.timestamp("us", tz="UTC")
RUN_KEY = ("provider", "project", "run_id", "attempt")
JOB_KEY = ("provider", "project", "job_id")
STEP_KEY = ("provider", "project", "job_id", "seq")
FILE_KEY = ("provider", "project", "path", "sha")

RUN_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string()),
        pa.field("project", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("attempt", pa.int32()),
        pa.field("pipeline", pa.string()),
        pa.field("pipeline_path", pa.string()),
        pa.field("event", pa.string()),
        pa.field("branch", pa.string()),
        pa.field("sha", pa.string()),
        pa.field("status", pa.string()),
        pa.field("conclusion", pa.string()),
        pa.field("created_at", TS),
        pa.field("started_at", TS),
        pa.field("finished_at", TS),
        pa.field("url", pa.string()),
        pa.field("run_number", pa.int64()),
        pa.field("updated_at", TS),
        pa.field("parent_run_id", pa.string()),
    ]
)
JOB_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string()),
        pa.field("project", pa.string()),
        pa.field("job_id", pa.string()),
        pa.field("run_id", pa.string()),
        pa.field("attempt", pa.int32()),
        pa.field("name", pa.string()),
        pa.field("stage", pa.string()),
        pa.field("status", pa.string()),
        pa.field("conclusion", pa.string()),
        pa.field("created_at", TS),
        pa.field("started_at", TS),
        pa.field("finished_at", TS),
        pa.field("queued_s", pa.float64()),
        pa.field("runner", pa.string()),
        pa.field("labels", pa.list_(pa.string())),
        pa.field("url", pa.string()),
    ]
)
STEP_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string()),
        pa.field("project", pa.string()),
        pa.field("job_id", pa.string()),
        pa.field("seq", pa.int32()),
        pa.field("name", pa.string()),
        pa.field("status", pa.string()),
        pa.field("conclusion", pa.string()),
        pa.field("started_at", TS),
        pa.field("finished_at", TS),
        pa.field("source", pa.string()),
        pa.field("command", pa.string()),
    ]
)
PIPELINE_FILE_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string()),
        pa.field("project", pa.string()),
        pa.field("path", pa.string()),
        pa.field("sha", pa.string()),
        pa.field("content", pa.string()),
    ]
)
STEP_CLASS_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string()),
        pa.field("project", pa.string()),
        pa.field("job_id", pa.string()),
        pa.field("seq", pa.int32()),
        pa.field("category", pa.string()),
        pa.field("rule", pa.string()),
        pa.field("yaml_job", pa.string()),
        pa.field("uses", pa.string()),
        pa.field("command", pa.string()),
    ]
)


def batch_tables(batch: Batch) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    """The batch's runs, jobs, steps and pipeline files as Arrow tables, one row per key."""
    return (
        table_of(batch.runs, RUN_SCHEMA, RUN_KEY),
        table_of(batch.jobs, JOB_SCHEMA, JOB_KEY),
        table_of(batch.steps, STEP_SCHEMA, STEP_KEY),
        table_of(batch.pipeline_files, PIPELINE_FILE_SCHEMA, FILE_KEY),
    )


def key_table(job_keys: set[tuple[str, str, str]]) -> pa.Table:
    provider, project, job_id = zip(*job_keys, strict=True)
    return pa.table({"provider": provider, "project": project, "job_id": job_id})


def table_of(
    records: Sequence[Run | Job | Step | PipelineFile], schema: pa.Schema, key: tuple[str, ...]
) -> pa.Table:
    """Records -> Arrow, column by column, keeping the last record per primary key (as an upsert
    would). Reading each field straight off the records (``attrgetter``) is what makes ingest
    fast: ``dataclasses.astuple`` deep-copies every value."""
    if not records:
        return schema.empty_table()
    keys = list(map(attrgetter(*key), records))
    last = {k: i for i, k in enumerate(keys)}
    if len(last) < len(records):
        records = [records[i] for i in sorted(last.values())]
    return pa.table(
        [pa.array(list(map(attrgetter(f.name), records)), type=f.type) for f in schema],
        schema=schema,
    )
