"""The dashboard's data layer, its analysis queries and its figures, without a browser."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from ci_profile.analysis import explore, timeline
from ci_profile.analysis.breakdown import build_report
from ci_profile.analysis.classify import CATEGORIES
from ci_profile.core.errors import StoreError, StoreLockedError
from ci_profile.core.shared_store import SharedStore
from ci_profile.core.store import Store
from ci_profile.dashboard import charts, data
from dashboard_support import REPO_ROOT, batch, make_old_schema_db, shared_sample_db


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_sample_db(tmp_path_factory)


@pytest.fixture(scope="module")
def con(sample_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with Store.open(sample_db, read_only=True) as store:
        yield store.con


# -- queries add up to the report --------------------------------------------------------------


def test_weekly_and_category_rows_add_up_to_the_report(con: duckdb.DuckDBPyConnection) -> None:
    scope = explore.Scope()
    report = build_report(con, scope)
    weekly = explore.weekly_categories(con, scope)
    assert sum(r["seconds"] for r in weekly) == pytest.approx(report.headline["total_s"], abs=1)
    for category in ("environment", "other", "queue"):
        rows = explore.category_steps(con, scope, category, limit=100_000)
        assert sum(r["total_s"] for r in rows) == pytest.approx(
            report.categories[category]["seconds"], abs=1
        )
    env = explore.category_steps(con, scope, "environment")
    assert {"helm-install", "compose-up"} <= {r["rule"] for r in env}
    queue = explore.category_steps(con, scope, "queue")
    assert {r["step"] for r in queue} == {"(waiting for a runner)"}


def test_hierarchy_and_splits_cover_runner_time(con: duckdb.DuckDBPyConnection) -> None:
    scope = explore.Scope(projects=("acme/payments-api",))
    report = build_report(con, scope)
    tree = explore.hierarchy(con, scope, top_jobs=3)
    assert sum(r["seconds"] for r in tree) == pytest.approx(report.headline["runner_s"], abs=1)
    assert len({r["job"] for r in tree}) == 4  # three named, the rest folded
    assert "(other jobs)" in {r["job"] for r in tree}
    labels = explore.split(con, scope, "labels")
    assert {r["key"] for r in labels} >= {"ubuntu-latest"}
    assert sum(r["seconds"] for r in labels) == pytest.approx(report.headline["total_s"], abs=1)
    with pytest.raises(ValueError, match="cannot split"):
        explore.split(con, scope, "colour")


def test_scope_filters_pipeline_and_branch(con: duckdb.DuckDBPyConnection) -> None:
    everything = build_report(con, explore.Scope(projects=("acme/payments-api",)))
    nightly = build_report(
        con, explore.Scope(projects=("acme/payments-api",), pipelines=("nightly",))
    )
    assert {r["pipeline"] for r in nightly.by_pipeline} == {"nightly"}
    assert 0 < nightly.period["jobs"] < everything.period["jobs"]
    main = build_report(con, explore.Scope(branches=("main",)))
    runs = timeline.list_runs(con, explore.Scope(branches=("main",)), limit=10_000)
    assert {r["branch"] for r in runs} == {"main"}
    assert len(runs) == main.period["runs"]


def test_previous_period_and_default_period(con: duckdb.DuckDBPyConnection) -> None:
    options = explore.filter_options(con)
    period = explore.default_period(options.last)
    assert period is not None
    since, until = period
    assert since.weekday() == 0 and until - since <= timedelta(days=28)
    scope = explore.Scope(since=since, until=until, projects=("acme/storefront",))
    previous = scope.previous()
    assert previous is not None and previous.until == since
    assert previous.until - previous.since == until - since
    assert previous.projects == ("acme/storefront",)
    assert explore.Scope().previous() is None


def test_run_figures_and_bottleneck_stats(con: duckdb.DuckDBPyConnection) -> None:
    scope = explore.Scope(projects=("acme/payments-api",))
    figures = explore.run_figures(con, scope)
    assert figures["runs"] > 100 and 0 < figures["p50_s"] <= figures["p90_s"]
    assert figures["waste_s"] == pytest.approx(figures["retried_s"] + figures["failed_s"])
    assert figures["retried_attempts"] > 0
    jobs = explore.job_stats(con, scope, limit=5)
    assert jobs[0]["job"] == "soak"  # the nightly soak test is the biggest runner-time cost
    assert all(r["p50_s"] <= r["p90_s"] and r["wall_p50_s"] >= r["p50_s"] for r in jobs)
    assert all(len(r["trend"]) == len(jobs[0]["trend"]) > 1 for r in jobs)
    by_wall = explore.job_stats(con, scope, rank_by="wall_p90_s", limit=5)
    assert [r["wall_p90_s"] for r in by_wall] == sorted(
        (r["wall_p90_s"] for r in by_wall), reverse=True
    )
    steps = explore.step_stats(con, scope, limit=5)
    assert steps[0]["step"] == "Soak test" and steps[0]["rule"]
    behind = explore.runs_behind(
        con,
        scope,
        provider="github",
        project="acme/payments-api",
        pipeline="ci",
        job="e2e-kind",
        step="Install Kafka",
    )
    assert behind and all(r["rule"] == "helm-install" for r in behind)
    assert [r["step_s"] for r in behind] == sorted((r["step_s"] for r in behind), reverse=True)


def test_timeline_of_a_run(con: duckdb.DuckDBPyConnection) -> None:
    runs = timeline.list_runs(con, explore.Scope(pipelines=("ci",)), limit=50)
    row = next(r for r in runs if r["duration_s"])
    key = timeline.RunKey(row["provider"], row["project"], row["run_id"], row["attempt"])
    found = timeline.run_timeline(con, key)
    assert found is not None and found.jobs and found.steps
    assert {s["job_id"] for s in found.steps} <= {j["job_id"] for j in found.jobs}
    assert all(j["created_rel_s"] >= 0 for j in found.jobs if j["created_rel_s"] is not None)
    assert {s["category"] for s in found.steps} <= set(CATEGORIES)
    assert (
        timeline.list_runs(con, explore.Scope(), search=row["run_id"])[0]["run_id"] == row["run_id"]
    )
    assert timeline.run_timeline(con, timeline.RunKey("github", "nobody/none", "1", 1)) is None


def test_rules_table_and_collection_status(con: duckdb.DuckDBPyConnection) -> None:
    from ci_profile.analysis.classify import default_rules

    counts = explore.rule_counts(con, explore.Scope())
    table = explore.rules_table(default_rules(), counts)
    assert [r["order"] for r in table[: len(default_rules())]] == list(
        range(1, len(default_rules()) + 1)
    )
    assert sum(r["steps"] for r in table) == explore.database_status(con).steps
    status = {(r["provider"], r["project"]): r for r in explore.collection_status(con)}
    storefront = status[("github", "acme/storefront")]
    assert storefront["runs"] > 100 and storefront["steps"] > 1000
    assert storefront["first_run"] < storefront["last_run"]


# -- the read layer ---------------------------------------------------------------------------


def test_read_retries_while_a_writer_holds_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "x.duckdb"
    Store.open(db).close()
    real_open = Store.open
    attempts: list[float] = []

    def flaky(path: str, *, read_only: bool = False) -> Store:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise StoreLockedError("database x is in use by another ci-profile process")
        return real_open(path, read_only=read_only)

    monkeypatch.setattr(Store, "open", staticmethod(flaky))
    slept: list[float] = []
    status = data.read(str(db), explore.database_status, sleep=slept.append)
    assert status.jobs == 0 and len(attempts) == 3 and slept == [0.05, 0.1]

    def always_locked(path: str, *, read_only: bool = False) -> Store:
        raise StoreLockedError("database x is in use by another ci-profile process")

    monkeypatch.setattr(Store, "open", staticmethod(always_locked))
    ticks = iter([0.0, 1.0, 2.0, 4.0, 6.0])
    with pytest.raises(StoreLockedError):
        data.read(
            str(db),
            explore.database_status,
            sleep=lambda seconds: None,
            clock=lambda: next(ticks),
            timeout_s=5,
        )


def test_problem_pages_for_bad_databases(tmp_path: Path) -> None:
    missing = data.problem(str(tmp_path / "nope.duckdb"))
    assert missing is not None and missing.kind == "missing"
    assert any(c.startswith("ci-profile demo --db") for c in missing.commands)
    empty = tmp_path / "empty.duckdb"
    Store.open(empty).close()
    found = data.problem(str(empty))
    assert found is not None and found.kind == "empty"
    old = data.problem(str(make_old_schema_db(tmp_path / "old.duckdb")))
    assert old is not None and old.kind == "old-schema"
    assert old.commands == (f"ci-profile analyze --db {tmp_path / 'old.duckdb'}",)
    junk = tmp_path / "junk.duckdb"
    junk.write_text("not a database\n")
    broken = data.problem(str(junk))
    assert broken is not None and broken.kind == "broken"
    with pytest.raises(StoreError):
        data.run_query(str(junk), "status")


WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from ci_profile.core.shared_store import SharedStore
    from dashboard_support import batch

    store = SharedStore({db!r}, lock_timeout_s=60)
    for number in range({batches}):
        store.write(batch(number))
        time.sleep(0.02)
    print("wrote", {batches})
    """
)


