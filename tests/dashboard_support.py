"""Shared by the dashboard tests: the sample database, odd databases, and records to write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from ci_profile.analysis.classify import default_rules
from ci_profile.analysis.refresh import refresh_classification
from ci_profile.collectors.sample import load_sample
from ci_profile.core.records import Batch, Job, Run, Step
from ci_profile.core.store import MIGRATIONS, Store

REPO_ROOT = Path(__file__).resolve().parent.parent
APP = REPO_ROOT / "dashboard" / "app.py"
SAMPLE_DIR = REPO_ROOT / "sample-data"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def make_sample_db(path: Path) -> Path:
    """What `ci-profile demo --db path` stores: the bundled sample history, classified."""
    with Store.open(path) as store:
        load_sample(SAMPLE_DIR, store)
        refresh_classification(store, default_rules())
    return path


_SHARED: dict[str, Path] = {}


def shared_sample_db(factory: pytest.TempPathFactory) -> Path:
    """One sample database for every dashboard test module of the session (read only)."""
    if "sample" not in _SHARED:
        _SHARED["sample"] = make_sample_db(factory.mktemp("dashboard-sample") / "sample.duckdb")
    return _SHARED["sample"]


def make_old_schema_db(path: Path) -> Path:
    """A database as the first ci-profile release left it (schema version 1)."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.close()
    return path


def batch(number: int, *, project: str = "acme/live", steps: bool = True) -> Batch:
    """Run ``number`` of a small pipeline: one job of three steps (or none)."""
    start = T0 + timedelta(minutes=10 * number)
    run_id, job_id = f"r{number}", f"j{number}"
    run = Run(
        "github",
        project,
        run_id,
        1,
        "CI",
        ".github/workflows/ci.yml",
        "push",
        "main",
        f"{number:040x}",
        "completed",
        "success",
        start,
        start,
        start + timedelta(seconds=100),
        f"https://github.com/{project}/actions/runs/{run_id}",
    )
    job = Job(
        "github",
        project,
        job_id,
        run_id,
        1,
        "test",
        None,
        "completed",
        "success",
        start,
        start + timedelta(seconds=5),
        start + timedelta(seconds=95),
        5.0,
        "runner-1",
        ("ubuntu-latest",),
        None,
    )
    names = ("Set up job", "Run pytest -q", "Complete job")
    bounds = (5, 10, 90, 95)
    step_records = [
        Step(
            "github",
            project,
            job_id,
            seq,
            name,
            "completed",
            "success",
            start + timedelta(seconds=bounds[seq - 1]),
            start + timedelta(seconds=bounds[seq]),
            "api",
        )
        for seq, name in enumerate(names, 1)
    ]
    return Batch(runs=[run], jobs=[job], steps=step_records if steps else [])
