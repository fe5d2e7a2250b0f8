"""Critical path per run: the chain of jobs (queue waits included) that set the run's wall time.

Dependency model, per job, the first that applies:

- ``needs``: GitHub ``needs:`` read from the workflow file stored at the run's commit. A runtime
  job maps to its YAML job through ``classified_steps.yaml_job``; a matrix leg needs every leg
  of the job it names. Each distinct file *content* is parsed once, in Python; a job whose YAML
  job has no ``needs:`` is a root (it started with the run), whatever the timing suggests.
- ``stage``: GitLab stages. A job depends on every job of the nearest earlier stage of its
  pipeline (stages ordered by their first start, as stored jobs carry no stage index).
- ``timing``: everything else (Jenkins stages and parallel branches, jobs without steps, files
  not stored). The gate is the job of the same run attempt that finished last at or before the
  job became ready (+ ``TOLERANCE_S`` for clock skew), if that was at most
  ``MAX_INFERRED_GAP_S`` before; otherwise the job is a root. Its predecessors are the gate and
  the jobs that finished between the gate becoming ready and the job becoming ready (the other
  branches of a parallel block), so the what-if cannot start a job before a branch it waited
  for; jobs that finished earlier are ancestors through the gate anyway.

A declared (``needs``/``stage``) edge whose predecessor finished more than ``TOLERANCE_S`` after
the job became ready contradicts the clocks and is dropped. Edges always point from an earlier
(finished, id) to a later one, so the graph is acyclic whatever the data says.

The path is walked back from the job that finished last: each job's *gate* is its predecessor
that finished last. Every second of [run start, run end] lands in exactly one place: a path job's
segment (split into its queue wait, step categories and unaccounted time), or ``between jobs``
(the gap between a gate finishing and the next job becoming ready: job creation lag, or a wait
no job explains). So the path, gaps included, equals the run's wall time, and it is never shorter
than the run's longest job. All of it is DuckDB SQL over the job frame; the walk is a recursive
CTE following one gate pointer per step.
"""

from __future__ import annotations

from typing import Any

import duckdb
from ci_profile.analysis.jobframe import JOBS, RUNS, SCOPE, STEPS, combine, records
from ci_profile.core.errors import PipelineFileError
from ci_profile.core.pipelines import parse_github_workflow

# Each is a view of the rows computed here (``..._live``: the runs of ``jobframe.SCOPE``) and
# the stored rows (``path_...``, written by ``analysis.run_facts``) of the runs read whole.
CANDIDATES = "_cip_cand_all"
EDGES = "_cip_edges"
GATES = "_cip_gates"
PATH = "_cip_path"
PATH_PIECES = "_cip_path_pieces"
CHAINS = "_cip_path_chains"
# (view, rows computed here, stored table): the graph's, then the path's
GRAPH_TABLES: tuple[tuple[str, str, str], ...] = (
    (CANDIDATES, "_cip_cand", "path_jobs"),
    (EDGES, "_cip_edges_live", "path_edges"),
    (GATES, "_cip_gates_live", "path_gates"),
)
PATH_TABLES: tuple[tuple[str, str, str], ...] = (
    (PATH, "_cip_path_live", "path_segments"),
    (PATH_PIECES, "_cip_pieces_live", "path_pieces"),
    (CHAINS, "_cip_chains_live", "path_chains"),
)
TABLES = GRAPH_TABLES + PATH_TABLES
LIVE = {view: live for view, live, _ in TABLES}
TOLERANCE_S = 5.0
MAX_INFERRED_GAP_S = 60.0
GAP = "between jobs"


