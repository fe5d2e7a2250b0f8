"""Factories for Jenkins payloads shaped like the real examples (shared/reference/api-examples).

Two APIs are modelled:

- the core remote API's build objects (``/job/X/api/json?tree=allBuilds[...]``): ``number``,
  ``url``, ``result`` (null while building), ``building``, ``inProgress``, ``timestamp`` and
  ``duration`` in epoch ms, and ``actions`` as Jenkins serializes them: a CauseAction with
  ``causes``, git's BuildData with ``lastBuiltRevision``, the Metrics plugin's
  TimeInQueueAction, and the many actions that carry nothing but ``_class`` or nothing at all;
- the Pipeline Stage View plugin's ``N/wfapi/describe`` (``RunExt``) with ``stages``
  (``StageNodeExt``) and their ``stageFlowNodes`` (``AtomFlowNodeExt``): ``_links``, ``id``,
  ``name``, ``execNode`` (``""``), ``status``, ``error``, ``parameterDescription``,
  ``startTimeMillis``, ``durationMillis``, ``pauseDurationMillis``, ``parentNodes``. Stage View
  lists nested stages flat: a parallel block is its step-less enclosing stage, ending where
  its first branch starts, then one stage per branch, overlapping in time. Skipped stages
  (``when``) are ``SKIPPED`` with times 0; stages after a failure are ``NOT_EXECUTED``; the last
  stage carries the run's status (``RunExt.computeTimings``).

:class:`JobHistory` builds a coherent, seeded history of one job for :class:`FakeJenkins`.
"""

from __future__ import annotations

import copy
import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]
ROOT_URL = "https://ci.example.com"
WORKFLOW_JOB = "org.jenkinsci.plugins.workflow.job.WorkflowJob"
WORKFLOW_RUN = "org.jenkinsci.plugins.workflow.job.WorkflowRun"
FREESTYLE_JOB = "hudson.model.FreeStyleProject"
FREESTYLE_BUILD = "hudson.model.FreeStyleBuild"

