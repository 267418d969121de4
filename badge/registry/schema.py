"""The registry's tables, written once for both backends' numbered migrations.

The backends differ in column types (SQLite keeps times, days and lists as text) and in
how they keep the history append-only; sqlite.py and postgres.py fill those in. A released
migration never changes: these render, to the byte, the scripts versions 1 and 2 ran.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Final, Literal

Backend = Literal["sqlite", "postgres"]

# Column types, side by side: (SQLite, PostgreSQL).
_TYPES: Final[dict[str, tuple[str, str]]] = {
    "time": ("TEXT", "TIMESTAMPTZ"),
    "day": ("TEXT", "DATE"),
    "categories": ("TEXT", "TEXT[]"),
    "seq": ("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"),
    "flag": ("INTEGER", "BOOLEAN"),
    "count": ("INTEGER", "BIGINT"),
}


def _types(backend: Backend) -> SimpleNamespace:
    column = 0 if backend == "sqlite" else 1
    return SimpleNamespace(**{name: pair[column] for name, pair in _TYPES.items()})


def version_1(backend: Backend, append_only: str) -> str:
    """Shops, their domains, the history (guarded by the `append_only` statements), the
    change feed, sightings and admin tokens."""
    t = _types(backend)
    return f"""
    CREATE TABLE shops (
        id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        legal_name TEXT NOT NULL,
        enterprise_number TEXT NOT NULL,
        categories {t.categories} NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('certified', 'suspended', 'revoked')),
        state_since {t.time} NOT NULL,
        certified_since {t.day},
        valid_until {t.day},
        last_audit {t.day},
        created_at {t.time} NOT NULL,
        updated_at {t.time} NOT NULL
    );
    CREATE TABLE shop_domains (
        domain TEXT PRIMARY KEY,
        shop_id TEXT NOT NULL REFERENCES shops(id),
        position INTEGER NOT NULL
    );
    CREATE INDEX shop_domains_shop ON shop_domains(shop_id);
    CREATE TABLE events (
        seq {t.seq},
        shop_id TEXT NOT NULL REFERENCES shops(id),
        at {t.time} NOT NULL,
        actor TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX events_shop ON events(shop_id, seq);
{append_only}    CREATE TABLE changes (
        seq {t.seq},
        shop_id TEXT NOT NULL
    );
    CREATE TABLE sightings (
        shop_id TEXT NOT NULL,
        host TEXT NOT NULL,
        registered {t.flag} NOT NULL,
        first_seen {t.time} NOT NULL,
        last_seen {t.time} NOT NULL,
        count {t.count} NOT NULL,
        PRIMARY KEY (shop_id, host)
    );
    CREATE TABLE api_tokens (
        name TEXT PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        created_at {t.time} NOT NULL
    );
    """


def version_2(backend: Backend, sightings: str) -> str:
    """Sightings by source (the `sightings` statements, which differ), and consumers'
    reports."""
    return sightings + _reports(_types(backend))


def _reports(t: SimpleNamespace) -> str:
    return f"""\
    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        shop_id TEXT NOT NULL REFERENCES shops(id),
        host TEXT NOT NULL,
        referrer TEXT,
        note TEXT NOT NULL,
        lang TEXT NOT NULL,
        created_at {t.time} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        closed_at {t.time},
        closed_by TEXT,
        resolution TEXT
    );
    CREATE INDEX reports_by_time ON reports(created_at, id);
    """


def version_4(backend: Backend) -> str:
    """Domain ownership proofs, one per (shop, domain). Every domain already registered is
    marked `registered_before_proofs`, with a random challenge of its own, due for a check
    at once (a passing check proves it; a failing one leaves it as it was)."""
    t = _types(backend)
    if backend == "sqlite":
        random, now = "lower(hex(randomblob(20)))", "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')"
    else:
        # Two v4 UUIDs: 244 random bits, from PostgreSQL's strong random source.
        random = "replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')"
        now = "date_trunc('second', now())"
    return f"""
    CREATE TABLE domain_proofs (
        shop_id TEXT NOT NULL REFERENCES shops(id),
        domain TEXT NOT NULL,
        token TEXT NOT NULL,
        state TEXT NOT NULL
            CHECK (state IN ('pending', 'proven', 'lost', 'registered_before_proofs')),
        method TEXT CHECK (method IN ('dns', 'file', 'attested')),
        since {t.time},
        checked_at {t.time},
        result TEXT,
        ad {t.flag},
        attested_by TEXT,
        attestation TEXT,
        next_check_at {t.time} NOT NULL,
        PRIMARY KEY (shop_id, domain)
    );
    CREATE INDEX domain_proofs_due ON domain_proofs(next_check_at);
    INSERT INTO domain_proofs (shop_id, domain, token, state, next_check_at)
        SELECT shop_id, domain, {random}, 'registered_before_proofs', {now} FROM shop_domains;
    """  # noqa: S608 - our own SQL, no values
