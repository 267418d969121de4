"""Calendar time as BeCommerce sees it: validity dates are Belgian calendar days."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

BRUSSELS = ZoneInfo("Europe/Brussels")


def today() -> date:
    return datetime.now(BRUSSELS).date()
