"""Keep ``classified_steps`` current: link every stored step to its definition and classify it.

Everything derived from the classification is rewritten with it: ``step_facts`` and
``job_facts`` (``analysis.facts``), every run's frame, critical path and what-if
(``analysis.run_facts``).

Runs at analysis time over stored data, so changing a rule never needs a re-collection. The
work is done once per distinct *job shape* (pipeline file content, job name, step names and
commands), not once per step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
from ci_profile.analysis.classify import Rule, StepFacts, classify, rules_fingerprint
from ci_profile.analysis.facts import DERIVED
from ci_profile.analysis.link import Linker, link_github, link_unknown
from ci_profile.analysis.link_gitlab import link_gitlab
from ci_profile.analysis.run_facts import stored_fingerprint, write_run_facts
from ci_profile.core.store import Store

# How each provider's steps are joined to its pipeline files.
LINKERS: dict[str, Linker] = {"github": link_github, "gitlab": link_gitlab}

# A pipeline file is keyed by its content, not its commit: every push is a new commit, but the
# file rarely changes, so a history of a million jobs still has only thousands of shapes.
_CONTENT_KEY = "hash(content) || '-' || length(content)"
_JOB_SHAPES = f"""
    SELECT s.provider, s.project, s.job_id,
           list(s.seq ORDER BY s.seq) AS seqs,
           list(coalesce(s.name, '') ORDER BY s.seq) AS names,
           list(s.command ORDER BY s.seq) AS commands,
           any_value(j.name) AS job_name,
           any_value(r.pipeline_path) AS path,
           any_value(f.content_key) AS content_key
    FROM steps s
    LEFT JOIN jobs j USING (provider, project, job_id)
    LEFT JOIN runs r
      ON r.provider = j.provider AND r.project = j.project
     AND r.run_id = j.run_id AND r.attempt = j.attempt
    LEFT JOIN (SELECT provider, project, path, sha, {_CONTENT_KEY} AS content_key
               FROM pipeline_files) f
      ON f.provider = r.provider AND f.project = r.project
     AND f.path = r.pipeline_path AND f.sha = r.sha
    GROUP BY s.provider, s.project, s.job_id
