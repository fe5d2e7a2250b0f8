"""The timing model behind the sample data: step durations, queue waits, failures,
cancellation and the in-progress snapshot. Used by ``generate.py``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from workflows import CATEGORY, END, START, Entry, JobSpec, Repo, Workflow


@dataclass(frozen=True)
class Dist:
    """Lognormal around ``median`` (resampled into [lo, hi]), rounded to whole seconds."""

    median: float
    sigma: float
    lo: float
    hi: float

    def sample(self, rng: random.Random, scale: float = 1.0) -> int:
        lo, hi = self.lo * scale, self.hi * scale
        value = self.median * scale
        for _ in range(12):
            value = self.median * scale * math.exp(rng.gauss(0.0, self.sigma))
            if lo <= value <= hi:
                break
        return round(min(max(value, lo), hi))


# -- how long each kind of step takes -------------------------------------------------------

DURATIONS = {
    "setup_job": Dist(2, 0.35, 1, 4),
    "init_containers": Dist(55, 0.3, 20, 120),  # pulls postgres + redis, then health checks
    "stop_containers": Dist(4, 0.3, 2, 9),
    "complete_job": Dist(0.7, 0.6, 0, 2),
    "checkout": Dist(2, 0.4, 1, 6),
    "ruff": Dist(3, 0.3, 1, 8),
    "mypy": Dist(42, 0.25, 22, 90),
    "unit_tests": Dist(140, 0.22, 60, 300),
    "upload": Dist(5, 0.4, 2, 15),
    "db_migrate": Dist(45, 0.25, 20, 90),
    "integration_tests": Dist(42, 0.25, 22, 110),
    "bundle": Dist(34, 0.25, 18, 70),
    "jest": Dist(55, 0.25, 28, 120),
    "buildx": Dist(7, 0.3, 3, 15),
    "compose_build": Dist(85, 0.3, 50, 240),
    "compose_up": Dist(120, 0.15, 40, 150),
    "wait_for": Dist(12, 0.6, 2, 60),
    "playwright_install": Dist(70, 0.25, 35, 120),
    "e2e_tests": Dist(95, 0.2, 60, 178),  # x1.35 by the end (TREND)
    "compose_down": Dist(8, 0.3, 4, 20),
    "golangci": Dist(70, 0.3, 35, 160),
    "login": Dist(1.5, 0.4, 1, 4),
    "docker_build": Dist(110, 0.3, 55, 240),
    "docker_push": Dist(22, 0.35, 8, 60),
    "write_config": Dist(0.3, 0.5, 0, 1),
    "kind_create": Dist(75, 0.25, 45, 120),
    "kind_load": Dist(32, 0.3, 12, 90),
    "helm_repo": Dist(2, 0.3, 1, 4),
    "helm_postgres": Dist(85, 0.3, 60, 240),
    "helm_kafka": Dist(140, 0.3, 60, 240),
    "helm_app": Dist(75, 0.3, 60, 200),
    "kubectl_wait": Dist(38, 0.4, 20, 120),
    "kind_delete": Dist(8, 0.3, 4, 18),
    "soak_tests": Dist(1290, 0.03, 1230, 1400),
}
REPO_DURATIONS = {
    "payments-api": {
        "unit_tests": Dist(95, 0.25, 40, 260),
        "e2e_tests": Dist(100, 0.22, 60, 178),
    },
}
# Cache-dependent kinds: (cache hit, cache miss). A cache hit makes setup-* slower (it
# downloads the cache) and the install fast; a miss saves the cache in the post step.
CACHED = {
    "setup_lang": (Dist(6, 0.35, 2, 15), Dist(2, 0.3, 1, 5)),
    "deps": (Dist(15, 0.25, 10, 25), Dist(100, 0.35, 60, 180)),
    "deps_small": (Dist(7, 0.3, 4, 12), Dist(25, 0.3, 14, 45)),
}
POST_DURATIONS = {
    "actions/checkout": Dist(1, 0.5, 0, 3),
    "helm/kind-action": Dist(3, 0.4, 1, 10),
    "docker/setup-buildx-action": Dist(2, 0.4, 1, 5),
    "docker/login-action": Dist(0.5, 0.5, 0, 1),
    "golangci/golangci-lint-action": Dist(1, 0.5, 0, 3),
}
POST_CACHE_SAVE = (Dist(0.5, 0.5, 0, 1), Dist(12, 0.35, 5, 30))  # (hit: nothing to save, miss)
TREND = {"e2e_tests": 0.35}  # grows by this fraction over the period
LEG_SCALE = {"unit (3.12)": 0.92}
CACHE_HIT_P = 0.75
STARTED_QUIRK_P = 0.04  # started_at == created_at although "Set up job" starts later

# Per (repo, job key): the kinds of step that fail, with their chance per attempt.
FAILURES: dict[tuple[str, str], tuple[tuple[str, float], ...]] = {
    ("storefront", "lint"): (("ruff", 0.02), ("mypy", 0.015)),
    ("storefront", "unit"): (("unit_tests", 0.03),),
    ("storefront", "integration"): (("db_migrate", 0.008), ("integration_tests", 0.025)),
    ("storefront", "frontend"): (("bundle", 0.005), ("jest", 0.02)),
    ("storefront", "e2e-compose"): (
        ("compose_build", 0.005),
        ("compose_up", 0.015),
        ("wait_for", 0.005),
        ("e2e_tests", 0.05),
    ),
    ("payments-api", "golangci"): (("golangci", 0.03),),
    ("payments-api", "unit"): (("unit_tests", 0.03),),
    ("payments-api", "build"): (("docker_build", 0.01),),
    ("payments-api", "e2e-kind"): (
        ("kind_create", 0.008),
        ("helm_postgres", 0.006),
        ("helm_kafka", 0.02),
        ("kubectl_wait", 0.006),
        ("e2e_tests", 0.035),
    ),
    ("payments-api", "soak"): (("kind_create", 0.01), ("helm_kafka", 0.03), ("soak_tests", 0.07)),
}
EVENT_FAILURE_SCALE = {"pull_request": 1.25, "push": 0.6}

# -- one job ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runner:
    runner_id: int
    name: str
    group_id: int
    group_name: str


SELF_HOSTED = tuple(Runner(41 + i, f"ci-large-{i + 1:02d}", 3, "large-runners") for i in range(6))


@dataclass(frozen=True)
class StepRec:
    name: str
    number: int
    kind: str
    status: str
    conclusion: str | None
    start: int | None
    end: int | None
    post: bool = False


@dataclass
class JobRec:
    spec: JobSpec
    attempt: int
    created: int
    started: int
    completed: int | None
    status: str
    conclusion: str | None
    steps: list[StepRec]
    runner: Runner | None
    runner_blank: bool = False  # skipped before a runner was needed: "" and 0, not null
    first_step: int | None = None
    fail_index: int | None = None
    fail_time: int | None = None
    cancel_reason: str | None = None
    job_id: int = 0


def _peak(t: int) -> bool:
    moment = datetime.fromtimestamp(t, UTC)
    return moment.weekday() < 5 and 13 <= moment.hour < 17


def queue_wait(rng: random.Random, created: int, self_hosted: bool) -> int:
    peak = _peak(created)
    if self_hosted:  # a small shared pool: seconds off-hours, many minutes at the peak
        return Dist(240 if peak else 35, 1.0 if peak else 0.8, 10, 1500).sample(rng)
    if rng.random() < 0.9:
        return Dist(7 if peak else 5, 0.45, 2, 20).sample(rng)
    return Dist(30, 0.7, 12, 240).sample(rng)  # the heavy tail


def _main_duration(
    rng: random.Random, entry: Entry, repo: Repo, job: str, created: int, hit: bool
) -> int:
    if entry.kind in CACHED:
        return CACHED[entry.kind][0 if hit else 1].sample(rng)
    dist = REPO_DURATIONS.get(repo.name, {}).get(entry.kind, DURATIONS[entry.kind])
    scale = LEG_SCALE.get(job, 1.0) if entry.kind == "unit_tests" else 1.0
    if entry.kind in TREND:
        scale *= 1 + TREND[entry.kind] * (created - START) / (END - START)
    return dist.sample(rng, scale)


def _fail_duration(rng: random.Random, entry: Entry, normal: int) -> int:
    if entry.timeout is not None:  # helm --wait / kubectl wait / wait-for-it time out
        return entry.timeout + rng.randint(1, 4)
    low, high = {"compose_up": (0.7, 1.3), "kind_create": (0.6, 1.4)}.get(
        entry.kind, (0.5, 1.0) if CATEGORY[entry.kind] == "test" else (0.3, 1.0)
    )
    return max(1, round(normal * rng.uniform(low, high)))


def _post_duration(rng: random.Random, entry: Entry, hit: bool) -> int:
    if entry.post is None or entry.action is None:
        return 0
    if entry.action in POST_DURATIONS:
        return POST_DURATIONS[entry.action].sample(rng)
    return POST_CACHE_SAVE[0 if hit else 1].sample(rng)


def _runs(cond: str | None, state: str) -> bool:
    if cond == "always()":
        return True
    if cond == "failure()":
        return state == "failed"
    if cond == "cancelled()":
        return state == "cancelled"
    return state == "ok"


def layout_job(
    spec: JobSpec,
    repo: Repo,
    seed: int,
    created: int,
    attempt: int,
    fail_index: int | None,
    cancel_at: int | None,
    reason: str,
) -> JobRec:
    """Lay one job out in time. All random draws happen up front, in a fixed order, so the same
    seed gives the same job whether or not it is later cancelled."""
    rng = random.Random(seed)
    entries = spec.entries
    queue = queue_wait(rng, created, spec.self_hosted)
    hit = rng.random() < CACHE_HIT_P
    main = [_main_duration(rng, e, repo, spec.name, created, hit) for e in entries]
    fail = [_fail_duration(rng, e, main[i]) for i, e in enumerate(entries)]
    post = [_post_duration(rng, e, hit) for e in entries]
    stop = DURATIONS["stop_containers"].sample(rng)
    complete = DURATIONS["complete_job"].sample(rng)
    slots = 2 * len(entries) + 3
    gaps = [1 if rng.random() < 0.15 else 0 for _ in range(slots)]
    nulls = [rng.random() < 0.5 for _ in range(slots)]
    quirk = rng.random() < STARTED_QUIRK_P
    early = 1 if rng.random() < 0.3 else 0
    cancel_lag = rng.randint(0, 2)
    if spec.self_hosted:
        runner = SELF_HOSTED[rng.randrange(len(SELF_HOSTED))]
    else:
        rid = rng.randrange(1_000_000_000, 1_000_999_999)
        runner = Runner(rid, f"GitHub Actions {rid}", 0, "GitHub Actions")

    start = created + queue
    if cancel_at is not None and cancel_at < start:  # cancelled while waiting for a runner
        end = max(created, cancel_at + cancel_lag)
        return JobRec(
            spec,
            attempt,
            created,
            created,
            end,
            "completed",
            "cancelled",
            [],
            None,
            cancel_reason=reason,
        )
    t, state, slot = start, "ok", 0
    steps: list[StepRec] = []
    posts: list[tuple[str, str, int]] = []
    fail_time: int | None = None

    def skipped(name: str, number: int, kind: str, is_post: bool) -> StepRec:
        at = None if nulls[slot] else t
        return StepRec(name, number, kind, "completed", "skipped", at, at, is_post)

    for index, entry in enumerate(entries):
        number = index + 1
        if state == "ok" and cancel_at is not None and cancel_at <= t:
            state = "cancelled"
        if not _runs(entry.cond, state):
            steps.append(skipped(entry.name, number, entry.kind, False))
            slot += 1
            continue
        failing = index == fail_index and state == "ok"
        end = t + (fail[index] if failing else main[index])
        conclusion = "success"
        if state == "ok" and cancel_at is not None and cancel_at < end:
            end, conclusion, state = max(t, cancel_at + cancel_lag), "cancelled", "cancelled"
        elif failing:
            conclusion, state, fail_time = "failure", "failed", end
        steps.append(StepRec(entry.name, number, entry.kind, "completed", conclusion, t, end))
        if entry.post is not None:
            posts.append((f"Post {entry.name}", entry.post, post[index]))
        t = end + gaps[slot]
        slot += 1
    # Post steps run in reverse order of their main steps, after a gap in the numbering.
    number = 2 * len(entries)
    for name, post_if, duration in reversed(posts):
        if post_if == "always" or state == "ok":
            steps.append(
                StepRec(name, number, "post", "completed", "success", t, t + duration, True)
            )
            t += duration + gaps[slot]
        else:
            steps.append(skipped(name, number, "post", True))
        number += 1
        slot += 1
    if spec.containers:
        steps.append(
            StepRec(
                "Stop containers",
                number,
                "stop_containers",
                "completed",
                "success",
                t,
                t + stop,
                True,
            )
        )
        t += stop
        number += 1
    steps.append(
        StepRec(
            "Complete job", number, "complete_job", "completed", "success", t, t + complete, True
        )
    )
    t += complete
    conclusion = {"ok": "success", "failed": "failure", "cancelled": "cancelled"}[state]
    started = created if quirk else max(created, start - early)
    return JobRec(
        spec,
        attempt,
        created,
        started,
        t,
        "completed",
        conclusion,
        steps,
        runner,
        first_step=start,
        fail_index=fail_index if state == "failed" else None,
        fail_time=fail_time,
        cancel_reason=reason if state == "cancelled" else None,
    )


def _placeholder(spec: JobSpec, attempt: int, at: int, conclusion: str) -> JobRec:
    """A job that never ran: skipped (a needed job failed) or cancelled with its run."""
    return JobRec(
        spec,
        attempt,
        at,
        at,
        at,
        "completed",
        conclusion,
        [],
        None,
        runner_blank=conclusion == "skipped",
        cancel_reason="run" if conclusion == "cancelled" else None,
    )


# -- one attempt of a run ---------------------------------------------------------------------


def fail_plan(wf: Workflow, event: str, rng: random.Random) -> dict[str, int]:
    """Which job fails at which step (index into its entries) in one attempt."""
    scale = EVENT_FAILURE_SCALE.get(event, 1.0)
    plan: dict[str, int] = {}
    for spec in wf.jobs:
        chances = dict(FAILURES.get((wf.repo.name, spec.key), ()))
        for index, entry in enumerate(spec.entries):
            p = chances.get(entry.kind, 0.0) * scale
            if rng.random() < p and spec.name not in plan:
                plan[spec.name] = index
    return plan


def simulate_attempt(
    wf: Workflow,
    t0: int,
    attempt: int,
    rng: random.Random,
    fails: dict[str, int],
    cancel_at: int | None,
) -> list[JobRec]:
    """All jobs of one attempt. Jobs without ``needs`` are created when the attempt starts; a
    dependent job only when the jobs it needs have finished. ``cancel_at`` cancels the run."""
    draws = {spec.name: (rng.getrandbits(64), rng.randint(1, 3)) for spec in wf.jobs}
    dep_lag = {spec.name: rng.randint(1, 5) for spec in wf.jobs}
    fail_fast_lag = rng.randint(1, 3)
    done: dict[str, list[JobRec]] = {}
    out: list[JobRec] = []
    for key in wf.order:
        legs = [spec for spec in wf.jobs if spec.key == key]
        needs = legs[0].needs
        ready, blocked = t0, ""
        if needs:
            deps = [job for n in needs for job in done[n]]
            ready = max(job.completed or job.created for job in deps)
            verdicts = {job.conclusion for job in deps}
            if "failure" in verdicts or "skipped" in verdicts:
                blocked = "skipped"
            elif "cancelled" in verdicts or (cancel_at is not None and cancel_at < ready):
                blocked = "cancelled"
        recs: list[JobRec] = []
        for spec in legs:
            seed, lag = draws[spec.name]
            created = ready + (dep_lag[spec.name] if needs else lag)
            if blocked:
                recs.append(_placeholder(spec, attempt, created, blocked))
            else:
                recs.append(
                    layout_job(
                        spec,
                        wf.repo,
                        seed,
                        created,
                        attempt,
                        fails.get(spec.name),
                        cancel_at,
                        "run",
                    )
                )
        failed_at = [job.fail_time for job in recs if job.fail_time is not None]
        if len(legs) > 1 and failed_at:  # strategy.fail-fast (default true)
            stop_at = min(failed_at) + fail_fast_lag
            for i, job in enumerate(recs):
                if job.conclusion == "success" and (job.completed or 0) > stop_at:
                    at, why = stop_at, "fail-fast"
                    if cancel_at is not None and cancel_at < stop_at:
                        at, why = cancel_at, "run"
                    recs[i] = layout_job(
                        job.spec,
                        wf.repo,
                        draws[job.spec.name][0],
                        job.created,
                        attempt,
                        fails.get(job.spec.name),
                        at,
                        why,
                    )
        done[key] = recs
        out += recs
    return out


def truncate_job(job: JobRec, now: int) -> JobRec | None:
    """The job as the API shows it at ``now``; None when it does not exist yet."""
    if job.created > now:
        return None
    if job.completed is not None and job.completed <= now:
        return job
    if job.first_step is None or job.first_step > now:  # still waiting for a runner
        return replace(
            job,
            started=job.created,
            completed=None,
            status="queued",
            conclusion=None,
            steps=[],
            runner=None,
        )
    steps: list[StepRec] = []
    reached = False
    for step in job.steps:
        if not reached:
            if step.start is None or step.end is None or step.end <= now:
                steps.append(step)
                continue
            reached = True
            if step.start <= now:
                steps.append(replace(step, status="in_progress", conclusion=None, end=None))
                continue
        if not step.post:  # post steps are only registered once their main step has run
            steps.append(replace(step, status="queued", conclusion=None, start=None, end=None))
    return replace(job, completed=None, status="in_progress", conclusion=None, steps=steps)
