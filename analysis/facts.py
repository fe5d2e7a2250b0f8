"""Per-step and per-job facts, written with every classification (``analysis.refresh``).

Analysis reads a step's category, rule, YAML job and seconds, and a job's seconds per category,
for every job of a period. Joining millions of ``steps`` rows to their ``step_classes`` on four
text keys for that is most of what an analysis of a large history would cost, so it is done
once, when the classification changes (after ``collect``), into two tables keyed by the job's
64-bit hash ``jid`` (``hash(provider, project, job_id)``):

- ``step_facts``: one row per stored step, unclassified ones as ``other`` / ``unclassified``
  (what the ``classified_steps`` view says of them), with its job's ``job_key`` (NULL for a
  step whose job is not stored);
- ``job_facts``: one row per job with steps: step count and seconds, seconds per category, and
  the seconds the what-if removes (category ``environment``, the teardown of an environment,
  and ``Post`` hooks of environment steps).

A step stored after the last classification (a reader while ``collect`` writes) is in neither
table until the next refresh: its job's time counts as ``other`` (unaccounted), as unclassified
steps do. ``hash`` may differ between DuckDB versions, so the classification fingerprint
includes the DuckDB version and an upgrade rebuilds both tables.
"""

from __future__ import annotations

from ci_profile.analysis.classify import CATEGORIES

# Step categories with a per-job seconds column `<category>_s` (queue is a job's, not a step's).
STEP_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORIES if c != "queue")

# Steps the what-if takes away besides category `environment`: the teardown of an environment
# (rule ids from rules.toml). Generic cleanup (cache save, `Complete job`, `rm -rf`) stays: a
# shared cluster does not remove it. `Post <step>` hooks of an environment step (the kind
# action's post step deletes its cluster) are removed too.
ENVIRONMENT_TEARDOWN_RULES: tuple[str, ...] = (
    "cluster-delete",
    "compose-down",
    "gh-stop-containers",
    "k8s-uninstall",
    "container-cleanup",
    "iac-destroy",
)

JID = "hash(provider, project, job_id)"
# A job's pipeline name (its run's ``r``) and the key of (provider, project, pipeline, job
# name) that analysis groups jobs by (``analysis.jobframe``).
PIPELINE_SQL = "coalesce(r.pipeline, r.pipeline_path, '(unknown pipeline)')"
JOB_KEY = "hash(provider, project, pipeline, job)"

STEP_FACTS_SQL = f"""
    SELECT {JID} AS jid, seq, name, category, rule, yaml_job, duration_s,
           epoch(started_at) AS start_e, epoch(finished_at) AS fin_e, conclusion,
           CASE WHEN job IS NOT NULL THEN {JOB_KEY} END AS job_key
    FROM (
        SELECT s.provider, s.project, s.job_id, s.seq, s.name, s.started_at, s.finished_at,
               s.conclusion, coalesce(c.category, 'other') AS category,
               coalesce(c.rule, 'unclassified') AS rule, c.yaml_job,
               CASE WHEN s.finished_at >= s.started_at
                    THEN epoch(s.finished_at) - epoch(s.started_at) END AS duration_s,
               j.name AS job, {PIPELINE_SQL} AS pipeline
        FROM steps s
        LEFT JOIN step_classes c USING (provider, project, job_id, seq)
        LEFT JOIN jobs j USING (provider, project, job_id)
        LEFT JOIN runs r ON r.provider = j.provider AND r.project = j.project
                        AND r.run_id = j.run_id AND r.attempt = j.attempt
    )
"""


def _job_facts_sql() -> str:
    teardown = ", ".join(f"'{rule}'" for rule in ENVIRONMENT_TEARDOWN_RULES)
    removable = f"category = 'environment' OR rule IN ({teardown})"
    sums = ",\n".join(
        f"coalesce(sum(duration_s) FILTER (WHERE category = '{c}'), 0) AS {c}_s"
        for c in STEP_CATEGORIES
    )
    return f"""
    WITH per_job AS (
        SELECT jid, any_value(yaml_job) AS yaml_job, count(*) AS steps,
               coalesce(sum(duration_s), 0) AS steps_s,
               {sums},
               coalesce(sum(duration_s) FILTER (WHERE {removable}), 0) AS direct_s
        FROM step_facts
        GROUP BY jid
    ),
    posts AS (
        SELECT p.jid, sum(p.duration_s) AS s
        FROM step_facts p
        SEMI JOIN (SELECT DISTINCT jid, 'Post ' || name AS name FROM step_facts
                   WHERE category = 'environment') e ON e.jid = p.jid AND e.name = p.name
        WHERE p.rule = 'gh-post-step' AND p.name LIKE 'Post %'
        GROUP BY p.jid
    )
    SELECT per_job.* EXCLUDE (direct_s), direct_s + coalesce(posts.s, 0) AS removable_s
    FROM per_job LEFT JOIN posts USING (jid)
    """


# (table, SELECT) in the order they are rebuilt: job_facts reads step_facts.
DERIVED: tuple[tuple[str, str], ...] = (
    ("step_facts", STEP_FACTS_SQL),
    ("job_facts", _job_facts_sql()),
)
