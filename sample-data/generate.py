"""Generate the bundled GitHub Actions sample dataset that ``ci-profile demo`` loads.

The output is deterministic (``random.Random(20261101)``): the same code always writes the same
bytes. Step lists are derived from the workflow files in ``github/<owner>/<repo>/.github/`` (parsed
with PyYAML), so the history and the pipeline files cannot drift apart. Dev-time tool only:

    python sample-data/generate.py           # regenerate, verify, print + record the summary
    python sample-data/generate.py --check   # verify the committed files, print the summary

Next to this file: ``story.py`` (people, pull requests, per-repository settings),
``workflows.py`` (the YAML read as the runner would: jobs and their exact step lists),
``simulate.py`` (the timing model: queue waits, durations, failures, cancellation) and
``verify.py`` (the checks and the summary).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import random
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import verify
from simulate import Dist, JobRec, fail_plan, simulate_attempt, truncate_job
from story import (
    DEPENDABOT,
    FOLLOW_UPS,
    GITHUB_COMMITTER,
    ORG_ID,
    QUICK_FIXES,
    REPOS,
    Person,
    RepoCfg,
    node_id,
)
from workflows import END, NOW, START, Repo, Workflow, load_workflows, ts_z

HERE = Path(__file__).resolve().parent
SEED = 20261101
API = "https://api.github.com"
WEB = "https://github.com"
DAY = 86_400
CUTOFF = NOW - 4 * 3600  # generated activity stops here; only the injected runs come later
RERUN_P = 0.3  # share of failed runs someone re-runs (all jobs)
FAIL_AGAIN_P = 0.35  # a re-run fails again (otherwise it was flaky and passes)
QUICK_PUSH_P = 0.08  # a push followed within minutes by another one (cancels the first run)
PATH_SUFFIX_P = 0.05  # runs whose ``path`` carries the ``@ref`` suffix

# -- commits, pull requests, triggers --------------------------------------------------------


@dataclass(frozen=True)
class Commit:
    sha: str
    tree: str
    message: str
    time: int  # pushed
    authored: int
    author: Person
    committer: dict[str, str]


@dataclass
class PullRequest:
    branch: str
    title: str
    author: Person
    pushes: list[Commit]
    merge_at: int | None
    merger: Person
    number: int = 0
    pr_id: int = 0


@dataclass(frozen=True)
class Trigger:
    cfg: RepoCfg
    workflow: Workflow
    time: int
    event: str
    branch: str
    commit: Commit
    actor: Person
    title: str
    pr: PullRequest | None = None
    base_sha: str | None = None
    group: tuple[str, str, str] | None = None  # concurrency group that cancels in progress
    injected: bool = False  # one of the newest runs, still running at NOW: no failure planned


@dataclass
class Attempt:
    number: int
    t0: int
    jobs: list[JobRec]
    conclusion: str | None
    end: int
    triggering_actor: Person
    plan_seed: int


@dataclass
class RunRec:
    trig: Trigger
    attempts: list[Attempt] = field(default_factory=list)
    run_id: int = 0
    check_suite_id: int = 0
    run_number: int = 0
    path_suffix: bool = False
    status: str = "completed"
    updated: int = 0


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def _weekend(t: int) -> bool:
    return datetime.fromtimestamp(t, UTC).weekday() >= 5


def _work_instant(rng: random.Random, day: int) -> int:
    """A moment on ``day`` (UTC midnight), peaked in working hours 13-17 UTC."""
    if rng.random() < 0.93:
        hour = min(21.5, max(6.5, rng.gauss(14.8, 2.4)))
    else:
        hour = rng.uniform(0.0, 24.0)
    return day + int(hour * 3600) + rng.randrange(60)


def _next_work_day(rng: random.Random, t: int) -> int:
    """Midnight of the next working day after ``t`` (someone works a weekend now and then)."""
    day = t - t % DAY + DAY
    while _weekend(day) and rng.random() > 0.1:
        day += DAY
    return day


def _working(rng: random.Random, t: int) -> int:
    """``t`` when it falls in a working day, else a moment of the next working day."""
    hour = (t % DAY) / 3600
    if 7 <= hour < 21 and (not _weekend(t) or rng.random() < 0.15):
        return t
    day = t - t % DAY if hour < 7 and not _weekend(t) else _next_work_day(rng, t)
    return max(t + 60, _work_instant(rng, day))


def _spread_days(rng: random.Random, n: int, first: int, last: int, weekend: float) -> list[int]:
    """``n`` days, stratified over [first, last] by weight (weekends count ``weekend``)."""
    days = list(range(first, last + 1, DAY))
    cumulative = list(itertools.accumulate(weekend if _weekend(d) else 1.0 for d in days))
    picks = [
        days[min(len(days) - 1, bisect.bisect(cumulative, (i + rng.random()) / n * cumulative[-1]))]
        for i in range(n)
    ]
    rng.shuffle(picks)
    return picks


def _commit(
    rng: random.Random, time: int, message: str, author: Person, committer: dict[str, str] | None
) -> Commit:
    authored = time - Dist(360, 0.9, 20, 7200).sample(rng)
    who = committer or {"name": author.name, "email": author.email}
    return Commit(_sha(rng), _sha(rng), message, time, authored, author, who)


def make_prs(cfg: RepoCfg, rng: random.Random) -> list[PullRequest]:
    prs: list[PullRequest] = []
    days = _spread_days(rng, len(cfg.prs), START, END - DAY, 0.1)
    days += _spread_days(rng, len(cfg.bots), START, END - 2 * DAY, 0.0)
    stories = [(b, t, rng.choice(cfg.devs)) for b, t in cfg.prs]
    stories += [(b, t, DEPENDABOT) for b, t in cfg.bots]
    for (branch, title, author), day in zip(stories, days, strict=True):
        bot = author.kind == "Bot"
        t = day + 4 * 3600 + rng.randrange(5400) if bot else _work_instant(rng, day)
        n_pushes = 1 if bot else 1 + min(5, int(math.log(1 - rng.random()) / math.log(0.6)))
        committer = GITHUB_COMMITTER if bot else None
        pushes: list[Commit] = []
        for i in range(n_pushes):
            if i:
                r = rng.random()
                if r < 0.5:
                    t = _working(rng, t + Dist(2400, 0.6, 480, 10_800).sample(rng))
                elif r < 0.8:
                    t = _work_instant(rng, _next_work_day(rng, t))
                else:
                    t = _working(rng, t + rng.randint(2 * 3600, 6 * 3600))
            message = rng.choice(FOLLOW_UPS) if i else title
            pushes.append(_commit(rng, t, message, author, committer))
            if not bot and rng.random() < QUICK_PUSH_P:  # "oops" push: cancels the run above
                t += rng.randint(5, 40) if rng.random() < 0.3 else rng.randint(60, 480)
                pushes.append(_commit(rng, t, rng.choice(QUICK_FIXES), author, committer))
        pushes = [c for c in pushes if c.time < CUTOFF]
        if not pushes:
            continue
        merge_at: int | None = _working(
            rng, pushes[-1].time + Dist(9000, 0.9, 1200, 144_000).sample(rng)
        )
        if rng.random() > 0.92 or (merge_at is not None and merge_at >= CUTOFF):
            merge_at = None
        others = [d for d in cfg.devs if d != author]
        merger = author if not bot and rng.random() < 0.6 else rng.choice(others)
        prs.append(PullRequest(branch, title, author, pushes, merge_at, merger))
    # The injected newest activity: a fresh PR push and the merge of the latest open PR.
    open_prs = sorted((p for p in prs if p.merge_at is None), key=lambda p: p.pushes[0].time)
    if open_prs:
        open_prs[-1].merge_at = cfg.injected_merge_at
    fresh_author = cfg.devs[1]
    branch, title = cfg.injected_pr
    fresh = _commit(rng, cfg.injected_pr_at, title, fresh_author, None)
    prs.append(PullRequest(branch, title, fresh_author, [fresh], None, fresh_author))
    prs.sort(key=lambda p: p.pushes[0].time)
    number = cfg.first_pr
    for pr in prs:
        number += rng.randint(1, 3)
        pr.number = number
        pr.pr_id = 2_100_000_000 + cfg.repo.repo_id % 1000 * 100_000 + number
    return prs


def make_triggers(cfg: RepoCfg, workflows: list[Workflow], rng: random.Random) -> list[Trigger]:
    prs = make_prs(cfg, rng)
    # main's history: the squash merges in order, each with who merged it
    main = [(_commit(rng, START - 3 * 3600, "Release 2026.09.30", cfg.devs[0], None), cfg.devs[0])]
    for pr in sorted((p for p in prs if p.merge_at is not None), key=lambda p: p.merge_at or 0):
        merged = _commit(rng, pr.merge_at or 0, f"{pr.title} (#{pr.number})", pr.author, None)
        main.append((replace(merged, committer=GITHUB_COMMITTER), pr.merger))

    def main_at(t: int) -> Commit:
        return [c for c, _ in main if c.time <= t][-1]

    out: list[Trigger] = []
    for wf in workflows:
        if "pull_request" in wf.events:
            for pr in prs:
                for c in pr.pushes:
                    out.append(
                        Trigger(
                            cfg,
                            wf,
                            c.time + rng.randint(2, 7),
                            "pull_request",
                            pr.branch,
                            c,
                            actor=c.author,
                            title=pr.title,
                            pr=pr,
                            base_sha=main_at(c.time).sha,
                            group=(cfg.repo.name, wf.file, pr.branch) if wf.cancel_pr else None,
                            injected=c.time == cfg.injected_pr_at,
                        )
                    )
        if "push" in wf.events:
            for c, merger in main[1:]:
                out.append(
                    Trigger(
                        cfg,
                        wf,
                        c.time + rng.randint(2, 7),
                        "push",
                        "main",
                        c,
                        actor=merger,
                        title=c.message.splitlines()[0],
                        injected=c.time == cfg.injected_merge_at,
                    )
                )
        if "schedule" in wf.events:
            owner = cfg.nightly_owner or cfg.devs[0]
            for day in range(START, END, DAY):
                created = day + 2 * 3600 + 23 * 60 + Dist(420, 0.5, 60, 2400).sample(rng)
                if created < CUTOFF:
                    c = main_at(created)
                    out.append(Trigger(cfg, wf, created, "schedule", "main", c, owner, wf.name))
        if "workflow_dispatch" in wf.events:
            for _ in range(2):
                created = _work_instant(rng, _spread_days(rng, 1, START, END - 2 * DAY, 0.0)[0])
                c, who = main_at(created), rng.choice(cfg.devs)
                out.append(Trigger(cfg, wf, created, "workflow_dispatch", "main", c, who, wf.name))
    return out


# -- runs: concurrency, re-runs, the snapshot ------------------------------------------------


def _attempt(
    trig: Trigger,
    number: int,
    t0: int,
    seed: int,
    who: Person,
    cancel_at: int | None,
    previous: Attempt | None,
    fail_again: bool,
) -> Attempt:
    rng = random.Random(seed)
    fails = fail_plan(trig.workflow, trig.event, rng)
    if trig.injected:
        fails = {}
    elif previous is not None:
        fails = _previous_fails(previous) if fail_again else {}
    jobs = simulate_attempt(trig.workflow, t0, number, rng, fails, cancel_at)
    conclusions = {j.conclusion for j in jobs}
    if any(j.cancel_reason == "run" for j in jobs):
        conclusion = "cancelled"
    elif "failure" in conclusions:
        conclusion = "failure"
    else:
        conclusion = "success"
    end = max(j.completed or j.created for j in jobs)
    return Attempt(number, t0, jobs, conclusion, end, who, seed)


def _previous_fails(previous: Attempt) -> dict[str, int]:
    out: dict[str, int] = {}
    for job in previous.jobs:
        if job.conclusion == "failure" and job.fail_index is not None:
            out[job.spec.name] = job.fail_index
    return out


def _rerun(run: RunRec, rng: random.Random, fail_again: bool, limit: int) -> bool:
    """Re-run all jobs of ``run`` some minutes after its last attempt, if that fits before
    ``limit`` (a newer push to the same PR, or the end of the generated period)."""
    last = run.attempts[-1]
    t0 = last.end + Dist(1500, 0.9, 180, 18_000).sample(rng)
    actor = run.trig.actor
    devs = run.trig.cfg.devs
    who = actor if actor.kind != "Bot" and rng.random() < 0.7 else rng.choice(devs)
    seed = rng.getrandbits(64)
    attempt = _attempt(run.trig, last.number + 1, t0, seed, who, None, last, fail_again)
    if attempt.end + 300 > limit:
        return False
    run.attempts.append(attempt)
    return True


def build_runs(triggers: list[Trigger], rng: random.Random) -> list[RunRec]:
    triggers.sort(key=lambda t: (t.time, t.cfg.repo.name, t.workflow.file))
    runs: list[RunRec] = []
    latest: dict[tuple[str, str, str], RunRec] = {}
    for trig in triggers:
        seed = rng.getrandbits(64)
        run = RunRec(trig)
        run.attempts.append(_attempt(trig, 1, trig.time, seed, trig.actor, None, None, False))
        if trig.group is not None:
            prev = latest.get(trig.group)
            if prev is not None and prev.attempts[-1].end > trig.time:
                cancel_at = trig.time + rng.randint(2, 6)
                old = prev.attempts[-1]
                prev.attempts[-1] = _attempt(
                    prev.trig,
                    1,
                    old.t0,
                    old.plan_seed,
                    old.triggering_actor,
                    cancel_at,
                    None,
                    False,
                )
            latest[trig.group] = run
        runs.append(run)
    # Re-runs of failed runs (all jobs), when nothing newer superseded them.
    next_in_group: dict[int, int] = {}
    by_group: dict[tuple[str, str, str], list[RunRec]] = {}
    for run in runs:
        if run.trig.group is not None:
            by_group.setdefault(run.trig.group, []).append(run)
    for group_runs in by_group.values():
        for a, b in itertools.pairwise(group_runs):
            next_in_group[id(a)] = b.trig.time
    failed = [run for run in runs if run.attempts[-1].conclusion == "failure"]
    chosen = [
        failed[i] for i in sorted(rng.sample(range(len(failed)), round(RERUN_P * len(failed))))
    ]
    n_again = min(len(chosen), max(1, round(FAIL_AGAIN_P * len(chosen))))
    again = set(rng.sample(range(len(chosen)), n_again))
    thirds = 0
    for index, run in enumerate(chosen):
        limit = min(next_in_group.get(id(run), NOW), CUTOFF)
        if not _rerun(run, rng, index in again, limit) or index not in again:
            continue
        if thirds == 0 or rng.random() < 0.5:  # a second re-run, usually flaky again
            thirds += _rerun(run, rng, rng.random() < 0.3, limit)
    for run in runs:
        run.path_suffix = rng.random() < PATH_SUFFIX_P
        last = run.attempts[-1]
        if last.end <= NOW:
            run.updated = last.end + rng.randint(1, 3)
            continue
        jobs = [t for j in last.jobs if (t := truncate_job(j, NOW)) is not None]
        last.jobs = jobs
        last.conclusion = None
        started = any(j.status != "queued" for j in jobs)
        run.status = "in_progress" if started else "queued"
        moments = [run.trig.time]
        for j in jobs:
            moments += [j.created, *(t for s in j.steps for t in (s.start, s.end) if t is not None)]
        run.updated = max(m for m in moments if m <= NOW)
    return runs


def assign_ids(runs: list[RunRec], rng: random.Random) -> None:
    ordered = sorted(runs, key=lambda r: (r.trig.time, r.trig.cfg.repo.name, r.trig.workflow.file))
    run_id, suite_id, prev = 19_120_000_000, 48_700_000_000, START
    counters: dict[tuple[str, str], int] = {}
    for run in ordered:
        gap = max(1, run.trig.time - prev)
        prev = run.trig.time
        run_id += gap * 37 + rng.randint(1, 900)
        suite_id += gap * 95 + rng.randint(1, 2000)
        run.run_id, run.check_suite_id = run_id, suite_id
        key = (run.trig.cfg.repo.name, run.trig.workflow.file)
        counters[key] = counters.get(key, run.trig.cfg.run_numbers[run.trig.workflow.file]) + 1
        run.run_number = counters[key]
    jobs = [
        (j.created, run.run_id, a.number, i, j)
        for run in ordered
        for a in run.attempts
        for i, j in enumerate(a.jobs)
    ]
    jobs.sort(key=lambda x: x[:4])
    job_id, prev = 53_400_000_000, START
    for created, _, _, _, job in jobs:
        job_id += max(1, created - prev) * 110 + rng.randint(1, 400)
        prev = max(prev, created)
        job.job_id = job_id


# -- rendering -------------------------------------------------------------------------------


def _repo_json(repo: Repo) -> dict[str, Any]:
    return {
        "id": repo.repo_id,
        "node_id": f"R_{node_id(0, repo.repo_id)}",
        "name": repo.name,
        "full_name": repo.full_name,
        "private": True,
        "owner": {"login": repo.owner, "id": ORG_ID},
        "html_url": f"{WEB}/{repo.full_name}",
        "url": f"{API}/repos/{repo.full_name}",
    }


def _pr_json(trig: Trigger) -> list[dict[str, Any]]:
    pr, repo = trig.pr, trig.cfg.repo
    if pr is None or trig.event != "pull_request":
        return []
    ref = {"id": repo.repo_id, "url": f"{API}/repos/{repo.full_name}", "name": repo.name}
    return [
        {
            "url": f"{API}/repos/{repo.full_name}/pulls/{pr.number}",
            "id": pr.pr_id,
            "number": pr.number,
            "head": {"ref": pr.branch, "sha": trig.commit.sha, "repo": ref},
            "base": {"ref": "main", "sha": trig.base_sha, "repo": ref},
        }
    ]


def run_json(run: RunRec) -> dict[str, Any]:
    trig, repo = run.trig, run.trig.cfg.repo
    last = run.attempts[-1]
    base = f"{API}/repos/{repo.full_name}"
    url = f"{base}/actions/runs/{run.run_id}"
    path = trig.workflow.path
    if run.path_suffix:
        ref = (
            f"refs/pull/{trig.pr.number}/merge"
            if trig.pr and trig.event == "pull_request"
            else ("refs/heads/main")
        )
        path = f"{path}@{ref}"
    commit = trig.commit
    completed = run.status == "completed"
    return {
        "id": run.run_id,
        "name": trig.workflow.name,
        "node_id": f"WFR_{node_id(2, repo.repo_id, run.run_id)}",
        "check_suite_id": run.check_suite_id,
        "check_suite_node_id": f"CS_{node_id(0, repo.repo_id, run.check_suite_id)}",
        "head_branch": trig.branch,
        "head_sha": commit.sha,
        "path": path,
        "display_title": trig.title,
        "run_number": run.run_number,
        "event": trig.event,
        "status": run.status,
        "conclusion": last.conclusion if completed else None,
        "workflow_id": trig.cfg.workflow_ids[trig.workflow.file],
        "url": url,
        "html_url": f"{WEB}/{repo.full_name}/actions/runs/{run.run_id}",
        "pull_requests": _pr_json(trig),
        "created_at": ts_z(trig.time),
        "updated_at": ts_z(run.updated),
        "actor": trig.actor.api(),
        "run_attempt": last.number,
        "run_started_at": ts_z(last.t0),
        "triggering_actor": last.triggering_actor.api(),
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{base}/check-suites/{run.check_suite_id}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "previous_attempt_url": f"{url}/attempts/{last.number - 1}" if last.number > 1 else None,
        "workflow_url": f"{base}/actions/workflows/{trig.cfg.workflow_ids[trig.workflow.file]}",
        "head_commit": {
            "id": commit.sha,
            "tree_id": commit.tree,
            "message": commit.message,
            "timestamp": ts_z(commit.authored),
            "author": {"name": commit.author.name, "email": commit.author.email},
            "committer": commit.committer,
        },
        "repository": _repo_json(repo),
        "head_repository": _repo_json(repo),
    }


def job_json(run: RunRec, attempt: Attempt, job: JobRec) -> dict[str, Any]:
    repo = run.trig.cfg.repo
    base = f"{API}/repos/{repo.full_name}"
    fmt = repo.step_time
    runner = job.runner
    blank = job.runner_blank
    return {
        "id": job.job_id,
        "run_id": run.run_id,
        "workflow_name": run.trig.workflow.name,
        "head_branch": run.trig.branch,
        "run_url": f"{base}/actions/runs/{run.run_id}",
        "run_attempt": attempt.number,
        "node_id": f"CR_{node_id(0, repo.repo_id, job.job_id)}",
        "head_sha": run.trig.commit.sha,
        "url": f"{base}/actions/jobs/{job.job_id}",
        "html_url": f"{WEB}/{repo.full_name}/actions/runs/{run.run_id}/job/{job.job_id}",
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": ts_z(job.created),
        "started_at": ts_z(job.started),
        "completed_at": ts_z(job.completed) if job.completed is not None else None,
        "name": job.spec.name,
        "steps": [
            {
                "name": s.name,
                "status": s.status,
                "conclusion": s.conclusion,
                "number": s.number,
                "started_at": fmt(s.start) if s.start is not None else None,
                "completed_at": fmt(s.end) if s.end is not None else None,
            }
            for s in job.steps
        ],
        "check_run_url": f"{base}/check-runs/{job.job_id}",
        "labels": list(job.spec.labels),
        "runner_id": 0 if blank else (runner.runner_id if runner else None),
        "runner_name": "" if blank else (runner.name if runner else None),
        "runner_group_id": 0 if blank else (runner.group_id if runner else None),
        "runner_group_name": "" if blank else (runner.group_name if runner else None),
    }


def _dump(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False) + "\n")


def write(runs: list[RunRec]) -> None:
    for cfg in REPOS:
        repo = cfg.repo
        mine = [r for r in runs if r.trig.cfg is cfg]
        mine.sort(key=lambda r: (r.trig.time, r.run_id), reverse=True)
        out_dir = HERE / "github" / repo.owner / repo.name / "ci-history"
        _dump(
            out_dir / "workflow_runs.json",
            {"total_count": len(mine), "workflow_runs": [run_json(r) for r in mine]},
        )
        jobs: dict[str, Any] = {}
        for run in mine:
            body = [job_json(run, a, j) for a in run.attempts for j in a.jobs]
            body.sort(key=lambda j: (j["run_attempt"], j["id"]))
            jobs[str(run.run_id)] = {"total_count": len(body), "jobs": body}
        _dump(out_dir / "jobs.json", jobs)


def generate() -> None:
    rng = random.Random(SEED)
    triggers: list[Trigger] = []
    for cfg in REPOS:
        workflows = load_workflows(cfg.repo, HERE / "github" / cfg.repo.full_name)
        triggers += make_triggers(cfg, workflows, rng)
    runs = build_runs(triggers, rng)
    assign_ids(runs, rng)
    write(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the existing files")
    args = parser.parse_args(argv)
    if not args.check:
        generate()
    problems = verify.check(HERE / "github")
    for problem in problems[:50]:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    summary = verify.summary(HERE / "github")
    print(summary)
    if not args.check:
        verify.record_summary(HERE / "README.md", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
