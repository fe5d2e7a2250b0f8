"""`ci-profile export parquet DIR`: the tables as hive-partitioned Parquet, read back equal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from ci_profile.core.errors import StoreError
from ci_profile.core.export import QUERIES, export_parquet
from ci_profile.core.store import Store

REPO_ROOT = Path(__file__).resolve().parent.parent


def ci_profile(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CI_PROFILE_")}
    return subprocess.run(
        [sys.executable, "-m", "ci_profile", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("export")
    assert ci_profile("demo", "--db", "ci.duckdb", "--format", "json", cwd=workdir).returncode == 0
    done = ci_profile("export", "parquet", "out", "--db", "ci.duckdb", cwd=workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("exported ") and "Parquet files" in done.stdout
    return workdir


def test_every_table_reads_back_equal_with_its_partitions(exported: Path) -> None:
    con = duckdb.connect(str(exported / "ci.duckdb"), read_only=True)
    try:
        for table, query in QUERIES.items():
            files = f"{exported / 'out' / table}/**/*.parquet"
            back = f"SELECT * FROM read_parquet('{files}', hive_partitioning = true)"
            columns = [r[0] for r in con.execute(f"DESCRIBE {query}").fetchall()]
            listed = ", ".join(f'"{c}"' for c in columns)
            stored = con.execute(f"SELECT count(*) FROM ({query})").fetchone()
            assert stored is not None and stored[0] > 0, table
            for left, right in ((query, back), (back, query)):
                missing = con.execute(
                    f"SELECT count(*) FROM (SELECT {listed} FROM ({left}) EXCEPT ALL "
                    f"SELECT {listed} FROM ({right}))"
                ).fetchone()
                assert missing == (0,), table
        providers = {p.name for p in (exported / "out" / "jobs").iterdir()}
        assert providers == {"provider=github", "provider=gitlab", "provider=jenkins"}
        months = {p.name for p in (exported / "out" / "runs" / "provider=github").iterdir()}
        assert months and all(m.startswith("month=20") for m in months)
        # A job's steps sit in the partition of the job.
        split = con.execute(
            f"""
            SELECT count(*) FROM read_parquet('{exported}/out/steps/**/*.parquet',
                                              hive_partitioning = true) s
            JOIN read_parquet('{exported}/out/jobs/**/*.parquet', hive_partitioning = true) j
              USING (provider, project, job_id)
            WHERE s.month <> j.month
            """
        ).fetchone()
        assert split == (0,)
    finally:
        con.close()


def test_exporting_again_replaces_and_a_file_is_a_clear_error(tmp_path: Path) -> None:
    with Store.open(tmp_path / "empty.duckdb") as store:
        first = export_parquet(store, tmp_path / "out")
        assert first.rows == dict.fromkeys(QUERIES, 0)
        again = export_parquet(store, tmp_path / "out")
        assert again.rows == first.rows
        (tmp_path / "file").write_text("x")
        with pytest.raises(StoreError, match="it is a file"):
            export_parquet(store, tmp_path / "file")
    missing = ci_profile("export", "parquet", "out", "--db", "nope.duckdb", cwd=tmp_path)
    assert missing.returncode == 3 and "no database at nope.duckdb" in missing.stderr
