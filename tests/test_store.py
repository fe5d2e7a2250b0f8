from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from ci_profile.core.errors import StoreError, StoreLockedError
from ci_profile.core.records import Batch, Job, PipelineFile, Run, Step
from ci_profile.core.shared_store import SharedStore
from ci_profile.core.store import MIGRATIONS, SCHEMA_VERSION, Store

T0 = datetime(2026, 10, 14, 9, 12, 3, tzinfo=UTC)


def _batch(conclusion: str = "success", steps: int = 3) -> Batch:
    run = Run(
        "github",
        "acme/shop",
        "9001",
        1,
        "CI",
        ".github/workflows/ci.yml",
        "push",
        "main",
        "f83a356604ae3c5d03e1b46ef4d1ca77d64a90b0",
        "completed",
        conclusion,
        T0,
        T0,
        T0,
        "https://github.com/acme/shop/actions/runs/9001",
    )
    job = Job(
        "github",
        "acme/shop",
        "399444496",
        "9001",
        1,
        "build",
        None,
        "completed",
        conclusion,
        T0,
        T0,
        T0,
        4.0,
        "GitHub Actions 2",
        ("ubuntu-latest",),
        None,
    )
    return Batch(
        runs=[run],
        jobs=[job],
        steps=[
            Step(
                "github",
                "acme/shop",
                "399444496",
                n,
                f"step {n}",
                "completed",
                "success",
                T0,
                T0,
                "api",
            )
            for n in (1, 2, 17)[:steps]
        ],
        pipeline_files=[
            PipelineFile("github", "acme/shop", ".github/workflows/ci.yml", "f83a356", "on: push\n")
        ],
        cursors={("github", "acme/shop", "runs:watermark"): "2026-10-14T09:12:03Z"},
        etags={"/repos/acme/shop/actions/runs?page=1": ('W/"abc"', None)},
    )


def _tables(store: Store) -> dict[str, list[tuple[object, ...]]]:
    return {
        t: store.con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
        for t in ("runs", "jobs", "steps", "pipeline_files", "http_etags")
    }


def test_schema_has_the_contract_columns(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.duckdb") as store:
        columns = {
            (t, c)
            for t, c in store.con.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
            ).fetchall()
        }
        assert store.schema_version() == SCHEMA_VERSION
    for table, names in {
        "runs": "provider project run_id attempt pipeline pipeline_path event branch sha status conclusion created_at started_at finished_at url",
        "jobs": "provider project job_id run_id attempt name stage status conclusion created_at started_at finished_at queued_s runner labels url",
        "steps": "provider project job_id seq name status conclusion started_at finished_at source",
        "classified_steps": "provider project job_id seq category rule",
    }.items():
        for name in names.split():
            assert (table, name) in columns, (table, name)


def test_writing_twice_changes_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.duckdb") as store:
        store.write(_batch())
        first = _tables(store)
        store.write(_batch())
        assert _tables(store) == first
        assert store.counts() == {"runs": 1, "jobs": 1, "steps": 3, "pipeline_files": 1}