# The real payload, verbatim (feedhenry/mcp-standalone, see api-examples/SOURCES.md): a 2017
# `wfapi/describe` with stage flow nodes, endTimeMillis and durationMillis 0 despite SUCCESS.
REAL_DESCRIBE: JSON = {
    "_links": {
        "self": {
            "href": "http://jenkins-localmcp.192.168.37.1.nip.io/job/localmcp-androidapp1/1/wfapi/describe"
        },
        "artifacts": {"href": "//job/localmcp-androidapp1/1/wfapi/artifacts"},
    },
    "id": "1",
    "name": "#1",
    "status": "SUCCESS",
    "startTimeMillis": 1506071344983,
    "endTimeMillis": 0,
    "durationMillis": 0,
    "queueDurationMillis": 157994,
    "pauseDurationMillis": 0,
    "stages": [
        {
            "_links": {
                "self": {
                    "href": "http://jenkins-localmcp.192.168.37.1.nip.io/job/localmcp-androidapp1/1/execution/node/6/wfapi/describe"
                }
            },
            "id": "6",
            "name": "Checkout",
            "execNode": "",
            "status": "SUCCESS",
            "startTimeMillis": 1506071502977,
            "durationMillis": 7089,
            "pauseDurationMillis": 0,
            "stageFlowNodes": [
                {
                    "_links": {
                        "self": {
                            "href": "http://jenkins-localmcp.192.168.37.1.nip.io/job/localmcp-androidapp1/1/execution/node/7/wfapi/describe"
                        }
                    },
                    "id": "7",
                    "name": "General SCM",
                    "execNode": "",
                    "status": "SUCCESS",
                    "startTimeMillis": 1506071503267,
                    "durationMillis": 6792,
                    "pauseDurationMillis": 0,
                    "parentNodes": ["6"],
                }
            ],
        },
        {
            "_links": {
                "self": {
                    "href": "http://jenkins-localmcp.192.168.37.1.nip.io/job/localmcp-androidapp1/1/execution/node/11/wfapi/describe"
                }
            },
            "id": "11",
            "name": "Prepare",
            "execNode": "",
            "status": "SUCCESS",
            "startTimeMillis": 1506071510078,
            "durationMillis": 81130,
            "pauseDurationMillis": 0,
            "stageFlowNodes": [
                {
                    "_links": {
                        "self": {
                            "href": "http://jenkins-localmcp.192.168.37.1.nip.io/job/localmcp-androidapp1/1/execution/node/12/wfapi/describe"
                        }
                    },
                    "id": "12",
                    "name": "Shell Script",
                    "execNode": "",
                    "status": "SUCCESS",
                    "startTimeMillis": 1506071512564,
                    "durationMillis": 78639,
                    "pauseDurationMillis": 0,
                    "parentNodes": ["11"],
                }
            ],
        },
        {
            "_links": {
                "self": {
                    "href": "http://jenkins-localmcp.192.168.37.1.nip.io/job/localmcp-androidapp1/1/execution/node/16/wfapi/describe"
                }
            },
            "id": "16",
            "name": "Build",
            "execNode": "",
            "status": "SUCCESS",
            "startTimeMillis": 1506071591273,
            "durationMillis": 175102,
            "pauseDurationMillis": 0,
            "stageFlowNodes": [
                {
                    "_links": {
                        "self": {
                            "href": "http://jenkins-localmcp.192.168.37.1.nip.io/job/localmcp-androidapp1/1/execution/node/17/wfapi/describe"
                        }
                    },
                    "id": "17",
                    "name": "Shell Script",
                    "execNode": "",
                    "status": "SUCCESS",
                    "startTimeMillis": 1506071591384,
                    "durationMillis": 174986,
                    "pauseDurationMillis": 0,
                    "parentNodes": ["16"],
                }
            ],
        },
        {
            "_links": {
                "self": {
                    "href": "http://jenkins-localmcp.192.168.37.1.nip.io/job/localmcp-androidapp1/1/execution/node/21/wfapi/describe"
                }
            },
            "id": "21",
            "name": "Archive",
            "execNode": "",
            "status": "SUCCESS",
            "startTimeMillis": 1506071766385,
            "durationMillis": 2588,
            "pauseDurationMillis": 0,
            "stageFlowNodes": [
                {
                    "_links": {
                        "self": {
                            "href": "http://jenkins-localmcp.192.168.37.1.nip.io/job/localmcp-androidapp1/1/execution/node/22/wfapi/describe"
                        }
                    },
                    "id": "22",
                    "name": "General Build Step",
                    "execNode": "",
                    "status": "SUCCESS",
                    "startTimeMillis": 1506071766665,
                    "durationMillis": 2305,
                    "pauseDurationMillis": 0,
                    "parentNodes": ["21"],
                }
            ],
        },
    ],
}

# The plugin README's failed stage node (`…/execution/node/8/wfapi/describe`).
REAL_FAILED_NODE: JSON = {
    "_links": {"self": {"href": "/jenkins/job/Test%20Workflow/17/execution/node/8/wfapi/describe"}},
    "id": "8",
    "name": "Test",
    "status": "FAILED",
    "startTimeMillis": 1413462240994,
    "durationMillis": 5030,
    "stageFlowNodes": [
        {
            "_links": {
                "self": {"href": "/jenkins/job/Test%20Workflow/17/execution/node/9/wfapi/describe"},
                "log": {"href": "/jenkins/job/Test%20Workflow/17/execution/node/9/wfapi/log"},
            },
            "id": "9",
            "name": "Shell Script",
            "status": "FAILED",
            "error": {"message": "script returned exit code 1", "type": "hudson.AbortException"},
            "startTimeMillis": 1413462240999,
            "durationMillis": 4999,
            "parentNodes": ["8"],
        }
    ],
}

__all__ = [
    "FREESTYLE_JOB",
    "JSON",
    "REAL_DESCRIBE",
    "REAL_FAILED_NODE",
    "ROOT_URL",
    "WORKFLOW_JOB",
    "JobHistory",
    "build_object",
    "cause",
    "git_data",
    "job_object",
    "job_url_path",
    "time_in_queue",
]

