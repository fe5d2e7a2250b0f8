"""How long the dashboard takes to load its data, uncached, on a big database.

Timed as the dashboard runs it (``ci_profile.dashboard.data``), cold (no Streamlit cache), for
two selections: the default period (the last four calendar weeks) and everything stored. A new
selection first copies its rows out of the file (the snapshot: the one visit that pays for
joining the steps to their classes; the Overview also needs the previous period's); then every
page's queries run on the copy. A page already seen costs a file ``stat`` (cached).

Usage::

    python benchmarks/generate.py /tmp/b1m.duckdb --jobs 1000000   # 1M jobs, ~10M steps
    ci-profile analyze --db /tmp/b1m.duckdb --format json > /dev/null  # classify once
    python benchmarks/dashboard_bench.py /tmp/b1m.duckdb
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ci_profile.analysis.explore import Options, Scope, default_period
from ci_profile.analysis.snapshot import Snapshot, snapshot
from ci_profile.analysis.timeline import RunKey
from ci_profile.dashboard.data import SCOPED, on_snapshot, read, run_query


def _pages(
    scope: Scope, previous: Scope, key: RunKey, behind: dict[str, Any]
) -> dict[str, list[Load]]:
    """Each page's loads: (query name, args, kwargs); scoped ones run on the snapshot."""
    return {
        "Overview": [
            ("report", (scope,), {}),
            ("run_figures", (scope,), {}),
            ("report", (previous,), {}),
            ("run_figures", (previous,), {}),
            ("weekly", (scope,), {}),
        ],
        "Breakdown": [
            ("report", (scope,), {}),
            ("weekly", (scope,), {}),
            ("hierarchy", (scope,), {"top_jobs": 60}),
            ("split", (scope, "provider"), {}),
            ("split", (scope, "labels"), {}),
            ("category_steps", (scope, "environment"), {"limit": 100}),
        ],
        "Run timeline": [
            ("runs", (scope,), {"limit": 300, "search": ""}),
            ("timeline", (key,), {}),
        ],
        "Bottlenecks": [
            ("job_stats", (scope,), {"rank_by": "runner_s", "limit": 25}),
            ("runs_behind", (scope,), behind),
            ("step_stats", (scope,), {"limit": 25}),
        ],
        "Opportunities": [("report", (scope,), {}), ("whatif", (scope,), {})],
        "Data": [
            ("collection", (), {}),
            ("rule_counts", (scope,), {}),
            ("other_steps", (scope,), {"limit": 100}),
        ],
    }


Load = tuple[str, tuple[Any, ...], dict[str, Any]]


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def measure(db: str) -> list[tuple[str, str, float]]:
    """(selection, what, seconds): startup, each selection's snapshots, each page's queries."""
    results = []
    took, _ = _timed(lambda: [run_query(db, name) for name in ("status", "options")])
    results.append(("-", "startup: status and filter options", took))
    options: Options = run_query(db, "options")
    period = default_period(options.last)
    assert period is not None, "the database has no jobs"
    for label, scope in (
        ("last 4 weeks", Scope(since=period[0], until=period[1])),
        ("everything", Scope()),
    ):
        previous = scope.previous()
        snaps: dict[Scope, Snapshot] = {}
        selections = [("selection", scope)] + ([("previous period", previous)] if previous else [])
        for which, selection in selections:
            took, snaps[selection] = _timed(lambda s=selection: read(db, lambda c: snapshot(c, s)))
            rows = snaps[selection].step_facts.num_rows
            results.append((label, f"snapshot of the {which} ({rows:,} steps)", took))
        runs = on_snapshot(snaps[scope], "runs", scope, limit=1)
        key = RunKey(runs[0]["provider"], runs[0]["project"], runs[0]["run_id"], runs[0]["attempt"])
        top = on_snapshot(snaps[scope], "job_stats", scope, limit=1)[0]
        behind = {k: top[k] for k in ("provider", "project", "pipeline", "job")}
        for page, loads in _pages(scope, previous, key, behind).items():
            if previous is None:  # no bounds: the Overview has nothing to compare with
                loads = [load for load in loads if load[1][:1] != (None,)]

            def run_page(loads: list[Load] = loads, snaps: dict[Scope, Snapshot] = snaps) -> None:
                for name, args, kwargs in loads:
                    if name in SCOPED:
                        on_snapshot(snaps[args[0]], name, *args, **kwargs)
                    else:
                        run_query(db, name, *args, **kwargs)

            took, _ = _timed(run_page)
            results.append((label, f"page {page} (queries after the snapshot)", took))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    args = parser.parse_args()
    counts = run_query(str(args.db), "status")
    sys.stdout.write(
        f"{args.db}: {counts.runs:,} runs, {counts.jobs:,} jobs, {counts.steps:,} steps; "
        "cold (no Streamlit cache)\n\n| selection | load | seconds |\n|---|---|---:|\n"
    )
    sys.stdout.flush()
    for label, what, seconds in measure(str(args.db)):
        sys.stdout.write(f"| {label} | {what} | {seconds:.2f} |\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
