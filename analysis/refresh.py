"""Keep ``classified_steps`` current: link every stored step to its definition and classify it.

Runs at analysis time over stored data, so changing a rule never needs a re-collection. The
work is done once per distinct *job shape* (pipeline file at a commit, job name, step names),
not once per step: a history of a million jobs has only thousands of shapes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import pyarrow as pa
from ci_profile.analysis.classify import Rule, StepFacts, classify, rules_fingerprint
from ci_profile.analysis.link import StepLink, link_steps, match_job
from ci_profile.core.errors import PipelineFileError
from ci_profile.core.pipelines import Workflow, parse_github_workflow
from ci_profile.core.store import Store

_JOB_SHAPES = """
    SELECT s.provider, s.project, s.job_id,
           list(s.seq ORDER BY s.seq) AS seqs,
           list(coalesce(s.name, '') ORDER BY s.seq) AS names,
           any_value(j.name) AS job_name,
           any_value(r.pipeline_path) AS path,
           any_value(r.sha) AS sha
    FROM steps s
    LEFT JOIN jobs j USING (provider, project, job_id)
    LEFT JOIN runs r
      ON r.provider = j.provider AND r.project = j.project
     AND r.run_id = j.run_id AND r.attempt = j.attempt
    GROUP BY s.provider, s.project, s.job_id
"""
_SHAPE_KEY = (
    "md5(concat_ws(chr(31), provider, project, coalesce(path, ''), coalesce(sha, ''), "
    "coalesce(job_name, ''), array_to_string(names, chr(30))))"
)


@dataclass
class RefreshResult:
    refreshed: bool
    steps: int = 0
    shapes: int = 0
    unreadable_files: list[str] = field(default_factory=list)


def _state_fingerprint(store: Store, rules: Sequence[Rule]) -> str:
    row = store.con.execute(
        "SELECT count(*), coalesce(bit_xor(hash(provider, project, job_id, seq, name)), 0) "
        "FROM steps"
    ).fetchone()
    files = store.con.execute(
        "SELECT count(*), coalesce(bit_xor(hash(project, path, sha, content)), 0) "
        "FROM pipeline_files"
    ).fetchone()
    jobs = store.con.execute(
        "SELECT count(*), coalesce(bit_xor(hash(job_id, name, run_id)), 0) FROM jobs"
    ).fetchone()
    text = f"{rules_fingerprint(rules)}|{row}|{files}|{jobs}"
    return hashlib.sha256(text.encode()).hexdigest()


def refresh_classification(
    store: Store, rules: Sequence[Rule], *, force: bool = False
) -> RefreshResult:
    """Recompute step_classes when the steps, files or rules changed since the last time."""
    fingerprint = _state_fingerprint(store, rules)
    current = store.con.execute("SELECT max(fingerprint) FROM classification_state").fetchone()
    if not force and current and current[0] == fingerprint:
        return RefreshResult(refreshed=False)
    if store.read_only:
        # Someone else (collect) writes this database; classify what is there without storing.
        return RefreshResult(refreshed=False)
    shapes = store.con.execute(
        f"""
        WITH shapes AS ({_JOB_SHAPES})
        SELECT {_SHAPE_KEY} AS shape, any_value(provider), any_value(project), any_value(path),
               any_value(sha), any_value(job_name), any_value(names)
        FROM shapes GROUP BY shape
        """
    ).fetchall()
    contents = {
        (r[0], r[1], r[2], r[3]): r[4]
        for r in store.con.execute(
            "SELECT provider, project, path, sha, content FROM pipeline_files"
        ).fetchall()
    }
    result = RefreshResult(refreshed=True, shapes=len(shapes))
    workflows = _WorkflowCache(result)
    columns: dict[str, list[object]] = {
        k: [] for k in ("shape", "pos", "category", "rule", "yaml_job", "uses", "command")
    }
    for shape, provider, project, path, sha, job_name, names in shapes:
        workflow = workflows.get(contents.get((provider, project, path, sha)), path)
        job = match_job(workflow, job_name) if workflow and job_name else None
        links = (
            link_steps(job, names)
            if provider == "github"
            else [StepLink("main", None)] * len(names)
        )
        for pos, (name, link) in enumerate(zip(names, links, strict=True), start=1):
            facts = _facts(provider, name, job_name, link)
            category, rule = classify(facts, rules)
            columns["shape"].append(shape)
            columns["pos"].append(pos)
            columns["category"].append(category)
            columns["rule"].append(rule)
            columns["yaml_job"].append(job.key if job else None)
            columns["uses"].append(facts.uses)
            columns["command"].append(facts.run)
    store.con.register("_shape_classes", pa.table(columns))
    try:
        classes = store.con.execute(
            f"""
            WITH shapes AS ({_JOB_SHAPES}),
            keyed AS (
                SELECT provider, project, job_id, {_SHAPE_KEY} AS shape,
                       unnest(seqs) AS seq, generate_subscripts(seqs, 1) AS pos
                FROM shapes
            )
            SELECT k.provider, k.project, k.job_id, k.seq, c.category, c.rule, c.yaml_job,
                   c.uses, c.command
            FROM keyed k JOIN _shape_classes c USING (shape, pos)
            """
        ).fetch_arrow_table()
    finally:
        store.con.unregister("_shape_classes")
    store.replace_step_classes(classes, fingerprint)
    result.steps = classes.num_rows
    return result


def _facts(provider: str, name: str, job_name: str | None, link: StepLink) -> StepFacts:
    definition = link.definition
    if definition is None:
        return StepFacts(provider=provider, name=name, phase=link.phase, job_name=job_name)
    return StepFacts(
        provider=provider,
        name=name,
        uses=definition.uses,
        run=definition.run,
        with_=definition.with_text,
        phase=link.phase,
        job_name=job_name,
    )


class _WorkflowCache:
    """Parse each distinct file content once; remember which could not be read."""

    def __init__(self, result: RefreshResult) -> None:
        self._result = result

    def get(self, content: str | None, path: str | None) -> Workflow | None:
        if content is None:
            return None
        try:
            return _parse(content)
        except PipelineFileError:
            if path and path not in self._result.unreadable_files:
                self._result.unreadable_files.append(path)
            return None


@lru_cache(maxsize=512)
def _parse(content: str) -> Workflow:
    return parse_github_workflow(content)
