"""Calendar time as BeCommerce sees it: validity dates are Belgian calendar days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


def today() -> date:
    return datetime.now(BRUSSELS).date()


def seconds_to_midnight() -> float:
    """Until the next Belgian calendar day, when derived states such as `expired` may change."""
    now = datetime.now(BRUSSELS)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=BRUSSELS)
    return (midnight - now).total_seconds()
