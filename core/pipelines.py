"""Reading pipeline files: GitHub Actions workflow YAML -> jobs and steps with source spans.

Shared by analysis (to join runtime steps to what they ran) and migrate (to edit them). Parsing
only locates nodes; nothing here re-serializes a file. Lines are 1-based and inclusive.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ci_profile.core.errors import PipelineFileError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

# Bounds for values that are rendered to text (a `with:` input can be an anchor-expanded bomb).
_MAX_TEXT = 4000
_MAX_NODES = 2000


@dataclass(frozen=True, slots=True)
class StepDef:
    index: int
    name: str | None
    uses: str | None
    run: str | None
    with_: tuple[tuple[str, str], ...]
    step_id: str | None
    condition: str | None
    line_start: int
    line_end: int

    @property
    def display_name(self) -> str:
        """The name the runner shows for this step (actions/runner's RunDisplayPrefix rule)."""
        if self.name:
            return self.name
        if self.uses:
            return f"Run {self.uses}"
        first = next((line.strip() for line in (self.run or "").splitlines() if line.strip()), "")
        return f"Run {first}"

    @property
    def with_text(self) -> str | None:
        if not self.with_:
            return None
        return "\n".join(f"{key}={value}" for key, value in sorted(self.with_))


@dataclass(frozen=True, slots=True)
class JobDef:
    key: str
    name: str | None
    runs_on: str | None
    steps: tuple[StepDef, ...]
    services: tuple[str, ...]
    container: str | None
    uses: str | None
    has_matrix: bool
    needs: tuple[str, ...]
    line_start: int
    line_end: int


@dataclass(frozen=True, slots=True)
class Workflow:
    name: str | None
    jobs: dict[str, JobDef] = field(default_factory=dict)


def round_trip_yaml() -> YAML:
    """The loader every pipeline file is read with: comments and spans kept, duplicate keys
    refused."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


@contextmanager
def yaml_errors(path: str) -> Iterator[None]:
    """Loading YAML inside this raises a one-line PipelineFileError instead."""
    try:
        yield
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise PipelineFileError(f"{path}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise PipelineFileError(f"{path}: YAML nests too deeply") from None


def _text(value: Any) -> str:
    """Render a YAML value as bounded text, without expanding shared (aliased) nodes forever."""
    parts: list[str] = []
    budget = [_MAX_NODES]

    def walk(node: Any) -> None:
        budget[0] -= 1
        if budget[0] < 0 or sum(map(len, parts)) > _MAX_TEXT:
            return
        if isinstance(node, dict):
            parts.append("{")
            for key, item in node.items():
                parts.append(f"{key}: ")
                walk(item)
                parts.append(", ")
            parts.append("}")
        elif isinstance(node, list):
            parts.append("[")
            for item in node:
                walk(item)
                parts.append(", ")
            parts.append("]")
        elif node is None:
            parts.append("")
        elif isinstance(node, bool):
            parts.append("true" if node else "false")
        else:
            parts.append(str(node))

    walk(value)
    return "".join(parts)[:_MAX_TEXT]


def _opt_text(mapping: CommentedMap, key: str) -> str | None:
    value = mapping.get(key)
    return None if value is None else _text(value)


def _line_of_item(seq: CommentedSeq, index: int) -> int:
    return int(seq.lc.item(index)[0]) + 1


def _line_of_key(mapping: CommentedMap, key: str) -> int:
    return int(mapping.lc.key(key)[0]) + 1


def _last_content_line(lines: list[str], start: int, end: int) -> int:
    """Trim trailing blank and comment-only lines from [start, end]."""
    while end > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def parse_github_workflow(text: str, path: str = "workflow") -> Workflow:
    """Parse a GitHub Actions workflow. Raises PipelineFileError with a one-line reason."""
    with yaml_errors(path):
        document = round_trip_yaml().load(text)
    if document is None:
        return Workflow(name=None)
    if not isinstance(document, CommentedMap):
        raise PipelineFileError(f"{path}: a workflow must be a mapping at the top level")
    jobs_node = document.get("jobs")
    if jobs_node is None:
        return Workflow(name=_opt_text(document, "name"))
    if not isinstance(jobs_node, CommentedMap):
        raise PipelineFileError(f"{path}: `jobs` must be a mapping")
    lines = text.splitlines()
    keys = list(jobs_node.keys())
    jobs: dict[str, JobDef] = {}
    for position, key in enumerate(keys):
        start = _line_of_key(jobs_node, key)
        next_start = (
            _line_of_key(jobs_node, keys[position + 1]) - 1
            if position + 1 < len(keys)
            else _section_end(document, "jobs", len(lines))
        )
        end = _last_content_line(lines, start, next_start)
        jobs[str(key)] = _job(str(key), jobs_node[key], start, end, lines, path)
    return Workflow(name=_opt_text(document, "name"), jobs=jobs)


def _section_end(document: CommentedMap, key: str, last_line: int) -> int:
    keys = list(document.keys())
    position = keys.index(key)
    if position + 1 < len(keys):
        return _line_of_key(document, keys[position + 1]) - 1
    return last_line


def _job(key: str, node: Any, start: int, end: int, lines: list[str], path: str) -> JobDef:
    if not isinstance(node, CommentedMap):
        raise PipelineFileError(f"{path}: job `{key}` must be a mapping")
    steps_node = node.get("steps")
    steps: list[StepDef] = []
    if isinstance(steps_node, CommentedSeq):
        for index, step in enumerate(steps_node):
            if not isinstance(step, CommentedMap):
                raise PipelineFileError(
                    f"{path}: step {index + 1} of job `{key}` must be a mapping"
                )
            step_start = _line_of_item(steps_node, index)
            step_next = (
                _line_of_item(steps_node, index + 1) - 1 if index + 1 < len(steps_node) else end
            )
            with_node = step.get("with")
            with_items: tuple[tuple[str, str], ...] = ()
            if isinstance(with_node, dict):
                with_items = tuple((str(k), _text(v)) for k, v in with_node.items())
            steps.append(
                StepDef(
                    index=index,
                    name=_opt_text(step, "name"),
                    uses=_opt_text(step, "uses"),
                    run=_opt_text(step, "run"),
                    with_=with_items,
                    step_id=_opt_text(step, "id"),
                    condition=_opt_text(step, "if"),
                    line_start=step_start,
                    line_end=_last_content_line(lines, step_start, step_next),
                )
            )
    services = node.get("services")
    strategy = node.get("strategy")
    needs = node.get("needs")
    if isinstance(needs, str):
        needs_keys: tuple[str, ...] = (needs,)
    elif isinstance(needs, list):
        needs_keys = tuple(str(n) for n in needs)
    else:
        needs_keys = ()
    return JobDef(
        key=key,
        name=_opt_text(node, "name"),
        runs_on=_opt_text(node, "runs-on"),
        steps=tuple(steps),
        services=tuple(str(s) for s in services) if isinstance(services, dict) else (),
        container=_opt_text(node, "container"),
        uses=_opt_text(node, "uses"),
        has_matrix=isinstance(strategy, dict) and "matrix" in strategy,
        needs=needs_keys,
        line_start=start,
        line_end=end,
    )