def _declared_needs(con: duckdb.DuckDBPyConnection) -> dict[str, list[Any]]:
    """(file_h, yaml_job, need) columns for every distinct workflow file the frame's runs
    used."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cip_run_files AS
        SELECT r.rid, hash(pf.content) AS file_h, pf.provider, pf.project, pf.path, pf.sha
        FROM {RUNS} r
        JOIN pipeline_files pf ON pf.provider = r.provider AND pf.project = r.project
                              AND pf.path = r.pipeline_path AND pf.sha = r.sha
        WHERE r.rid IN (SELECT rid FROM {SCOPE}) AND r.provider = 'github'
          AND pf.content IS NOT NULL
        """
    )
    files = con.execute(
        """
        WITH one AS (
            SELECT file_h, (min({'provider': provider, 'project': project, 'path': path,
                                 'sha': sha})) AS k
            FROM _cip_run_files GROUP BY file_h
        )
        SELECT one.file_h, pf.content
        FROM one JOIN pipeline_files pf
          ON pf.provider = one.k.provider AND pf.project = one.k.project
         AND pf.path = one.k.path AND pf.sha = one.k.sha
        ORDER BY one.file_h
        """
    ).fetchall()
    columns: dict[str, list[Any]] = {"file_h": [], "yaml_job": [], "need": []}
    for file_h, content in files:  # one per distinct file content, not per row
        try:
            workflow = parse_github_workflow(content)
        except PipelineFileError:
            continue
        for key, job in workflow.jobs.items():
            for need in job.needs or (None,):
                columns["file_h"].append(file_h)
                columns["yaml_job"].append(key)
                columns["need"].append(need)
    return columns


