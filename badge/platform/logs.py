"""Log configuration for `badge serve`: uvicorn's and ours, timestamped, to stderr."""

from __future__ import annotations

from typing import Any


def log_config(level: str) -> dict[str, Any]:
    """A dictConfig in which the `badge` loggers share uvicorn's handler and format."""
    upper = level.upper()
    stamp = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"format": stamp},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(asctime)s %(client_addr)s "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "badge": {"handlers": ["default"], "level": upper, "propagate": False},
        },
    }