def test_refetched_job_replaces_its_steps_and_upserts_rows(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.duckdb") as store:
        store.write(_batch(steps=3))
        store.write(_batch(conclusion="failure", steps=2))
        assert store.counts()["steps"] == 2
        assert store.con.execute("SELECT conclusion FROM jobs").fetchall() == [("failure",)]
        assert store.cursor("github", "acme/shop", "runs:watermark") == "2026-10-14T09:12:03Z"
        assert store.etag("/repos/acme/shop/actions/runs?page=1") == ('W/"abc"', None)


def test_timestamps_are_utc(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.duckdb") as store:
        store.write(_batch())
        store.con.execute("SET TimeZone = 'America/Los_Angeles'")
        (value,) = store.con.execute("SELECT epoch(created_at) FROM runs").fetchone() or (None,)
        assert value == T0.timestamp()


def test_failed_write_rolls_back_everything(tmp_path: Path) -> None:
    with Store.open(tmp_path / "db.duckdb") as store:
        store.write(_batch())
        bad = _batch()
        bad.jobs.append(
            Job(
                "github",
                "acme/shop",
                "x",
                "9001",
                1,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            )
        )  # type: ignore[arg-type]
        bad.steps.append(Step("github", "acme/shop", "x", 1, "s", None, None, None, None, "api"))
        bad.cursors = {("github", "acme/shop", "runs:watermark"): "LATER"}
        store.con.execute("ALTER TABLE jobs ALTER name SET NOT NULL")
        with pytest.raises(StoreError):
            store.write(bad)
        assert store.cursor("github", "acme/shop", "runs:watermark") == "2026-10-14T09:12:03Z"
        assert store.counts() == {"runs": 1, "jobs": 1, "steps": 3, "pipeline_files": 1}


def test_locked_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    Store.open(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("locked", flush=True)
            time.sleep(30)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError, match="in use by another ci-profile process"):
            Store.open(path)
    finally:
        holder.kill()
        holder.wait()


def test_not_a_database_and_foreign_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"\x00\xffnot a database at all" * 100)
    with pytest.raises(StoreError, match="cannot use database"):
        Store.open(junk)
    foreign = tmp_path / "foreign.duckdb"
    con = duckdb.connect(str(foreign))
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.close()
    with pytest.raises(StoreError, match="not a ci-profile one"):
        Store.open(foreign)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    with Store.open(path) as store:
        store.con.execute("INSERT INTO schema_version VALUES (?)", [SCHEMA_VERSION + 1])
    with pytest.raises(StoreError, match="newer than this"):
        Store.open(path)


def _hold(path: Path, seconds: float, *, read_only: bool) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, time
            con = duckdb.connect({str(path)!r}, read_only={read_only})
            print("holding", flush=True)
            time.sleep({seconds})
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    return holder


def test_shared_store_waits_for_a_reader_then_writes(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    shared = SharedStore(path)
    reader = _hold(path, 1.0, read_only=True)
    try:
        shared.write(_batch())  # blocks until the reader lets go, then commits
    finally:
        reader.wait()
    with Store.open(path, read_only=True) as store:
        assert store.counts()["steps"] == 3


def test_shared_store_lets_readers_in_between_writes(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    shared = SharedStore(path)
    shared.write(_batch())
    # Between two batches nothing holds the file: another process can read it.
    reader = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import duckdb; print(duckdb.connect({str(path)!r}, read_only=True).execute('SELECT count(*) FROM steps').fetchone()[0])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert reader.stdout.strip() == "3"
    assert shared.cursor("github", "acme/shop", "runs:watermark") == "2026-10-14T09:12:03Z"


def test_shared_store_gives_up_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    shared = SharedStore(path, lock_timeout_s=0.2)
    writer = _hold(path, 3.0, read_only=False)
    try:
        with pytest.raises(StoreLockedError):
            shared.write(_batch())
    finally:
        writer.kill()
        writer.wait()


def test_a_schema_3_database_gets_the_fact_tables_and_is_classified_again(tmp_path: Path) -> None:
    path = tmp_path / "v3.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE schema_version (version INTEGER)")
        for number, sql in enumerate(MIGRATIONS[:3]):
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?)", [number + 1])
        con.execute(
            "INSERT INTO step_classes VALUES ('github', 'a/b', '1', 1, 'test', 'pytest', NULL, NULL, NULL)"
        )
        con.execute("INSERT INTO classification_state VALUES ('old', now())")
    with Store.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.con.execute("SELECT count(*) FROM step_classes").fetchone() == (0,)
        assert store.con.execute("SELECT count(*) FROM classification_state").fetchone() == (0,)
        for table in ("step_facts", "job_facts"):
            assert store.con.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        # Derived data: the same step may be written again without a key violation.
        row = "('github', 'a/b', '1', 1, 'test', 'pytest', NULL, NULL, NULL)"
        store.con.execute(f"INSERT INTO step_classes VALUES {row}, {row}")
        assert store.con.execute("SELECT count(*) FROM classified_steps").fetchone() == (0,)
