"""What-if: each run's wall time recomputed with environment steps removed, a session start added.

What is removed from a job (``facts.ENVIRONMENT_TEARDOWN_RULES``): every step
of category ``environment``, the steps that tear an environment down (rules ``cluster-delete``,
``compose-down``, ``gh-stop-containers``, ``k8s-uninstall``, ``container-cleanup``,
``iac-destroy``) and the ``Post`` hooks of environment steps. What is added: a session start
cost, once per job that had something removed: ``DEFAULT_SESSION_START_S`` (20 s) is an
*estimate* of ``mirrord ci start`` (connect to the shared cluster, start the agent), configurable
with ``--session-start-cost`` or ``[analysis] session_start_s`` in ci-profile.toml.

The recomputation keeps everything else as observed. A job's queue wait and its other steps keep
their length. A root job (no predecessor) keeps its ready time. Any other job becomes ready
``lag`` after the last of its predecessors finishes, where ``lag`` is what was observed (job
creation delay); with *all* predecessors considered, not just the one that gated it, so a
shortened job that stops being the gate saves only up to the next predecessor. With nothing
removed this reproduces every observed finish time exactly. It is a longest-path relaxation over
each run's DAG over the jobs that can move (the changed jobs and their descendants), for every
scenario at once: "all" (environment removed from every job) and one per job that has
environment steps.

What it does not model: runners freed earlier starting other queued jobs sooner (queue waits are
kept as observed), and tests running slower or faster against a shared cluster. A saving can be
negative: a job whose environment takes less than the session start gets slower.
"""

from __future__ import annotations

from typing import Any

import duckdb
from ci_profile.analysis.critical_path import EDGES, GATES, LIVE
from ci_profile.analysis.jobframe import (
    FACTS_STATE,
    JOBS,
    RUNS,
    SCOPE,
    combine,
    job_names,
    records,
)

DEFAULT_SESSION_START_S = 20.0
WEEKS_PER_MONTH = 52.0 / 12.0

_NODES = "_cip_wi_nodes"
_SEDGES = "_cip_wi_edges"
# Scenario `sid` 0 removes the environment of every job, any other is a job's `job_key`.
# (view, rows computed here, stored table: see ``critical_path.TABLES``)
RESULT = "_cip_wi_runs"
LABELS = "_cip_wi_labels"
TABLES: tuple[tuple[str, str, str], ...] = (
    (RESULT, "_cip_wi_runs_live", "whatif_runs"),
    (LABELS, "_cip_wi_labels_live", "whatif_labels"),
)
_LIVE = {view: live for view, live, _ in TABLES}
_SCENARIO_SCOPE = "_cip_wi_scope"


MAX_ROUNDS = 10_000


def stored_session_start(con: duckdb.DuckDBPyConnection) -> float | None:
    """The session start the stored results (``analysis.run_facts``) were computed with."""
    row = con.execute(f"SELECT max(session_start_s) FROM {FACTS_STATE}").fetchone()
    return None if row is None or row[0] is None else float(row[0])


