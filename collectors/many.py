"""Collect many projects of one provider concurrently: one HTTP client (so one token's rate
limit and one bound on concurrent requests), one store (which serializes its writers).

Each project is an ordinary incremental collection, so a list that was interrupted resumes where
it stopped: the projects already done cost one listing request each, a project cut short
continues after its last committed batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ci_profile.collectors.common import CollectResult
from ci_profile.core.errors import CIProfileError, UsageError


@dataclass
class Outcome:
    project: str
    result: CollectResult | None = None
    error: CIProfileError | None = None


def read_projects_file(path: Path) -> list[str]:
    """One project per line; blank lines and ``#`` comments are ignored, duplicates dropped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    projects: dict[str, None] = {}
    for line in lines:
        name = line.split("#", 1)[0].strip()
        if name:
            projects.setdefault(name, None)
    if not projects:
        raise UsageError(f"{path} names no project")
    return list(projects)


def collect_many(
    projects: Sequence[str], collect: Callable[[str], CollectResult], *, parallel: int = 2
) -> list[Outcome]:
    """Run ``collect`` for each project, ``parallel`` at a time. A project that fails is
    reported in its outcome and does not stop the others."""

    def one(project: str) -> Outcome:
        try:
            return Outcome(project, result=collect(project))
        except CIProfileError as exc:
            return Outcome(project, error=exc)

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, projects))
