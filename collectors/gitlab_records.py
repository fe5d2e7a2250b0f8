"""GitLab normalizers: API payloads and log sections -> runs, jobs and steps.

Shared by the collector and the sample-data loader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ci_profile.collectors.gitlab_sections import Section
from ci_profile.core.payload import ident, integer, text
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
    name = text(detail.get("name"))
    status = text(detail.get("status"))
    started = parse_iso(detail.get("started_at"))
    finished = parse_iso(detail.get("finished_at")) if status not in ACTIVE else None
    if started is not None and finished is not None and finished < started:
        finished = None  # clock skew: unknown, never a negative duration
    return Run(
        provider=PROVIDER,
        project=project,
        run_id=ident(detail.get("id"), "GitLab: a pipeline"),
        attempt=1,
        pipeline=name or pipeline_path or fallback_name,
        pipeline_path=pipeline_path,
        event=text(detail.get("source")),
        branch=text(detail.get("ref")),
        sha=text(detail.get("sha")),
        status=status,
        conclusion=pipeline_conclusion(status),
        created_at=parse_iso(detail.get("created_at")),
        started_at=started,
        finished_at=finished,
        url=text(detail.get("web_url")),
        run_number=integer(detail.get("iid")),
        updated_at=parse_iso(detail.get("updated_at")),
        parent_run_id=parent_run_id,
    )


def normalize_job(project: str, run_id: str, job: Mapping[str, Any]) -> Job:
    """A job (retried ones are separate rows, each with its own conclusion)."""
    runner = job.get("runner") if isinstance(job.get("runner"), Mapping) else None
    runner_name = (text(runner.get("description")) or text(runner.get("name"))) if runner else None
    started = parse_iso(job.get("started_at"))
    finished = parse_iso(job.get("finished_at"))
    if started is not None and finished is not None and finished < started:
        finished = None  # clock skew: unknown, never a negative duration
    status = text(job.get("status"))
    return Job(
        provider=PROVIDER,
        project=project,
        job_id=ident(job.get("id"), "GitLab: a job"),
        run_id=run_id,
        attempt=1,
        name=text(job.get("name")) or "",
        stage=text(job.get("stage")),
        status=status,
        conclusion=job_conclusion(status),
        created_at=parse_iso(job.get("created_at")),
        started_at=started,
        finished_at=finished,
        queued_s=_seconds(job.get("queued_duration")) if started is not None else None,
        runner=runner_name or None,
        labels=_labels(job.get("tag_list")),
        url=text(job.get("web_url")),
    )


def _labels(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(tag for tag in (text(t) for t in value if isinstance(t, str)) if tag is not None)


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
    return text(job.get("status")) in TRACED and job.get("started_at") is not None


# -- collection ------------------------------------------------------------------------------
