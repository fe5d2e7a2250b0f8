"""Jenkins payloads -> records: the real example payloads, statuses, parallel stages, queue."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ci_profile.collectors.jenkins_records import (
    MAX_CHILD_NODES,
    JobInfo,
    event_of,
    job_info,
    normalize_branch,
    queue_of,
    records_for_build,
)
from jenkins_payloads import (
    REAL_DESCRIBE,
    REAL_FAILED_NODE,
    JobHistory,
    build_object,
    cause,
    git_data,
    time_in_queue,
)

JOB = JobInfo("team/service/main", "team » service » main", True)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def real_build(**overrides: Any) -> dict[str, Any]:
    """The core build object that goes with REAL_DESCRIBE (build #1 of localmcp-androidapp1)."""
    build = build_object(
        "localmcp-androidapp1",
        1,
        timestamp=1506071344960,
        duration=424000,
        result="SUCCESS",
        actions=[{"_class": "hudson.model.CauseAction", "causes": cause("manual")}, {}],
    )
    build.update(overrides)
    return build


def at(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def test_the_real_describe_payload() -> None:
    batch, warnings = records_for_build(JOB, real_build(), REAL_DESCRIBE)
    assert warnings == []
    (run,) = batch.runs
    assert (run.run_id, run.attempt, run.status, run.conclusion) == ("1", 1, "completed", "success")
    assert run.pipeline == "team » service » main" and run.pipeline_path == "Jenkinsfile"
    assert run.started_at == at(1506071344983)
    # wfapi says endTimeMillis 0 and durationMillis 0: the core `duration` knows better.
    assert run.finished_at == at(1506071344983 + 424000)
    assert run.event == "manual"
    jobs = {j.name: j for j in batch.jobs}
    assert list(jobs) == ["Checkout", "Prepare", "Build", "Archive"]
    build = jobs["Build"]
    assert build.job_id == "1:16" and build.stage == "Build" and build.runner is None
    assert build.started_at == at(1506071591273)
    assert build.finished_at == at(1506071591273 + 175102)
    # No Metrics plugin action: queue time is unknown, not 0.
    assert all(j.queued_s is None for j in batch.jobs)
    steps = {(s.job_id, s.seq): s for s in batch.steps}
    assert steps[("1:6", 1)].name == "General SCM" and steps[("1:6", 1)].source == "node"
    assert steps[("1:16", 1)].command is None  # the 2017 payload has no parameterDescription
    assert len(batch.steps) == 4


def test_the_real_failed_stage() -> None:
    describe = {
        "id": "17",
        "name": "#17",
        "status": "FAILED",
        "startTimeMillis": 1413462240000,
        "endTimeMillis": 1413462246100,
        "durationMillis": 6100,
        "stages": [copy.deepcopy(REAL_FAILED_NODE)],
    }
    build = real_build(number=17, result="FAILURE", duration=6100, timestamp=1413462239990)
    batch, _ = records_for_build(JOB, build, describe)
    assert batch.runs[0].conclusion == "failure"
    (job,) = batch.jobs
    (step,) = batch.steps
    assert (job.conclusion, step.conclusion, step.name) == ("failure", "failure", "Shell Script")
    assert step.finished_at is not None and step.started_at is not None
    assert (step.finished_at - step.started_at).total_seconds() == pytest.approx(4.999)


@pytest.mark.parametrize(
    ("result", "building", "expected"),
    [
        ("SUCCESS", False, ("completed", "success")),
        ("UNSTABLE", False, ("completed", "failure")),
        ("FAILURE", False, ("completed", "failure")),
        ("ABORTED", False, ("completed", "cancelled")),
        ("NOT_BUILT", False, ("completed", "skipped")),
        ("SOMETHING_NEW", False, ("completed", "other")),
        (None, True, ("in_progress", None)),
    ],
)
def test_build_results(result: str | None, building: bool, expected: tuple[str, Any]) -> None:
    build = real_build(result=result, building=building, inProgress=building)
    batch, _ = records_for_build(JOB, build, REAL_DESCRIBE)
    assert (batch.runs[0].status, batch.runs[0].conclusion) == expected
    if building:
        assert batch.runs[0].finished_at is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", ("completed", "success")),
        ("FAILED", ("completed", "failure")),
        ("UNSTABLE", ("completed", "failure")),
        ("ABORTED", ("completed", "cancelled")),
        ("NOT_EXECUTED", ("completed", "skipped")),
        ("SKIPPED", ("completed", "skipped")),
        ("IN_PROGRESS", ("in_progress", None)),
        ("PAUSED_PENDING_INPUT", ("in_progress", None)),
    ],
)
def test_node_statuses(status: str, expected: tuple[str, Any]) -> None:
    describe = copy.deepcopy(REAL_DESCRIBE)
    describe["stages"][2]["stageFlowNodes"][0]["status"] = status
    describe["stages"][2]["status"] = status
    building = expected[0] == "in_progress"
    build = real_build(result=None if building else "SUCCESS", building=building)
    batch, _ = records_for_build(JOB, build, describe)
    stage = next(j for j in batch.jobs if j.name == "Build")
    step = next(s for s in batch.steps if s.job_id == stage.job_id)
    assert (stage.status, stage.conclusion) == expected
    assert (step.status, step.conclusion) == expected
    if expected[0] == "in_progress":
        assert stage.finished_at is None and step.finished_at is None


