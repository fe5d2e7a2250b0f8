"""Time parsing shared by collectors, analysis and the CLI. Everything becomes aware UTC."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from ci_profile.core.errors import UsageError

_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_iso(value: object) -> datetime | None:
    """An ISO-8601 timestamp from an API (``Z``, ``-08:00`` or ``-0700`` offsets) -> UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a time, or a time UTC cannot hold (year 1 +14:00)
        return None


def from_epoch_ms(value: object) -> datetime | None:
    """Epoch milliseconds (Jenkins) -> UTC; 0 and negatives mean unknown."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):  # past year 9999, or infinite
        return None


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Non-negative seconds from start to end; None when unknown or when the clocks disagree."""
    if start is None or end is None:
        return None
    delta = (end - start).total_seconds()
    return delta if delta >= 0 else None


def parse_since(
    value: str | None, *, now: datetime | None = None, option: str = "--since"
) -> datetime | None:
    """``30d``, ``12h``, ``2w``, ``YYYY-MM-DD`` or a full ISO timestamp -> UTC datetime."""
    if value is None:
        return None
    current = now or datetime.now(UTC)
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        return current - timedelta(**{_UNITS[unit]: amount})
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        parsed = parse_iso(value)
        if parsed is None:
            raise UsageError(
                f"{option}: cannot read {value!r}; use e.g. 30d, 12h, 2w or 2026-11-01"
            ) from None
        return parsed
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_duration(value: str, *, option: str) -> float:
    """``0``, ``90s``, ``10m``, ``2h`` -> seconds."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$", value, re.IGNORECASE)
    if not match:
        raise UsageError(f"{option}: cannot read {value!r}; use e.g. 0, 90s, 10m or 1h")
    factor = {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2).lower()]
    return float(match.group(1)) * factor


def iso_z(moment: datetime) -> str:
    """UTC timestamp in the form GitHub's search syntax accepts: 2026-11-01T00:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
