"""Findings joined to what the store measured: by project, pipeline file path and job key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import duckdb
from ci_profile.analysis.migration import job_environments, projects
from ci_profile.migrate.model import Evidence, Plan

_REMOTE = re.compile(
    r"^\s*url\s*=\s*(?:\w+://(?:[^@/]+@)?[^/]+/|[^@\s]+@[^:]+:)(\S+?)(?:\.git)?/?$"
)


def git_remote_project(repo: Path) -> str | None:
    """``owner/repo`` (or the GitLab project path) of the ``origin`` remote, if there is one."""
    config = repo / ".git" / "config"
    if not config.is_file():
        return None
    section = ""
    for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip().startswith("["):
            section = line.strip()
        elif section == '[remote "origin"]':
            match = _REMOTE.match(line)
            if match:
                return match.group(1)
    return None


def _project(
    con: duckdb.DuckDBPyConnection, provider: str, repo: Path, chosen: str | None
) -> str | None:
    known = projects(con, provider)
    if chosen is not None:
        return chosen if chosen in known else None
    parts = repo.resolve().parts
    candidates = [git_remote_project(repo), "/".join(parts[-2:])]
    return next((c for c in candidates if c in known), None)


def attach(
    plan: Plan,
    con: duckdb.DuckDBPyConnection,
    repo: Path,
    *,
    project: str | None,
    session_start_s: float,
) -> None:
    """Give each finding the measured time of its job, when the store has runs of it."""
    for provider in sorted({f.provider for f in plan.findings}):
        name = _project(con, provider, repo, project)
        if name is None:
            plan.notes.append(
                f"no {provider} runs of {project or '/'.join(repo.resolve().parts[-2:])} in the "
                "database: "
                "findings carry no measured time (pass --project OWNER/REPO)"
            )
            continue
        measured = job_environments(con, provider, name, session_start_s)
        for index, finding in enumerate(plan.findings):
            if finding.provider != provider:
                continue
            job = measured.get((finding.file, finding.job))
            if job is None or job.runs == 0:
                continue
            evidence = Evidence(
                project=name,
                runs=job.runs,
                runs_per_week=job.runs_per_week,
                median_s=job.median_s,
                p90_s=job.p90_s,
                session_start_s=session_start_s,
                saving_per_run_s=job.saving_per_run_s,
                runner_saving_per_month_s=job.runner_saving_per_month_s,
            )
            plan.findings[index] = dataclasses.replace(finding, evidence=evidence)
