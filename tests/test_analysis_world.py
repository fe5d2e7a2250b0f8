"""Hand-built CI histories with known answers, written straight into a store.

Jobs are given as seconds from a fixed origin; step classes (category, rule, YAML job) are
written directly, so a test controls every input of the analysis. Importable by the other
``test_analysis_*`` modules (``from test_analysis_world import ...``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from ci_profile.analysis.breakdown import Filters, Report, build_report
from ci_profile.analysis.facts import DERIVED
from ci_profile.analysis.run_facts import write_run_facts
from ci_profile.analysis.sections import SECTIONS, AnalysisOptions
from ci_profile.core.records import Batch, Job, PipelineFile, Run, Step
from ci_profile.core.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROJECT = "acme/app"
PATH = ".github/workflows/ci.yml"


def at(seconds: float | None) -> datetime | None:
    return None if seconds is None else T0 + timedelta(seconds=seconds)


@dataclass
class S:
    """A step: name, category, rule, start and end (seconds from T0)."""

    name: str
    category: str
    start: float | None
    end: float | None
    rule: str | None = None
    conclusion: str = "success"


@dataclass
class J:
    """A job. ``ready`` is when it could start (created), ``start`` when a runner took it."""

    name: str
    ready: float | None
    start: float | None
    end: float | None
    steps: list[S] = field(default_factory=list)
    needs: tuple[str, ...] = ()
    yaml: str | None = None  # YAML job key; defaults to the name
    conclusion: str | None = "success"
    labels: tuple[str, ...] = ("ubuntu-latest",)
    stage: str | None = None
    queued_s: float | None = -1.0  # -1: start - ready


@dataclass
class R:
    """A run attempt. ``declared``: store the workflow file so `needs:` is known."""

    run_id: str
    jobs: list[J]
    attempt: int = 1
    sha: str = "sha-1"
    conclusion: str | None = "success"
    provider: str = "github"
    project: str = PROJECT
    pipeline: str = "CI"
    declared: bool = True


def workflow(jobs: Sequence[J]) -> str:
    lines = ["name: CI", "on: push", "jobs:"]
    for job in jobs:
        key = job.yaml or job.name
        lines.append(f"  {key}:")
        lines.append("    runs-on: ubuntu-latest")
        if job.needs:
            lines.append(f"    needs: [{', '.join(job.needs)}]")
        lines.append("    steps:")
        lines.append("      - run: echo hi")
    return "\n".join(lines) + "\n"


def write(store: Store, runs: Sequence[R]) -> None:
    batch = Batch()
    classes: dict[str, list[Any]] = {
        k: [] for k in ("provider", "project", "job_id", "seq", "category", "rule", "yaml_job")
    }
    classes |= {"uses": [], "command": []}
    files: dict[tuple[str, str, str], str] = {}
    for run in runs:
        starts = [j.ready for j in run.jobs if j.ready is not None]
        ends = [j.end for j in run.jobs if j.end is not None]
        batch.runs.append(
            Run(
                provider=run.provider,
                project=run.project,
                run_id=run.run_id,
                attempt=run.attempt,
                pipeline=run.pipeline,
                pipeline_path=PATH,
                event="push",
                branch="main",
                sha=run.sha,
                status="completed" if run.conclusion else "in_progress",
                conclusion=run.conclusion,
                created_at=at(min(starts)) if starts else None,
                started_at=at(min(starts)) if starts else None,
                finished_at=at(max(ends)) if ends and run.conclusion else None,
                url=None,
            )
        )
        if run.declared and run.provider == "github":
            files[(run.project, PATH, run.sha)] = workflow(run.jobs)
        for index, job in enumerate(run.jobs):
            job_id = f"{run.run_id}-{run.attempt}-{index}"
            queued = job.queued_s
            if queued == -1.0:
                queued = (
                    job.start - job.ready
                    if job.start is not None and job.ready is not None
                    else None
                )
            batch.jobs.append(
                Job(
                    provider=run.provider,
                    project=run.project,
                    job_id=job_id,
                    run_id=run.run_id,
                    attempt=run.attempt,
                    name=job.name,
                    stage=job.stage,
                    status="completed" if job.conclusion else "in_progress",
                    conclusion=job.conclusion,
                    created_at=at(job.ready),
                    started_at=at(job.start),
                    finished_at=at(job.end),
                    queued_s=queued,
                    runner="runner-1",
                    labels=job.labels,
                )
            )
            for seq, step in enumerate(job.steps, 1):
                batch.steps.append(
                    Step(
                        provider=run.provider,
                        project=run.project,
                        job_id=job_id,
                        seq=seq,
                        name=step.name,
                        status="completed",
                        conclusion=step.conclusion,
                        started_at=at(step.start),
                        finished_at=at(step.end),
                        source="api",
                    )
                )
                classes["provider"].append(run.provider)
                classes["project"].append(run.project)
                classes["job_id"].append(job_id)
                classes["seq"].append(seq)
                classes["category"].append(step.category)
                classes["rule"].append(step.rule or f"test-{step.category}")
                classes["yaml_job"].append(
                    (job.yaml or job.name) if run.provider == "github" else None
                )
                classes["uses"].append(None)
                classes["command"].append(None)
    for (project, path, sha), content in files.items():
        batch.pipeline_files.append(PipelineFile("github", project, path, sha, content))
    store.write(batch)
    store.replace_step_classes(pa.table(classes), "test-fingerprint", DERIVED)
    write_run_facts(store, "test-fingerprint")


def job(
    name: str,
    ready: float,
    start: float,
    end: float,
    *,
    env: float = 0.0,
    needs: tuple[str, ...] = (),
    **extra: Any,
) -> J:
    """A job whose runner time is ``env`` seconds of environment, then tests to the end."""
    steps = []
    if env:
        steps.append(S("Create kind cluster", "environment", start, start + env, "kind-create"))
    steps.append(S("Run tests", "test", start + env, end, "pytest"))
    return J(name, ready, start, end, steps=steps, needs=needs, **extra)


def report(
    store: Store,
    sections: Sequence[str] = SECTIONS,
    *,
    session_start_s: float = 20.0,
    filters: Filters | None = None,
) -> Report:
    """The report computed from the frames, checked against the one read from the frames
    stored with the classification (``analysis.run_facts``): they must be the same."""
    computed, stored = (
        build_report(
            store.con,
            filters or Filters(),
            sections=sections,
            options=AnalysisOptions(session_start_s=session_start_s),
            stored=kept,
        )
        for kept in (False, True)
    )
    assert asdict(stored) == asdict(computed)
    return stored


@pytest.fixture
def mem() -> Store:
    return Store.open(":memory:")


def test_a_written_world_reads_back(mem: Store) -> None:
    write(mem, [R("1", [job("build", 0, 5, 100, env=30)])])
    rows = mem.con.execute(
        "SELECT name, category, duration_s FROM classified_steps ORDER BY seq"
    ).fetchall()
    assert rows == [("Create kind cluster", "environment", 30.0), ("Run tests", "test", 65.0)]
    out = report(mem)
    assert out.critical_path is not None and out.critical_path["runs"] == 1
