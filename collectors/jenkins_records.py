"""Jenkins payloads -> records: one build is a run, one stage a job, one stage flow node a step.

Pure functions over the JSON Jenkins returns (core ``/api/json`` build objects and the Pipeline
Stage View plugin's ``wfapi/describe?fullStages=true``), shared by the live collector and the
sample-data loader. Epoch milliseconds of 0 mean "unknown" and become NULL; an end before its
start (clock skew) becomes NULL too, so no duration is ever negative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ci_profile.core.payload import ident, integer, text
from ci_profile.core.records import Batch, Job, Run, Step
from ci_profile.core.times import from_epoch_ms

PROVIDER = "jenkins"
PIPELINE_PATH = "Jenkinsfile"
# StageNodeExt.maxChildNodes: wfapi lists at most this many flow nodes per stage.
MAX_CHILD_NODES = 100
# The job stored for a build whose stages Jenkins cannot tell (no Stage View plugin, a
# freestyle job, a Pipeline without stage blocks).
WHOLE_BUILD = "build"
# Steps whose wfapi ``parameterDescription`` is the script they ran.
SCRIPT_STEPS = frozenset(
    {
        "Shell Script",
        "Windows Batch Script",
        "PowerShell Script",
        "Windows PowerShell Script",
        "PowerShell Core Script",
    }
)
PIPELINE_CLASSES = ("org.jenkinsci.plugins.workflow.job.WorkflowJob",)
# A parallel block's enclosing stage ends where its first branch starts; allow this much slack.
_PARENT_SLACK_MS = 2000

_RESULTS = {
    "SUCCESS": "success",
    # UNSTABLE: the build ran, but a test report recorded failures (junit) or a step said so.
    "UNSTABLE": "failure",
    "FAILURE": "failure",
    "ABORTED": "cancelled",
    "NOT_BUILT": "skipped",
}
_NODE_STATES: dict[str, tuple[str, str | None]] = {
    "SUCCESS": ("completed", "success"),
    "FAILED": ("completed", "failure"),
    "UNSTABLE": ("completed", "failure"),
    "ABORTED": ("completed", "cancelled"),
    "NOT_EXECUTED": ("completed", "skipped"),
    "SKIPPED": ("completed", "skipped"),
    "IN_PROGRESS": ("in_progress", None),
    "PAUSED_PENDING_INPUT": ("in_progress", None),
}
# Build causes -> event, most telling first: a replay also carries the UserIdCause of whoever
# replayed it, a rebuild the cause of the build it repeats.
_CAUSE_EVENTS: tuple[tuple[str, str], ...] = (
    ("ReplayCause", "replay"),
    ("RebuildCause", "rebuild"),
    ("RestartDeclarativePipelineCause", "restart"),
    ("TimerTrigger", "schedule"),
    ("ParameterizedTimerTriggerCause", "schedule"),
    ("BranchEventCause", "push"),
    ("BranchIndexingCause", "push"),
    ("SCMTrigger", "push"),
    ("GitHubPushCause", "push"),
    ("GitLabWebHookCause", "push"),
    ("BitBucketPushCause", "push"),
    ("GenericCause", "webhook"),
    ("UpstreamCause", "upstream"),
    ("UserIdCause", "manual"),
    ("UserCause", "manual"),
    ("RemoteCause", "api"),
)
_CHANGE_REQUEST_PREFIXES = ("PR-", "MR-")


@dataclass(frozen=True, slots=True)
class JobInfo:
    """The Jenkins job being collected."""

    project: str  # full name: team/service/main
    display: str | None  # full display name: Team » service » main
    pipeline: bool  # a Pipeline job (Jenkinsfile), so wfapi describes its builds
    branch: str | None = None  # multibranch: the branch this job builds


def job_info(data: Mapping[str, Any], requested: str, *, branch: str | None = None) -> JobInfo:
    """The job object of ``/job/.../api/json`` -> JobInfo."""
    full_name = data.get("fullName")
    project = text(full_name) if isinstance(full_name, str) and full_name else requested
    display = text(data.get("fullDisplayName")) or text(data.get("displayName")) or project
    klass = data.get("_class")
    return JobInfo(project or requested, display, klass in PIPELINE_CLASSES, branch)


# -- small readers ---------------------------------------------------------------------------


def _items(value: object) -> list[Mapping[str, Any]]:
    """The objects in a JSON array; anything else holds none."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _actions(build: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _items(build.get("actions"))


