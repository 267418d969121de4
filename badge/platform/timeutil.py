"""Calendar time as BeCommerce sees it: validity dates are Belgian calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


def today() -> date:
    return datetime.now(BRUSSELS).date()


def seconds_to_midnight() -> float:
    """Until the next Belgian calendar day, when derived states such as `expired` may change."""
    now = datetime.now(BRUSSELS)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=BRUSSELS)
    return (midnight - now).total_seconds()


def brussels_time(moment: datetime) -> str:
    """A stored instant as read in Belgium, to the minute: "2026-11-28 18:03 CET"."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M %Z")
