"""The frames, critical paths and what-ifs stored with each classification (analysis.run_facts).

``test_analysis_world.report`` already checks, for every hand-built history of the analysis
tests, that the report read from the stored facts equals the one computed from the jobs. Here:
periods that cut runs in two (those runs are computed, the others read), a session start other
than the stored one, and keeping the stored facts current through ``refresh_classification``.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from ci_profile.analysis import refresh
from ci_profile.analysis.breakdown import Filters
from ci_profile.analysis.classify import default_rules
from ci_profile.analysis.jobframe import SCOPE, WHOLE, build_frame, drop_frame
from ci_profile.analysis.refresh import RefreshResult, refresh_classification
from ci_profile.collectors.sample import load_sample
from ci_profile.core.records import Batch, Job, Step
from ci_profile.core.store import Store
from test_analysis_world import T0, R, job, mem, report, write

__all__ = ["mem"]

SAMPLE = Path(__file__).resolve().parent.parent / "sample-data"


def _history() -> list[R]:
    """Runs an hour apart; each has a build, then an e2e job with a kind cluster."""
    runs = []
    for n in range(6):
        base = n * 3600
        runs.append(
            R(
                str(n + 1),
                [
                    job("build", base, base + 5, base + 65),
                    job("e2e", base + 70, base + 80, base + 400, env=180, needs=("build",)),
                ],
                sha=f"sha-{n}",
            )
        )
    return runs


def _recollect(store: Store, job_id: str, **changes: object) -> tuple[Job, list[Step]]:
    """Write a stored job (and its steps) again as a collector would, with ``changes`` to it;
    step changes are ``steps={seq: {field: value}}``."""
    job_fields = [f.name for f in dataclasses.fields(Job)]
    row = store.con.execute(
        f"SELECT {', '.join(job_fields)} FROM jobs WHERE job_id = ?", [job_id]
    ).fetchone()
    assert row is not None
    values = dict(zip(job_fields, row, strict=True))
    values["labels"] = tuple(values["labels"] or ())
    step_changes: dict[int, dict[str, object]] = changes.pop("steps", {})  # type: ignore[assignment]
    job = dataclasses.replace(Job(**values), **changes)  # type: ignore[arg-type]
    step_fields = [f.name for f in dataclasses.fields(Step)]
    steps = [
        dataclasses.replace(
            Step(**dict(zip(step_fields, r, strict=True))), **step_changes.get(int(r[3]), {})
        )
        for r in store.con.execute(
            f"SELECT {', '.join(step_fields)} FROM steps WHERE job_id = ? ORDER BY seq", [job_id]
        ).fetchall()
    ]
    store.write(Batch(jobs=[job], steps=steps))
    return job, steps


def _counts(store: Store, filters: Filters) -> tuple[int, int]:
    build_frame(store.con, filters, stored=True)
    try:
        row = store.con.execute(
            f"SELECT (SELECT count(*) FROM {WHOLE}), (SELECT count(*) FROM {SCOPE})"
        ).fetchone()
    finally:
        drop_frame(store.con)
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_period_that_cuts_runs_computes_those_and_reads_the_rest(mem: Store) -> None:
    write(mem, _history())
    # 02:01:07 falls between run 3's build and its e2e job: run 3 is cut in two.
    since = Filters(since=T0 + timedelta(seconds=2 * 3600 + 67))
    assert _counts(mem, since) == (3, 1)
    assert _counts(mem, Filters()) == (6, 0)
    for filters in (since, Filters(until=T0 + timedelta(seconds=4 * 3600 + 67)), Filters()):
        for start in (20.0, 45.0):
            out = report(mem, filters=filters, session_start_s=start)
            assert out.whatif is not None and out.whatif["status"] == "ok"
            assert out.critical_path is not None and out.critical_path["status"] == "ok"


def test_the_bundled_sample_gives_the_same_report_either_way(tmp_path: Path) -> None:
    with Store.open(tmp_path / "sample.duckdb") as store:
        load_sample(SAMPLE, store)
        assert refresh_classification(store, default_rules()).current
        first = store.con.execute("SELECT min(created_at), max(created_at) FROM jobs").fetchone()
        assert first is not None
        middle = first[0] + (first[1] - first[0]) / 2
        for filters in (Filters(), Filters(since=middle), Filters(projects=("acme/storefront",))):
            report(store, filters=filters)


def test_a_changed_job_time_refreshes_the_stored_facts(tmp_path: Path) -> None:
    path = tmp_path / "sample.duckdb"
    rules = default_rules()
    with Store.open(path) as store:
        load_sample(SAMPLE, store)
        assert refresh_classification(store, rules).refreshed
        assert refresh_classification(store, rules) == RefreshResult(False, current=True)
        # A job collected again with a later finish (an upsert changes it in place).
        row = store.con.execute(
            "SELECT job_id, finished_at FROM jobs WHERE job_id = "
            "(SELECT min(job_id) FROM jobs WHERE finished_at IS NOT NULL)"
        ).fetchone()
        assert row is not None
        _recollect(store, row[0], finished_at=row[1] + timedelta(seconds=90))
    with Store.open(path, read_only=True) as reader:
        # A reader cannot rewrite the facts: it is told they are stale, and computes.
        assert refresh_classification(reader, rules) == RefreshResult(False, current=False)
    with Store.open(path) as store:
        assert refresh_classification(store, rules).refreshed
        stale = store.con.execute(
            """
            SELECT count(*) FROM frame_jobs f
            JOIN jobs j ON hash(j.provider, j.project, j.job_id) = f.jid
            WHERE f.fin_e IS DISTINCT FROM epoch(j.finished_at)
            """
        ).fetchone()
        assert stale == (0,)
        report(store)


def test_nothing_temporary_outlives_a_report(mem: Store) -> None:
    write(mem, _history())
    report(mem, filters=Filters(since=T0 + timedelta(seconds=2 * 3600 + 67)))
    left = mem.con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall()
    assert left == []


def test_run_facts_lost_after_the_classification_are_written_again(tmp_path: Path) -> None:
    """A refresh stopped between committing the classes and the run facts: the next one writes
    the run facts alone; a reader meanwhile is told they are not current."""
    path = tmp_path / "sample.duckdb"
    rules = default_rules()
    with Store.open(path) as store:
        load_sample(SAMPLE, store)
        refresh_classification(store, rules)
        classified = store.con.execute("SELECT * FROM classification_state").fetchall()
        store.con.execute("DELETE FROM run_facts_state")
    with Store.open(path, read_only=True) as reader:
        assert not refresh_classification(reader, rules).current
    with Store.open(path) as store:
        assert refresh_classification(store, rules) == RefreshResult(True, current=True)
        assert store.con.execute("SELECT * FROM classification_state").fetchall() == classified
        assert store.con.execute("SELECT count(*) FROM run_facts_state").fetchone() == (1,)
        report(store)


def test_the_same_change_to_two_rows_is_still_a_change(tmp_path: Path) -> None:
    """Two steps renamed alike: a fingerprint XOR-ing row hashes must not let them cancel."""
    path = tmp_path / "sample.duckdb"
    rules = default_rules()
    with Store.open(path) as store:
        load_sample(SAMPLE, store)
        refresh_classification(store, rules)
        # Steps 1 and 2 of one job renamed alike, collected again.
        job_id = store.con.execute(
            "SELECT min(job_id) FROM steps WHERE seq = 2 AND job_id IN "
            "(SELECT job_id FROM steps WHERE seq = 1)"
        ).fetchone()
        assert job_id is not None
        renamed = {"name": "Shell script (renamed)"}
        _recollect(store, job_id[0], steps={1: renamed, 2: renamed})
        assert refresh_classification(store, rules).refreshed
        # A step collected again with a later finish: its seconds in step_facts change.
        row = store.con.execute(
            "SELECT finished_at FROM steps WHERE job_id = ? AND seq = 1", [job_id[0]]
        ).fetchone()
        assert row is not None
        _recollect(store, job_id[0], steps={1: {"finished_at": row[0] + timedelta(seconds=7)}})
        assert refresh_classification(store, rules).refreshed


def test_nothing_written_since_the_last_look_skips_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sample.duckdb"
    rules = default_rules()
    with Store.open(path) as store:
        load_sample(SAMPLE, store)
        assert refresh_classification(store, rules).refreshed
        # A collection that found nothing new still writes (its cursors): the fingerprint is
        # taken again, finds the same, and nothing is refreshed.
        store.write(Batch(cursors={("github", "acme/storefront", "runs"): "2024-01-01"}))
        assert refresh_classification(store, rules) == RefreshResult(False, current=True)

        def not_again(*_: object) -> str:
            raise AssertionError("the fingerprint was taken with nothing written")

        monkeypatch.setattr(refresh, "_state_fingerprint", not_again)
        assert refresh_classification(store, rules) == RefreshResult(False, current=True)
    with Store.open(path, read_only=True) as reader:
        assert refresh_classification(reader, rules) == RefreshResult(False, current=True)
    monkeypatch.undo()
    with Store.open(path) as store:
        # Rows deleted by hand change the row counts: that is seen too.
        store.con.execute("DELETE FROM steps WHERE seq = 1")
        assert refresh_classification(store, rules).refreshed
        # Other rules are other classes.
        assert refresh_classification(store, rules[1:]).refreshed


def test_facts_of_an_older_layout_are_written_again(tmp_path: Path) -> None:
    """Run facts stored by a version without ``path_chains`` (no layout recorded) are not read:
    the next refresh writes them in the current layout."""
    path = tmp_path / "sample.duckdb"
    rules = default_rules()
    with Store.open(path) as store:
        load_sample(SAMPLE, store)
        refresh_classification(store, rules)
        store.con.execute("DROP TABLE path_chains")
        store.con.execute("ALTER TABLE run_facts_state DROP COLUMN layout")
    with Store.open(path, read_only=True) as reader:
        assert not refresh_classification(reader, rules).current
    with Store.open(path) as store:
        assert refresh_classification(store, rules) == RefreshResult(True, current=True)
        chains = store.con.execute("SELECT count(*) FROM path_chains").fetchone()
        assert chains is not None and chains[0] > 0
        report(store)


def test_a_step_whose_job_is_not_stored_is_in_no_figure(mem: Store) -> None:
    """Steps carry their job's key (``step_facts.job_key``); a step stored without its job has
    none, and is left out both ways, as the join with the jobs left it out before."""
    stray = Step(
        "github",
        "acme/app",
        "not-stored",
        1,
        "Stray step",
        "completed",
        "failure",
        T0,
        T0 + timedelta(seconds=500),
        "api",
    )
    mem.write(Batch(steps=[stray]))
    write(mem, _history())
    keys = mem.con.execute("SELECT job_key FROM step_facts WHERE name = 'Stray step'").fetchall()
    assert keys == [(None,)]
    out = report(mem)
    assert out.top_steps and all(row["step"] != "Stray step" for row in out.top_steps)
    assert out.waste is not None
    assert all(row["step"] != "Stray step" for row in out.waste["failing_steps"])