# ---------------------------------------------------------------------------- pieces


def job_url_path(full_name: str) -> str:
    from urllib.parse import quote

    return "".join(f"/job/{quote(p, safe='')}" for p in full_name.split("/"))


def job_object(
    full_name: str, *, klass: str = WORKFLOW_JOB, display: str | None = None, root: str = ROOT_URL
) -> JSON:
    parts = full_name.split("/")
    names = [display or p for p in parts[:-1]] + [display or parts[-1]]
    return {
        "_class": klass,
        "description": "",
        "displayName": names[-1],
        "fullDisplayName": " » ".join(names),
        "fullName": full_name,
        "name": parts[-1],
        "url": f"{root}{job_url_path(full_name)}/",
        "buildable": True,
        "color": "blue",
        "inQueue": False,
        "keepDependencies": False,
        "concurrentBuild": False,
        "resumeBlocked": False,
        "disabled": False,
    }


CAUSES = {
    "push": ("hudson.triggers.SCMTrigger$SCMTriggerCause", "Started by an SCM change"),
    "schedule": ("hudson.triggers.TimerTrigger$TimerTriggerCause", "Started by timer"),
    "manual": ("hudson.model.Cause$UserIdCause", "Started by user Dana Whitfield"),
    "replay": ("org.jenkinsci.plugins.workflow.cps.replay.ReplayCause", "Replayed #{n}"),
    "rebuild": ("com.sonyericsson.rebuild.RebuildCause", "Rebuilds build #{n}"),
    "branch": ("jenkins.branch.BranchEventCause", "Push event to branch main"),
    "indexing": ("jenkins.branch.BranchIndexingCause", "Branch indexing"),
    "upstream": ("hudson.model.Cause$UpstreamCause", "Started by upstream project"),
}


def cause(kind: str, of: int = 0) -> list[JSON]:
    """The causes of one build, as CauseAction serializes them."""
    klass, text = CAUSES[kind]
    first: JSON = {"_class": klass, "shortDescription": text.format(n=of)}
    out = [first]
    if kind == "manual":
        first["userId"] = "dwhitfield"
    if kind in ("replay", "rebuild"):
        klass2, text2 = CAUSES["manual"]
        out.append({"_class": klass2, "shortDescription": text2, "userId": "dwhitfield"})
    return out


def git_data(sha: str, branch: str = "refs/remotes/origin/main") -> JSON:
    return {
        "_class": "hudson.plugins.git.util.BuildData",
        "lastBuiltRevision": {"SHA1": sha, "branch": [{"SHA1": sha, "name": branch}]},
    }


def time_in_queue(own_ms: int, agent_wait_ms: int) -> JSON:
    """Metrics plugin TimeInQueueAction; queuingTimeMillis includes the node-block waits."""
    return {
        "_class": "jenkins.metrics.impl.TimeInQueueAction",
        "blockedDurationMillis": 0,
        "buildableDurationMillis": max(0, own_ms - 5000),
        "queuingDurationMillis": own_ms,
        "queuingTimeMillis": own_ms + agent_wait_ms,
        "waitingDurationMillis": min(own_ms, 5000),
        "subTaskCount": 1,
    }


def build_object(
    full_name: str,
    number: int,
    *,
    timestamp: int,
    duration: int,
    result: str | None,
    actions: list[JSON],
    klass: str = WORKFLOW_RUN,
    root: str = ROOT_URL,
    built_on: str | None = None,
) -> JSON:
    building = result is None
    out: JSON = {
        "_class": klass,
        "actions": actions,
        "artifacts": [],
        "building": building,
        "description": None,
        "displayName": f"#{number}",
        "duration": 0 if building else duration,
        "estimatedDuration": 600000,
        "executor": None,
        "fullDisplayName": f"{full_name.replace('/', ' » ')} #{number}",
        "id": str(number),
        "keepLog": False,
        "number": number,
        "queueId": 1000 + number,
        "result": result,
        "timestamp": timestamp,
        "url": f"{root}{job_url_path(full_name)}/{number}/",
        "inProgress": building,
    }
    if built_on is not None:
        out["builtOn"] = built_on
    return out


