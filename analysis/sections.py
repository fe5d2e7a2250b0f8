"""The sections of ``analyze`` beyond the breakdown, computed on request over one job frame.

``critical-path`` (wall-clock view next to the runner-time view), ``opportunities`` (the
what-if), ``percentiles``, ``trends`` (weekly series and regressions), ``waste``, ``cost`` and
``concurrency``. The breakdown itself is always computed. Options come from the command line or
``ci-profile.toml``::

    [analysis]
    session_start_s = 20      # what-if: cost of starting a mirrord session, per job

    [cost]                    # see analysis/prices.toml
    [[cost.price]]
    labels = "self-hosted"
    per_minute = 0.004
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
from ci_profile.analysis import concurrency, cost, critical_path, stats, waste, whatif
from ci_profile.analysis.cost import PriceBook
from ci_profile.analysis.jobframe import FRAME, JOBS, FrameSummary, build_frame, drop_temporary
from ci_profile.core.errors import ConfigError

if TYPE_CHECKING:
    from ci_profile.analysis.breakdown import Filters, Report

SECTIONS: tuple[str, ...] = (
    "critical-path",
    "opportunities",
    "percentiles",
    "trends",
    "waste",
    "cost",
    "concurrency",
)
CLAIM = "the majority of CI time is consumed by environment provisioning, not test execution"


@dataclass(frozen=True)
class AnalysisOptions:
    session_start_s: float = whatif.DEFAULT_SESSION_START_S
    prices: PriceBook = field(default_factory=cost.default_price_book)
    top: int = 20


def options_from_config(
    table: Mapping[str, Any], source: str | None, *, session_start_s: float | None = None
) -> AnalysisOptions:
    """Options from a project config's extra tables (``[analysis]``, ``[cost]``)."""
    where = source or "ci-profile.toml"
    analysis = table.get("analysis", {})
    if not isinstance(analysis, Mapping):
        raise ConfigError(f"{where}: [analysis] must be a table")
    start = session_start_s
    if start is None:
        configured = analysis.get("session_start_s", whatif.DEFAULT_SESSION_START_S)
        if isinstance(configured, bool) or not isinstance(configured, int | float):
            raise ConfigError(f"{where}: [analysis] session_start_s must be a number of seconds")
        start = float(configured)
    if not 0 <= start < 86400:
        raise ConfigError(f"{where}: [analysis] session_start_s must be between 0 and 86400")
    return AnalysisOptions(
        session_start_s=start, prices=cost.build_price_book(table.get("cost"), where)
    )


def _weeks(con: duckdb.DuckDBPyConnection) -> float:
    row = con.execute(
        f"SELECT (epoch(max(moment)) - epoch(min(moment))) / 604800.0 FROM {JOBS}"
    ).fetchone()
    return max(float(row[0] or 0.0) if row else 0.0, 1.0 / 7.0)


def _claim(report: Report) -> dict[str, Any]:
    """The seed claim, answered for cost (runner time) and waiting (critical path)."""
    cp = report.critical_path or {}
    wi = (report.whatif or {}).get("all") or {}
    runner_share = report.headline.get("provisioning_share")
    wall_share = cp.get("provisioning_wall_share")

    def verdict(share: float | None) -> str:
        if share is None:
            return "not enough data"
        return "true" if share > 0.5 else "false"

    return {
        "statement": CLAIM,
        "provisioning_categories": report.headline.get("provisioning_categories"),
        "cost": {
            "provisioning_share": runner_share,
            "environment_share": report.headline.get("environment_share"),
            "test_share": report.headline.get("test_share"),
            "verdict": verdict(runner_share),
        },
        "waiting": {
            "provisioning_share": wall_share,
            "environment_share": cp.get("environment_wall_share"),
            "test_share": cp.get("test_wall_share"),
            "queue_share": cp.get("queue_wall_share"),
            "verdict": verdict(wall_share),
        },
        "removing_environment": {
            "wall_saving_share": wi.get("wall_saving_share"),
            "median_saving_per_run_s": wi.get("median_saving_per_run_s"),
            "runner_saving_s": wi.get("runner_saving_s"),
            "money_saving_per_month": wi.get("money_saving_per_month"),
        }
        if wi
        else None,
    }


def add_sections(
    con: duckdb.DuckDBPyConnection,
    report: Report,
    filters: Filters,
    sections: Collection[str],
    options: AnalysisOptions | None = None,
    *,
    summary: FrameSummary | None = None,
    stored: bool = False,
) -> None:
    """Compute the requested ``sections`` into ``report`` (in place). ``summary``: the job
    frame for ``filters`` is already built (by ``build_report``); else it is built here, from
    the store's frame if ``stored`` (``jobframe.build_frame``)."""
    wanted = [s for s in SECTIONS if s in sections]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown section {unknown[0]!r}")
    if not wanted:
        return
    opts = options or AnalysisOptions()
    from ci_profile.analysis.breakdown import PROVISIONING

    owned = summary is None
    try:
        if summary is None:
            summary = build_frame(con, filters, stored=stored)
        report.data_quality = summary.as_dict()
        weeks = _weeks(con) if summary.jobs else 1.0
        if {"cost", "opportunities"} & set(wanted):
            cost.register_prices(con, opts.prices)
        if "critical-path" in wanted:
            report.critical_path = critical_path.compute(con, report.categories, PROVISIONING)
        elif "opportunities" in wanted:
            critical_path.build_graph(con)
        if "opportunities" in wanted:
            report.whatif = whatif.compute(
                con,
                opts.session_start_s,
                weeks=weeks,
                prices=cost.PRICES,
                stored_session_start_s=(
                    whatif.stored_session_start(con) if summary.stored else None
                ),
            )
        if "percentiles" in wanted:
            report.percentiles = stats.percentiles(con)
        if "trends" in wanted:
            report.trends = stats.trends(con, top=opts.top)
        if "waste" in wanted:
            report.waste = waste.compute(con, top=opts.top)
        if "cost" in wanted:
            report.cost = cost.compute(con, opts.prices, weeks=weeks, provisioning=PROVISIONING)
        if "concurrency" in wanted:
            report.concurrency = concurrency.compute(con, stored_events=summary.everything)
        if "critical-path" in wanted:
            report.claim = _claim(report)
    finally:
        drop_temporary(con, keep=() if owned else FRAME)


GATE_BASES = ("runner-time", "critical-path")


def provisioning_share(report: Report, basis: str) -> tuple[float | None, str]:
    """The provisioning share a CI gate compares, and what it is a share of."""
    if basis == "critical-path":
        cp = report.critical_path or {}
        return cp.get("provisioning_wall_share"), "wall-clock time on the critical path"
    return report.headline.get("provisioning_share"), "runner time"