def build_graph(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Edges (job -> predecessor) and gates for the analyzable runs of the frame (computed for
    ``SCOPE``, read from the store for the others)."""
    needs = _declared_needs(con)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _cip_decl (file_h UBIGINT, yaml_job VARCHAR, need VARCHAR)"
    )
    # Nothing to register when every run is read from the store (Arrow imports pandas for
    # it, see core.store.literal).
    if needs["file_h"]:
        import pyarrow as pa  # only then (core.arrow_rows says why)

        schema = pa.schema(
            [("file_h", pa.uint64()), ("yaml_job", pa.string()), ("need", pa.string())]
        )
        con.register("_cip_decl_in", pa.table(needs, schema=schema))
        try:
            con.execute("INSERT INTO _cip_decl SELECT * FROM _cip_decl_in")
        finally:
            con.unregister("_cip_decl_in")
    tol, gap = TOLERANCE_S, MAX_INFERRED_GAP_S
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _cip_cand AS
        SELECT j.jid, j.rid, j.job_key, j.job, j.provider, j.stage, j.yaml_job, j.ready_e,
               j.start_e, j.fin_e, f.file_h,
               CASE WHEN d.yaml_job IS NOT NULL THEN 'needs'
                    WHEN j.provider = 'gitlab' AND j.stage IS NOT NULL THEN 'stage'
                    ELSE 'timing' END AS model
        FROM {JOBS} j
        JOIN {SCOPE} r ON r.rid = j.rid
        LEFT JOIN _cip_run_files f ON f.rid = j.rid
        LEFT JOIN (SELECT DISTINCT file_h, yaml_job FROM _cip_decl) d
               ON d.file_h = f.file_h AND d.yaml_job = j.yaml_job
        WHERE j.eligible
        """
    )
    consistent = (
        f"p.fin_e <= x.ready_e + {tol} "
        "AND (p.fin_e < x.fin_e OR (p.fin_e = x.fin_e AND p.jid < x.jid))"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {LIVE[EDGES]} AS
        WITH needs AS (
            SELECT DISTINCT x.jid, x.rid, p.jid AS pred
            FROM _cip_cand x
            JOIN _cip_decl d ON d.file_h = x.file_h AND d.yaml_job = x.yaml_job
            JOIN _cip_cand p ON p.rid = x.rid AND p.yaml_job = d.need
            WHERE x.model = 'needs' AND {consistent}
        ),
        stages AS (
            SELECT rid, stage,
                   rank() OVER (PARTITION BY rid ORDER BY min(coalesce(start_e, ready_e)), stage)
                       AS stage_rank
            FROM _cip_cand WHERE model = 'stage' GROUP BY rid, stage
        ),
        staged AS (
            SELECT x.jid, x.rid, p.jid AS pred
            FROM _cip_cand x
            JOIN stages sx ON sx.rid = x.rid AND sx.stage = x.stage
            JOIN stages sp ON sp.rid = x.rid AND sp.stage_rank = sx.stage_rank - 1
            JOIN _cip_cand p ON p.rid = x.rid AND p.stage = sp.stage AND p.model = 'stage'
            WHERE x.model = 'stage' AND {consistent}
        ),
        events AS (
            SELECT rid, fin_e AS t, 0 AS kind, jid FROM _cip_cand
            UNION ALL
            SELECT rid, least(ready_e + {tol}, fin_e - 0.001), 1, jid
            FROM _cip_cand WHERE model = 'timing'
        ),
        latest AS (
            SELECT jid, kind,
                   last_value(CASE WHEN kind = 0 THEN jid END IGNORE NULLS) OVER (
                       PARTITION BY rid ORDER BY t, kind, jid
                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS pred
            FROM events
        ),
        gated AS (
            SELECT l.jid, l.pred
            FROM latest l
            JOIN _cip_cand x ON x.jid = l.jid
            JOIN _cip_cand p ON p.jid = l.pred
            WHERE l.kind = 1 AND x.ready_e - p.fin_e <= {gap}
        ),
        timed AS (
            -- The gate and its contemporaries: every job that finished between the gate
            -- becoming ready and this job becoming ready (the branches of a parallel block).
            SELECT x.jid, x.rid, p.jid AS pred
            FROM gated t
            JOIN _cip_cand x ON x.jid = t.jid
            JOIN _cip_cand g ON g.jid = t.pred
            JOIN _cip_cand p ON p.rid = x.rid
            WHERE p.fin_e >= g.ready_e AND p.fin_e <= least(x.ready_e + {tol}, x.fin_e - 0.001)
              AND p.jid <> x.jid
        )
        SELECT jid, rid, pred, 'needs' AS source FROM needs
        UNION ALL SELECT jid, rid, pred, 'stage' FROM staged
        UNION ALL SELECT jid, rid, pred, 'timing' FROM timed
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {LIVE[GATES]} AS
        SELECT e.jid, any_value(e.rid) AS rid, (max({{'f': p.fin_e, 'j': p.jid}})).j AS gate,
               max(p.fin_e) AS g_fin, count(*) AS preds
        FROM {LIVE[EDGES]} e JOIN _cip_cand p ON p.jid = e.pred
        GROUP BY e.jid
        """
    )
    for view, live, stored in GRAPH_TABLES:
        combine(con, view, live, stored)
    rows = con.execute(
        f"""
        SELECT 'jobs_' || model, count(*) FROM {CANDIDATES} GROUP BY model
        UNION ALL SELECT 'edges_' || source, count(*) FROM {EDGES} GROUP BY source
        """
    ).fetchall()
    counts = {"jobs_needs": 0, "jobs_stage": 0, "jobs_timing": 0}
    counts |= {"edges_needs": 0, "edges_stage": 0, "edges_timing": 0}
    counts.update({str(k): int(v) for k, v in rows})
    return counts


def walk_paths(con: duckdb.DuckDBPyConnection) -> None:
    """The critical path of every analyzable run, as segments, and their category pieces
    (walked for ``SCOPE``, read from the store for the others). Reads the graph's candidate
    jobs (``build_graph``): only those of ``SCOPE``, often none, where joining every job of
    the frame cost a third of a second even then."""
    runs = f"(SELECT * FROM {RUNS} WHERE rid IN (SELECT rid FROM {SCOPE}))"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {LIVE[PATH]} AS
        WITH RECURSIVE walk(rid, jid, seg_end, depth) AS (
            SELECT rid, last_jid, run_end, 0 FROM {runs}
            UNION ALL
            SELECT w.rid, g.gate,
                   least(p.fin_e, greatest(least(x.ready_e, w.seg_end), r.run_start)),
                   w.depth + 1
            FROM walk w
            JOIN {LIVE[GATES]} g ON g.jid = w.jid
            JOIN {LIVE[CANDIDATES]} x ON x.jid = w.jid
            JOIN {LIVE[CANDIDATES]} p ON p.jid = g.gate
            JOIN {runs} r ON r.rid = w.rid
            WHERE w.depth < 100000
        ),
        segs AS (
            SELECT w.rid, w.jid, x.job_key, w.depth, w.seg_end, r.run_start,
                   greatest(least(x.ready_e, w.seg_end), r.run_start) AS seg_start
            FROM walk w JOIN {LIVE[CANDIDATES]} x ON x.jid = w.jid JOIN {runs} r ON r.rid = w.rid
        )
        SELECT rid, jid, job_key, depth, seg_start, seg_end, seg_end - seg_start AS seg_s,
               seg_start - coalesce(lead(seg_end) OVER (PARTITION BY rid ORDER BY depth),
                                    run_start) AS gap_before_s
        FROM segs
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {LIVE[PATH_PIECES]} AS
        WITH pieces AS (
            SELECT p.rid, p.jid, 'queue' AS category,
                   greatest(0, least(coalesce(least(x.start_e, x.fin_e), x.fin_e), p.seg_end)
                               - greatest(x.ready_e, p.seg_start)) AS s
            FROM {LIVE[PATH]} p JOIN {LIVE[CANDIDATES]} x ON x.jid = p.jid
            UNION ALL
            SELECT p.rid, p.jid, s.category,
                   greatest(0, least(s.fin_e, p.seg_end) - greatest(s.start_e, p.seg_start))
            FROM {LIVE[PATH]} p JOIN {STEPS} s ON s.jid = p.jid
            WHERE s.fin_e >= s.start_e
        ),
        per_category AS (SELECT rid, jid, category, sum(s) AS s FROM pieces GROUP BY ALL),
        covered AS (
            SELECT p.rid, p.jid, p.job_key, p.seg_s, coalesce(sum(c.s), 0) AS covered_s
            FROM {LIVE[PATH]} p LEFT JOIN per_category c USING (rid, jid)
            GROUP BY p.rid, p.jid, p.job_key, p.seg_s
        )
        SELECT c.rid, c.jid, v.job_key, c.category,
               CASE WHEN v.covered_s > v.seg_s THEN c.s * v.seg_s / v.covered_s ELSE c.s END
                   AS seconds
        FROM per_category c JOIN covered v USING (rid, jid)
        WHERE c.s > 0
        UNION ALL
        SELECT rid, jid, job_key, 'other', seg_s - covered_s FROM covered WHERE seg_s > covered_s
        UNION ALL
        SELECT rid, NULL, NULL, '{GAP}', gap_before_s FROM {LIVE[PATH]} WHERE gap_before_s > 0
        """
    )
    # Each run's path as the job names it passes, first to last (joining a million names
    # into strings was the section's slowest query).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {LIVE[CHAINS]} AS
        SELECT p.rid, string_agg(x.job, ' → ' ORDER BY p.depth DESC) AS chain
        FROM {LIVE[PATH]} p JOIN {LIVE[CANDIDATES]} x ON x.jid = p.jid
        GROUP BY p.rid
        """
    )
    for view, live, stored in PATH_TABLES:
        combine(con, view, live, stored)


def compute(
    con: duckdb.DuckDBPyConnection,
    runner_categories: dict[str, dict[str, float]],
    provisioning: tuple[str, ...],
) -> dict[str, Any]:
    """The ``critical_path`` section. ``runner_categories``: the breakdown's cost view."""
    graph = build_graph(con)
    walk_paths(con)
    head = con.execute(
        f"""
        SELECT count(*), sum(wall_s), median(wall_s), quantile_cont(wall_s, 0.9),
               (SELECT count(*) FROM {PATH}) * 1.0 / nullif(count(*), 0)
        FROM {RUNS} WHERE analyzable
        """
    ).fetchone() or (0, None, None, None, None)
    runs = int(head[0] or 0)
    section: dict[str, Any] = {
        "runs": runs,
        "dependency_model": graph,
        "tolerance_s": TOLERANCE_S,
        "max_inferred_gap_s": MAX_INFERRED_GAP_S,
    }
    if not runs:
        section |= {"status": "not enough data", "by_category": [], "by_job": [], "paths": []}
        return section
    wall = dict(
        con.execute(
            f"SELECT category, sum(seconds) FROM {PATH_PIECES} GROUP BY category"
        ).fetchall()
    )
    total_wall = float(head[1] or 0.0)
    runner_total = sum(v["seconds"] for k, v in runner_categories.items() if k != "queue")
    by_category = []
    for category in (*runner_categories.keys(), GAP):
        runner = runner_categories.get(category, {}).get("seconds") if category != GAP else None
        wall_s = float(wall.get(category) or 0.0)
        by_category.append(
            {
                "category": category,
                "runner_s": None if runner is None or category == "queue" else round(runner, 1),
                "runner_share": (
                    None
                    if runner is None or category == "queue" or not runner_total
                    else round(runner / runner_total, 4)
                ),
                "job_time_s": None if runner is None else round(runner, 1),
                "wall_s": round(wall_s, 1),
                "wall_share": round(wall_s / total_wall, 4) if total_wall else None,
            }
        )
    provisioning_wall = sum(float(wall.get(c) or 0.0) for c in provisioning)
    provisioning_runner = sum(
        runner_categories.get(c, {}).get("seconds", 0.0) for c in provisioning
    )
    section |= {
        "status": "ok",
        "wall_s": round(total_wall, 1),
        "median_wall_s": round(float(head[2] or 0.0), 1),
        "p90_wall_s": round(float(head[3] or 0.0), 1),
        "mean_jobs_on_path": round(float(head[4] or 0.0), 2),
        "provisioning_wall_share": round(provisioning_wall / total_wall, 4) if total_wall else None,
        "provisioning_runner_share": (
            round(provisioning_runner / runner_total, 4) if runner_total else None
        ),
        "environment_wall_share": (
            round(float(wall.get("environment") or 0.0) / total_wall, 4) if total_wall else None
        ),
        "test_wall_share": (
            round(float(wall.get("test") or 0.0) / total_wall, 4) if total_wall else None
        ),
        "queue_wall_share": (
            round(float(wall.get("queue") or 0.0) / total_wall, 4) if total_wall else None
        ),
        "gap_wall_share": round(float(wall.get(GAP) or 0.0) / total_wall, 4)
        if total_wall
        else None,
        "by_category": by_category,
    }
    section["by_job"] = records(
        con,
        f"""
        WITH ran AS (  -- by the job's integer key; names are taken along once per key
            SELECT j.job_key, any_value(j.provider) AS provider,
                   any_value(j.project) AS project, any_value(j.pipeline) AS pipeline,
                   any_value(j.job) AS job, count(*) AS runs, sum(j.runner_s) AS runner_s
            FROM {JOBS} j JOIN {RUNS} r ON r.rid = j.rid AND r.analyzable
            WHERE j.eligible GROUP BY j.job_key
        ),
        pieces AS (  -- path rows carry their job's key: no join with every job
            SELECT job_key,
                   sum(seconds) FILTER (WHERE category = 'environment') AS env_wall_s,
                   sum(seconds) FILTER (WHERE category = 'queue') AS queue_wall_s
            FROM {PATH_PIECES} WHERE job_key IS NOT NULL GROUP BY job_key
        ),
        onpath AS (
            SELECT job_key, count(DISTINCT rid) AS on_path, sum(seg_s) AS wall_s
            FROM {PATH} GROUP BY job_key
        )
        SELECT ran.provider, ran.project, ran.pipeline, ran.job, ran.runs,
               coalesce(o.on_path, 0) AS on_path,
               round(coalesce(o.on_path, 0) / ran.runs, 4) AS on_path_share,
               round(coalesce(o.wall_s, 0), 1) AS wall_s,
               round(coalesce(o.wall_s, 0) / ran.runs, 1) AS wall_per_run_s,
               round(coalesce(ran.runner_s, 0), 1) AS runner_s,
               round(coalesce(pc.env_wall_s, 0), 1) AS environment_wall_s,
               round(coalesce(pc.queue_wall_s, 0), 1) AS queue_wall_s
        FROM ran
        LEFT JOIN onpath o USING (job_key)
        LEFT JOIN pieces pc USING (job_key)
        ORDER BY wall_s DESC, runner_s DESC, provider, project, pipeline, job
        """,
    )
    section["paths"] = records(
        con,
        f"""
        WITH per_pipeline AS (
            SELECT r.provider, r.project, r.pipeline, c.chain, count(*) AS runs,
                   median(r.wall_s) AS median_wall_s,
                   sum(count(*)) OVER (PARTITION BY r.provider, r.project, r.pipeline)
                       AS pipeline_runs
            FROM {CHAINS} c JOIN {RUNS} r USING (rid)
            GROUP BY r.provider, r.project, r.pipeline, c.chain
        )
        SELECT provider, project, pipeline, chain, runs,
               round(runs / pipeline_runs, 4) AS share, round(median_wall_s, 1) AS median_wall_s
        FROM per_pipeline
        QUALIFY row_number() OVER (PARTITION BY provider, project, pipeline
                                   ORDER BY runs DESC, chain) <= 3
        ORDER BY provider, project, pipeline, runs DESC, chain
        """,
    )
    return section
