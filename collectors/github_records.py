"""GitHub normalizers: workflow-run and job payloads -> runs, jobs and steps; workflow files.

Shared by the collector and the sample-data loader.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ci_profile.core.payload import INT32_MAX, ident, integer, text
from ci_profile.core.records import Batch, Job, Run, Step
from ci_profile.core.times import parse_iso

PROVIDER = "github"

_CONCLUSIONS = {
    "success": "success",
    "failure": "failure",
    "timed_out": "failure",
    "startup_failure": "failure",
    "cancelled": "cancelled",
    "skipped": "skipped",
}


def conclusion_of(status: object, conclusion: object) -> str | None:
    if conclusion is None:
        return None if status != "completed" else "other"
    return _CONCLUSIONS.get(conclusion, "other") if isinstance(conclusion, str) else "other"


def workflow_path(path: object) -> str | None:
    """``.github/workflows/ci.yml@refs/heads/main`` -> ``.github/workflows/ci.yml``."""
    if not isinstance(path, str) or not path:
        return None
    return path.split("@", 1)[0]


def _step_number(step: Mapping[str, Any]) -> int | None:
    return integer(step.get("number"), minimum=1, maximum=INT32_MAX)


def normalize_job(project: str, job: Mapping[str, Any]) -> tuple[Job, list[Step]]:
    job_id = ident(job.get("id"), "GitHub: a job")
    listed = job.get("steps")
    steps_raw = sorted(
        (s for s in listed if isinstance(s, Mapping)) if isinstance(listed, list) else (),
        key=lambda s: _step_number(s) or 0,
    )
    steps = [
        Step(
            provider=PROVIDER,
            project=project,
            job_id=job_id,
            seq=_step_number(s) or index + 1,
            name=text(s.get("name")) or "",
            status=text(s.get("status")),
            conclusion=conclusion_of(s.get("status"), s.get("conclusion")),
            started_at=parse_iso(s.get("started_at")),
            finished_at=parse_iso(s.get("completed_at")),
            source="api",
        )
        for index, s in enumerate(steps_raw)
    ]
    created = parse_iso(job.get("created_at"))
    started = parse_iso(job.get("started_at"))
    finished = parse_iso(job.get("completed_at"))
    first_step = next((s.started_at for s in steps if s.started_at is not None), None)
    runner = text(job.get("runner_name")) or None
    status = text(job.get("status"))
    if first_step is not None and (started is None or first_step > started):
        # A job's started_at can equal its created_at while it still waits for a runner; the
        # runner-generated first step ("Set up job") starts when a runner really runs it.
        started = first_step
    if not steps and runner is None and status == "completed":
        started = None  # cancelled or failed before any runner picked it up
    queued_s = _queue_seconds(created, started, finished, status)
    record = Job(
        provider=PROVIDER,
        project=project,
        job_id=job_id,
        run_id=ident(job.get("run_id"), f"GitHub: job {job_id}: a run"),
        attempt=integer(job.get("run_attempt"), minimum=1, maximum=INT32_MAX) or 1,
        name=text(job.get("name")) or "",
        stage=None,
        status=status,
        conclusion=conclusion_of(status, job.get("conclusion")),
        created_at=created,
        started_at=started,
        finished_at=finished,
        queued_s=queued_s,
        runner=runner,
        labels=_labels(job.get("labels")),
        url=text(job.get("html_url")),
    )
    return record, steps


def _labels(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(label for label in map(text, value) if label is not None)


def _queue_seconds(
    created: datetime | None, started: datetime | None, finished: datetime | None, status: object
) -> float | None:
    if status != "completed" or created is None:
        return None
    end = started if started is not None else finished
    if end is None:
        return None
    delta = (end - created).total_seconds()
    if delta < 0:
        # Job times have whole seconds, step times milliseconds: tiny negatives are rounding.
        return 0.0 if delta > -2 else None
    return delta


def normalize_runs(project: str, run: Mapping[str, Any], jobs: Sequence[Job]) -> list[Run]:
    """One Run per attempt: the listed object is the latest attempt; earlier attempts are
    reconstructed from their jobs (GitHub lists only the latest attempt)."""
    latest = integer(run.get("run_attempt"), minimum=1, maximum=INT32_MAX) or 1
    run_id = ident(run.get("id"), "GitHub: a workflow run")
    by_attempt: dict[int, list[Job]] = {}
    for job in jobs:
        by_attempt.setdefault(job.attempt, []).append(job)
    status = text(run.get("status"))
    common: dict[str, Any] = {
        "provider": PROVIDER,
        "project": project,
        "run_id": run_id,
        "pipeline": text(run.get("name")),
        "pipeline_path": workflow_path(text(run.get("path"))),
        "event": text(run.get("event")),
        "branch": text(run.get("head_branch")),
        "sha": text(run.get("head_sha")),
        "run_number": integer(run.get("run_number")),
    }
    html = text(run.get("html_url"))
    records: list[Run] = []
    for attempt in sorted(set(by_attempt) | {latest}):
        attempt_jobs = by_attempt.get(attempt, [])
        finished = _max_time(j.finished_at for j in attempt_jobs)
        if attempt == latest:
            created = (
                parse_iso(run.get("created_at"))
                if attempt == 1
                else (
                    _min_time(j.created_at for j in attempt_jobs)
                    or parse_iso(run.get("run_started_at"))
                )
            )
            started = parse_iso(run.get("run_started_at")) or _min_time(
                j.started_at for j in attempt_jobs
            )
            if status == "completed" and finished is None:
                finished = parse_iso(run.get("updated_at"))
            records.append(
                Run(
                    **common,
                    attempt=attempt,
                    status=status,
                    conclusion=conclusion_of(status, run.get("conclusion")),
                    created_at=created,
                    started_at=started,
                    finished_at=finished if status == "completed" else None,
                    url=html if attempt == 1 else f"{html}/attempts/{attempt}",
                    updated_at=parse_iso(run.get("updated_at")),
                )
            )
        else:
            records.append(
                Run(
                    **common,
                    attempt=attempt,
                    status="completed",
                    conclusion=_overall_conclusion(j.conclusion for j in attempt_jobs),
                    created_at=_min_time(j.created_at for j in attempt_jobs),
                    started_at=_min_time(j.started_at for j in attempt_jobs),
                    finished_at=finished,
                    url=f"{html}/attempts/{attempt}" if html else None,
                )
            )
    return records


def _overall_conclusion(conclusions: Iterable[str | None]) -> str:
    seen = set(conclusions)
    for verdict in ("failure", "cancelled", "other"):
        if verdict in seen:
            return verdict
    return "success" if "success" in seen else "skipped" if seen else "other"


def _min_time(values: Iterable[datetime | None]) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _max_time(values: Iterable[datetime | None]) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def records_for_run(project: str, run: Mapping[str, Any], jobs_raw: Sequence[object]) -> Batch:
    """Everything one workflow run contributes to the store."""
    batch = Batch()
    jobs: list[Job] = []
    for raw in jobs_raw:
        if not isinstance(raw, Mapping):
            continue
        job, steps = normalize_job(project, raw)
        jobs.append(job)
        batch.steps.extend(steps)
    batch.jobs.extend(jobs)
    batch.runs.extend(normalize_runs(project, run, jobs))
    return batch


def decode_contents(data: Any) -> str | None:
    """The body of the contents API (base64 JSON) -> text, or None when it is not a file."""
    if not isinstance(data, Mapping) or data.get("type", "file") != "file":
        return None
    content = data.get("content")
    if not isinstance(content, str):
        return None
    try:
        return base64.b64decode(content).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return None