def test_dashboard_reads_while_collect_writes(tmp_path: Path) -> None:
    """A real SharedStore writer in another process writes batches while the dashboard's data
    layer reads the same file over and over: neither side fails, the reader sees counts grow,
    and the cache key (the file stamp) changes with every batch it sees."""
    db = tmp_path / "live.duckdb"
    SharedStore(db).write(batch(10_000))
    batches = 15
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER.format(tests=str(REPO_ROOT / "tests"), db=str(db), batches=batches),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[int] = []
    stamps: set[tuple[int, int, int, int]] = set()
    try:
        deadline = time.monotonic() + 90
        while writer.poll() is None and time.monotonic() < deadline:
            status = data.run_query(str(db), "status")
            report = data.run_query(str(db), "report", explore.Scope())
            assert report.period["jobs"] >= status.jobs - batches  # consistent snapshots
            seen.append(status.jobs)
            stamps.add(data.stamp(str(db)))
        out, err = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == 0, err
    assert f"wrote {batches}" in out
    assert len(seen) >= 3, seen
    assert seen == sorted(seen) and seen[-1] > seen[0]
    assert len(stamps) > 1
    final = data.run_query(str(db), "status")
    assert final.jobs == batches + 1 and final.steps == 3 * (batches + 1)


# -- figures ----------------------------------------------------------------------------------


