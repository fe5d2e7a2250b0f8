"""Percentiles, weekly trends and regressions against numbers computed independently."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
from ci_profile.analysis import stats
from ci_profile.core.store import Store
from test_analysis_world import J, R, S, job, mem, report, write

__all__ = ["mem"]
DAY = 86400.0


def _history(durations: list[tuple[float, float]], name: str = "unit") -> list[R]:
    """One single-job run per (day offset, duration), queue 5 s."""
    runs = []
    for index, (day, seconds) in enumerate(durations):
        t = day * DAY
        runs.append(R(str(index), [job(name, t, t + 5, t + 5 + seconds)], sha=f"s{index}"))
    return runs


def _row(rows: list[dict[str, Any]], metric: str, level: str) -> dict[str, Any]:
    return next(r for r in rows if r["metric"] == metric and r["level"] == level)


def test_percentiles_match_numpy(mem: Store) -> None:
    rng = random.Random(7)
    durations = [(i * 0.1, round(rng.lognormvariate(5, 0.4), 1)) for i in range(57)]
    write(mem, _history(durations))
    pc = report(mem, ["percentiles"]).percentiles
    assert pc is not None
    values = np.array([d for _, d in durations])
    for metric in ("job_duration", "run_duration"):
        for level in ("project", "pipeline"):
            row = _row(pc["rows"], metric, level)
            assert row["n"] == 57
            for p in (50, 90, 95):
                # Run wall time includes the 5 s queue; job duration does not.
                extra = 5.0 if metric == "run_duration" else 0.0
                assert row[f"p{p}_s"] == pytest.approx(np.percentile(values, p) + extra, abs=0.06)
    queue = _row(pc["rows"], "queue", "job")
    assert queue["p50_s"] == queue["p95_s"] == 5.0
    label = _row(pc["rows"], "job_duration", "label")
    assert label["label"] == "ubuntu-latest" and label["n"] == 57


def test_percentiles_need_enough_samples(mem: Store) -> None:
    write(mem, _history([(0, 100.0)]))  # a project with a single run
    pc = report(mem, ["percentiles"]).percentiles
    assert pc is not None
    row = _row(pc["rows"], "run_duration", "project")
    assert row["n"] == 1 and row["p50_s"] is None and row["p90_s"] is None
    assert [stats.min_samples(p) for p in stats.PERCENTILES] == [2, 10, 20]


def test_weekly_series_buckets_by_monday(mem: Store) -> None:
    # 2026-03-02 is a Monday: days 0-6 are one week, 7-13 the next.
    durations = [(0, 100.0), (1, 120.0), (6.5, 140.0), (7, 200.0), (13, 220.0)]
    write(mem, _history(durations))
    tr = report(mem, ["trends"]).trends
    assert tr is not None
    weeks = {str(r["week"]): r for r in tr["weekly"]}
    assert set(weeks) == {"2026-03-02", "2026-03-09"}
    assert weeks["2026-03-02"]["runs"] == 3 and weeks["2026-03-09"]["runs"] == 2
    assert weeks["2026-03-02"]["p50_run_s"] == 125.0  # median of 105, 125, 145
    assert weeks["2026-03-02"]["p90_run_s"] is None  # 3 runs are too few for a p90
    assert weeks["2026-03-02"]["runner_s"] == 360.0
    assert weeks["2026-03-02"]["test_share"] == 1.0


def _mann_whitney_z(recent: list[float], baseline: list[float]) -> float:
    """Independent O(n^2) U with tie and continuity corrections (normal approximation)."""
    u = sum(1.0 if r > b else 0.5 if r == b else 0.0 for r in recent for b in baseline)
    n1, n2 = len(recent), len(baseline)
    n = n1 + n2
    counts: dict[float, int] = {}
    for x in recent + baseline:
        counts[x] = counts.get(x, 0) + 1
    ties = sum(t**3 - t for t in counts.values())
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    return (u - n1 * n2 / 2 - 0.5) / math.sqrt(var)


def _days(baseline: list[float], recent: list[float]) -> list[tuple[float, float]]:
    # Baseline spread over days 1-27, recent over days 29-35 (period end = last run).
    out = [(1 + i * 26 / max(len(baseline) - 1, 1), v) for i, v in enumerate(baseline)]
    out += [(29 + i * 6 / max(len(recent) - 1, 1), v) for i, v in enumerate(recent)]
    return out


def test_a_real_slowdown_is_flagged_with_the_test_used(mem: Store) -> None:
    rng = random.Random(3)
    baseline = [round(rng.gauss(300, 15), 0) for _ in range(30)]
    recent = [round(rng.gauss(380, 15), 0) for _ in range(10)]
    write(mem, _history(_days(baseline, recent)))
    tr = report(mem, ["trends"]).trends
    assert tr is not None
    reg = tr["regressions"]
    assert "Mann-Whitney" in reg["method"]["test"]
    (row,) = reg["rows"]
    assert row["regressed"] is True and reg["flagged"] == 1
    assert row["recent_n"] == 10 and row["baseline_n"] == 30
    assert row["recent_median_s"] == pytest.approx(float(np.median(recent)))
    assert row["baseline_median_s"] == pytest.approx(float(np.median(baseline)))
    mad = float(np.median(np.abs(np.array(baseline) - np.median(baseline))))
    assert row["baseline_mad_s"] == pytest.approx(mad, abs=0.06)
    assert row["z"] == pytest.approx(_mann_whitney_z(recent, baseline), abs=0.01)


def test_noise_and_small_shifts_are_not_regressions(mem: Store) -> None:
    rng = random.Random(11)
    baseline = [round(rng.gauss(300, 40), 0) for _ in range(30)]
    recent = [round(rng.gauss(310, 40), 0) for _ in range(10)]
    write(mem, _history(_days(baseline, recent)))
    reg = report(mem, ["trends"]).trends["regressions"]  # type: ignore[index]
    (row,) = reg["rows"]
    assert row["regressed"] is False
    assert row["z"] == pytest.approx(_mann_whitney_z(recent, baseline), abs=0.01)


def test_a_significant_but_tiny_shift_is_not_flagged(mem: Store) -> None:
    # Constant durations: MAD 0, so the 5% / 5 s floor decides; +2 s is below it.
    write(mem, _history(_days([300.0] * 30, [302.0] * 10)))
    reg = report(mem, ["trends"]).trends["regressions"]  # type: ignore[index]
    (row,) = reg["rows"]
    assert row["z"] > stats.Z_THRESHOLD and row["regressed"] is False


def test_too_few_recent_runs_are_not_tested(mem: Store) -> None:
    write(mem, _history(_days([300.0] * 30, [900.0] * 2)))
    reg = report(mem, ["trends"]).trends["regressions"]  # type: ignore[index]
    assert reg["tested"] == 0 and reg["untested"] == 1 and reg["status"] == "not enough data"


def test_failed_jobs_are_not_durations(mem: Store) -> None:
    failing = J("unit", 0, 5, 20, [S("Run tests", "test", 5, 20, conclusion="failure")])
    failing.conclusion = "failure"
    write(mem, [R("f", [failing], conclusion="failure"), *_history([(1, 100.0), (2, 200.0)])])
    pc = report(mem, ["percentiles"]).percentiles
    assert pc is not None
    assert _row(pc["rows"], "job_duration", "project")["n"] == 2