def test_zero_and_skew_become_null_never_negative() -> None:
    describe = copy.deepcopy(REAL_DESCRIBE)
    skipped = describe["stages"][0]
    skipped.update(status="SKIPPED", startTimeMillis=0, durationMillis=0, stageFlowNodes=[])
    describe["stages"][1]["durationMillis"] = -5000  # clock skew: end before start
    describe["stages"][1]["stageFlowNodes"][0]["durationMillis"] = 0
    build = real_build(duration=0)  # unknown build duration, and wfapi's end is 0 too
    describe["endTimeMillis"] = describe["startTimeMillis"] - 60_000  # ends before it starts
    batch, _ = records_for_build(JOB, build, describe)
    jobs = {j.name: j for j in batch.jobs}
    assert jobs["Checkout"].started_at is None and jobs["Checkout"].finished_at is None
    assert jobs["Checkout"].conclusion == "skipped"
    assert jobs["Prepare"].started_at is not None and jobs["Prepare"].finished_at is None
    step = next(s for s in batch.steps if s.job_id == jobs["Prepare"].job_id)
    assert step.started_at is not None and step.finished_at is None
    run = batch.runs[0]
    # The run ends with its last stage, since neither `duration` nor wfapi's end is usable.
    assert run.finished_at == jobs["Archive"].finished_at
    for record in [*batch.jobs, *batch.steps, run]:
        if record.started_at and record.finished_at:
            assert record.finished_at >= record.started_at


def test_run_end_before_start_is_null() -> None:
    describe = copy.deepcopy(REAL_DESCRIBE)
    describe["stages"] = []
    describe["durationMillis"] = 0
    describe["endTimeMillis"] = describe["startTimeMillis"] - 1000
    batch, _ = records_for_build(JOB, real_build(duration=0), describe)
    assert batch.runs[0].finished_at is None
    (job,) = batch.jobs  # no stages: one job spanning the build
    assert job.finished_at is None and job.started_at is not None


def test_queue_time_from_the_metrics_plugin() -> None:
    history = JobHistory(builds=3, in_progress=0)
    build = history.by_number[2]
    describe = history.describes[2]
    own, total = queue_of(build)
    assert own is not None and total is not None and total >= own
    batch, _ = records_for_build(JOB, build, describe)
    run = batch.runs[0]
    assert run.created_at == at(build["timestamp"] - own)
    first = min(
        (j for j in batch.jobs if j.started_at), key=lambda j: j.started_at or run.started_at
    )
    others = [j for j in batch.jobs if j is not first]
    assert first.name == "Declarative: Checkout SCM"
    # The build's own wait plus the agent wait before the first stage (top-level agent).
    assert first.started_at is not None and run.started_at is not None
    before_first = (first.started_at - run.started_at).total_seconds() * 1000
    assert first.queued_s == pytest.approx((own + min(total - own, before_first)) / 1000)
    assert first.created_at == first.started_at - timedelta(seconds=first.queued_s or 0)
    assert all(j.queued_s is None for j in others)


def test_queue_without_metrics_is_null_and_agent_wait_is_bounded() -> None:
    history = JobHistory(builds=2, in_progress=0, metrics=False)
    batch, _ = records_for_build(JOB, history.by_number[1], history.describes[1])
    assert all(j.queued_s is None for j in batch.jobs)
    assert batch.runs[0].created_at == at(history.by_number[1]["timestamp"])
    # An agent wait longer than the gap before the first stage counts only up to that gap.
    build = copy.deepcopy(history.by_number[1])
    build["actions"].append(time_in_queue(4000, 10_000_000))
    batch, _ = records_for_build(JOB, build, history.describes[1])
    first = batch.jobs[0]
    run = batch.runs[0]
    assert first.started_at is not None and run.started_at is not None
    gap = (first.started_at - run.started_at).total_seconds()
    assert first.queued_s == pytest.approx(4 + gap)


def test_parallel_branches_name_their_enclosing_stage() -> None:
    history = JobHistory(builds=1, in_progress=0)
    batch, _ = records_for_build(JOB, history.by_number[1], history.describes[1])
    stages = {j.name: j.stage for j in batch.jobs}
    assert stages["Unit"] == stages["Integration"] == stages["Migrations"] == "Tests"
    assert stages["Tests"] == "Tests" and stages["Build"] == "Build"
    assert stages["E2E (kind)"] == "E2E (kind)"
    # Branches overlap; every job id is unique within the project.
    ids = [j.job_id for j in batch.jobs]
    assert len(ids) == len(set(ids)) and all(i.startswith("1:") for i in ids)