def test_one_colour_per_category_everywhere(con: duckdb.DuckDBPyConnection) -> None:
    assert set(charts.CATEGORY_COLORS) == set(CATEGORIES)
    assert len(set(charts.CATEGORY_COLORS.values())) == len(CATEGORIES)
    scope = explore.Scope()
    report = build_report(con, scope)
    figures = [
        charts.weekly_stacked(explore.weekly_categories(con, scope)),
        charts.split_bars(explore.split(con, scope, "provider"), title="p"),
    ]
    for figure in figures:
        for trace in figure.data:
            assert trace.marker.color == charts.CATEGORY_COLORS[trace.name]
    bar = charts.category_bar(report.categories)
    assert list(bar.data[0].marker.color) == [charts.CATEGORY_COLORS[c] for c in CATEGORIES]
    tree = charts.treemap(explore.hierarchy(con, scope))
    parents = set(tree.data[0].parents)
    leaves = [
        (label, colour)
        for node, label, colour in zip(
            tree.data[0].ids, tree.data[0].labels, tree.data[0].marker.colors, strict=True
        )
        if node not in parents
    ]
    assert leaves and all(charts.CATEGORY_COLORS[label] == colour for label, colour in leaves)
    assert len(set(tree.data[0].ids)) == len(tree.data[0].ids)


