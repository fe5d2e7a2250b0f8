"""The columnar ingest path: records become Arrow columns field by field, the last record of a
primary key wins within a batch (as the upsert would), and every value survives the trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

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
