"""Load the bundled GitLab sample: recorded API responses and job logs, through the live code.

Layout: ``<root>/gitlab/<group>[/<subgroup>...]/<project>/`` holds the project's tree
(``.gitlab-ci.yml`` and the files it includes) and ``ci-history/``:

- ``pipelines.json``: the pipeline list (``GET /projects/:id/pipelines``, every page, slim items);
- ``pipeline_details.json``: pipeline id -> ``GET /projects/:id/pipelines/:id`` (children too);
- ``jobs.json``: pipeline id -> ``GET …/pipelines/:id/jobs?include_retried=true`` (every page);
- ``bridges.json``: pipeline id -> ``GET …/pipelines/:id/bridges``;
- ``traces.tar.gz``: ``traces/<job id>.log``, the raw bytes of ``GET …/jobs/:id/trace``, streamed
  through the same section parser as a live collection.

The tree's pipeline files are stored as the definition at every pipeline's commit.
"""

from __future__ import annotations

import gzip
import json
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_profile.collectors.gitlab_records import (
    PROVIDER,
    needs_trace,
    normalize_job,
    normalize_pipeline,
    steps_from_sections,
)
from ci_profile.collectors.gitlab_sections import Section, SectionParser
from ci_profile.core.errors import PipelineFileError, SampleDataError
from ci_profile.core.gitlab_ci import ROOT, GitLabCI, glob_match, parse_gitlab_ci, parse_includes
from ci_profile.core.records import Batch, PipelineFile
from ci_profile.core.shared_store import CollectionStore

if TYPE_CHECKING:
    from ci_profile.collectors.sample import SampleResult


def _json(path: Path) -> Any:
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            try:
                raw = candidate.read_bytes()
                return json.loads(gzip.decompress(raw) if candidate.suffix == ".gz" else raw)
            except (OSError, ValueError) as exc:
                raise SampleDataError(
                    f"sample data file {candidate} is unreadable: {exc}"
                ) from None
    raise SampleDataError(f"sample data file {path} is missing")


def _sections(history: Path) -> dict[str, list[Section]]:
    archive = history / "traces.tar.gz"
    if not archive.is_file():
        return {}
    out: dict[str, list[Section]] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = Path(member.name).name
                stream = tar.extractfile(member) if member.isfile() else None
                if stream is None or not name.endswith(".log"):
                    continue
                parser = SectionParser()
                while chunk := stream.read(64 * 1024):
                    parser.feed(chunk)
                out[name.removesuffix(".log")] = parser.close()
    except (OSError, tarfile.TarError) as exc:
        raise SampleDataError(f"sample data file {archive} is unreadable: {exc}") from None
    return out


def _tree_files(folder: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for file in sorted(folder.rglob("*.yml")):
        relative = file.relative_to(folder).as_posix()
        if not relative.startswith("ci-history/"):
            files[relative] = file.read_text(encoding="utf-8")
    return files


def _config_files(tree: Mapping[str, str], path: str) -> dict[str, str | None]:
    """``path`` and the local includes it reaches (as the collector fetches them)."""
    found: dict[str, str | None] = {path: tree.get(path)}
    queue = [path]
    while queue:
        text = found.get(queue.pop(0))
        if text is None:
            continue
        try:
            includes = parse_includes(text)
        except PipelineFileError:
            continue
        for include in includes:
            if not include.is_local:
                continue
            targets = (
                [p for p in sorted(tree) if glob_match(include.location, p)]
                if "*" in include.location
                else [include.location]
            )
            for target in targets:
                if target not in found:
                    found[target] = tree.get(target)
                    queue.append(target)
    return found


def load_gitlab_sample(folder: Path, store: CollectionStore) -> SampleResult:
    """``folder`` is ``<root>/gitlab``: one directory per project path, ``ci-history`` inside."""
    from ci_profile.collectors.sample import SampleResult

    result = SampleResult(projects=[], runs=0, jobs=0, steps=0)
    for history in sorted(folder.rglob("ci-history")):
        project_dir = history.parent
        project = project_dir.relative_to(folder).as_posix()
        result.add(project, _project_batch(project, project_dir, history, store))
    return result


def _project_batch(project: str, project_dir: Path, history: Path, store: CollectionStore) -> Batch:
    listed = _json(history / "pipelines.json")
    details: dict[str, Any] = _json(history / "pipeline_details.json")
    jobs: dict[str, Any] = _json(history / "jobs.json")
    bridges: dict[str, Any] = _json(history / "bridges.json")
    sections = _sections(history)
    tree = _tree_files(project_dir)
    root = _config_files(tree, ROOT)
    try:
        config: GitLabCI | None = (
            parse_gitlab_ci(tree[ROOT], includes=root) if ROOT in tree else None
        )
    except PipelineFileError as exc:
        raise SampleDataError(f"{project_dir / ROOT}: {exc}") from None
    parents: dict[str, tuple[str, str]] = {}
    for source_id, items in bridges.items():
        for item in items:
            child = item.get("downstream_pipeline") or {}
            if "id" in child:
                parents[str(child["id"])] = (source_id, str(item.get("name") or ""))
    batch = Batch()
    wanted: set[tuple[str, str]] = set()
    reached: dict[str, tuple[str, ...]] = {ROOT: tuple(root)}
    order = [str(p["id"]) for p in listed] + sorted(set(details) - {str(p["id"]) for p in listed})
    for run_id in order:
        detail = details[run_id]
        parent_id: str | None = None
        trigger: str | None = None
        if run_id in parents:
            parent_id, trigger = parents[run_id]
        path: str | None = ROOT
        fallback = None
        if trigger is not None:
            job = config.jobs.get(trigger) if config is not None else None
            path = job.trigger_include[0] if job is not None and job.trigger_include else None
            fallback = f"child of {trigger}"
        batch.runs.append(
            normalize_pipeline(
                project, detail, pipeline_path=path, parent_run_id=parent_id, fallback_name=fallback
            )
        )
        if path is not None and isinstance(detail.get("sha"), str):
            if path not in reached:
                reached[path] = tuple(_config_files(tree, path))
            wanted |= {(p, detail["sha"]) for p in reached[path]}
        for raw in jobs.get(run_id, []):
            batch.jobs.append(normalize_job(project, run_id, raw))
            job_id = str(raw["id"])
            if needs_trace(raw) and job_id in sections:
                batch.steps.extend(steps_from_sections(project, job_id, sections[job_id]))
    for path, sha in sorted(wanted):
        batch.pipeline_files.append(PipelineFile(PROVIDER, project, path, sha, tree.get(path)))
    store.write(batch)
    return batch