def test_a_parent_reported_spanning_its_branches_is_recognised() -> None:
    history = JobHistory(builds=1, in_progress=0)
    describe = copy.deepcopy(history.describes[1])
    parent = next(s for s in describe["stages"] if s["name"] == "Tests")
    branches = [s for s in describe["stages"] if s["name"] in ("Unit", "Integration", "Migrations")]
    end = max(s["startTimeMillis"] + s["durationMillis"] for s in branches)
    parent["durationMillis"] = end - parent["startTimeMillis"]
    batch, _ = records_for_build(JOB, history.by_number[1], describe)
    stages = {j.name: j.stage for j in batch.jobs}
    assert stages["Unit"] == stages["Integration"] == "Tests"
    assert stages["Build"] == "Build"


def test_scripts_become_commands_other_parameters_do_not() -> None:
    history = JobHistory(builds=1, in_progress=0)
    batch, _ = records_for_build(JOB, history.by_number[1], history.describes[1])
    commands = {s.name: s.command for s in batch.steps if s.name != "Shell Script"}
    assert commands["Archive JUnit-formatted test results"] is None
    scripts = [s.command for s in batch.steps if s.name == "Shell Script"]
    assert "docker compose -f ci/compose.yml up -d --wait" in scripts
    assert "kind create cluster --name ci --wait 120s" in scripts
    seqs: dict[str, list[int]] = {}
    for step in batch.steps:
        seqs.setdefault(step.job_id, []).append(step.seq)
    assert all(v == list(range(1, len(v) + 1)) for v in seqs.values())


def test_more_than_a_hundred_nodes_warns() -> None:
    history = JobHistory(builds=1, in_progress=0, steps_per_stage=MAX_CHILD_NODES)
    batch, warnings = records_for_build(JOB, history.by_number[1], history.describes[1])
    assert len(warnings) == 1 and "at most 100 steps" in warnings[0] and "'Build'" in warnings[0]
    assert len([s for s in batch.steps if s.job_id == batch.jobs[1].job_id]) == 100


def test_without_stage_view_one_job_spans_the_build() -> None:
    history = JobHistory(builds=2, in_progress=1)
    finished, running = history.by_number[1], history.by_number[2]
    batch, _ = records_for_build(JOB, finished, None)
    (job,) = batch.jobs
    run = batch.runs[0]
    assert job.job_id == "1:build" and batch.steps == []
    assert (job.started_at, job.finished_at, job.conclusion) == (
        run.started_at,
        run.finished_at,
        run.conclusion,
    )
    own, _ = queue_of(finished)
    assert own is not None and job.queued_s == pytest.approx(own / 1000)
    # A running build gets no placeholder job: its stages will replace it later.
    batch, _ = records_for_build(JOB, running, None)
    assert batch.jobs == [] and batch.runs[0].status == "in_progress"


@pytest.mark.parametrize(
    ("kinds", "branch", "event"),
    [
        (["push"], None, "push"),
        (["schedule"], None, "schedule"),
        (["manual"], None, "manual"),
        (["replay"], None, "replay"),
        (["rebuild"], None, "rebuild"),
        (["upstream"], None, "upstream"),
        (["branch"], "main", "push"),
        (["indexing"], "PR-12", "pull_request"),
        (["branch"], "MR-4", "pull_request"),
        ([], None, None),
    ],
)
def test_causes_to_events(kinds: list[str], branch: str | None, event: str | None) -> None:
    causes = [c["_class"] for kind in kinds for c in cause(kind, 3)]
    assert event_of(causes, branch) == event
    assert event_of(["com.example.SomethingCause"]) == "other"


def test_branch_and_sha_from_git_data() -> None:
    build = real_build(actions=[{}, git_data("ab" * 20, "refs/remotes/origin/release/2.x")])
    batch, _ = records_for_build(JOB, build, REAL_DESCRIBE)
    assert (batch.runs[0].sha, batch.runs[0].branch) == ("ab" * 20, "release/2.x")
    assert normalize_branch("origin/main") == normalize_branch("refs/heads/main") == "main"
    assert normalize_branch("PR-12") == "PR-12" and normalize_branch("") is None
    # Without git data a multibranch job's own name is the branch.
    mb = JobInfo("team/service/PR-12", "PR-12", True, branch="PR-12")
    batch, _ = records_for_build(mb, real_build(), REAL_DESCRIBE)
    assert batch.runs[0].branch == "PR-12" and batch.runs[0].sha is None


def test_job_info() -> None:
    history = JobHistory("team/service/main", builds=1)
    info = job_info(history.job, "team/service/main")
    assert info == JobInfo("team/service/main", "team » service » main", True)
    freestyle = JobHistory("legacy", builds=1, freestyle=True)
    assert job_info(freestyle.job, "legacy").pipeline is False
    assert job_info({}, "x/y").project == "x/y"