# ---------------------------------------------------------------------------- the pipeline

# One step: (name, sh script or None, low s, high s, runs in `post { always }`).
StepSpec = tuple[str, str | None, float, float, bool]
# (stage, steps, enclosing parallel stage or None)
STAGES: list[tuple[str, list[StepSpec], str | None]] = [
    ("Declarative: Checkout SCM", [("Check out from version control", None, 2, 9, False)], None),
    (
        "Build",
        [
            ("Shell Script", "./mvnw -B -DskipTests package", 40, 110, False),
            ("Shell Script", 'docker build -t "app:$GIT_COMMIT" .', 30, 120, False),
        ],
        None,
    ),
    (
        "Unit",
        [
            ("Shell Script", "./mvnw -B -Dmaven.test.failure.ignore=true test", 60, 240, False),
            ("Archive JUnit-formatted test results", None, 1, 3, True),
        ],
        "Tests",
    ),
    (
        "Integration",
        [
            ("Shell Script", "docker compose -f ci/compose.yml up -d --wait", 30, 110, False),
            ("Shell Script", "./mvnw -B verify -Pintegration", 60, 200, False),
            ("Shell Script", "docker compose -f ci/compose.yml down -v", 4, 15, True),
        ],
        "Tests",
    ),
    (
        "Migrations",
        [
            (
                "Shell Script",
                "docker run -d  -e POSTGRES_PASSWORD=ci -p 5432:5432 postgres:16",
                3,
                20,
                False,
            ),
            ("Shell Script", "ci/wait-for-postgres.sh localhost 5432", 2, 12, False),
            ("Shell Script", "./mvnw -B test -Pmigration-tests", 30, 90, False),
            ("Shell Script", 'docker stop "$JD_ID" && docker rm -f "$JD_ID"', 2, 6, True),
        ],
        "Tests",
    ),
    (
        "E2E (kind)",
        [
            ("Shell Script", "kind create cluster --name ci --wait 120s", 45, 120, False),
            (
                "Shell Script",
                "helm upgrade --install app charts/app --wait --timeout 5m",
                60,
                240,
                False,
            ),
            ("Shell Script", "./mvnw -B verify -Pe2e", 90, 300, False),
            ("Shell Script", "kind delete cluster --name ci", 4, 15, True),
        ],
        None,
    ),
    (
        "Declarative: Post Actions",
        [("Delete workspace when build is done", None, 1, 4, True)],
        None,
    ),
]
# Outcomes, by how a build ends.
OUTCOMES = ("success", "failure", "unstable", "aborted")
_RESULT = {"success": "SUCCESS", "failure": "FAILURE", "unstable": "UNSTABLE", "aborted": "ABORTED"}