def recompute(
    con: duckdb.DuckDBPyConnection, session_start_s: float, stored_session_start_s: float | None
) -> int:
    """Per (scenario, run): observed and recomputed wall time, removed and added runner time.

    The runs read whole from the store take their stored results when those were computed
    with the same session start (``stored_session_start_s``); every other analyzable run of
    the frame is recomputed here.

    Only the jobs a scenario changes and their descendants can move; every other job keeps its
    observed finish. Their finish times are relaxed round by round (each round one SQL
    statement over all scenarios: a job's finish from its predecessors' finishes of the round
    before) until nothing changes: at most the depth of the deepest run's job graph plus one
    rounds. Returns the number of rounds.
    """
    cost = float(session_start_s)
    reuse = stored_session_start_s is not None and stored_session_start_s == cost
    scope = SCOPE if reuse else f"(SELECT rid FROM {RUNS} WHERE analyzable)"
    # The graph computed here covers SCOPE; other runs need the stored part too.
    edges, gates = (LIVE[EDGES], LIVE[GATES]) if reuse else (EDGES, GATES)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_SCENARIO_SCOPE} AS SELECT rid FROM {scope};
        CREATE OR REPLACE TEMP TABLE _cip_wi_mod AS
        SELECT CASE WHEN scenario.per_job THEN j.job_key ELSE 0::UBIGINT END AS sid,
               j.jid, j.rid
        FROM {JOBS} j
        JOIN {_SCENARIO_SCOPE} r ON r.rid = j.rid
        CROSS JOIN (VALUES (false), (true)) AS scenario(per_job)
        WHERE j.eligible AND j.removable_s > 0;
        CREATE OR REPLACE TEMP TABLE _cip_wi_aff AS
        WITH RECURSIVE d(sid, jid) AS (
            SELECT sid, jid FROM _cip_wi_mod
            UNION
            SELECT d.sid, e.jid FROM d JOIN {edges} e ON e.pred = d.jid
        )
        SELECT d.sid, d.jid, m.jid IS NOT NULL AS modified
        FROM d LEFT JOIN _cip_wi_mod m USING (sid, jid);
        CREATE OR REPLACE TEMP TABLE {_NODES} AS
        SELECT a.sid, a.jid, j.rid, r.run_start, j.ready_e, j.fin_e, a.modified,
               g.gate IS NULL AS is_root, j.ready_e - g.g_fin AS lag,
               CASE WHEN a.modified THEN j.removable_s ELSE 0 END AS removed_s,
               greatest(j.span_s - CASE WHEN a.modified THEN j.removable_s - {cost} ELSE 0 END,
                        0) AS new_span
        FROM _cip_wi_aff a
        JOIN {JOBS} j ON j.jid = a.jid
        JOIN {RUNS} r ON r.rid = j.rid
        LEFT JOIN {gates} g ON g.jid = a.jid;
        CREATE OR REPLACE TEMP TABLE {_SEDGES} AS
        SELECT n.sid, e.jid, e.pred, p.fin_e AS pred_fin
        FROM {_NODES} n
        JOIN {edges} e ON e.jid = n.jid
        JOIN {JOBS} p ON p.jid = e.pred;
        CREATE OR REPLACE TEMP TABLE _cip_wi_fin AS
        SELECT sid, jid, fin_e AS fin FROM {_NODES};
        """
    )
    rounds = 0
    while rounds < MAX_ROUNDS:  # rounds of the relaxation, not rows
        rounds += 1
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _cip_wi_next AS
            WITH gate AS (
                SELECT e.sid, e.jid, max(coalesce(f.fin, e.pred_fin)) AS g
                FROM {_SEDGES} e
                LEFT JOIN _cip_wi_fin f ON f.sid = e.sid AND f.jid = e.pred
                GROUP BY e.sid, e.jid
            )
            SELECT n.sid, n.jid,
                   CASE WHEN n.is_root OR g.g IS NULL THEN n.ready_e
                        ELSE greatest(g.g + n.lag, n.run_start) END + n.new_span AS fin
            FROM {_NODES} n LEFT JOIN gate g USING (sid, jid)
            """
        )
        changed = con.execute(
            """
            SELECT count(*) FROM _cip_wi_next x JOIN _cip_wi_fin f USING (sid, jid)
            WHERE abs(x.fin - f.fin) > 1e-6
            """
        ).fetchone()
        con.execute("CREATE OR REPLACE TEMP TABLE _cip_wi_fin AS SELECT * FROM _cip_wi_next")
        if not changed or not changed[0]:
            break
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_LIVE[RESULT]} AS
        WITH scope AS (SELECT DISTINCT sid, rid FROM _cip_wi_mod),
        still AS (
            SELECT s.sid, s.rid, max(j.fin_e) AS fin
            FROM scope s
            JOIN {JOBS} j ON j.rid = s.rid AND j.eligible
            ANTI JOIN _cip_wi_aff a ON a.sid = s.sid AND a.jid = j.jid
            GROUP BY s.sid, s.rid
        ),
        moved AS (
            SELECT n.sid, n.rid, max(f.fin) AS fin, sum(n.removed_s) AS removed_s,
                   count(*) FILTER (WHERE n.modified) AS modified_jobs
            FROM {_NODES} n JOIN _cip_wi_fin f USING (sid, jid)
            GROUP BY n.sid, n.rid
        )
        SELECT m.sid, m.rid, r.wall_s,
               greatest(greatest(m.fin, coalesce(st.fin, m.fin)) - r.run_start, 0) AS new_wall_s,
               m.removed_s, m.modified_jobs * {cost} AS added_s, m.modified_jobs
        FROM moved m
        JOIN {RUNS} r ON r.rid = m.rid
        LEFT JOIN still st ON st.sid = m.sid AND st.rid = m.rid
        """
    )
    # What the money figures need: removed seconds and changed jobs per runner label.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_LIVE[LABELS]} AS
        SELECT n.sid, n.rid, j.provider, j.label, sum(n.removed_s) AS removed_s,
               count(*) AS modified_jobs
        FROM {_NODES} n JOIN {JOBS} j ON j.jid = n.jid
        WHERE n.modified
        GROUP BY ALL
        """
    )
    for view, live, stored in TABLES:
        combine(con, view, live, stored, reuse=reuse)
    return rounds


