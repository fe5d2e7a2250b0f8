"""Join GitLab log sections to the ``.gitlab-ci.yml`` job that produced them.

Every step of a GitLab job is a log section (``steps.source = 'section'``). The section name is
the fact rules match on (``section``); the script a section ran comes from the stored pipeline
file: ``step_script`` (``build_script`` on runners before 12) ran the job's ``before_script`` +
``script``, ``after_script`` its ``after_script``. Custom sections a script emits (nested
inside ``step_script``, flattened by the collector) carry only their name: the commands inside
them cannot be told apart from the rest of the script. The runner's preparation sections are
``pre``, its closing ones ``post``. ``prepare_executor`` also starts the job's ``services:``; its
``with_`` says which (``image=…`` / ``services=…`` lines), so a rule can tell the two apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from ci_profile.analysis.link import LinkedStep
from ci_profile.core.errors import PipelineFileError
from ci_profile.core.gitlab_ci import GitLabCI, GitLabJob, parse_gitlab_ci

SCRIPT_SECTIONS = frozenset({"step_script", "build_script"})
_PRE = frozenset(
    {
        "resolve_secrets",
        "prepare_executor",
        "prepare_script",
        "get_sources",
        "clear_worktree",
        "restore_cache",
        "download_artifacts",
    }
)
_POST = frozenset(
    {
        "after_script",
        "archive_cache",
        "archive_cache_on_failure",
        "upload_artifacts",
        "upload_artifacts_on_success",
        "upload_artifacts_on_failure",
        "cleanup_file_variables",
    }
)


@lru_cache(maxsize=512)
def _parsed(content: str, includes: tuple[tuple[str, str | None], ...]) -> GitLabCI | None:
    try:
        return parse_gitlab_ci(content, includes=dict(includes))
    except PipelineFileError:
        return None


def phase_of(section: str) -> str:
    if section in _PRE:
        return "pre"
    if section in _POST:
        return "post"
    return "main"


def _executor_facts(job: GitLabJob) -> str | None:
    lines = [f"image={job.image}"] if job.image else []
    lines += [f"services={name}" for name in job.services]
    return "\n".join(lines) or None


def link_gitlab(
    content: str | None,
    job_name: str | None,
    names: Sequence[str],
    includes: Mapping[str, str | None] | None = None,
) -> list[LinkedStep]:
    """One LinkedStep per section name. ``includes`` (path -> content of ``include: local``
    files at the same commit) lets jobs defined in included files be found too."""
    config = (
        _parsed(content, tuple(sorted((includes or {}).items()))) if content is not None else None
    )
    job = config.match_job(job_name) if config is not None and job_name else None
    linked = []
    for name in names:
        run: str | None = None
        with_: str | None = None
        if job is not None:
            if name in SCRIPT_SECTIONS:
                run = job.main_script
            elif name == "after_script":
                run = job.after_script_text
            elif name == "prepare_executor":
                with_ = _executor_facts(job)
        linked.append(
            LinkedStep(
                phase=phase_of(name),
                yaml_job=job.key if job is not None else None,
                run=run,
                with_=with_,
                section=name,
            )
        )
    return linked
