"""The columnar ingest path: records become Arrow columns field by field, the last record of a
primary key wins within a batch (as the upsert would), and every value survives the trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from ci_profile.core.records import Batch, Job, Run, Step
from ci_profile.core.store import Store

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
PST = timezone(timedelta(hours=-8))


def run(conclusion: str) -> Run:
    return Run(
        "github", "acme/shop", "7", 2, "CI", ".github/workflows/ci.yml", "push", "main",
        "abc", "completed", conclusion, T0, T0, T0 + timedelta(minutes=5), None, 41, T0,
    )  # fmt: skip


def job(name: str, labels: tuple[str, ...]) -> Job:
    return Job(
        "github", "acme/shop", "70", "7", 2, name, None, "completed", "success", T0,
        T0.astimezone(PST), None, 1.5, None, labels, "https://example.test/j/70",
    )  # fmt: skip


def test_last_record_per_key_wins_and_values_round_trip(store: Store) -> None:
    steps = [
        Step("github", "acme/shop", "70", seq, f"step {seq}", "completed", None, T0, None, "api")
        for seq in (1, 2, 17, 2)
    ]
    store.write(
        Batch(
            runs=[run("failure"), run("success")],
            jobs=[job("old", ()), job("test", ("ubuntu-latest", "gpu"))],
            steps=steps,
        )
    )
    assert store.con.execute(
        "SELECT conclusion, run_number, epoch_us(created_at) FROM runs"
    ).fetchall() == [("success", 41, int(T0.timestamp() * 1_000_000))]
    assert store.con.execute(
        "SELECT name, labels, started_at = created_at, finished_at, runner, queued_s FROM jobs"
    ).fetchall() == [("test", ["ubuntu-latest", "gpu"], True, None, None, 1.5)]
    assert store.con.execute("SELECT seq, name FROM steps ORDER BY seq").fetchall() == [
        (1, "step 1"),
        (2, "step 2"),
        (17, "step 17"),
    ]


def stepped_job(job_id: str, run_id: str, conclusion: str) -> Job:
    return Job(
        "github", "acme/shop", job_id, run_id, 1, "test", None, "completed", conclusion, T0, T0,
        T0, 0.0, None,
    )  # fmt: skip


def steps_of(job_id: str, count: int) -> list[Step]:
    return [
        Step("github", "acme/shop", job_id, seq, f"{job_id}/{seq}", "completed", "success", T0,
             T0, "api")
        for seq in range(1, count + 1)
    ]  # fmt: skip


def test_a_batch_mixing_new_and_stored_rows_upserts_each_key_once(store: Store) -> None:
    """Plain INSERTs write a batch of new rows; one that re-fetches a stored run and job is
    written again as upserts, in one transaction, with the re-fetched job's steps replaced."""
    old = run("failure")
    store.write(
        Batch(runs=[old], jobs=[stepped_job("70", "7", "failure")], steps=steps_of("70", 3))
    )
    fresh = Run(
        "github", "acme/shop", "8", 1, None, None, None, None, None, None, None, None, None,
        None, None,
    )  # fmt: skip
    store.write(
        Batch(
            runs=[run("success"), fresh],
            jobs=[stepped_job("70", "7", "success"), stepped_job("80", "8", "success")],
            steps=steps_of("70", 2) + steps_of("80", 4),
        )
    )
    assert store.con.execute("SELECT run_id, conclusion FROM runs ORDER BY ALL").fetchall() == [
        ("7", "success"),
        ("8", None),
    ]
    assert store.con.execute("SELECT job_id, conclusion FROM jobs ORDER BY ALL").fetchall() == [
        ("70", "success"),
        ("80", "success"),
    ]
    assert store.con.execute(
        "SELECT job_id, count(*), max(seq) FROM steps GROUP BY job_id ORDER BY job_id"
    ).fetchall() == [("70", 2, 2), ("80", 4, 4)]
    assert store.writes() == 2


def test_a_batch_of_new_rows_does_not_look_up_stored_jobs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write(Batch(runs=[run("failure")], jobs=[stepped_job("70", "7", "failure")]))

    def looked_up(*_: object) -> set[tuple[str, str, str]]:
        raise AssertionError("a batch of new rows scanned the jobs table")

    monkeypatch.setattr(Store, "_stored_jobs_among", looked_up)
    store.write(
        Batch(
            runs=[Run("github", "acme/shop", "8", 1, *(None,) * 11)],
            jobs=[stepped_job("80", "8", "success")],
            steps=steps_of("80", 2),
        )
    )
    assert store.counts() == {"runs": 2, "jobs": 2, "steps": 2, "pipeline_files": 0}