def _millis(value: object) -> int | None:
    """A non-negative millisecond count, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def _after(start: datetime | None, millis: object) -> datetime | None:
    """``start`` + a positive duration; 0 or negative durations are unknown, and so is an end
    past what a timestamp holds."""
    duration = _millis(millis)
    if start is None or not duration:
        return None
    try:
        return start + timedelta(milliseconds=duration)
    except OverflowError:
        return None


def _before(moment: datetime | None, millis: float) -> datetime | None:
    """``moment`` less a wait; unknown when the wait reaches back past what a time holds."""
    if moment is None:
        return None
    try:
        return moment - timedelta(milliseconds=millis)
    except OverflowError:
        return None


def _not_before(start: datetime | None, end: datetime | None) -> datetime | None:
    """Clock skew guard: an end before its start is unknown."""
    if start is not None and end is not None and end < start:
        return None
    return end


def causes_of(build: Mapping[str, Any]) -> list[str]:
    """The ``_class`` of every cause in the build's CauseActions."""
    found: list[str] = []
    for action in _actions(build):
        for cause in _items(action.get("causes")):
            if isinstance(cause, Mapping) and isinstance(cause.get("_class"), str):
                found.append(cause["_class"])
    return found


def event_of(causes: Sequence[str], branch: str | None = None) -> str | None:
    if not causes:
        return None
    for fragment, event in _CAUSE_EVENTS:
        if any(fragment in cause for cause in causes):
            if event == "push" and branch and branch.startswith(_CHANGE_REQUEST_PREFIXES):
                return "pull_request"
            return event
    return "other"


def normalize_branch(name: object) -> str | None:
    """``refs/remotes/origin/main``, ``origin/main``, ``refs/heads/main`` -> ``main``."""
    value = text(name.strip()) if isinstance(name, str) else None
    if not value:
        return None
    for prefix in ("refs/remotes/origin/", "refs/remotes/", "refs/heads/", "origin/"):
        if value.startswith(prefix):
            return value[len(prefix) :] or None
    return value


