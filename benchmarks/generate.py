"""Generate a large, realistic ci-profile database for benchmarks, directly through Arrow.

The bundled sample history (two repositories, 1,145 jobs of real GitHub shapes: kind/helm e2e
jobs behind ``needs: build``, services jobs, compose jobs, matrix legs, re-runs, failures,
cancellations, queue waits) is the template. It is loaded once into an in-memory store through
the sample loader, then *cloned* into the target file with vectorized numpy/pyarrow arithmetic,
never through the collectors:

- copy ``c`` of the template goes to project group ``c % groups`` (``acme/storefront-007``) and
  time slot ``c // groups`` (slots are 46 days apart), so a million jobs span about half a year
  across a couple of hundred projects;
- every copied run is stretched around its own start by a lognormal factor (sigma 0.25), so
  durations, queue waits and step times vary run to run while staying consistent (steps inside
  their job, ``needs:`` order kept);
- ids and commit SHAs get the copy number appended, so every copy is a distinct run at a
  distinct commit (as real pushes are), and the workflow file is stored at every commit.

Usage: ``python benchmarks/generate.py OUT.duckdb [--jobs 1000000] [--groups 100]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ci_profile.collectors.sample import load_sample
from ci_profile.core.arrow_rows import (
    JOB_SCHEMA,
    PIPELINE_FILE_SCHEMA,
    RUN_SCHEMA,
    STEP_SCHEMA,
)
from ci_profile.core.store import Store

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample-data"
SLOT_S = 46 * 86400
SEED = 20261101


def _template() -> dict[str, pa.Table]:
    with Store.open(":memory:") as store:
        load_sample(SAMPLE_DIR, store)
        return {
            name: store.con.execute(f"SELECT * FROM {name}").to_arrow_table()
            for name in ("runs", "jobs", "steps", "pipeline_files")
        }


def _suffix(values: pa.Array, copy: np.ndarray) -> pa.Array:
    """``value`` -> ``value-<copy>`` (vectorized)."""
    tags = pa.array(np.char.add("-", copy.astype(str)))
    return pc.binary_join_element_wise(values, tags, "")


def _project(values: pa.Array, group: np.ndarray) -> pa.Array:
    tags = pa.array(np.char.add("-", np.char.zfill(group.astype(str), 3)))
    return pc.binary_join_element_wise(values, tags, "")


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    """Timestamps as int64 microseconds, NULL as the int64 minimum (masked later)."""
    array = column.combine_chunks().cast(pa.int64())
    return np.asarray(array.fill_null(np.iinfo(np.int64).min), dtype=np.int64)


def _stretch(
    micros: np.ndarray, origin: np.ndarray, factor: np.ndarray, shift: np.ndarray
) -> pa.Array:
    null = micros == np.iinfo(np.int64).min
    offset = np.where(null, 0, micros - origin) * factor
    moved = origin + offset.astype(np.int64) + shift
    return pa.array(moved, type=pa.int64(), mask=null).cast(pa.timestamp("us", tz="UTC"))


def generate(out: Path, jobs: int = 1_000_000, groups: int = 100) -> dict[str, int]:
    template = _template()
    runs_t, jobs_t = template["runs"], template["jobs"]
    steps_t, files_t = template["steps"], template["pipeline_files"]
    copies = math.ceil(jobs / jobs_t.num_rows)
    rng = np.random.default_rng(SEED)
    # One stretch factor per (copy, template run id): all attempts of a run stretch alike.
    run_ids = np.unique(np.asarray(runs_t["run_id"].to_pylist() + jobs_t["run_id"].to_pylist()))
    factors = rng.lognormal(0.0, 0.25, size=(copies, len(run_ids)))
    origin_by_run: dict[str, int] = {}
    created = _micros(runs_t["created_at"])
    for run_id, moment in zip(runs_t["run_id"].to_pylist(), created, strict=True):
        origin_by_run[run_id] = min(origin_by_run.get(run_id, moment), moment)
    index_of = {run_id: i for i, run_id in enumerate(run_ids)}

    def cloned(table: pa.Table, times: tuple[str, ...], run_col: str | None) -> pa.Table:
        n = table.num_rows
        copy = np.repeat(np.arange(copies), n)
        rows = np.tile(np.arange(n), copies)
        base = table.take(pa.array(rows))
        group, slot = copy % groups, copy // groups
        shift = slot.astype(np.int64) * SLOT_S * 1_000_000
        columns = {name: base[name] for name in table.column_names}
        if run_col is not None:
            keys = base[run_col].to_numpy(zero_copy_only=False)
            run_index = np.fromiter((index_of[k] for k in keys[:n]), np.int64, n)
            run_index = np.tile(run_index, copies)
            factor = factors[copy, run_index]
            origin = np.tile(
                np.fromiter((origin_by_run.get(k, 0) for k in keys[:n]), np.int64, n), copies
            )
            for name in times:
                columns[name] = _stretch(_micros(base[name]), origin, factor, shift)
            if "queued_s" in columns:
                queued = base["queued_s"].to_numpy(zero_copy_only=False) * factor
                columns["queued_s"] = pa.array(queued, type=pa.float64(), mask=np.isnan(queued))
        columns["project"] = _project(base["project"].combine_chunks(), group)
        for name in ("run_id", "job_id", "url"):
            if name in columns:
                columns[name] = _suffix(base[name].combine_chunks(), copy)
        if "sha" in columns:
            columns["sha"] = _suffix(base["sha"].combine_chunks(), copy)
        return pa.table(columns, schema=table.schema)

    # Steps carry no run id: give them their job's run (through the template job).
    job_run = dict(zip(jobs_t["job_id"].to_pylist(), jobs_t["run_id"].to_pylist(), strict=True))
    steps_with_run = steps_t.append_column(
        "_run", pa.array([job_run[j] for j in steps_t["job_id"].to_pylist()])
    )
    tables = {
        "runs": cloned(runs_t, ("created_at", "started_at", "finished_at", "updated_at"), "run_id"),
        "jobs": cloned(jobs_t, ("created_at", "started_at", "finished_at"), "run_id"),
        "steps": cloned(steps_with_run, ("started_at", "finished_at"), "_run").drop_columns(
            ["_run"]
        ),
        "pipeline_files": cloned(files_t, (), None),
    }
    schemas = {
        "runs": RUN_SCHEMA,
        "jobs": JOB_SCHEMA,
        "steps": STEP_SCHEMA,
        "pipeline_files": PIPELINE_FILE_SCHEMA,
    }
    out.unlink(missing_ok=True)
    with Store.open(out) as store:
        for name, table in tables.items():
            data = table.select(schemas[name].names).cast(schemas[name])
            store.con.register("_incoming", data)
            store.con.execute(f"INSERT INTO {name} SELECT * FROM _incoming")
            store.con.unregister("_incoming")
        store.con.execute("CHECKPOINT")
        return store.counts()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=100)
    args = parser.parse_args()
    start = time.perf_counter()
    counts = generate(args.out, args.jobs, args.groups)
    took = time.perf_counter() - start
    sys.stdout.write(f"{args.out}: {counts} in {took:.1f}s\n")


if __name__ == "__main__":
    main()
