"""Tables and sentences for the sections beyond the breakdown (shared by table and Markdown).

Each section is a :class:`Block`: a title, a one-line note saying how to read it, a header and
rows of text. Long series are cut for reading (the JSON and CSV keep everything).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ci_profile.analysis.breakdown import Report

Fmt = Callable[[float | None], str]
TOP = 20  # rows of a long per-job table shown in the terminal and Markdown
# Columns shown left-aligned in the terminal (everything else is a figure, right-aligned).
TEXT_COLUMNS = frozenset(
    {
        "category",
        "project",
        "pipeline",
        "job",
        "step",
        "rule",
        "provider",
        "label",
        "path",
        "price",
        "kind",
        "week",
        "hour",
        "at (UTC)",
        "regressed",
    }
)


@dataclass
class Block:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""
    empty: str = "not enough data"
    extra: list[str] = field(default_factory=list)


def _top(rows: list[dict[str, Any]], key: str, limit: int = 0) -> list[dict[str, Any]]:
    """The ``limit`` (default TOP) rows with the largest ``key`` (None last)."""
    ranked = sorted(rows, key=lambda r: (r.get(key) is None, -(r.get(key) or 0)))
    return ranked[: limit or TOP]


def _of(shown: int, total: int) -> str:
    return f" Top {shown} of {total}; --format json has all." if total > shown else ""


def _num(value: object) -> str:
    return "n/a" if value is None else str(value)


def _money(value: float | None, currency: str = "USD") -> str:
    if value is None:
        return "n/a"
    symbol = "$" if currency == "USD" else f"{currency} "
    return f"{symbol}{value:,.2f}"


def claim_sentences(
    report: Report, duration: Fmt, percent: Fmt, bold: Callable[[str], str] = str
) -> list[str]:
    claim = report.claim
    if not claim:
        return []
    costv, wait = claim["cost"], claim["waiting"]
    lines = [f'Claim tested: "{claim["statement"]}".']
    if costv["provisioning_share"] is None:
        lines.append("Cost: not enough data.")
    else:
        lines.append(
            f"Cost (runner time): provisioning {percent(costv['provisioning_share'])}, "
            f"environment alone {percent(costv['environment_share'])}, tests "
            f"{percent(costv['test_share'])}: the claim is {bold(costv['verdict'])} for cost."
        )
    if wait["provisioning_share"] is None:
        lines.append("Waiting (critical path): not enough data.")
    else:
        lines.append(
            f"Waiting (wall-clock on the critical path): provisioning "
            f"{percent(wait['provisioning_share'])}, environment alone "
            f"{percent(wait['environment_share'])}, tests {percent(wait['test_share'])}, "
            f"queue {percent(wait['queue_share'])}: the claim is {bold(wait['verdict'])} "
            "for waiting."
        )
    removing = claim.get("removing_environment")
    if removing and removing.get("wall_saving_share") is not None:
        lines.append(
            f"Removing environment steps (plus a session start per job) would shorten runs by "
            f"{percent(removing['wall_saving_share'])} of wall time (median "
            f"{duration(removing['median_saving_per_run_s'])} per affected run) and save "
            f"{duration(removing['runner_saving_s'])} of runner time "
            f"({_money(removing['money_saving_per_month'])} a month at list prices; self-hosted "
            "runners count as 0 unless priced in ci-profile.toml)."
        )
    return lines


def _critical_path(report: Report, duration: Fmt, percent: Fmt) -> list[Block]:
    cp = report.critical_path
    if cp is None:
        return []
    quality = report.data_quality or {}
    note = (
        f"{cp['runs']} finished run attempts with job times"
        f" ({quality.get('unfinished_runs', 0)} unfinished left out,"
        f" {quality.get('jobs_without_times', 0)} jobs without times,"
        f" {quality.get('skewed_jobs', 0)} with clock skew). Runner time is what CI costs; the"
        " critical path is what a developer waits for."
    )
    cats = Block(
        "Runner time (cost) vs critical path (waiting), by category",
        ["category", "runner time", "share", "on critical path", "share"],
        [
            [
                r["category"],
                duration(r["job_time_s"]) if r["job_time_s"] is not None else "-",
                percent(r["runner_share"]) if r["runner_s"] is not None else "-",
                duration(r["wall_s"]),
                percent(r["wall_share"]),
            ]
            for r in cp.get("by_category", [])
        ],
        note=note + " Queue is waiting, not runner cost; 'between jobs' is job creation lag.",
    )
    jobs = Block(
        "Jobs on the critical path",
        ["project", "pipeline", "job", "runs", "on path", "wall time", "per run", "runner time"],
        [
            [
                r["project"],
                r["pipeline"],
                r["job"],
                str(r["runs"]),
                percent(r["on_path_share"]),
                duration(r["wall_s"]),
                duration(r["wall_per_run_s"]),
                duration(r["runner_s"]),
            ]
            for r in cp.get("by_job", [])[:TOP]
        ],
        note="A job off the critical path can take longer without delaying anyone "
        f"(top {TOP} by wall time).",
    )
    paths = Block(
        "Typical critical paths",
        ["project", "pipeline", "path", "share of runs", "median wall"],
        [
            [
                r["project"],
                r["pipeline"],
                r["chain"],
                percent(r["share"]),
                duration(r["median_wall_s"]),
            ]
            for r in _top(cp.get("paths", []), "runs")
        ],
        note="The chain of jobs that set the run's wall time, most frequent first."
        + _of(min(len(cp.get("paths", [])), TOP), len(cp.get("paths", []))),
    )
    return [cats, jobs, paths]


def _opportunities(report: Report, duration: Fmt, percent: Fmt) -> list[Block]:
    wi = report.whatif
    if wi is None:
        return []
    currency = (report.cost or {}).get("currency", "USD")

    def row(scope: Sequence[str], r: dict[str, Any]) -> list[str]:
        return [
            *scope,
            f"{r['runs_affected']}/{r['runs_total']}",
            duration(r["wall_saving_s"]),
            percent(r["affected_saving_share"]),
            duration(r["median_saving_per_run_s"]),
            duration(r["runner_saving_s"]),
            duration(r["runner_saving_per_month_s"]),
            _money(r["money_saving_per_month"], currency),
        ]

    rows = []
    if wi.get("all"):
        rows.append(row(["(all jobs)", "", ""], wi["all"]))
    rows += [row([r["project"], r["pipeline"], r["job"]], r) for r in wi.get("by_job", [])[:TOP]]
    return [
        Block(
            "Opportunities: what removing environment provisioning would change",
            [
                "project",
                "pipeline",
                "job",
                "runs",
                "wall time saved",
                "of those runs",
                "median/run",
                "runner time saved",
                "per month",
                "money/month",
            ],
            rows,
            note=(
                "Each run's critical path recomputed without environment steps and their "
                f"teardown, plus a session start of {duration(wi['session_start_s'])} per job "
                "(an estimate; --session-start-cost). Queue waits kept as observed."
            ),
        )
    ]


def _percentile_rows(
    rows: Iterable[dict[str, Any]], keys: Sequence[str], duration: Fmt
) -> list[list[str]]:
    return [
        [
            *(str(r[k]) for k in keys),
            str(r["n"]),
            duration(r["p50_s"]),
            duration(r["p90_s"]),
            duration(r["p95_s"]),
        ]
        for r in rows
    ]


def _percentiles(report: Report, duration: Fmt, percent: Fmt) -> list[Block]:
    pc = report.percentiles
    if pc is None:
        return []
    rows = pc.get("rows", [])
    pick = [r for r in rows if r["metric"] == "run_duration" and r["level"] == "pipeline"]
    runs = Block(
        "Run duration percentiles (successful runs, wall time)",
        ["project", "pipeline", "runs", "p50", "p90", "p95"],
        _percentile_rows(_top(pick, "p90_s"), ("project", "pipeline"), duration),
        note="n/a: too few runs for that percentile (p90 needs 10, p95 needs 20). Slowest "
        "p90 first." + _of(min(len(pick), TOP), len(pick)),
    )
    queue = {
        (r["provider"], r["project"], r["pipeline"], r["job"], r["label"]): r
        for r in rows
        if r["metric"] == "queue"
    }
    blocks = [runs]
    for level, title, keys in (
        ("job", "Job duration and queue percentiles", ("project", "pipeline", "job")),
        ("label", "By runner label", ("label",)),
    ):
        body = []
        chosen = [r for r in rows if r["metric"] == "job_duration" and r["level"] == level]
        for r in _top(chosen, "p90_s"):
            q = queue.get((r["provider"], r["project"], r["pipeline"], r["job"], r["label"]), {})
            body.append(
                [
                    *(str(r[k]) for k in keys),
                    str(r["n"]),
                    duration(r["p50_s"]),
                    duration(r["p90_s"]),
                    duration(r["p95_s"]),
                    duration(q.get("p50_s")),
                    duration(q.get("p90_s")),
                    duration(q.get("p95_s")),
                ]
            )
        header = [*keys, "jobs", "p50", "p90", "p95", "queue p50", "queue p90", "queue p95"]
        note = "Slowest p90 first." + _of(len(body), len(chosen))
        blocks.append(Block(title, header, body, note=note))
    return blocks


def _trends(report: Report, duration: Fmt, percent: Fmt, weeks: int = 6) -> list[Block]:
    tr = report.trends
    if tr is None:
        return []
    series = tr.get("weekly", [])
    recent: list[dict[str, Any]] = []
    by_pipeline: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in series:
        by_pipeline.setdefault((r["provider"], r["project"], r["pipeline"]), []).append(r)
    busiest = sorted(by_pipeline.values(), key=lambda rows: -sum(r["runner_s"] for r in rows))
    for rows in busiest[:10]:
        recent += rows[-weeks:]
    weekly = Block(
        f"Weekly trend (last {weeks} weeks per pipeline)",
        [
            "project",
            "pipeline",
            "week",
            "runs",
            "p50 run",
            "p90 run",
            "p50 queue",
            "runner time",
            "provisioning",
        ],
        [
            [
                r["project"],
                r["pipeline"],
                str(r["week"]),
                str(r["runs"]),
                duration(r["p50_run_s"]),
                duration(r["p90_run_s"]),
                duration(r["p50_queue_s"]),
                duration(r["runner_s"]),
                percent(r["provisioning_share"]),
            ]
            for r in recent
        ],
        note="Weeks start on Monday (UTC); run percentiles over successful runs."
        + (" The 10 pipelines with the most runner time." if len(by_pipeline) > 10 else ""),
    )
    reg = tr.get("regressions", {})
    method = reg.get("method", {})
    regressions = Block(
        "Duration regressions",
        [
            "project",
            "pipeline",
            "job",
            "recent",
            "baseline",
            "recent median",
            "baseline median",
            "change",
            "threshold",
            "z",
            "regressed",
        ],
        [
            [
                r["project"],
                r["pipeline"],
                r["job"],
                str(r["recent_n"]),
                str(r["baseline_n"]),
                duration(r["recent_median_s"]),
                duration(r["baseline_median_s"]),
                percent(r["change_share"]),
                duration(r["threshold_s"]),
                _num(r["z"]),
                "yes" if r["regressed"] else "no",
            ]
            for r in reg.get("rows", [])
        ],
        note=(
            f"{reg.get('flagged', 0)} of {reg.get('tested', 0)} jobs regressed: median of the "
            f"last {method.get('recent_days')} days vs the {method.get('baseline_days')} days "
            "before; flagged when the shift exceeds the baseline's robust spread (1.4826 x MAD) "
            f"and a one-sided Mann-Whitney U test gives z >= {method.get('z_threshold')}."
        ),
    )
    return [weekly, regressions]


def _waste(report: Report, duration: Fmt, percent: Fmt) -> list[Block]:
    w = report.waste
    if w is None:
        return []
    t = w.get("totals", {})
    kinds = (
        ("failed jobs", "failed_jobs"),
        ("cancelled jobs", "cancelled_jobs"),
        ("failed run attempts", "failed_attempts"),
        ("cancelled run attempts", "cancelled_attempts"),
        ("re-run attempts (attempt > 1)", "rerun"),
        ("attempts replaced by a re-run", "superseded"),
        ("wasted: replaced attempts + failed/cancelled jobs of final attempts", "wasted"),
    )
    totals = Block(
        "Waste: runner time that bought no result",
        ["kind", "runner time", "share of runner time"],
        [[label, duration(t.get(f"{k}_s")), percent(t.get(f"{k}_share"))] for label, k in kinds]
        if t.get("jobs")
        else [],
        note="The kinds above 'wasted' overlap (a failed job is part of a failed attempt); "
        "'wasted' counts each second once.",
    )
    jobs = Block(
        "Jobs that fail most often",
        [
            "project",
            "pipeline",
            "job",
            "jobs",
            "failures",
            "cancelled",
            "failure rate",
            "runner time in failures",
        ],
        [
            [
                r["project"],
                r["pipeline"],
                r["job"],
                str(r["jobs"]),
                str(r["failures"]),
                str(r["cancellations"]),
                percent(r["failure_rate"]),
                duration(r["failed_runner_s"]),
            ]
            for r in w.get("failing_jobs", [])
        ],
    )
    steps = Block(
        "Steps that fail most often",
        ["project", "job", "step", "category", "failures", "median"],
        [
            [
                r["project"],
                r["job"],
                r["step"],
                r["category"],
                str(r["failures"]),
                duration(r["median_s"]),
            ]
            for r in w.get("failing_steps", [])
        ],
    )
    flaky = Block(
        "Flaky: failed, then passed at the same commit",
        [
            "project",
            "pipeline",
            "job",
            "commits that failed",
            "then passed",
            "flaky rate",
            "runner time in those failures",
        ],
        [
            [
                r["project"],
                r["pipeline"],
                r["job"],
                str(r["shas_failed"]),
                str(r["shas_flaky"]),
                percent(r["flaky_rate"]),
                duration(r["flaky_failed_runner_s"]),
            ]
            for r in w.get("flaky", [])
        ],
        empty="no job failed and then passed at the same commit",
    )
    return [totals, jobs, steps, flaky]


def _cost(report: Report, duration: Fmt, percent: Fmt) -> list[Block]:
    c = report.cost
    if c is None:
        return []
    cur = c.get("currency", "USD")
    total = c.get("total", {})
    note = (
        f"List prices as of {c.get('prices_as_of')} ({c.get('prices_source')}); self-hosted "
        "runners at 0 unless priced in ci-profile.toml [cost]. "
        f"Total {_money(total.get('cost'), cur)} ({_money(total.get('cost_per_month'), cur)} a "
        f"month); provisioning {_money(total.get('provisioning_cost'), cur)} "
        f"({percent(total.get('provisioning_cost_share'))} of it)."
    )
    if c.get("unpriced_labels"):
        note += " Unpriced labels (counted at 0): " + ", ".join(c["unpriced_labels"]) + "."
    labels = Block(
        "Cost by runner label",
        [
            "provider",
            "label",
            "price",
            "per minute",
            "jobs",
            "runner time",
            "billed minutes",
            "cost",
        ],
        [
            [
                r["provider"],
                r["label"],
                r["price_id"],
                f"{r['per_minute']:.3f}" if r["per_minute"] else "0",
                str(r["jobs"]),
                duration(r["runner_s"]),
                f"{r['billed_minutes']:,.0f}",
                _money(r["cost"], cur),
            ]
            for r in c.get("by_label", [])
        ],
        note=note,
    )
    projects = Block(
        "Cost by pipeline",
        ["project", "pipeline", "jobs", "runner time", "cost"],
        [
            [
                r["project"],
                r["pipeline"],
                str(r["jobs"]),
                duration(r["runner_s"]),
                _money(r["cost"], cur),
            ]
            for r in c.get("by_pipeline", [])[:TOP]
        ],
        note=_of(min(len(c.get("by_pipeline", [])), TOP), len(c.get("by_pipeline", []))).strip(),
    )
    return [labels, projects]


def _concurrency(report: Report, duration: Fmt, percent: Fmt) -> list[Block]:
    cc = report.concurrency
    if cc is None:
        return []

    def at(value: object) -> str:
        return "n/a" if value is None else str(value)[:16].replace("T", " ")

    labels = Block(
        "Concurrency by runner label",
        [
            "provider",
            "label",
            "jobs",
            "peak running",
            "at (UTC)",
            "mean running",
            "peak waiting",
            "at (UTC)",
            "queue p50",
            "queue p90",
        ],
        [
            [
                r["provider"],
                r["label"],
                str(r["jobs"]),
                str(r["peak_running"]),
                at(r["peak_running_at"]),
                _num(r["mean_running"]),
                str(r["peak_waiting"]),
                at(r["peak_waiting_at"]),
                duration(r["p50_queue_s"]),
                duration(r["p90_queue_s"]),
            ]
            for r in cc.get("by_label", [])[:TOP]
        ],
        note="Jobs holding a runner at once, and jobs waiting for one; a high waiting peak on a "
        "pool with a flat running peak means the pool is full.",
    )
    busiest: list[dict[str, Any]] = []
    per_label: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in cc.get("by_hour", []):
        per_label.setdefault((r["provider"], r["label"]), []).append(r)
    for rows in per_label.values():
        busiest += sorted(rows, key=lambda r: -(r["p90_queue_s"] or r["p50_queue_s"] or 0))[:3]
    hours = Block(
        "Hours with the longest queues (UTC, top 3 per label)",
        ["provider", "label", "hour", "mean running", "queue p50", "queue p90"],
        [
            [
                r["provider"],
                r["label"],
                f"{r['hour']:02d}:00",
                _num(r["mean_running"]),
                duration(r["p50_queue_s"]),
                duration(r["p90_queue_s"]),
            ]
            for r in busiest
        ],
    )
    return [labels, hours]


def blocks(report: Report, duration: Fmt, percent: Fmt) -> list[Block]:
    """Every computed section's tables, in the order they read best."""
    out: list[Block] = []
    for make in (
        _critical_path,
        _opportunities,
        _percentiles,
        _trends,
        _waste,
        _cost,
        _concurrency,
    ):
        out += make(report, duration, percent)
    return out