def test_gantt_draws_queue_waits_and_steps(con: duckdb.DuckDBPyConnection) -> None:
    runs = timeline.list_runs(con, explore.Scope(pipelines=("ci",)), limit=100)
    key = next(
        timeline.RunKey(r["provider"], r["project"], r["run_id"], r["attempt"])
        for r in runs
        if r["duration_s"]
    )
    found = timeline.run_timeline(con, key)
    assert found is not None
    figure = charts.gantt(found.jobs, found.steps, title=key.label())
    names = [t.name for t in figure.data]
    assert names[:2] == ["job", "queue"]
    drawn = [t for t in figure.data if t.name in CATEGORIES and t.name != "queue"]
    assert sum(len(t.x) for t in drawn) == sum(1 for s in found.steps if s["end_rel_s"] is not None)
    assert all(t.marker.color == charts.CATEGORY_COLORS[t.name] for t in drawn)
    hover = " ".join(text for t in drawn for text in t.hovertext)
    assert "rule " in hover
    assert json.loads(figure.to_json())["layout"]["barmode"] == "overlay"


def test_figures_for_empty_selections() -> None:
    for figure in (
        charts.weekly_stacked([]),
        charts.treemap([]),
        charts.split_bars([], title="x"),
        charts.gantt([], []),
        charts.ranked_bars([], label="a", value="b", title="t"),
        charts.savings_bars([], value="x", title="t"),
    ):
        assert figure.layout.annotations and not figure.data


def same(left: object, right: object) -> bool:
    """Equal up to row order (ties in a ranking may come in any order) and up to 0.2 on floats
    (parallel sums add in any order, so a rounded figure can differ in its last digit)."""
    if isinstance(left, float) and isinstance(right, float):
        return abs(left - right) <= 0.2
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return False
        unmatched = list(right)
        for item in left:
            match = next((i for i, other in enumerate(unmatched) if same(item, other)), None)
            if match is None:
                return False
            unmatched.pop(match)
        return True
    return left == right


def test_snapshot_answers_like_the_database(con: duckdb.DuckDBPyConnection) -> None:
    from ci_profile.analysis.snapshot import snapshot

    options = explore.filter_options(con)
    period = explore.default_period(options.last)
    assert period is not None
    for scope in (
        explore.Scope(since=period[0], until=period[1]),
        explore.Scope(projects=("acme/storefront",), branches=("main",)),
        explore.Scope(),
    ):
        snap = snapshot(con, scope)
        memory = snap.connect()
        assert same(build_report(memory, scope).as_dict(), build_report(con, scope).as_dict())
        for query in (explore.weekly_categories, explore.hierarchy, explore.job_stats):
            assert same(query(memory, scope), query(con, scope)), query.__name__
        assert same(explore.run_figures(memory, scope), explore.run_figures(con, scope))
        assert same(timeline.list_runs(memory, scope), timeline.list_runs(con, scope))
        memory.close()
    assert snapshot(con, explore.Scope(projects=("nobody/none",))).jobs.num_rows == 0


def test_whatif_on_a_snapshot_matches_the_database(con: duckdb.DuckDBPyConnection) -> None:
    from ci_profile.analysis.snapshot import snapshot

    scope = explore.Scope(projects=("acme/payments-api",))
    memory = snapshot(con, scope).connect()
    on_file = build_report(con, scope, sections=("opportunities",)).whatif
    assert on_file is not None and on_file["status"] == "ok"
    on_snapshot = build_report(memory, scope, sections=("opportunities",)).whatif
    assert on_snapshot is not None
    assert same(on_snapshot, on_file)
    memory.close()


def test_a_snapshot_joins_keys_above_two_to_the_63(tmp_path: Path) -> None:
    """Job hashes are UBIGINT; a join on one above 2**63 must not reach pyarrow as a C long
    (it did when a snapshot's jobs had no classified steps yet)."""
    db = tmp_path / "big-keys.duckdb"
    with duckdb.connect() as scratch:
        numbers = [
            n
            for n in range(1, 200)
            if scratch.execute(
                "SELECT hash('github', 'acme/live', ?) >= 2::UBIGINT ** 63", [f"j{n}"]
            ).fetchone()
            == (True,)
        ][:2]
    assert len(numbers) == 2
    for number in numbers:
        SharedStore(db).write(batch(number))
    report = data.run_query(str(db), "report", explore.Scope())
    assert report.period["runs"] == 2 and report.headline["runner_s"] == 2 * 90
