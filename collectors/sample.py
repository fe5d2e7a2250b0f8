"""Load the bundled sample data: recorded GitHub API responses, through the live normalizers.

Layout: ``<root>/github/<owner>/<repo>/ci-history/workflow_runs.json`` (the body of the
runs list), ``ci-history/jobs.json`` (run id -> body of ``jobs?filter=all``) and the repository
tree itself (``.github/workflows/*.yml``), whose files are stored as the pipeline definition at
every run's commit.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_profile.collectors.github_records import PROVIDER, records_for_run, workflow_path
from ci_profile.collectors.gitlab_sample import load_gitlab_sample
from ci_profile.collectors.jenkins_sample import load_jenkins_sample
from ci_profile.core.errors import SampleDataError
from ci_profile.core.records import Batch, PipelineFile
from ci_profile.core.shared_store import CollectionStore


@dataclass
class SampleResult:
    projects: list[str]
    runs: int
    jobs: int
    steps: int

    def add(self, project: str, batch: Batch) -> None:
        self.projects.append(project)
        self.runs += len(batch.runs)
        self.jobs += len(batch.jobs)
        self.steps += len(batch.steps)


def _read_json(path: Path) -> Any:
    candidates = [path, path.with_name(path.name + ".gz")]
    for candidate in candidates:
        if candidate.is_file():
            try:
                raw = candidate.read_bytes()
                if candidate.suffix == ".gz":
                    raw = gzip.decompress(raw)
                return json.loads(raw)
            except (OSError, ValueError) as exc:
                raise SampleDataError(
                    f"sample data file {candidate} is unreadable: {exc}"
                ) from None
    raise SampleDataError(f"sample data file {path} is missing")


def load_github_sample(folder: Path, store: CollectionStore) -> SampleResult:
    """``folder`` is ``<root>/github``: one ``OWNER/REPO`` directory per repository."""
    result = SampleResult(projects=[], runs=0, jobs=0, steps=0)
    for history in sorted(folder.glob("*/*/ci-history")):
        repo_dir = history.parent
        project = f"{repo_dir.parent.name}/{repo_dir.name}"
        runs = _read_json(history / "workflow_runs.json").get("workflow_runs", [])
        jobs_by_run = _read_json(history / "jobs.json")
        batch = Batch()
        for run in runs:
            body = jobs_by_run.get(str(run["id"]), {})
            batch.extend(records_for_run(project, run, body.get("jobs", [])))
        shas = {(workflow_path(r.get("path")), r.get("head_sha")) for r in runs}
        for path, sha in sorted((p, s) for p, s in shas if p and s):
            file = repo_dir / path
            content = file.read_text(encoding="utf-8") if file.is_file() else None
            batch.pipeline_files.append(PipelineFile(PROVIDER, project, path, sha, content))
        store.write(batch)
        result.add(project, batch)
    return result


# One loader per provider folder under the sample root.
LOADERS: dict[str, Callable[[Path, CollectionStore], SampleResult]] = {
    "github": load_github_sample,
    "gitlab": load_gitlab_sample,
    "jenkins": load_jenkins_sample,
}


def load_sample(root: Path, store: CollectionStore) -> SampleResult:
    result = SampleResult(projects=[], runs=0, jobs=0, steps=0)
    for provider, loader in LOADERS.items():
        if (root / provider).is_dir():
            part = loader(root / provider, store)
            result.projects += part.projects
            result.runs += part.runs
            result.jobs += part.jobs
            result.steps += part.steps
    if not result.projects:
        raise SampleDataError(
            f"no sample data under {root} (expected github/OWNER/REPO/ci-history)"
        )
    return result