"""
_SHAPE_KEY = (
    "md5(concat_ws(chr(31), provider, project, coalesce(path, ''), coalesce(content_key, ''), "
    "coalesce(job_name, ''), array_to_string(names, chr(30)), "
    "array_to_string(list_transform(commands, c -> coalesce(c, '')), chr(30))))"
)


@dataclass
class RefreshResult:
    refreshed: bool
    # The stored classification and everything derived from it (``job_facts``,
    # ``analysis.run_facts``) describe the stored jobs as they are now.
    current: bool
    steps: int = 0
    shapes: int = 0


def _state_fingerprint(store: Store, rules: Sequence[Rule]) -> str:
    # Everything the classification and the facts read of each row (step_facts: its times).
    # Each row's hash is hashed again: DuckDB combines a hash's last argument by XOR, so two
    # rows differing only in it (steps 1 and 2 of a job) would cancel a change made to both.
    row = store.con.execute(
        "SELECT count(*), coalesce(bit_xor(hash(hash(provider, project, job_id, seq, name, "
        "command, conclusion, started_at, finished_at))), 0) FROM steps"
    ).fetchone()
    # A file at a commit never changes (git objects are immutable); it may only arrive later
    # (stored as missing first). Reading every content for this took seconds.
    files = store.con.execute(
        "SELECT count(*), coalesce(bit_xor(hash(hash(project, path, sha, content IS NULL))), 0) "
        "FROM pipeline_files"
    ).fetchone()
    # What the stored frames read of jobs and runs (analysis.run_facts), times included.
    jobs = store.con.execute(
        "SELECT count(*), coalesce(bit_xor(hash(hash(project, job_id, name, run_id, attempt, "
        "stage, conclusion, created_at, started_at, finished_at, queued_s, labels))), 0) "
        "FROM jobs"
    ).fetchone()
    runs = store.con.execute(
        "SELECT count(*), coalesce(bit_xor(hash(hash(project, run_id, attempt, pipeline, "
        "pipeline_path, sha, status, conclusion, created_at))), 0) FROM runs"
    ).fetchone()
    # The DuckDB version: analysis.facts keys rows by its hash function.
    text = f"{rules_fingerprint(rules)}|{row}|{files}|{jobs}|{runs}|{duckdb.__version__}"
    return hashlib.sha256(text.encode()).hexdigest()


def _writes_key(store: Store, rules: Sequence[Rule]) -> str:
    """What changes whenever the fingerprint can: the store's count of its writes, its row
    counts (a row deleted by hand), the rules and the DuckDB version. Reading it costs
    milliseconds."""
    counts = sorted(store.counts().items())
    return f"{store.writes()}|{counts}|{rules_fingerprint(rules)}|{duckdb.__version__}"


def refresh_classification(
    store: Store, rules: Sequence[Rule], *, force: bool = False
) -> RefreshResult:
    """Recompute step_classes when the steps, files or rules changed since the last time.

    Hashing every row for the fingerprint takes a second on a million jobs, so it is skipped
    when nothing was written since the last time it was taken (a ``collect`` that found
    nothing new still writes, and then the fingerprint tells)."""
    writes_key = _writes_key(store, rules)
    row = store.con.execute("SELECT max(fingerprint) FROM classification_state").fetchone()
    classified_as = row[0] if row else None
    if (
        not force
        and classified_as is not None
        and store.remembered_refresh(writes_key) == classified_as
        and stored_fingerprint(store.con) == classified_as
    ):
        return RefreshResult(refreshed=False, current=True)
    fingerprint = _state_fingerprint(store, rules)
    result = _refresh(
        store, rules, fingerprint, classified=not force and classified_as == fingerprint
    )
    if result.current and not store.read_only:
        store.remember_refresh(writes_key, fingerprint)
    return result


def _refresh(
    store: Store, rules: Sequence[Rule], fingerprint: str, *, classified: bool
) -> RefreshResult:
    if classified and stored_fingerprint(store.con) == fingerprint:
        return RefreshResult(refreshed=False, current=True)
    if store.read_only:
        # Someone else (collect) writes this database; analysis computes what is there.
        return RefreshResult(refreshed=False, current=False)
    if classified:
        # Classified, but the run facts were not written (interrupted after the classes).
        write_run_facts(store, fingerprint)
        return RefreshResult(refreshed=True, current=True)
    shapes = store.con.execute(
        f"""
        WITH shapes AS ({_JOB_SHAPES})
        SELECT {_SHAPE_KEY} AS shape, any_value(provider), any_value(content_key),
               any_value(job_name), any_value(names), any_value(commands)
        FROM shapes GROUP BY shape
        """
    ).fetchall()
    contents: dict[str, str] = dict(
        store.con.execute(
            f"SELECT {_CONTENT_KEY}, any_value(content) FROM pipeline_files GROUP BY ALL"
        ).fetchall()
    )
    result = RefreshResult(refreshed=True, current=True, shapes=len(shapes))
    columns: dict[str, list[object]] = {
        k: [] for k in ("shape", "pos", "category", "rule", "yaml_job", "uses", "command")
    }
    for shape, provider, content_key, job_name, names, commands in shapes:
        content = contents.get(content_key) if content_key is not None else None
        linker = LINKERS.get(provider, link_unknown)
        linked = linker(content, job_name, names)
        for pos, (name, link, command) in enumerate(zip(names, linked, commands, strict=True), 1):
            facts = StepFacts(
                provider=provider,
                name=name,
                uses=link.uses,
                run=link.run if link.run is not None else command,
                with_=link.with_,
                section=link.section,
                phase=link.phase,
                job_name=job_name,
            )
            category, rule = classify(facts, rules)
            columns["shape"].append(shape)
            columns["pos"].append(pos)
            columns["category"].append(category)
            columns["rule"].append(rule)
            columns["yaml_job"].append(link.yaml_job)
            columns["uses"].append(facts.uses)
            columns["command"].append(facts.run)
    import pyarrow as pa  # only a classification needs it (core.arrow_rows says why)

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
        ).to_arrow_table()
    finally:
        store.con.unregister("_shape_classes")
    store.replace_step_classes(classes, fingerprint, DERIVED)
    write_run_facts(store, fingerprint)
    result.steps = classes.num_rows
    return result
