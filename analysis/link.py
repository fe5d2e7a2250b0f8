"""Join runtime steps to the workflow definitions they ran.

Step names mislead (three steps shown as ``Run actions-rs/cargo@v1`` are a build and two
tests, told apart only by ``with:``), so a step's facts come from its definition. GitHub lists a
job's steps in order: runner-added set-up steps, then one entry per YAML step (skipped ones
included), then ``Post <step>`` steps and the runner's closing steps. Steps are matched by that
position; names only confirm it or, when the counts disagree, guide an in-order alignment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ci_profile.core.errors import PipelineFileError
from ci_profile.core.pipelines import JobDef, StepDef, Workflow, parse_github_workflow

_PRE_EXACT = frozenset({"Set up job", "Set up runner", "Initialize containers"})
_POST_EXACT = frozenset(
    {"Complete job", "Complete runner", "Stop containers", "Wait for all background steps"}
)
_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
_ACTION_REF = re.compile(r"^[\w.-]+/[\w./-]+@[\w./-]+$")


@dataclass(frozen=True, slots=True)
class LinkedStep:
    """What is known about a runtime step once joined to its pipeline file."""

    phase: str = "main"  # "pre" | "main" | "post"
    yaml_job: str | None = None
    uses: str | None = None
    run: str | None = None
    with_: str | None = None
    section: str | None = None


# (pipeline file content or None, runtime job name or None, step names in order) -> one
# LinkedStep per name. One per provider; providers without one get name-only facts.
Linker = Callable[[str | None, str | None, Sequence[str]], list[LinkedStep]]


def link_unknown(
    content: str | None, job_name: str | None, names: Sequence[str]
) -> list[LinkedStep]:
    return [LinkedStep() for _ in names]


@lru_cache(maxsize=512)
def _github_workflow(content: str) -> Workflow | None:
    try:
        return parse_github_workflow(content)
    except PipelineFileError:
        return None


def link_github(
    content: str | None, job_name: str | None, names: Sequence[str]
) -> list[LinkedStep]:
    workflow = _github_workflow(content) if content is not None else None
    job = match_job(workflow, job_name) if workflow is not None and job_name else None
    linked = []
    for link in link_steps(job, names):
        step = link.definition
        if step is None:
            linked.append(LinkedStep(phase=link.phase, yaml_job=job.key if job else None))
        else:
            linked.append(
                LinkedStep(
                    phase=link.phase,
                    yaml_job=job.key if job else None,
                    uses=step.uses,
                    run=step.run,
                    with_=step.with_text,
                )
            )
    return linked


@dataclass(frozen=True, slots=True)
class StepLink:
    phase: str  # "pre" | "main" | "post"
    definition: StepDef | None


def _name_pattern(template: str) -> re.Pattern[str]:
    """A runtime name pattern from a YAML name: ``${{ matrix.python }}`` matches anything."""
    parts = _EXPRESSION.split(template.strip())
    return re.compile("^" + ".*?".join(re.escape(p) for p in parts) + "$", re.DOTALL)


def match_job(workflow: Workflow, runtime_name: str) -> JobDef | None:
    """The YAML job a runtime job came from: by ``name:`` (with expressions as wildcards) or
    key, and GitHub's `` (matrix, values)`` suffix for matrix jobs."""
    best: tuple[int, JobDef] | None = None
    for job in workflow.jobs.values():
        template = job.name or job.key
        if template == runtime_name:
            return job
        pattern = _name_pattern(template)
        candidates = [runtime_name]
        suffix = re.match(r"^(.*) \([^()]*\)$", runtime_name)
        if suffix and job.has_matrix:
            candidates.append(suffix.group(1))
        if any(pattern.match(c) for c in candidates):
            literal = len(_EXPRESSION.sub("", template))
            if best is None or literal > best[0]:
                best = (literal, job)
    return best[1] if best else None


def _is_pre(name: str) -> bool:
    if name in _PRE_EXACT or name.startswith("Pre "):
        return True
    # Container-action set-up: "Pull ghcr.io/x:1", "Build owner/repo@ref".
    head, _, rest = name.partition(" ")
    return (
        head in ("Pull", "Build")
        and bool(rest)
        and " " not in rest
        and (head == "Pull" or bool(_ACTION_REF.match(rest)))
    )


def _is_post(name: str) -> bool:
    return name in _POST_EXACT or name.startswith("Post ")


def _matches(definition: StepDef, name: str) -> bool:
    display = definition.display_name
    if name == display:
        return True
    if _name_pattern(display).match(name):
        return True
    # A script step's display name is its first line; long lines are shown cut.
    return definition.name is None and definition.uses is None and name.startswith(display[:40])


def link_steps(job: JobDef | None, names: Sequence[str]) -> list[StepLink]:
    """One StepLink per runtime step name, in the given (GitHub ``number``) order."""
    count = len(names)
    head = 0
    while head < count and _is_pre(names[head]):
        head += 1
    definitions = list(job.steps) if job else []
    end = head + len(definitions)
    links: list[StepLink] = [StepLink("pre", None)] * head
    if definitions and end <= count and all(_is_post(n) for n in names[end:]):
        links.extend(StepLink("main", d) for d in definitions)
        tail = end
    else:
        tail = count
        while tail > head and _is_post(names[tail - 1]):
            tail -= 1
        cursor = 0
        for name in names[head:tail]:
            found = next(
                (i for i in range(cursor, len(definitions)) if _matches(definitions[i], name)), None
            )
            links.append(StepLink("main", None if found is None else definitions[found]))
            if found is not None:
                cursor = found + 1
    for name in names[tail:]:
        target = None
        if name.startswith("Post "):
            wanted = name[len("Post ") :]
            target = next((d for d in definitions if _matches(d, wanted)), None)
        links.append(StepLink("post", target))
    return links
