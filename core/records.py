"""Typed, provider-neutral records: what collectors produce and the store keeps.

Timestamps are timezone-aware UTC datetimes; unknown is None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

CONCLUSIONS = ("success", "failure", "cancelled", "skipped", "other")


@dataclass(frozen=True, slots=True)
class Run:
    provider: str
    project: str
    run_id: str
    attempt: int
    pipeline: str | None
    pipeline_path: str | None
    event: str | None
    branch: str | None
    sha: str | None
    status: str | None
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    url: str | None
    run_number: int | None = None
    updated_at: datetime | None = None
    # A GitLab child/downstream pipeline points at the pipeline that triggered it.
    parent_run_id: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    provider: str
    project: str
    job_id: str
    run_id: str
    attempt: int
    name: str
    stage: str | None
    status: str | None
    conclusion: str | None
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    queued_s: float | None
    runner: str | None
    labels: tuple[str, ...] = field(default_factory=tuple)
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    provider: str
    project: str
    job_id: str
    seq: int
    name: str
    status: str | None
    conclusion: str | None
    started_at: datetime | None
    finished_at: datetime | None
    source: str
    # What the step ran, when the provider says so itself (a Jenkins `sh` script). GitHub and
    # GitLab commands come from the stored pipeline file instead.
    command: str | None = None


@dataclass(frozen=True, slots=True)
class PipelineFile:
    """A pipeline definition as it was at one commit. ``content`` None: not found there."""

    provider: str
    project: str
    path: str
    sha: str
    content: str | None


@dataclass(slots=True)
class Batch:
    """One transaction's worth of collected records plus the cursors and ETags they advance."""

    runs: list[Run] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    pipeline_files: list[PipelineFile] = field(default_factory=list)
    cursors: dict[tuple[str, str, str], str] = field(default_factory=dict)
    etags: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def extend(self, other: Batch) -> None:
        self.runs.extend(other.runs)
        self.jobs.extend(other.jobs)
        self.steps.extend(other.steps)
        self.pipeline_files.extend(other.pipeline_files)
        self.cursors.update(other.cursors)
        self.etags.update(other.etags)

    def __len__(self) -> int:
        return len(self.runs) + len(self.jobs) + len(self.steps) + len(self.pipeline_files)
