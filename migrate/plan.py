"""A migration plan for one repository directory: scan, rewrite in memory, verify, then (on
request) write. Nothing touches the working tree until every rewrite has passed its checks."""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from ci_profile.core.errors import CIProfileError, MigrationError, PipelineFileError
from ci_profile.core.gitlab_ci import ROOT, glob_match, parse_gitlab_ci, parse_includes
from ci_profile.core.pipelines import parse_github_workflow
from ci_profile.migrate import github_actions, gitlab
from ci_profile.migrate.model import FileChange, Finding, JobPlan, Plan
from ci_profile.migrate.textedit import Edit, apply
from ci_profile.migrate.verify import check_rewrite

WORKFLOW_DIR = ".github/workflows"
_MAX_FILE = 2_000_000


def read_text(path: Path, shown: str) -> str:
    """A pipeline file exactly as it is (CRLF kept), as text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PipelineFileError(f"{shown}: cannot read ({exc.strerror})") from None
    if len(data) > _MAX_FILE:
        raise PipelineFileError(f"{shown}: larger than {_MAX_FILE // 1_000_000} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PipelineFileError(f"{shown}: not UTF-8 text") from None


def _workflow_files(repo: Path) -> list[Path]:
    folder = repo / WORKFLOW_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yml", ".yaml") and p.is_file())


def _gitlab_files(repo: Path) -> dict[str, str]:
    """``.gitlab-ci.yml`` and, transitively, its ``include: local`` files that exist."""
    root = repo / ROOT
    if not root.is_file():
        return {}
    texts = {ROOT: read_text(root, ROOT)}
    pending = [ROOT]
    every_file: list[str] | None = None
    while pending:
        current = pending.pop()
        for include in parse_includes(texts[current], current):
            if not include.is_local or "$" in include.location:
                continue
            if "*" in include.location:
                if every_file is None:
                    every_file = [p.relative_to(repo).as_posix() for p in _tree(repo)]
                locations = [p for p in every_file if glob_match(include.location, p)]
            else:
                locations = [include.location]
            for location in locations:
                file = repo / location
                if location not in texts and file.is_file():
                    texts[location] = read_text(file, location)
                    pending.append(location)
    return texts


def _tree(repo: Path) -> Iterator[Path]:
    for base, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if not d.startswith(".git") or d == ".github"]
        for name in files:
            if name.endswith((".yml", ".yaml")):
                yield Path(base) / name


def build_plan(repo: Path, namespace: str = "staging") -> Plan:
    """Findings and verified file changes for ``repo``. Raises MigrationError when the
    directory has no pipeline this tool reads, PipelineFileError for a file it cannot parse."""
    if not repo.is_dir():
        raise MigrationError(f"{repo}: not a directory")
    plan = Plan(repo_dir=str(repo))
    workflows = _workflow_files(repo)
    gitlab_texts = _gitlab_files(repo)
    if not workflows and not gitlab_texts:
        others = [
            n for n in ("Jenkinsfile", "azure-pipelines.yml", ".circleci") if (repo / n).exists()
        ]
        if others:
            raise MigrationError(
                f"{repo}: only {', '.join(others)} found; migrate reads GitHub Actions "
                "(.github/workflows) and GitLab CI (.gitlab-ci.yml)"
            )
        raise MigrationError(
            f"{repo}: no pipeline files (looked for {WORKFLOW_DIR}/*.yml and {ROOT})"
        )
    configs: dict[str, str] = {}
    for file in workflows:
        shown = file.relative_to(repo).as_posix()
        text = read_text(file, shown)
        results = github_actions.scan(shown, text, repo, namespace)
        plan.findings.extend(r.finding for r in results)
        _rewrite_file(
            plan,
            shown,
            text,
            [(r.finding, r.edits) for r in results if r.edits],
            _github_spans(shown),
            _github_rescan(shown, repo, namespace),
        )
        configs.update(_configs(results))
    if gitlab_texts:
        ci = parse_gitlab_ci(gitlab_texts[ROOT], ROOT, gitlab_texts)
        results_gl = gitlab.scan(ci, gitlab_texts, repo, namespace)
        plan.findings.extend(r.finding for r in results_gl)
        for path, text in gitlab_texts.items():
            in_file = [
                (r.finding, r.edits) for r in results_gl if r.edits and r.finding.file == path
            ]
            _rewrite_file(
                plan,
                path,
                text,
                in_file,
                _gitlab_spans(path),
                _gitlab_rescan(gitlab_texts, path, repo, namespace),
            )
        configs.update(_configs(results_gl))
    for name, content in sorted(configs.items()):
        existing = repo / name
        before = read_text(existing, name) if existing.is_file() else None
        if before == content:
            continue
        if before is not None:
            plan.notes.append(f"{name} exists and differs from the generated config: kept as is")
            continue
        plan.changes.append(FileChange(name, None, content))
    return plan


def _configs(results: list[JobPlan]) -> dict[str, str]:
    return {name: content for r in results for name, content in r.files}


def _github_spans(path: str) -> Callable[[str], dict[str, tuple[int, int]]]:
    def spans(text: str) -> dict[str, tuple[int, int]]:
        jobs = parse_github_workflow(text, path).jobs
        return {key: (job.line_start, job.line_end) for key, job in jobs.items()}

    return spans


def _gitlab_spans(path: str) -> Callable[[str], dict[str, tuple[int, int]]]:
    def spans(text: str) -> dict[str, tuple[int, int]]:
        jobs = parse_gitlab_ci(text, path).jobs
        return {
            key: (job.line_start, job.line_end) for key, job in jobs.items() if job.path == path
        }

    return spans


def _github_rescan(path: str, repo: Path, namespace: str) -> Callable[[str], list[Finding]]:
    def rescan(after: str) -> list[Finding]:
        return [r.finding for r in github_actions.scan(path, after, repo, namespace)]

    return rescan


def _gitlab_rescan(
    texts: dict[str, str], path: str, repo: Path, namespace: str
) -> Callable[[str], list[Finding]]:
    def rescan(after: str) -> list[Finding]:
        changed = {**texts, path: after}
        ci = parse_gitlab_ci(changed[ROOT], ROOT, changed)
        return [r.finding for r in gitlab.scan(ci, changed, repo, namespace)]

    return rescan


def _rewrite_file(
    plan: Plan,
    path: str,
    text: str,
    rewrites: list[tuple[Finding, tuple[Edit, ...]]],
    job_spans: Callable[[str], dict[str, tuple[int, int]]],
    rescan: Callable[[str], list[Finding]],
) -> None:
    """Apply the edits of every rewritten job of one file, check the result, record it."""
    if not rewrites:
        return
    edits = [edit for _, job_edits in rewrites for edit in job_edits]
    after = apply(text, edits)
    jobs = [finding.job for finding, _ in rewrites]
    check_rewrite(path, text, after, job_spans, jobs)
    again = {f.job: f for f in rescan(after) if f.file == path}
    for job in jobs:
        finding = again.get(job)
        if finding is None or finding.reason != "already runs through mirrord":
            raise MigrationError(
                f"{path}: job `{job}` still needs migrating after its rewrite; nothing written"
            )
    plan.changes.append(FileChange(path, text, after))


def plan_stored(files: Mapping[str, str], namespace: str = "staging") -> Plan:
    """A plan for pipeline files held in memory (the store's copies at one commit), made in a
    scratch checkout that holds only them: local actions and scripts they call are not there,
    so jobs that use them come out as ``manual``."""
    with tempfile.TemporaryDirectory(prefix="ci-profile-plan-") as scratch:
        root = Path(scratch).resolve()
        for path, content in files.items():
            target = (root / path).resolve()
            if root not in target.parents:
                continue  # a stored path never writes outside the scratch checkout
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8", newline="")
        try:
            plan = build_plan(root, namespace)
        except CIProfileError as exc:
            # The scratch directory means nothing to the reader.
            raise type(exc)(str(exc).replace(str(root), "the stored pipeline files")) from None
    plan.repo_dir = "stored pipeline files"
    return plan


def unified_diff(plan: Plan) -> str:
    """The unified diff of every change, as ``git apply`` takes it."""
    chunks: list[str] = []
    for change in plan.changes:
        before = (change.before or "").splitlines(keepends=True)
        after = change.after.splitlines(keepends=True)
        lines = list(
            difflib.unified_diff(
                before,
                after,
                fromfile="/dev/null" if change.before is None else f"a/{change.path}",
                tofile=f"b/{change.path}",
            )
        )
        for line in lines:
            chunks.append(
                line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            )
    return "".join(chunks)


def write(plan: Plan, repo: Path) -> list[str]:
    """Write every change into ``repo`` (each file replaced atomically); returns the paths.
    A file that changed since the plan was made is not overwritten."""
    for change in plan.changes:
        target = repo / change.path
        current = read_text(target, change.path) if target.exists() else None
        if current != change.before:
            raise MigrationError(f"{change.path} changed while planning; nothing written")
    written: list[str] = []
    for change in plan.changes:
        target = repo / change.path
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".ci-profile-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(change.after.encode("utf-8"))
            if target.exists():
                os.chmod(temporary, target.stat().st_mode & 0o777)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(change.path)
    return written