def revision_of(build: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(sha, branch) from the first git BuildData action that names a revision."""
    for action in _actions(build):
        revision = action.get("lastBuiltRevision")
        if not isinstance(revision, Mapping):
            continue
        sha = revision.get("SHA1")
        branches = _items(revision.get("branch"))
        branch = normalize_branch(branches[0].get("name")) if branches else None
        if isinstance(sha, str) and sha:
            return text(sha), branch
    return None, None


def queue_of(build: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Metrics plugin TimeInQueueAction: (the build's own queue wait, that plus the queue waits
    of its node blocks), in ms; (None, None) when the plugin did not record it."""
    for action in _actions(build):
        own = _millis(action.get("queuingDurationMillis"))
        if own is not None:
            total = _millis(action.get("queuingTimeMillis"))
            return own, total if total is not None and total >= own else None
    return None, None


def result_state(build: Mapping[str, Any]) -> tuple[str, str | None]:
    """(status, conclusion) of a build from core's ``building``/``result``."""
    result = build.get("result")
    if build.get("building") or build.get("inProgress") or result is None:
        return "in_progress", None
    return "completed", _RESULTS.get(str(result), "other")


def node_state(status: object) -> tuple[str, str | None]:
    """(status, conclusion) of a wfapi stage or flow node."""
    return _NODE_STATES.get(str(status), ("completed", "other"))


# -- stages ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Stage:
    order: int
    node_id: str
    name: str
    raw: Mapping[str, Any]
    nodes: tuple[Mapping[str, Any], ...]
    start_ms: int | None
    end_ms: float | None  # inf while running; None when unknown


def _stages(describe: Mapping[str, Any]) -> list[_Stage]:
    stages: list[_Stage] = []
    for order, raw in enumerate(_items(describe.get("stages"))):
        node_id = text(raw.get("id"))
        if node_id is None:
            continue
        start = _millis(raw.get("startTimeMillis")) or None
        duration = _millis(raw.get("durationMillis"))
        running = node_state(raw.get("status"))[0] == "in_progress"
        end: float | None = None
        if start is not None:
            end = math.inf if running else (start + duration if duration else None)
        nodes = tuple(_items(raw.get("stageFlowNodes")))
        stages.append(_Stage(order, node_id, text(raw.get("name")) or "", raw, nodes, start, end))
    return stages


def enclosing_stages(stages: Sequence[_Stage]) -> dict[str, str]:
    """Stage node id -> name of the stage enclosing it, for the branches of parallel blocks.

    wfapi lists nested stages flat, in declaration order. Branches of one ``parallel`` are
    recognised by their overlapping times; the stage enclosing them is the step-less stage
    listed just before them (Stage View ends it where its first branch starts) or, where
    Jenkins reports it spanning its branches, the step-less stage that covers them all.
    """
    timed = sorted(
        (s for s in stages if s.start_ms is not None and s.end_ms is not None),
        key=lambda s: (s.start_ms or 0, s.order),
    )
    groups: list[list[_Stage]] = []
    for stage in timed:
        start = stage.start_ms or 0
        if groups and start < max(s.end_ms or 0 for s in groups[-1]):
            groups[-1].append(stage)
        else:
            groups.append([stage])
    parents: dict[str, str] = {}
    for index, group in enumerate(groups):
        if len(group) < 2:
            continue
        first = min(s.start_ms or 0 for s in group)
        last = max(s.end_ms or 0 for s in group)
        parent = next(
            (s for s in group if not s.nodes and s.start_ms == first and (s.end_ms or 0) >= last),
            None,
        )
        if parent is None and index > 0 and len(groups[index - 1]) == 1:
            previous = groups[index - 1][0]
            if not previous.nodes and first - (previous.end_ms or 0) <= _PARENT_SLACK_MS:
                parent = previous
        if parent is not None:
            for stage in group:
                if stage is not parent:
                    parents[stage.node_id] = parent.name
    return parents


# -- records ---------------------------------------------------------------------------------


def _steps(job: JobInfo, job_id: str, stage: _Stage) -> list[Step]:
    steps: list[Step] = []
    for seq, node in enumerate(stage.nodes[:MAX_CHILD_NODES], 1):
        status, conclusion = node_state(node.get("status"))
        started = from_epoch_ms(node.get("startTimeMillis"))
        finished = None if status != "completed" else _after(started, node.get("durationMillis"))
        name = text(node.get("name")) or ""
        description = node.get("parameterDescription")
        command = (
            text(description)
            if name in SCRIPT_STEPS and isinstance(description, str) and description
            else None
        )
        steps.append(
            Step(
                provider=PROVIDER,
                project=job.project,
                job_id=job_id,
                seq=seq,
                name=name,
                status=status,
                conclusion=conclusion,
                started_at=started if status != "completed" or conclusion != "skipped" else None,
                finished_at=finished,
                source="node",
                command=command,
            )
        )
    return steps


def _first_stage_queue(
    own_ms: int | None, total_ms: int | None, run_start: datetime | None, first: _Stage
) -> float | None:
    """Queue seconds charged to the first stage: the build's own wait in the Jenkins queue plus
    the node-block (agent) waits that fit between the build's start and its first stage, where
    a top-level ``agent`` waits. Agent waits of later stages lie inside those stages."""
    if own_ms is None:
        return None
    queued = own_ms
    if total_ms is not None and run_start is not None and first.start_ms is not None:
        before_first = first.start_ms - int(run_start.timestamp() * 1000)
        queued += max(0, min(total_ms - own_ms, before_first))
    return queued / 1000


def _stage_jobs(
    job: JobInfo, run: Run, describe: Mapping[str, Any], own_ms: int | None, total_ms: int | None
) -> tuple[list[Job], list[Step], list[str]]:
    stages = _stages(describe)
    parents = enclosing_stages(stages)
    started = [s for s in stages if s.start_ms is not None]
    first = min(started, key=lambda s: (s.start_ms or 0, s.order)) if started else None
    jobs: list[Job] = []
    steps: list[Step] = []
    warnings: list[str] = []
    for stage in stages:
        job_id = f"{run.run_id}:{stage.node_id}"
        status, conclusion = node_state(stage.raw.get("status"))
        if run.status == "completed" and status == "in_progress":
            status, conclusion = "completed", "other"  # never finished: Jenkins lost track
        begun = from_epoch_ms(stage.start_ms) if stage.start_ms else None
        finished = None if status != "completed" else _after(begun, stage.raw.get("durationMillis"))
        queued_s = None
        created = begun
        if stage is first:
            queued_s = _first_stage_queue(own_ms, total_ms, run.started_at, stage)
            if queued_s is not None:
                created = _before(begun, queued_s * 1000)
        runner = stage.raw.get("execNode")
        jobs.append(
            Job(
                provider=PROVIDER,
                project=job.project,
                job_id=job_id,
                run_id=run.run_id,
                attempt=run.attempt,
                name=stage.name,
                stage=parents.get(stage.node_id, stage.name),
                status=status,
                conclusion=conclusion,
                created_at=created,
                started_at=begun,
                finished_at=finished,
                queued_s=queued_s,
                runner=text(runner) if isinstance(runner, str) and runner else None,
                url=f"{run.url}execution/node/{stage.node_id}/" if run.url else None,
            )
        )
        steps.extend(_steps(job, job_id, stage))
        if len(stage.nodes) >= MAX_CHILD_NODES:
            warnings.append(
                f"build #{run.run_id} stage {stage.name!r}: Jenkins lists at most "
                f"{MAX_CHILD_NODES} steps per stage (StageNodeExt.maxChildNodes); later steps "
                "are missing"
            )
    return jobs, steps, warnings


def _latest(values: Iterable[datetime | None]) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def records_for_build(
    job: JobInfo, build: Mapping[str, Any], describe: Mapping[str, Any] | None
) -> tuple[Batch, list[str]]:
    """Everything one build contributes to the store, and what it could not tell.

    ``describe`` is the build's ``wfapi/describe?fullStages=true``, or None when Jenkins has no
    Stage View for it; then the build is one job spanning the build, without steps.
    """
    number = ident(build.get("number"), "Jenkins: a build")
    status, conclusion = result_state(build)
    sha, branch = revision_of(build)
    branch = branch or job.branch
    own_ms, total_ms = queue_of(build)
    timestamp = from_epoch_ms(build.get("timestamp"))
    wf = describe if isinstance(describe, Mapping) else {}
    started = from_epoch_ms(wf.get("startTimeMillis")) or timestamp
    created = timestamp
    if own_ms is not None:
        created = _before(timestamp, own_ms)
    url = text(build.get("url")) if isinstance(build.get("url"), str) else None
    run = Run(
        provider=PROVIDER,
        project=job.project,
        run_id=number,
        attempt=1,
        pipeline=job.display,
        pipeline_path=PIPELINE_PATH if job.pipeline else None,
        event=event_of(causes_of(build), branch),
        branch=branch,
        sha=sha,
        status=status,
        conclusion=conclusion,
        created_at=created,
        started_at=started,
        finished_at=None,
        url=url,
        run_number=integer(build.get("number")),
    )
    batch = Batch()
    warnings: list[str] = []
    stages = wf.get("stages") if describe is not None else None
    if isinstance(stages, list) and stages:
        jobs, steps, warnings = _stage_jobs(job, run, wf, own_ms, total_ms)
        batch.jobs.extend(jobs)
        batch.steps.extend(steps)
    finished = None
    if status == "completed":
        # Core's duration (from the start), else wfapi's, else its end, else the last stage's;
        # an end before the start (clock skew) is no answer.
        candidates = (
            _after(started, build.get("duration")),
            _after(started, wf.get("durationMillis")),
            from_epoch_ms(wf.get("endTimeMillis")),
            _latest(j.finished_at for j in batch.jobs),
        )
        finished = next((c for c in candidates if _not_before(started, c) is not None), None)
    run = replace(run, finished_at=finished)
    if not batch.jobs and status == "completed":
        # No stage timing: the build itself is the one job, queued for as long as it waited.
        runner = build.get("builtOn")
        batch.jobs.append(
            Job(
                provider=PROVIDER,
                project=job.project,
                job_id=f"{number}:{WHOLE_BUILD}",
                run_id=number,
                attempt=1,
                name=WHOLE_BUILD,
                stage=None,
                status=status,
                conclusion=conclusion,
                created_at=created,
                started_at=started,
                finished_at=run.finished_at,
                queued_s=None if own_ms is None else own_ms / 1000,
                runner=text(runner) if isinstance(runner, str) and runner else None,
                url=url,
            )
        )
    batch.runs.append(run)
    return batch, warnings
