"""GitLab normalizers: API payloads and log sections -> runs, jobs and steps.

Shared by the collector and the sample-data loader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ci_profile.collectors.gitlab_sections import Section
from ci_profile.core.records import Job, Run, Step
from ci_profile.core.times import parse_iso

PROVIDER = "gitlab"
# Job states after which the log is complete and will not change.
TRACED = frozenset({"success", "failed", "canceled"})
ACTIVE = frozenset(
    {"created", "waiting_for_resource", "preparing", "pending", "running", "canceling"}
)
BLOCKED = frozenset({"manual", "scheduled"})

_JOB_CONCLUSIONS = {
    "success": "success",
    "failed": "failure",
    "canceled": "cancelled",
    "skipped": "skipped",
    "manual": "skipped",  # a manual job nobody played did not run
}
_PIPELINE_CONCLUSIONS = {
    "success": "success",
    "failed": "failure",
    "canceled": "cancelled",
    "skipped": "skipped",
}
_UNSETTLED = ACTIVE | BLOCKED | {"created"}


# -- normalizers (shared with the sample-data loader) ----------------------------------------


def job_conclusion(status: object) -> str | None:
    if not isinstance(status, str) or status in _UNSETTLED - {"manual"}:
        return None
    return _JOB_CONCLUSIONS.get(status, "other")


def pipeline_conclusion(status: object) -> str | None:
    if not isinstance(status, str) or status in _UNSETTLED:
        return None
    return _PIPELINE_CONCLUSIONS.get(status, "other")


def _seconds(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def normalize_pipeline(
    project: str,
    detail: Mapping[str, Any],
    *,
    pipeline_path: str | None,
    parent_run_id: str | None = None,
    fallback_name: str | None = None,
) -> Run:
    """A pipeline as a run. ``pipeline`` is its ``name`` (``workflow:name``), else the config
    file it ran (``.gitlab-ci.yml``, or a child pipeline's included file), else
    ``fallback_name`` (``child of <trigger job>``)."""
    name = detail.get("name")
    status = detail.get("status")
    iid = detail.get("iid")
    started = parse_iso(detail.get("started_at"))
    finished = parse_iso(detail.get("finished_at")) if status not in ACTIVE else None
    if started is not None and finished is not None and finished < started:
        finished = None  # clock skew: unknown, never a negative duration
    return Run(
        provider=PROVIDER,
        project=project,
        run_id=str(detail["id"]),
        attempt=1,
        pipeline=name if isinstance(name, str) and name else pipeline_path or fallback_name,
        pipeline_path=pipeline_path,
        event=detail.get("source"),
        branch=detail.get("ref"),
        sha=detail.get("sha"),
        status=status,
        conclusion=pipeline_conclusion(status),
        created_at=parse_iso(detail.get("created_at")),
        started_at=started,
        finished_at=finished,
        url=detail.get("web_url"),
        run_number=iid if isinstance(iid, int) and not isinstance(iid, bool) else None,
        updated_at=parse_iso(detail.get("updated_at")),
        parent_run_id=parent_run_id,
    )


def normalize_job(project: str, run_id: str, job: Mapping[str, Any]) -> Job:
    """A job (retried ones are separate rows, each with its own conclusion)."""
    runner = job.get("runner") if isinstance(job.get("runner"), Mapping) else None
    runner_name = (runner.get("description") or runner.get("name") or None) if runner else None
    started = parse_iso(job.get("started_at"))
    finished = parse_iso(job.get("finished_at"))
    if started is not None and finished is not None and finished < started:
        finished = None  # clock skew: unknown, never a negative duration
    status = job.get("status")
    return Job(
        provider=PROVIDER,
        project=project,
        job_id=str(job["id"]),
        run_id=run_id,
        attempt=1,
        name=str(job.get("name") or ""),
        stage=job.get("stage"),
        status=status,
        conclusion=job_conclusion(status),
        created_at=parse_iso(job.get("created_at")),
        started_at=started,
        finished_at=finished,
        queued_s=_seconds(job.get("queued_duration")) if started is not None else None,
        runner=str(runner_name) if runner_name else None,
        labels=tuple(str(t) for t in job.get("tag_list") or () if isinstance(t, str)),
        url=job.get("web_url"),
    )


def steps_from_sections(project: str, job_id: str, sections: Sequence[Section]) -> list[Step]:
    return [
        Step(
            provider=PROVIDER,
            project=project,
            job_id=job_id,
            seq=section.seq,
            name=section.name,
            status="completed" if section.finished_at is not None else None,
            conclusion=None,
            started_at=section.started_at,
            finished_at=section.finished_at,
            source="section",
        )
        for section in sections
    ]


def needs_trace(job: Mapping[str, Any]) -> bool:
    return job.get("status") in TRACED and job.get("started_at") is not None


# -- collection ------------------------------------------------------------------------------