def compute(
    con: duckdb.DuckDBPyConnection,
    session_start_s: float,
    *,
    weeks: float,
    prices: str | None = None,
    stored_session_start_s: float | None = None,
) -> dict[str, Any]:
    """The ``whatif`` section (used by the Opportunities view and migration PR bodies)."""
    recompute(con, session_start_s, stored_session_start_s)
    weeks = max(weeks, 1.0 / 7.0)
    cost = float(session_start_s)
    priced = (
        f"""
        SELECT l.sid, sum((l.removed_s - l.modified_jobs * {cost}) / 60.0 * pr.per_minute)
                   AS money
        FROM {LABELS} l
        JOIN {prices} pr ON pr.provider = l.provider AND pr.label = l.label
        GROUP BY l.sid
        """
        if prices is not None
        else f"SELECT DISTINCT sid, 0.0 AS money FROM {RESULT}"
    )
    money = "coalesce(mo.money, 0)"
    rows = records(
        con,
        f"""
        WITH mo AS ({priced}),
        total AS (
            SELECT count(*) AS runs, sum(wall_s) AS wall_s FROM {RUNS} WHERE analyzable
        ),
        per AS (
            SELECT sid, count(*) AS runs_affected, sum(wall_s) AS affected_wall_s,
                   sum(wall_s - new_wall_s) AS saving_s,
                   median(wall_s - new_wall_s) AS median_saving_s,
                   quantile_cont(wall_s - new_wall_s, 0.9) AS p90_saving_s,
                   sum(removed_s) AS removed_s, sum(added_s) AS added_s,
                   sum(modified_jobs) AS jobs_changed
            FROM {RESULT} GROUP BY sid
        ),
        names AS ({job_names("SELECT sid AS job_key FROM per")})
        SELECT s.sid, c.provider, c.project, c.pipeline, c.job,
               s.runs_affected, total.runs AS runs_total,
               round(s.saving_s, 1) AS wall_saving_s,
               round(s.saving_s / nullif(total.wall_s, 0), 4) AS wall_saving_share,
               round(s.saving_s / nullif(s.affected_wall_s, 0), 4) AS affected_saving_share,
               round(s.median_saving_s, 1) AS median_saving_per_run_s,
               round(s.p90_saving_s, 1) AS p90_saving_per_run_s,
               round(s.saving_s / {weeks}, 1) AS wall_saving_per_week_s,
               round(s.removed_s, 1) AS environment_removed_s,
               round(s.added_s, 1) AS session_added_s,
               round(s.removed_s - s.added_s, 1) AS runner_saving_s,
               round((s.removed_s - s.added_s) / {weeks} * {WEEKS_PER_MONTH}, 1)
                   AS runner_saving_per_month_s,
               s.jobs_changed,
               round({money}, 2) AS money_saving,
               round({money} / {weeks} * {WEEKS_PER_MONTH}, 2) AS money_saving_per_month
        FROM per s CROSS JOIN total
        LEFT JOIN names c ON c.job_key = s.sid
        LEFT JOIN mo ON mo.sid = s.sid
        ORDER BY s.sid = 0 DESC, s.saving_s DESC, c.provider, c.project, c.pipeline, c.job
        """,
    )
    all_row = next((r for r in rows if r["sid"] == 0), None)
    per_job = [r for r in rows if r["sid"] != 0]
    for row in rows:
        del row["sid"]
    if all_row is not None:
        for key in ("provider", "project", "pipeline", "job"):
            del all_row[key]
    runs = con.execute(f"SELECT count(*) FROM {RUNS} WHERE analyzable").fetchone()
    section: dict[str, Any] = {
        "session_start_s": float(session_start_s),
        "removes": "category environment, environment teardown steps and their Post hooks",
        "runs": int(runs[0] if runs else 0),
        "status": "ok" if all_row else "not enough data",
        "all": all_row,
        "by_job": per_job,
    }
    return section
