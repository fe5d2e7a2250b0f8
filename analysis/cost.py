"""Cost: runner minutes by runner label, priced from a configurable table.

The default table is ``prices.toml`` (GitHub-hosted list prices, with their date and source).
Users prepend their own entries with ``[[cost.price]]`` in ci-profile.toml (first match wins),
e.g. to price their self-hosted machines, and may turn off GitHub's per-job rounding up to the
whole minute with ``[cost] round_up_per_job = false``. A label no entry matches is *unpriced*:
it costs 0 and is listed as such, never hidden.

Matching runs once per distinct (provider, label), in Python; every figure is SQL over the job
frame joined to that small table.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import duckdb
from ci_profile.analysis.facts import STEP_CATEGORIES
from ci_profile.analysis.jobframe import JOBS, exact_sum, records
from ci_profile.core.errors import ConfigError
from ci_profile.core.store import literal

PRICES = "_cip_prices"
WEEKS_PER_MONTH = 52.0 / 12.0


@dataclass(frozen=True)
class Price:
    id: str
    labels: re.Pattern[str]
    per_minute: float
    provider: re.Pattern[str] | None = None

    def matches(self, provider: str, label: str) -> bool:
        if self.provider is not None and not self.provider.search(provider):
            return False
        return bool(self.labels.search(label))


@dataclass(frozen=True)
class PriceBook:
    prices: tuple[Price, ...]
    as_of: str | None
    source: str | None
    currency: str = "USD"
    round_up_per_job: bool = True

    def price_for(self, provider: str, label: str) -> Price | None:
        return next((p for p in self.prices if p.matches(provider, label)), None)


def _compile(pattern: object, where: str) -> re.Pattern[str]:
    if not isinstance(pattern, str):
        raise ConfigError(f"{where}: must be a regular expression string")
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{where}: not a valid regular expression ({exc})") from None


def _prices(entries: object, where: str) -> tuple[Price, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{where}: must be an array of tables ([[cost.price]])")
    prices = []
    for index, entry in enumerate(entries, 1):
        name = str(entry.get("id") or f"price {index}")
        at = f"{where} `{name}`"
        per_minute = entry.get("per_minute")
        if isinstance(per_minute, bool) or not isinstance(per_minute, int | float):
            raise ConfigError(f"{at}: per_minute must be a number")
        if per_minute < 0 or per_minute != per_minute or per_minute == float("inf"):
            raise ConfigError(f"{at}: per_minute must be a finite number >= 0")
        provider = entry.get("provider")
        prices.append(
            Price(
                id=name,
                labels=_compile(entry.get("labels", ".*"), f"{at} labels"),
                per_minute=float(per_minute),
                provider=None if provider is None else _compile(provider, f"{at} provider"),
            )
        )
    return tuple(prices)


def default_price_book() -> PriceBook:
    text = resources.files("ci_profile.analysis").joinpath("prices.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return PriceBook(
        prices=_prices(data.get("price", []), "prices.toml"),
        as_of=data.get("as_of"),
        source=data.get("source"),
        currency=str(data.get("currency", "USD")),
        round_up_per_job=bool(data.get("round_up_per_job", True)),
    )


def build_price_book(table: Mapping[str, Any] | None, source: str | None = None) -> PriceBook:
    """The default prices with the user's ``[cost]`` table (from ci-profile.toml) in front."""
    book = default_price_book()
    if not table:
        return book
    where = f"{source or 'ci-profile.toml'}: [cost]"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table")
    known = {"price", "prices", "round_up_per_job", "currency"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    own = _prices(table.get("price", table.get("prices", [])), f"{where}.price")
    round_up = table.get("round_up_per_job", book.round_up_per_job)
    if not isinstance(round_up, bool):
        raise ConfigError(f"{where}: round_up_per_job must be true or false")
    currency = table.get("currency", book.currency)
    if not isinstance(currency, str):
        raise ConfigError(f"{where}: currency must be a string")
    return PriceBook(
        prices=own + book.prices,
        as_of=book.as_of,
        source=book.source,
        currency=currency,
        round_up_per_job=round_up,
    )


def register_prices(con: duckdb.DuckDBPyConnection, book: PriceBook) -> None:
    """``_cip_prices``: the price of every distinct (provider, label) of the job frame.

    Written as SQL literals (a handful of rows): registering an Arrow table would import
    pandas, half a second (``core.store.literal``)."""
    pairs = con.execute(f"SELECT DISTINCT provider, label FROM {JOBS} ORDER BY ALL").fetchall()
    rows = []
    for provider, label in pairs:  # one per distinct label, not per row
        price = book.price_for(str(provider), str(label))
        per_minute = price.per_minute if price else 0.0
        rows.append(
            f"({literal(str(provider))}, {literal(str(label))}, "
            f"{literal(price.id if price else 'unpriced')}, "
            f"CAST({literal(repr(float(per_minute)))} AS DOUBLE), {price is not None})"
        )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {PRICES} (provider VARCHAR, label VARCHAR, "
        "price_id VARCHAR, per_minute DOUBLE, priced BOOLEAN)"
    )
    if rows:
        con.execute(f"INSERT INTO {PRICES} VALUES {', '.join(rows)}")


def _billed(book: PriceBook) -> str:
    return "ceil(j.runner_s / 60.0)" if book.round_up_per_job else "(j.runner_s / 60.0)"


def _grouped(
    con: duckdb.DuckDBPyConnection, book: PriceBook, keys: Sequence[str]
) -> list[dict[str, Any]]:
    cols = ", ".join(f"j.{k}" for k in keys)
    extra = ", p.price_id, p.per_minute, p.priced" if "label" in keys else ""
    return records(
        con,
        f"""
        SELECT {cols}{extra}, count(*) AS jobs,
               round({exact_sum("j.runner_s")}, 1) AS runner_s,
               round({exact_sum(_billed(book))}, 1) AS billed_minutes,
               round({exact_sum(f"{_billed(book)} * p.per_minute")}, 2) AS cost
        FROM {JOBS} j JOIN {PRICES} p ON p.provider = j.provider AND p.label = j.label
        WHERE j.runner_s IS NOT NULL
        GROUP BY ALL
        ORDER BY cost DESC, runner_s DESC, {cols}
        """,
    )


def compute(
    con: duckdb.DuckDBPyConnection,
    book: PriceBook,
    *,
    weeks: float,
    provisioning: Sequence[str],
) -> dict[str, Any]:
    """The ``cost`` section: by label, project, pipeline and category, with the totals."""
    weeks = max(weeks, 1.0 / 7.0)
    sums = ", ".join(
        f"coalesce({exact_sum(f'j.{c}_s / 60.0 * p.per_minute')}, 0) AS {c}"
        for c in STEP_CATEGORIES
    )
    row = con.execute(
        f"""
        SELECT count(*), coalesce({exact_sum("j.runner_s")}, 0),
               coalesce({exact_sum(_billed(book))}, 0),
               coalesce({exact_sum(f"{_billed(book)} * p.per_minute")}, 0),
               coalesce({exact_sum("j.runner_s", "NOT p.priced")}, 0),
               {sums}
        FROM {JOBS} j JOIN {PRICES} p ON p.provider = j.provider AND p.label = j.label
        WHERE j.runner_s IS NOT NULL
        """
    ).fetchone()
    values = [float(v or 0.0) for v in (row or (0.0,) * (5 + len(STEP_CATEGORIES)))]
    jobs, runner_s, billed, total, unpriced_s = values[:5]
    by_category = {c: round(v, 2) for c, v in zip(STEP_CATEGORIES, values[5:], strict=True)}
    raw_total = sum(values[5:])
    provisioning_cost = sum(by_category.get(c, 0.0) for c in provisioning)
    unpriced = [
        f"{r['provider']}: {r['label']}"
        for r in records(
            con,
            f"SELECT provider, label FROM {PRICES} WHERE NOT priced ORDER BY provider, label",
        )
    ]
    return {
        "status": "ok" if jobs else "not enough data",
        "currency": book.currency,
        "prices_as_of": book.as_of,
        "prices_source": book.source,
        "round_up_per_job": book.round_up_per_job,
        "total": {
            "jobs": int(jobs),
            "runner_s": round(runner_s, 1),
            "billed_minutes": round(billed, 1),
            "cost": round(total, 2),
            "cost_per_week": round(total / weeks, 2),
            "cost_per_month": round(total / weeks * WEEKS_PER_MONTH, 2),
            "unpriced_runner_s": round(unpriced_s, 1),
            "unpriced_share": round(unpriced_s / runner_s, 4) if runner_s else None,
            "provisioning_cost": round(provisioning_cost, 2),
            "provisioning_cost_share": (
                round(provisioning_cost / raw_total, 4) if raw_total else None
            ),
        },
        "unpriced_labels": unpriced,
        "by_category": by_category,
        "by_label": _grouped(con, book, ("provider", "label")),
        "by_project": _grouped(con, book, ("provider", "project")),
        "by_pipeline": _grouped(con, book, ("provider", "project", "pipeline")),
    }
