"""Checks and the summary for the sample data, read back from the files as a loader would.

python sample-data/verify.py   # same as: python sample-data/generate.py --check
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from workflows import CATEGORY, NOW, Repo, load_workflows, ts_z

MAX_BYTES = 8_000_000
ENV_TEARDOWN = {"compose_down", "kind_delete", "stop_containers"}
SUMMARY_START = "<!-- summary:start (written by generate.py) -->"
SUMMARY_END = "<!-- summary:end -->"


def _time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"naive timestamp {value!r}")
    return parsed


def _times(obj: object, where: str, problems: list[str]) -> None:
    """Every ``*_at`` / ``timestamp`` string anywhere must parse, with an offset."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, str) and (key.endswith("_at") or key == "timestamp"):
                try:
                    _time(value)
                except ValueError as exc:
                    problems.append(f"{where}: {key}: {exc}")
            else:
                _times(value, where, problems)
    elif isinstance(obj, list):
        for item in obj:
            _times(item, where, problems)


def _repos(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/*/ci-history"))


def _load(repo_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    runs = json.loads((repo_dir / "ci-history" / "workflow_runs.json").read_text())
    jobs = json.loads((repo_dir / "ci-history" / "jobs.json").read_text())
    return runs, jobs


def _specs(repo_dir: Path) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(workflow name, job name) -> the runner's main steps [(name, kind)]."""
    repo = Repo(repo_dir.parent.name, repo_dir.name, 0, "UTC")
    return {
        (wf.name, spec.name): [(e.name, e.kind) for e in spec.entries]
        for wf in load_workflows(repo, repo_dir)
        for spec in wf.jobs
    }


def check(root: Path) -> list[str]:
    problems: list[str] = []
    seen_runs: set[int] = set()
    seen_jobs: set[int] = set()
    size = 0
    for repo_dir in _repos(root):
        for name in ("workflow_runs.json", "jobs.json"):
            size += (repo_dir / "ci-history" / name).stat().st_size
        project = f"{repo_dir.parent.name}/{repo_dir.name}"
        runs_doc, jobs_doc = _load(repo_dir)
        specs = _specs(repo_dir)
        runs = runs_doc["workflow_runs"]
        if runs_doc["total_count"] != len(runs):
            problems.append(f"{project}: total_count {runs_doc['total_count']} != {len(runs)}")
        created = [_time(r["created_at"]) for r in runs]
        if created != sorted(created, reverse=True):
            problems.append(f"{project}: runs are not newest-created first")
        open_runs = [i for i, r in enumerate(runs) if r["status"] != "completed"]
        if not 2 <= len(open_runs) <= 4 or open_runs != list(range(len(open_runs))):
            problems.append(f"{project}: unfinished runs at positions {open_runs}")
        run_ids = {r["id"] for r in runs}
        for key in jobs_doc:
            if int(key) not in run_ids:
                problems.append(f"{project}: jobs.json has run {key} missing from the runs")
        for run in runs:
            problems += _check_run(project, run, jobs_doc.get(str(run["id"])), specs, seen_jobs)
            if run["id"] in seen_runs:
                problems.append(f"{project}: duplicate run id {run['id']}")
            seen_runs.add(run["id"])
    if size > MAX_BYTES:
        problems.append(f"data is {size} bytes, over {MAX_BYTES}")
    return problems


def _check_run(
    project: str,
    run: dict[str, Any],
    body: dict[str, Any] | None,
    specs: dict[tuple[str, str], list[tuple[str, str]]],
    seen_jobs: set[int],
) -> list[str]:
    where = f"{project} run {run['id']}"
    problems: list[str] = []
    _times(run, where, problems)
    if problems:
        return problems
    done = run["status"] == "completed"
    if done != (run["conclusion"] is not None):
        problems.append(f"{where}: status {run['status']} with conclusion {run['conclusion']}")
    created, started = _time(run["created_at"]), _time(run["run_started_at"])
    if not created <= started <= _time(run["updated_at"]):
        problems.append(f"{where}: created/run_started/updated out of order")
    if body is None:
        return [*problems, f"{where}: no jobs"]
    jobs = body["jobs"]
    if body["total_count"] != len(jobs) or not jobs:
        problems.append(f"{where}: total_count {body['total_count']}, {len(jobs)} jobs")
    attempts = {j["run_attempt"] for j in jobs}
    expected = set(range(1, run["run_attempt"] + 1))
    if attempts != expected and (done or not attempts <= expected):
        problems.append(f"{where}: attempts {sorted(attempts)} for run_attempt {expected}")
    for job in jobs:
        problems += _check_job(where, run, job, specs)
        if job["id"] in seen_jobs:
            problems.append(f"{where}: duplicate job id {job['id']}")
        seen_jobs.add(job["id"])
    return problems


def _check_job(
    where: str,
    run: dict[str, Any],
    job: dict[str, Any],
    specs: dict[tuple[str, str], list[tuple[str, str]]],
) -> list[str]:
    where = f"{where} job {job['id']} ({job['name']})"
    problems: list[str] = []
    _times(job, where, problems)
    if problems:
        return problems
    if job["run_id"] != run["id"] or job["head_sha"] != run["head_sha"]:
        problems.append(f"{where}: run_id/head_sha do not match the run")
    spec = specs.get((run["name"], job["name"]))
    if spec is None:
        return [*problems, f"{where}: not a job of workflow {run['name']!r}"]
    created, started = _time(job["created_at"]), _time(job["started_at"])
    completed = _time(job["completed_at"]) if job["completed_at"] else None
    if created > started or (completed is not None and started > completed):
        problems.append(f"{where}: created/started/completed out of order")
    if (job["status"] == "completed") != (job["conclusion"] is not None and completed is not None):
        problems.append(f"{where}: status {job['status']} / conclusion {job['conclusion']}")
    steps = job["steps"]
    if not steps and job["runner_name"] and job["status"] == "completed":
        problems.append(f"{where}: a runner but no steps")
    numbers = [s["number"] for s in steps]
    if numbers != sorted(set(numbers)) or (steps and numbers[0] != 1):
        problems.append(f"{where}: step numbers {numbers}")
    main = [s["name"] for s in steps if s["number"] <= len(spec)]
    if main and main != [name for name, _ in spec][: len(main)]:
        problems.append(f"{where}: steps {main} differ from the workflow")
    if steps and job["status"] == "completed":
        if len(main) != len(spec) or steps[-1]["name"] != "Complete job":
            problems.append(f"{where}: incomplete step list")
        if len(steps) > len(spec) and steps[len(spec)]["number"] == len(spec) + 1:
            problems.append(f"{where}: no gap before the post steps")
    for step in steps:
        s_start = _time(step["started_at"]) if step["started_at"] else None
        s_end = _time(step["completed_at"]) if step["completed_at"] else None
        if s_start is not None and s_end is not None and s_start > s_end:
            problems.append(f"{where}: step {step['number']} ends before it starts")
        if s_start is not None and s_start < started:
            problems.append(f"{where}: step {step['number']} starts before the job")
        if s_end is not None and completed is not None and s_end > completed:
            problems.append(f"{where}: step {step['number']} ends after the job")
        if step["conclusion"] == "skipped" and (s_start != s_end or step["status"] != "completed"):
            problems.append(f"{where}: skipped step {step['number']} with a duration")
    return problems


# -- summary ---------------------------------------------------------------------------------


def _seconds(a: str, b: str) -> float:
    return (_time(b) - _time(a)).total_seconds()


def _fmt(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def summary(root: Path) -> str:
    lines = [
        f"Snapshot as of {ts_z(NOW)}. Durations are medians over successful jobs, from the first"
        " step's start to the job's end (queue excluded); queue is created_at → first step.",
        "Shares split the execution time by the step kinds in `workflows.py`; *environment*"
        " includes tearing it down.",
        "",
        "| repository | runs | jobs | steps | attempts > 1 | failed | cancelled | in progress |"
        " events | first run | last run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    per_job: list[str] = []
    quirks: list[str] = []
    total_runs = total_jobs = total_steps = 0
    for repo_dir in _repos(root):
        project = f"{repo_dir.parent.name}/{repo_dir.name}"
        runs_doc, jobs_doc = _load(repo_dir)
        runs = runs_doc["workflow_runs"]
        kinds = {key: dict(value) for key, value in _specs(repo_dir).items()}
        conclusions = Counter(r["conclusion"] for r in runs)
        events = Counter(r["event"] for r in runs)
        jobs = [(r, j) for r in runs for j in jobs_doc[str(r["id"])]["jobs"]]
        steps = sum(len(j["steps"]) for _, j in jobs)
        total_runs, total_jobs, total_steps = (
            total_runs + len(runs),
            total_jobs + len(jobs),
            total_steps + steps,
        )
        first, last = min(r["created_at"] for r in runs), max(r["created_at"] for r in runs)
        lines.append(
            f"| {project} | {len(runs)} | {len(jobs)} | {steps} |"
            f" {sum(r['run_attempt'] > 1 for r in runs)} | {conclusions['failure']} |"
            f" {conclusions['cancelled']} | {sum(r['status'] != 'completed' for r in runs)} |"
            f" {', '.join(f'{k} {v}' for k, v in sorted(events.items()))} | {first} | {last} |"
        )
        quirks.append(_quirk_line(project, runs, [j for _, j in jobs]))
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for run, job in jobs:
            groups.setdefault((run["name"], job["name"]), []).append(job)
        for (workflow, name), members in sorted(groups.items()):
            per_job.append(_job_line(project, workflow, name, members, kinds[(workflow, name)]))
    lines += [
        f"| **total** | {total_runs} | {total_jobs} | {total_steps} | | | | | | | |",
        "",
        "| repository | workflow | job | jobs | median duration | median queue | p90 queue |"
        " provisioning | environment | test |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *per_job,
        "",
        "| repository | path with @ref | started_at = created_at, first step later |"
        " skipped steps (null / equal times) | jobs cancelled while queued |"
        " jobs that never ran (needs failed / run cancelled) | max run_attempt | step offsets |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        *quirks,
    ]
    return "\n".join(lines)


def _quirk_line(project: str, runs: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> str:
    quirk = null = equal = queued = never_skipped = never_cancelled = 0
    offsets: set[str] = set()
    for job in jobs:
        steps = job["steps"]
        first = next((s["started_at"] for s in steps if s["started_at"]), None)
        if first and job["started_at"] == job["created_at"] and _seconds(job["created_at"], first):
            quirk += 1
        if not steps and job["status"] == "completed":
            if job["created_at"] != job["completed_at"]:
                queued += 1
            elif job["conclusion"] == "skipped":
                never_skipped += 1
            else:
                never_cancelled += 1
        for step in steps:
            if step["conclusion"] == "skipped":
                null, equal = (null + 1, equal) if step["started_at"] is None else (null, equal + 1)
            if step["started_at"]:
                offsets.add("Z" if step["started_at"].endswith("Z") else step["started_at"][-6:])
    return (
        f"| {project} | {sum('@' in r['path'] for r in runs)} | {quirk} | {null} / {equal} |"
        f" {queued} | {never_skipped} / {never_cancelled} | {max(r['run_attempt'] for r in runs)} |"
        f" {', '.join(sorted(offsets))} |"
    )


def _job_line(
    project: str, workflow: str, name: str, jobs: list[dict[str, Any]], kinds: dict[str, str]
) -> str:
    durations: list[float] = []
    queues: list[float] = []
    share: dict[str, float] = dict.fromkeys(("setup", "dependencies", "environment", "test"), 0.0)
    for job in jobs:
        timed = [s for s in job["steps"] if s["started_at"]]
        if not timed:
            continue
        first = timed[0]["started_at"]
        queues.append(_seconds(job["created_at"], first))
        if job["conclusion"] != "success":
            continue
        durations.append(_seconds(first, job["completed_at"]))
        for step in timed:
            kind = kinds.get(step["name"], "post")
            if step["name"] == "Stop containers":
                kind = "stop_containers"
            elif step["name"] == "Complete job":
                kind = "complete_job"
            category = "environment" if kind in ENV_TEARDOWN else CATEGORY[kind]
            share[category] = share.get(category, 0.0) + _seconds(
                step["started_at"], step["completed_at"]
            )
    total = sum(share.values()) or 1.0
    provisioning = share["setup"] + share["dependencies"] + share["environment"]
    return (
        f"| {project} | {workflow} | {name} | {len(jobs)} | {_fmt(statistics.median(durations))}"
        f" | {_fmt(statistics.median(queues))} | {_fmt(_p90(queues))} |"
        f" {provisioning / total:.0%} | {share['environment'] / total:.0%} |"
        f" {share['test'] / total:.0%} |"
    )


def record_summary(readme: Path, text: str) -> None:
    """Replace the summary block of the README (between the markers), if it has one."""
    if not readme.exists():
        return
    content = readme.read_text()
    head, sep, rest = content.partition(SUMMARY_START)
    _, sep2, tail = rest.partition(SUMMARY_END)
    if sep and sep2:
        readme.write_text(f"{head}{SUMMARY_START}\n{text}\n{SUMMARY_END}{tail}")


def main() -> int:
    root = Path(__file__).resolve().parent / "github"
    problems = check(root)
    for problem in problems[:50]:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(summary(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
