"""What a registry backend raises when it cannot answer now, as opposed to a bug.

Kept apart from `base` so that the CLI, which never needs it, does not import psycopg
(about 0.2 s of every command's start).
"""

from __future__ import annotations

import sqlite3
from typing import Final

import psycopg

from badge.errors import Unavailable

# Down, locked or unreachable; TimeoutError is a call abandoned after its time bound, and
# Unavailable what the PostgreSQL backend says for a dead server or an exhausted pool.
UNREACHABLE_ERRORS: Final = (sqlite3.Error, psycopg.Error, OSError, TimeoutError, Unavailable)
