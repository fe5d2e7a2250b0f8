"""CSV rows for the sections beyond the breakdown: one long table, a row per figure.

Each row names its section, the entity it belongs to (provider, project, pipeline, job, label,
category) and a ``metric`` with its ``value``; ``seconds``/``share``/``runs``/``median_s`` are
filled where the figure is one of those.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ci_profile.analysis.breakdown import Report

CSV_EXTRA_COLUMNS = ("label", "metric", "value", "period")
_KEYS = ("provider", "project", "pipeline", "job", "step", "category", "rule", "label")


def _long(
    section: str, row: dict[str, Any], metrics: Sequence[str], **fixed: object
) -> list[dict[str, Any]]:
    keys = {k: row[k] for k in _KEYS if k in row and row[k] is not None}
    return [
        {"section": section, **keys, **fixed, "metric": m, "value": row.get(m)} for m in metrics
    ]


def csv_rows(report: Report) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if report.claim:
        for view in ("cost", "waiting"):
            out += _long(
                "claim", report.claim[view], ("provisioning_share", "verdict"), category=view
            )
    cp = report.critical_path
    if cp:
        for r in cp.get("by_category", []):
            out += _long(
                "critical_path",
                r,
                ("job_time_s", "wall_s", "wall_share"),
                seconds=r["wall_s"],
                share=r["wall_share"],
            )
        for r in cp.get("by_job", []):
            out += _long(
                "critical_path_job",
                r,
                ("on_path", "on_path_share", "wall_s", "wall_per_run_s", "runner_s"),
                seconds=r["wall_s"],
                share=r["on_path_share"],
                runs=r["runs"],
            )
        for r in cp.get("paths", []):
            out += _long(
                "critical_path_chain",
                r,
                ("chain",),
                runs=r["runs"],
                share=r["share"],
                median_s=r["median_wall_s"],
            )
    wi = report.whatif
    if wi:
        rows = ([wi["all"]] if wi.get("all") else []) + list(wi.get("by_job", []))
        for r in rows:
            out += _long(
                "opportunities",
                r,
                (
                    "wall_saving_s",
                    "affected_saving_share",
                    "runner_saving_s",
                    "runner_saving_per_month_s",
                    "money_saving_per_month",
                ),
                seconds=r["wall_saving_s"],
                share=r["wall_saving_share"],
                runs=r["runs_affected"],
                median_s=r["median_saving_per_run_s"],
            )
    if report.percentiles:
        for r in report.percentiles.get("rows", []):
            out += _long(
                f"percentiles_{r['metric']}",
                r,
                ("p50_s", "p90_s", "p95_s"),
                runs=r["n"],
                period=r["level"],
            )
    if report.trends:
        for r in report.trends.get("weekly", []):
            out += _long(
                "trends_weekly",
                r,
                ("runs", "p50_run_s", "p90_run_s", "p50_queue_s", "runner_s", "provisioning_share"),
                period=str(r["week"]),
                runs=r["runs"],
            )
        for r in report.trends.get("regressions", {}).get("rows", []):
            out += _long(
                "regressions",
                r,
                (
                    "recent_median_s",
                    "baseline_median_s",
                    "change_s",
                    "threshold_s",
                    "z",
                    "regressed",
                ),
            )
    if report.waste:
        totals = report.waste.get("totals", {})
        for kind in (
            "failed_jobs",
            "cancelled_jobs",
            "failed_attempts",
            "cancelled_attempts",
            "rerun",
            "superseded",
            "wasted",
        ):
            out.append(
                {
                    "section": "waste",
                    "metric": kind,
                    "seconds": totals.get(f"{kind}_s"),
                    "share": totals.get(f"{kind}_share"),
                }
            )
        for r in report.waste.get("failing_jobs", []):
            out += _long(
                "waste_jobs",
                r,
                ("failures", "cancellations", "failure_rate"),
                seconds=r["failed_runner_s"],
                runs=r["jobs"],
            )
        for r in report.waste.get("failing_steps", []):
            out += _long("waste_steps", r, ("failures",), median_s=r["median_s"])
        for r in report.waste.get("flaky", []):
            out += _long(
                "flaky",
                r,
                ("shas_failed", "shas_flaky", "flaky_rate"),
                seconds=r["flaky_failed_runner_s"],
            )
    if report.cost:
        for r in report.cost.get("by_label", []):
            out += _long(
                "cost_label",
                r,
                ("per_minute", "billed_minutes", "cost"),
                seconds=r["runner_s"],
                runs=r["jobs"],
            )
        for category, money in report.cost.get("by_category", {}).items():
            out.append(
                {"section": "cost_category", "category": category, "metric": "cost", "value": money}
            )
        total = report.cost.get("total", {})
        out += _long(
            "cost_total",
            total,
            ("cost", "cost_per_month", "provisioning_cost"),
            seconds=total.get("runner_s"),
        )
    if report.concurrency:
        for r in report.concurrency.get("by_label", []):
            out += _long(
                "concurrency",
                r,
                ("peak_running", "mean_running", "peak_waiting", "p90_queue_s"),
                runs=r["jobs"],
            )
        for r in report.concurrency.get("by_hour", []):
            out += _long(
                "concurrency_hour", r, ("mean_running", "p90_queue_s"), period=f"{r['hour']:02d}"
            )
    return out
