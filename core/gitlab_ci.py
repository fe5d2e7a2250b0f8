"""Reading ``.gitlab-ci.yml``: jobs with their stage, scripts, image, services and source spans.

Shared by analysis (to join log sections to the script they ran) and migrate (to edit jobs).
Parsing only locates nodes; nothing here re-serializes a file. Lines are 1-based and inclusive.

Resolved the way GitLab resolves them: YAML anchors and ``<<:`` merge keys (ruamel does this),
``extends:`` (deep merge of mappings, other values replaced, up to 11 levels, across included
files), ``!reference [job, key]`` tags inside scripts, nested script arrays (flattened),
``default:`` and the deprecated top-level ``image``/``services``/``before_script``/
``after_script`` (subject to ``inherit: default:``), hidden ``.template`` jobs, the default stage
``test``. Everything rendered is bounded (an alias "billion laughs" raises PipelineFileError
instead of expanding), as in :mod:`ci_profile.core.pipelines`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_profile.core.errors import PipelineFileError
from ci_profile.core.pipelines import round_trip_yaml, yaml_errors
from ruamel.yaml.comments import CommentedMap, CommentedSeq

ROOT = ".gitlab-ci.yml"
_RESERVED = frozenset(
    {
        "default",
        "include",
        "stages",
        "types",
        "variables",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "spec",
    }
)
_DEFAULTABLE = ("image", "services", "before_script", "after_script")
_KEYS = ("stage", "image", "services", "before_script", "script", "after_script", "trigger")
_MAX_NODES = 20_000  # per job, over every value rendered for it
_MAX_LINES = 2_000  # script lines per key
_MAX_LINE = 8_000  # characters per script line
_MAX_EXTENDS = 11  # GitLab's own limit
_MAX_REFERENCE = 10  # GitLab's own limit on nested !reference
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Include:
    """One ``include:`` entry. ``kind``: local | remote | template | project | component."""

    kind: str
    location: str
    project: str | None = None

    @property
    def is_local(self) -> bool:
        return self.kind == "local"


@dataclass(frozen=True, slots=True)
class GitLabJob:
    key: str
    hidden: bool
    stage: str | None
    image: str | None
    services: tuple[str, ...]
    before_script: tuple[str, ...]
    script: tuple[str, ...]
    after_script: tuple[str, ...]
    extends: tuple[str, ...]
    needs: tuple[str, ...]
    # A trigger job: the child pipeline's local config files, or the downstream project.
    trigger_include: tuple[str, ...]
    trigger_project: str | None
    is_trigger: bool
    path: str  # the file the job is defined in
    line_start: int
    line_end: int
    # Line spans of the job's own keys (script, services, image, ...), in ``path``.
    spans: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def main_script(self) -> str | None:
        """before_script + script, as the runner runs them in ``step_script``."""
        lines = (*self.before_script, *self.script)
        return "\n".join(lines) if lines else None

    @property
    def after_script_text(self) -> str | None:
        return "\n".join(self.after_script) if self.after_script else None


@dataclass(frozen=True, slots=True)
class GitLabCI:
    path: str
    stages: tuple[str, ...]
    includes: tuple[Include, ...]
    jobs: dict[str, GitLabJob] = field(default_factory=dict)

    @property
    def local_includes(self) -> tuple[str, ...]:
        return tuple(i.location for i in self.includes if i.is_local)

    @property
    def has_triggers(self) -> bool:
        return any(job.is_trigger and not job.hidden for job in self.jobs.values())

    def match_job(self, runtime_name: str) -> GitLabJob | None:
        """The YAML job of a runtime job: its key, or ``key 2/3`` (parallel), ``key: [a, b]``
        (parallel:matrix)."""
        for candidate in _name_candidates(runtime_name):
            job = self.jobs.get(candidate)
            if job is not None and not job.hidden:
                return job
        return None


def _name_candidates(name: str) -> Iterator[str]:
    yield name
    parallel = re.match(r"^(.*) \d+/\d+$", name)
    if parallel:
        yield parallel.group(1)
    matrix = re.match(r"^(.*?): \[.*\]$", name, re.DOTALL)
    if matrix:
        yield matrix.group(1)


# -- loading ---------------------------------------------------------------------------------


def _load(text: str, path: str) -> CommentedMap | None:
    with yaml_errors(path):
        documents = list(round_trip_yaml().load_all(text))
    # A CI/CD component file has a `spec:` header document before the configuration.
    documents = [d for d in documents if d is not None]
    if not documents:
        return None
    document = documents[-1]
    if not isinstance(document, CommentedMap):
        raise PipelineFileError(f"{path}: the configuration must be a mapping at the top level")
    return document


class _Budget:
    def __init__(self, where: str) -> None:
        self.left = _MAX_NODES
        self.where = where

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise PipelineFileError(
                f"{self.where} expands beyond {_MAX_NODES} YAML nodes (an alias bomb?)"
            )


def _plain(node: Any, budget: _Budget, depth: int = 0) -> Any:
    """A bounded plain-Python copy of a YAML value; ``!reference`` sequences stay marked."""
    budget.spend()
    if depth > 50:
        raise PipelineFileError(f"{budget.where} nests too deeply")
    if isinstance(node, CommentedSeq) and _tag(node) == "!reference":
        return _Reference(tuple(str(part) for part in node))
    if isinstance(node, dict):
        return {str(k): _plain(v, budget, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, budget, depth + 1) for v in node]
    if node is None or isinstance(node, bool | int | float):
        return node
    return str(node)


def _tag(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None)
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class _Reference:
    path: tuple[str, ...]


@dataclass(slots=True)
class _RawJob:
    key: str
    path: str
    node: CommentedMap
    values: dict[str, Any]
    line_start: int
    line_end: int
    spans: dict[str, tuple[int, int]]


@dataclass(slots=True)
class _File:
    path: str
    stages: tuple[str, ...]
    includes: tuple[Include, ...]
    defaults: dict[str, Any]
    jobs: dict[str, _RawJob]


def _line_of_key(mapping: CommentedMap, key: Any) -> int:
    return int(mapping.lc.key(key)[0]) + 1


def _last_content_line(lines: list[str], start: int, end: int) -> int:
    while end > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def _own_keys(node: CommentedMap) -> list[Any]:
    """Keys written in this mapping itself (not merged in through ``<<:``)."""
    return [k for k in node.lc.data if k in node]


def _key_spans(node: CommentedMap, end: int, lines: list[str]) -> dict[str, tuple[int, int]]:
    keys = _own_keys(node)
    spans: dict[str, tuple[int, int]] = {}
    for position, key in enumerate(keys):
        start = _line_of_key(node, key)
        stop = _line_of_key(node, keys[position + 1]) - 1 if position + 1 < len(keys) else end
        spans[str(key)] = (start, _last_content_line(lines, start, max(start, stop)))
    return spans


def _read_file(text: str, path: str) -> _File:
    document = _load(text, path)
    if document is None:
        return _File(path, (), (), {}, {})
    lines = text.splitlines()
    budget = _Budget(path)
    stages_node = document.get("stages", document.get("types"))
    stages = (
        tuple(str(s) for s in stages_node if isinstance(s, str))
        if isinstance(stages_node, list)
        else ()
    )
    includes = tuple(_includes(_plain(document.get("include"), budget)))
    defaults: dict[str, Any] = {}
    for key in _DEFAULTABLE:
        if key in document:
            defaults[key] = _plain(document[key], budget)
    default_node = document.get("default")
    if isinstance(default_node, dict):
        for key in _DEFAULTABLE:
            if key in default_node:
                defaults[key] = _plain(default_node[key], _Budget(f"{path}: default"))
    keys = _own_keys(document)
    jobs: dict[str, _RawJob] = {}
    for position, key in enumerate(keys):
        name = str(key)
        node = document[key]
        if name in _RESERVED or not isinstance(node, CommentedMap):
            continue
        start = _line_of_key(document, key)
        stop = (
            _line_of_key(document, keys[position + 1]) - 1
            if position + 1 < len(keys)
            else len(lines)
        )
        end = _last_content_line(lines, start, max(start, stop))
        job_budget = _Budget(f"{path}: job `{name}`")
        values = {
            k: _plain(node[k], job_budget)
            for k in (*_KEYS, "extends", "needs", "inherit")
            if k in node
        }
        jobs[name] = _RawJob(name, path, node, values, start, end, _key_spans(node, end, lines))
    return _File(path, stages, includes, defaults, jobs)


def _includes(value: Any) -> Iterator[Include]:
    entries = value if isinstance(value, list) else [value] if value is not None else []
    for entry in entries:
        if isinstance(entry, str):
            text = entry.strip()
            if _URL.match(text):
                yield Include("remote", text)
            elif text:
                yield Include("local", _normalize_path(text))
        elif isinstance(entry, dict):
            if isinstance(entry.get("local"), str):
                yield Include("local", _normalize_path(entry["local"]))
            elif isinstance(entry.get("remote"), str):
                yield Include("remote", entry["remote"])
            elif isinstance(entry.get("template"), str):
                yield Include("template", entry["template"])
            elif isinstance(entry.get("component"), str):
                yield Include("component", entry["component"])
            elif isinstance(entry.get("project"), str):
                files = entry.get("file")
                for file in files if isinstance(files, list) else [files]:
                    if isinstance(file, str):
                        yield Include("project", _normalize_path(file), entry["project"])


def _normalize_path(path: str) -> str:
    return path.strip().lstrip("/")


def parse_includes(text: str, path: str = ROOT) -> tuple[Include, ...]:
    """The ``include:`` entries of one file (cheap: jobs are not resolved)."""
    document = _load(text, path)
    if document is None:
        return ()
    return tuple(_includes(_plain(document.get("include"), _Budget(path))))


# -- resolving -------------------------------------------------------------------------------


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _deep_merge(base[key], value) if key in base else value
        return merged
    return override


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str))
    return ()


class _Resolver:
    def __init__(self, raw: dict[str, _RawJob], defaults: dict[str, Any], path: str) -> None:
        self.raw = raw
        self.defaults = defaults
        self.path = path
        self._done: dict[str, dict[str, Any]] = {}

    def values(self, key: str, chain: tuple[str, ...] = ()) -> dict[str, Any]:
        if key in self._done:
            return self._done[key]
        job = self.raw.get(key)
        if job is None:
            return {}
        if key in chain:
            raise PipelineFileError(f"{self.path}: `extends` of job `{chain[0]}` loops")
        if len(chain) > _MAX_EXTENDS:
            raise PipelineFileError(
                f"{self.path}: job `{chain[0]}` extends more than {_MAX_EXTENDS} levels deep"
            )
        merged: dict[str, Any] = {}
        for parent in _as_tuple(job.values.get("extends")):
            merged = _deep_merge(merged, self.values(parent, (*chain, key)))
        own = {k: v for k, v in job.values.items() if k != "extends"}
        merged = _deep_merge(merged, own)
        self._done[key] = merged
        return merged

    def lines(self, value: Any, where: str, depth: int = 0) -> tuple[str, ...]:
        out: list[str] = []
        self._flatten(value, out, where, depth)
        return tuple(out)

    def _flatten(self, value: Any, out: list[str], where: str, depth: int) -> None:
        if len(out) >= _MAX_LINES:
            return
        if depth > _MAX_REFERENCE:
            raise PipelineFileError(f"{where}: scripts nest more than {_MAX_REFERENCE} levels")
        if isinstance(value, _Reference):
            self._flatten(self._reference(value, where), out, where, depth + 1)
        elif isinstance(value, list):
            for item in value:
                self._flatten(item, out, where, depth + 1)
        elif isinstance(value, str):
            out.append(value[:_MAX_LINE])
        elif value is not None and not isinstance(value, dict):
            out.append(str(value)[:_MAX_LINE])

    def _reference(self, ref: _Reference, where: str) -> Any:
        if not ref.path or ref.path[0] not in self.raw:
            return None
        node: Any = self.values(ref.path[0])
        for part in ref.path[1:]:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def inherited(self, values: dict[str, Any], key: str, job: str) -> Any:
        if key in values:
            return values[key]
        if job.startswith(".") or "trigger" in values:
            return None  # templates and trigger jobs run no scripts of their own
        inherit = values.get("inherit")
        allowed: Any = True
        if isinstance(inherit, dict) and "default" in inherit:
            allowed = inherit["default"]
        if allowed is False or (isinstance(allowed, list) and key not in allowed):
            return None
        return self.defaults.get(key)


def _image(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return str(value["name"])
    return None


def _services(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else []
    names = (_image(item) for item in items)
    return tuple(name for name in names if name)


def _needs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for item in value:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and isinstance(item.get("job"), str):
            out.append(item["job"])
    return tuple(out)


def _trigger(value: Any) -> tuple[tuple[str, ...], str | None]:
    if isinstance(value, str):
        return (), value
    if not isinstance(value, dict):
        return (), None
    project = value.get("project") if isinstance(value.get("project"), str) else None
    paths = tuple(
        i.location for i in _includes(value.get("include")) if i.is_local and "$" not in i.location
    )
    return paths, project


def parse_gitlab_ci(
    text: str, path: str = ROOT, includes: Mapping[str, str | None] | None = None
) -> GitLabCI:
    """Parse a pipeline file, with the ``include: local`` files given in ``includes`` (path ->
    content) merged as GitLab merges them: included first, the including file's jobs win.
    Raises PipelineFileError with a one-line reason."""
    root = _read_file(text, path)
    raw: dict[str, _RawJob] = {}
    defaults: dict[str, Any] = {}
    stages: tuple[str, ...] = ()
    seen = {path}
    for included in _include_order(root, includes or {}, seen):
        raw.update(included.jobs)
        defaults.update(included.defaults)
        stages = included.stages or stages
    for key, job in root.jobs.items():
        if key in raw:
            # The including file extends an included job of the same name (deep merge).
            base = raw[key]
            job = _RawJob(
                key,
                job.path,
                job.node,
                _deep_merge(base.values, job.values),
                job.line_start,
                job.line_end,
                job.spans,
            )
        raw[key] = job
    defaults.update(root.defaults)
    stages = root.stages or stages
    resolver = _Resolver(raw, defaults, path)
    jobs: dict[str, GitLabJob] = {}
    for key, job in raw.items():
        values = resolver.values(key)
        where = f"{job.path}: job `{key}`"
        include_paths, project = _trigger(values.get("trigger"))
        stage = values.get("stage")
        hidden = key.startswith(".")
        jobs[key] = GitLabJob(
            key=key,
            hidden=hidden,
            stage=str(stage) if isinstance(stage, str) else (None if hidden else "test"),
            image=_image(resolver.inherited(values, "image", key)),
            services=_services(resolver.inherited(values, "services", key)),
            before_script=resolver.lines(resolver.inherited(values, "before_script", key), where),
            script=resolver.lines(values.get("script"), where),
            after_script=resolver.lines(resolver.inherited(values, "after_script", key), where),
            extends=_as_tuple(job.values.get("extends")),
            needs=_needs(values.get("needs")),
            trigger_include=include_paths,
            trigger_project=project,
            is_trigger="trigger" in values,
            path=job.path,
            line_start=job.line_start,
            line_end=job.line_end,
            spans=job.spans,
        )
    return GitLabCI(path=path, stages=stages, includes=root.includes, jobs=jobs)


def _include_order(
    file: _File, contents: Mapping[str, str | None], seen: set[str], depth: int = 0
) -> Iterator[_File]:
    """Included files depth-first in include order (an include's own includes come first)."""
    if depth > 10:
        return
    for include in file.includes:
        if not include.is_local:
            continue
        if "*" in include.location:
            paths = sorted(p for p in contents if glob_match(include.location, p))
        else:
            paths = [include.location]
        for location in paths:
            if location in seen:
                continue
            seen.add(location)
            text = contents.get(location)
            if text is None:
                continue
            try:
                included = _read_file(text, location)
            except PipelineFileError:
                continue  # GitLab would refuse the pipeline; still link what can be linked
            yield from _include_order(included, contents, seen, depth + 1)
            yield included


def glob_match(pattern: str, path: str) -> bool:
    """GitLab's ``include: local`` wildcards: ``*`` within one directory, ``**`` across them."""
    parts = re.split(r"(\*\*|\*)", pattern)
    regex = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part) for part in parts
    )
    return re.fullmatch(regex, path) is not None