def _sha(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


@dataclass
class _Plan:
    number: int
    enqueued_ms: int
    outcome: str
    event: str
    sha: str
    of: int = 0
    metrics: bool = True
    cut_ms: int | None = None  # still running at this instant


@dataclass
class JobHistory:
    """A seeded history of one Pipeline job: builds newest first and their wfapi describes.

    Builds come every ~40 minutes from ``start``; most succeed, some fail in a parallel branch,
    some are UNSTABLE (test reports) or ABORTED, some are rebuilds or replays of a failure, and
    nightly ones skip the E2E stage. The newest ``in_progress`` builds are still running.
    """

    full_name: str = "team/service/main"
    builds: int = 30
    seed: int = 7
    start: datetime = field(default_factory=lambda: datetime(2024, 5, 20, 8, tzinfo=UTC))
    in_progress: int = 1
    metrics: bool = True
    root: str = ROOT_URL
    freestyle: bool = False
    branch: str | None = "refs/remotes/origin/main"
    steps_per_stage: int | None = None  # pad the Build stage to this many flow nodes

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.job: JSON = job_object(
            self.full_name,
            klass=FREESTYLE_JOB if self.freestyle else WORKFLOW_JOB,
            root=self.root,
        )
        self._plans: dict[int, _Plan] = {}
        self.by_number: dict[int, JSON] = {}
        self.describes: dict[int, JSON] = {}
        clock = int(self.start.timestamp() * 1000)
        for _ in range(self.builds):
            clock = self._plan_next(clock)
        for number in sorted(self._plans)[len(self._plans) - self.in_progress :]:
            plan = self._plans[number]
            plan.cut_ms = plan.enqueued_ms + 60_000 + 120_000 * (number % 3)
        self._render_all()

    # -- planning ---------------------------------------------------------------------

    def _plan_next(self, clock: int) -> int:
        number = len(self._plans) + 1
        rng = self.rng
        previous = self._plans.get(number - 1)
        roll = rng.random()
        if previous is not None and previous.outcome in ("failure", "unstable") and roll < 0.5:
            event, of, sha = rng.choice(("rebuild", "replay")), previous.number, previous.sha
            outcome = "success"
        else:
            event = "schedule" if number % 7 == 0 else ("manual" if number % 11 == 0 else "push")
            sha, of = _sha(f"{self.full_name}{number}"), 0
            outcome = (
                "failure"
                if roll < 0.12
                else "unstable"
                if roll < 0.2
                else "aborted"
                if roll < 0.24
                else "success"
            )
        enqueued = clock + rng.randint(20, 50) * 60_000
        self._plans[number] = _Plan(number, enqueued, outcome, event, sha, of, self.metrics)
        return enqueued

    # -- rendering --------------------------------------------------------------------

    def _render_all(self) -> None:
        for number in sorted(self._plans):
            self._render(self._plans[number])

    def _render(self, plan: _Plan) -> None:
        build, describe = render_build(self, plan)
        self.by_number[plan.number] = build
        if describe is not None:
            self.describes[plan.number] = describe

    @property
    def build_list(self) -> list[JSON]:
        """``allBuilds``: newest first."""
        return [self.by_number[n] for n in sorted(self.by_number, reverse=True)]

    def in_progress_numbers(self) -> list[int]:
        return [n for n, p in self._plans.items() if p.cut_ms is not None]

    def finish(self, number: int) -> None:
        """The running build ``number`` has completed."""
        self._plans[number].cut_ms = None
        self._render(self._plans[number])

    def extend(self, count: int) -> list[int]:
        """``count`` new finished builds after the newest."""
        clock = max(p.enqueued_ms for p in self._plans.values()) + 3_600_000
        new = []
        for _ in range(count):
            clock = self._plan_next(clock)
            number = max(self._plans)
            self._render(self._plans[number])
            new.append(number)
        return new

    def plan(self, number: int) -> _Plan:
        return self._plans[number]

    def rerender(self, number: int) -> None:
        self._render(self._plans[number])


class _Renderer:
    """Lays one planned build out in time, stage by stage, as Stage View reports it."""

    def __init__(self, history: JobHistory, plan: _Plan) -> None:
        self.history, self.plan = history, plan
        self.rng = random.Random(f"{history.seed}:{plan.number}")
        self.base = job_url_path(history.full_name)
        self.node = 2
        self.halted = False  # a failure or an abort: later stages do not run
        self.stages: list[JSON] = []
        outcome = plan.outcome
        self.fail_stage = {
            "failure": self.rng.choice(["Integration", "E2E (kind)"]),
            "unstable": "Unit",
            "aborted": "E2E (kind)",
        }.get(outcome)

    def next_id(self, gap: int = 1) -> str:
        self.node += gap
        return str(self.node)

    def link(self, node: str, log: bool) -> JSON:
        prefix = f"{self.base}/{self.plan.number}/execution/node/{node}"
        links: JSON = {"self": {"href": f"{prefix}/wfapi/describe"}}
        if log:
            links["log"] = {"href": f"{prefix}/wfapi/log"}
        return links

    def stage(self, stage_id: str, name: str, status: str, begin: int, end: int) -> JSON:
        return {
            "_links": self.link(stage_id, log=False),
            "id": stage_id,
            "name": name,
            "execNode": "",
            "status": status,
            "startTimeMillis": begin,
            "durationMillis": end - begin,
            "pauseDurationMillis": 0,
            "stageFlowNodes": [],
        }

    def run_stage(self, name: str, steps: list[StepSpec], begin: int) -> tuple[JSON, int, bool]:
        """(stage, its end, whether it halted the build)."""
        rng = self.rng
        stage_id = self.next_id(3)
        nodes: list[JSON] = []
        at = begin + rng.randint(20, 300)
        parent, status, stopped = stage_id, "SUCCESS", False
        failing = name == self.fail_stage
        last_main = max((i for i, step in enumerate(steps) if not step[4]), default=-1)
        for index, (step, script, low, high, post) in enumerate(steps):
            if stopped and not post:
                continue
            node = self.next_id(rng.choice((1, 1, 2, 3)))
            duration = int(rng.uniform(low, high) * 1000)
            node_status = "SUCCESS"
            error: JSON | None = None
            if failing and index == last_main and self.plan.outcome == "failure":
                node_status, status, stopped = "FAILED", "FAILED", True
                error = {"message": "script returned exit code 1", "type": "hudson.AbortException"}
            elif failing and index == last_main and self.plan.outcome == "aborted":
                node_status, status, stopped = "ABORTED", "ABORTED", True
                duration //= 3
                error = {
                    "message": None,
                    "type": "org.jenkinsci.plugins.workflow.steps.FlowInterruptedException",
                }
            elif failing and self.plan.outcome == "unstable" and post:
                node_status, status = "UNSTABLE", "UNSTABLE"
            entry: JSON = {
                "_links": self.link(node, log=script is not None),
                "id": node,
                "name": step,
                "execNode": "",
                "status": node_status,
                "startTimeMillis": at,
                "durationMillis": duration,
                "pauseDurationMillis": 0,
                "parentNodes": [parent],
            }
            if script is not None:
                entry["parameterDescription"] = script
            elif "JUnit" in step:
                entry["parameterDescription"] = "target/surefire-reports/*.xml"
            if error is not None:
                entry["error"] = error
            nodes.append(entry)
            parent = node
            at += duration + rng.randint(15, 250)
        end = at + rng.randint(10, 200)
        out = self.stage(stage_id, name, status, begin, end)
        out["stageFlowNodes"] = nodes
        return out, end, stopped

    def skipped(self, name: str, status: str) -> None:
        self.stages.append(self.stage(self.next_id(3), name, status, 0, 0))

    def render(self) -> tuple[JSON, JSON | None]:
        history, plan, rng = self.history, self.plan, self.rng
        own_queue = 5000 + rng.randint(0, 1500)
        agent_wait = int(rng.lognormvariate(9.0, 1.2))  # ms; median ~8 s, long tail
        timestamp = plan.enqueued_ms + own_queue
        start = timestamp + rng.randint(5, 40)
        clock = start + agent_wait + rng.randint(600, 2000)
        layout = list(STAGES)
        if history.steps_per_stage:
            name, steps, group = layout[1]
            pad: StepSpec = ("Print Message", None, 0.01, 0.05, False)
            layout[1] = (name, [*steps, *[pad] * (history.steps_per_stage - len(steps))], group)
        index = 0
        while index < len(layout):
            name, steps, group = layout[index]
            if group is not None:
                branches = []
                while index < len(layout) and layout[index][2] == group:
                    branches.append(layout[index])
                    index += 1
                if self.halted:
                    self.skipped(group, "NOT_EXECUTED")
                    for branch in branches:
                        self.skipped(branch[0], "NOT_EXECUTED")
                    continue
                branch_start = clock + rng.randint(30, 80)
                self.stages.append(
                    self.stage(self.next_id(2), group, "SUCCESS", clock, branch_start)
                )
                ends, halted = [], False
                for offset, (branch_name, branch_steps, _) in enumerate(branches):
                    begin = branch_start + offset * rng.randint(5, 40)
                    entry, end, stopped = self.run_stage(branch_name, branch_steps, begin)
                    self.stages.append(entry)
                    ends.append(end)
                    halted = halted or stopped
                self.halted = halted
                clock = max(ends) + rng.randint(50, 300)
                continue
            index += 1
            if name == "E2E (kind)" and plan.event == "schedule":
                self.skipped(name, "SKIPPED")
            elif self.halted and not name.startswith("Declarative: Post"):
                self.skipped(name, "NOT_EXECUTED")
            else:
                entry, clock, stopped = self.run_stage(name, steps, clock)
                self.stages.append(entry)
                self.halted = self.halted or stopped
        end_ms = clock + rng.randint(100, 900)
        run_status = {"SUCCESS": "SUCCESS", "FAILURE": "FAILED"}.get(
            _RESULT[plan.outcome], _RESULT[plan.outcome]
        )
        self.stages[-1]["status"] = run_status  # RunExt.computeTimings
        describe: JSON | None = None
        if not history.freestyle:
            first_start = next(s["startTimeMillis"] for s in self.stages if s["startTimeMillis"])
            describe = {
                "_links": {"self": {"href": f"{self.base}/{plan.number}/wfapi/describe"}},
                "id": str(plan.number),
                "name": f"#{plan.number}",
                "status": run_status,
                "startTimeMillis": start,
                "endTimeMillis": end_ms,
                "durationMillis": end_ms - first_start,
                "queueDurationMillis": first_start - start,
                "pauseDurationMillis": 0,
                "stages": self.stages,
            }
        actions: list[JSON] = [
            {"_class": "hudson.model.CauseAction", "causes": cause(plan.event, plan.of)},
            {},
            {"_class": "org.jenkinsci.plugins.workflow.libs.LibrariesAction"},
        ]
        if history.branch is not None:
            actions.append(git_data(plan.sha, history.branch))
        actions += [{}, {"_class": "org.jenkinsci.plugins.workflow.cps.EnvActionImpl"}]
        if plan.metrics:
            actions.append(time_in_queue(own_queue, agent_wait))
        actions.append({"_class": "org.jenkinsci.plugins.workflow.job.views.FlowGraphAction"})
        result: str | None = _RESULT[plan.outcome]
        if plan.cut_ms is not None:
            result = None
            if describe is not None:
                describe = cut(describe, plan.cut_ms)
        build = build_object(
            history.full_name,
            plan.number,
            timestamp=timestamp,
            duration=end_ms - start,
            result=result,
            actions=actions,
            klass=FREESTYLE_BUILD if history.freestyle else WORKFLOW_RUN,
            root=history.root,
            built_on="agent-7" if history.freestyle else None,
        )
        return build, describe


def render_build(history: JobHistory, plan: _Plan) -> tuple[JSON, JSON | None]:
    """The core build object and the wfapi describe (fullStages) of one planned build."""
    return _Renderer(history, plan).render()


def cut(describe: JSON, at: int) -> JSON:
    """The describe of a build still running at ``at`` (ms): later nodes do not exist yet."""
    out = copy.deepcopy(describe)
    out["status"] = "IN_PROGRESS"
    out["endTimeMillis"] = at
    out["durationMillis"] = max(0, at - out["startTimeMillis"] - out["queueDurationMillis"])
    stages = []
    for stage in out["stages"]:
        begin = stage["startTimeMillis"]
        if not begin or begin >= at:
            continue
        if begin + stage["durationMillis"] > at:
            stage["status"], stage["durationMillis"] = "IN_PROGRESS", at - begin
            stage.pop("error", None)
        nodes = []
        for node in stage["stageFlowNodes"]:
            if node["startTimeMillis"] >= at:
                continue
            if node["startTimeMillis"] + node["durationMillis"] > at:
                node["status"], node["durationMillis"] = "IN_PROGRESS", at - node["startTimeMillis"]
                node.pop("error", None)
            nodes.append(node)
        stage["stageFlowNodes"] = nodes
        stages.append(stage)
    out["stages"] = stages
    return out
