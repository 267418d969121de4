"""The `badge` command: one group per noun, a one-line reason and non-zero exit on bad input."""

from __future__ import annotations

import csv
import errno
import functools
import getpass
import io
import json
import secrets
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar, cast

import click

from badge.errors import BadgeError, Conflict, ValidationError
from badge.registry import rules
from badge.registry.base import Registry
from badge.registry.factory import open_registry, registry_exists
from badge.registry.model import NewShop, Shop
from badge.settings import Settings, SettingsError, redact_url
from badge.timeutil import BRUSSELS, brussels_time, today
from badge.vocabulary import (
    CATEGORIES,
    DEFAULT_LANG,
    DEFAULT_SIZE,
    FORMATS,
    LANGS,
    SIZES,
    STATES,
    Format,
    Lang,
    Size,
)

if TYPE_CHECKING:
    from badge.verify.verdict import Verdict

P = ParamSpec("P")
R = TypeVar("R")


def actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"cli:{user}"


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def friendly(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into a one-line reason and exit 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (BadgeError, SettingsError) as exc:
            fail(str(exc))
            raise  # unreachable, keeps mypy happy

    return wrapper


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        fail(str(exc))
        raise


@contextmanager
def registry_from_env(*, create: bool = False) -> Iterator[Registry]:
    """The configured registry. Only commands that add shops may make a new SQLite file:
    a read in the wrong folder must say so, not answer from an empty registry it just made."""
    settings = load_settings()
    if not create:
        require_registry(settings)
    registry = open_registry(settings)
    try:
        yield registry
    finally:
        registry.close()


def require_registry(settings: Settings) -> None:
    if registry_exists(settings):
        return
    path = settings.sqlite_path
    if path is None:
        fail(
            f"no registry in {redact_url(settings.database_url.reveal())} (BADGE_DATABASE_URL): "
            "the database has no Keurmerk tables; point BADGE_DATABASE_URL at the service's "
            "database, or start one with `badge serve`, `badge demo` or `badge shops add`"
        )
        return
    fail(
        f"no registry at {path.absolute()} (BADGE_DATABASE_URL is "
        f"{redact_url(settings.database_url.reveal())}, relative to the current folder); "
        "run this where the service runs, or point BADGE_DATABASE_URL at its registry, e.g. "
        "BADGE_DATABASE_URL=sqlite:////path/to/the/service/var/badge.db; "
        "`badge demo`, `badge shops add` and `badge shops import` start a new one"
    )


def notify_change(*shop_ids: str) -> None:
    """Tell running instances through Redis, when configured; the registry feed covers the rest.

    Every running instance purges the edge caches once it has dropped its own copy; the CLI
    purges them as well, so a change made while no instance runs is purged too.
    """
    settings = load_settings()
    if settings.redis_url is not None:
        from badge.bus import publish_invalidation_sync

        try:
            for shop_id in shop_ids:
                publish_invalidation_sync(settings, shop_id)
        except Exception as exc:
            click.echo(
                f"warning: change saved, but Redis could not be told ({type(exc).__name__}); "
                "instances pick it up from the registry feed",
                err=True,
            )
    if settings.purge_urls:
        from badge.purge import purge_now

        failed = purge_now(settings.purge_urls, shop_ids)
        if failed:
            click.echo(
                f"warning: change saved, but the edge cache at {', '.join(failed)} could not be "
                "purged now; running instances purge it when they learn of the change",
                err=True,
            )


@click.group()
@click.version_option(package_name="keurmerk-badge")
def cli() -> None:
    """The BeCommerce Keurmerk badge service."""


@cli.command()
@click.option("--host", default=None, help="Interface to bind (default BADGE_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default BADGE_PORT or 8000).")
@click.option("--workers", type=int, default=None, help="Worker processes (default 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve badges, pages and the APIs with uvicorn."""
    settings = load_settings()
    bind_host, bind_port = host or settings.host, port or settings.port
    # Before importing uvicorn and the app: a busy port is reported at once, not after
    # fonts, keys and the registry have loaded.
    check_port_free(bind_host, bind_port)
    import uvicorn

    from badge.logs import log_config
    from badge.server import PROTOCOL
    from badge.signing import KeyStore

    try:
        # Checked here too, so an unsafe key stops the start with one line, not a traceback.
        KeyStore(settings.keys_dir, token_ttl=settings.token_ttl).ensure()
    except SettingsError as exc:
        fail(str(exc))
    _raise_open_files_limit(settings.limit_concurrency)
    click.echo(
        f"serving on http://{bind_host}:{bind_port} (public URL {settings.public_url})", err=True
    )
    uvicorn.run(
        "badge.app:app_from_env",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers or settings.workers,
        access_log=settings.access_log,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        server_header=False,
        # Behind the edge every request comes from the edge: trust its X-Forwarded-For
        # (BADGE_FORWARDED_ALLOW_IPS) so per-client rate limits see the consumer.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        http=PROTOCOL,
        limit_concurrency=settings.limit_concurrency,
    )


def check_port_free(host: str, port: int) -> None:
    """Bind the address the way uvicorn will (SO_REUSEADDR), then let it go."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror} (--host or BADGE_HOST)")
        return
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(
                    f"port {port} on {host} is already in use; stop the other server or "
                    "choose another port (--port or BADGE_PORT)"
                )
            fail(
                f"cannot listen on {host}:{port}: {exc.strerror} "
                "(--host and --port, or BADGE_HOST and BADGE_PORT)"
            )


def _raise_open_files_limit(connections: int) -> None:
    """Room for `connections` sockets plus files, within the hard limit the system allows."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 256
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _enterprise_number(body: int) -> str:
    digits = f"{body:08d}{97 - body % 97:02d}"
    return f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"


DEMO_SHOPS: tuple[dict[str, Any], ...] = (
    {
        "display_name": "Bakkerij Demo",
        "legal_name": "Bakkerij Demo BV",
        "enterprise_number": _enterprise_number(4_511_223),
        "domains": ["bakkerij-demo.be", "www.boulangerie-demo.be"],
        "categories": ["b2c_member", "sponsor"],
        "state": "certified",
        "valid_for_days": 365,
    },
    {
        "display_name": "Fietsen Plus",
        "legal_name": "Fietsen Plus NV",
        "enterprise_number": _enterprise_number(7_734_118),
        "domains": ["fietsenplus-demo.be"],
        "categories": ["b2c_member"],
        "state": "suspended",
        "valid_for_days": 200,
    },
    {
        "display_name": "Gadget Outlet",
        "legal_name": "Gadget Outlet SRL",
        "enterprise_number": _enterprise_number(8_620_904),
        "domains": ["gadget-outlet-demo.be"],
        "categories": ["b2c_member", "b2b_member"],
        "state": "revoked",
        "valid_for_days": 100,
    },
    {
        "display_name": "Librairie Exemple",
        "legal_name": "Librairie Exemple SA",
        "enterprise_number": _enterprise_number(10_456_789),
        "domains": ["librairie-exemple.be"],
        "categories": ["webshop_partner"],
        "state": "certified",
        "valid_for_days": -10,
    },
)


@cli.command()
@friendly
def demo() -> None:
    """Seed demo shops, one in each state (idempotent); print their ids and URLs to try."""
    settings = load_settings()
    with registry_from_env(create=True) as registry:
        shops = _seed_demo(registry)
    base = settings.public_url
    certified = next(shop for shop in shops if shop.public_state(today()) == "certified")
    click.echo(
        f"try: {base}/  (home page)\n"
        f"     {base}/v/{certified.id}  (verification page)\n"
        f"     {base}/b/{certified.id}.svg  (badge; .png, ?lang=fr, ?size=l)\n"
        f"     {base}/embed/{certified.id}  (embed code)\n"
        f"registry {redact_url(settings.database_url.reveal())}, keys in {settings.keys_dir}",
        err=True,
    )


def _seed_demo(registry: Registry) -> list[Shop]:
    seeded = []
    for spec in DEMO_SHOPS:
        existing = registry.find_by_domain(spec["domains"][0])
        if existing is None:
            new = rules.validate_new_shop(
                display_name=spec["display_name"],
                legal_name=spec["legal_name"],
                enterprise_number=spec["enterprise_number"],
                domains=spec["domains"],
                categories=spec["categories"],
                state="certified",
                certified_since=(today() - timedelta(days=400)).isoformat(),
                valid_until=(today() + timedelta(days=spec["valid_for_days"])).isoformat(),
                last_audit=(today() - timedelta(days=60)).isoformat(),
                today=today(),
            )
            existing = registry.create_shop(new, actor="demo")
            if spec["state"] != "certified":
                registry.set_state(existing.id, spec["state"], reason="demo data", actor="demo")
                existing = registry.get_shop(existing.id) or existing
        state = existing.public_state(today())
        click.echo(f"{existing.id}  {state:<10} {existing.display_name} ({existing.domains[0]})")
        seeded.append(existing)
    return seeded


@cli.group()
def shops() -> None:
    """Register, list, show and change shops."""


@shops.command("add")
@click.option("--name", required=True, help="Display name.")
@click.option("--legal-name", required=True, help="Legal name as in the KBO/BCE.")
@click.option("--enterprise-number", required=True, help="KBO/BCE number, e.g. 0123.456.749.")
@click.option("--domain", "domains", multiple=True, required=True, help="A registered domain.")
@click.option("--category", "categories", multiple=True, help=f"One of {', '.join(CATEGORIES)}.")
@click.option("--state", default="certified", show_default=True, help="Initial state.")
@click.option("--certified-since", default=None, help="YYYY-MM-DD (default today if certified).")
@click.option("--valid-until", default=None, help="YYYY-MM-DD.")
@click.option("--last-audit", default=None, help="YYYY-MM-DD.")
@friendly
def shops_add(
    name: str,
    legal_name: str,
    enterprise_number: str,
    domains: tuple[str, ...],
    categories: tuple[str, ...],
    state: str,
    certified_since: str | None,
    valid_until: str | None,
    last_audit: str | None,
) -> None:
    """Register a shop; prints the new id alone on the last line."""
    new = rules.validate_new_shop(
        display_name=name,
        legal_name=legal_name,
        enterprise_number=enterprise_number,
        domains=domains,
        categories=categories,
        state=state,
        certified_since=certified_since,
        valid_until=valid_until,
        last_audit=last_audit,
        today=today(),
    )
    with registry_from_env(create=True) as registry:
        shop = registry.create_shop(new, actor=actor())
    notify_change(shop.id)
    click.echo(f"registered {shop.display_name} ({', '.join(shop.domains)}) as {shop.state}")
    click.echo(shop.id)


@shops.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly
def shops_list(as_json: bool) -> None:
    """List every shop with its current state."""
    with registry_from_env() as registry:
        found = registry.list_shops(limit=1_000_000)
    day = today()
    if as_json:
        click.echo(json.dumps([s.to_json(day) for s in found], indent=2, ensure_ascii=False))
        return
    for shop in found:
        click.echo(
            f"{shop.id}  {shop.public_state(day):<10} {shop.display_name}  {' '.join(shop.domains)}"
        )
    click.echo(f"{len(found)} shop(s)", err=True)


@shops.command("show")
@click.argument("shop_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly
def shops_show(shop_id: str, as_json: bool) -> None:
    """Show one shop and its history."""
    with registry_from_env() as registry:
        shop = registry.get_shop(shop_id)
        if shop is None:
            fail(f"no shop with id {shop_id!r}")
            return
        events = registry.history(shop.id)
    day = today()
    if as_json:
        data = shop.to_json(day) | {"history": [e.to_json() for e in events]}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    _print_shop(shop, day)
    click.echo("history:")
    for event in events:
        if event.changes is not None:
            click.echo(
                f"  {event.at.isoformat()}  edited {_changes_text(event.changes)}  "
                f"by {event.actor}: {event.reason}"
            )
            continue
        origin = event.from_state or "-"
        click.echo(
            f"  {brussels_time(event.at)}  {origin} -> {event.to_state}  by {event.actor}: "
            f"{event.reason}"
        )


def _print_shop(shop: Shop, day: date) -> None:
    rows = [
        ("id", shop.id),
        ("name", shop.display_name),
        ("legal name", shop.legal_name),
        ("enterprise number", shop.enterprise_number),
        ("domains", ", ".join(shop.domains)),
        ("categories", ", ".join(shop.categories) or "-"),
        ("state", f"{shop.public_state(day)} since {brussels_time(shop.state_since)}"),
        ("certified since", str(shop.certified_since or "-")),
        ("valid until", str(shop.valid_until or "-")),
        ("last audit", str(shop.last_audit or "-")),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<19}{value}")


@shops.command("set-state")
@click.argument("shop_id")
@click.argument("state", metavar=f"STATE ({'|'.join(STATES)})")
@click.option("--reason", required=True, help="Why; kept in the shop's history.")
@friendly
def shops_set_state(shop_id: str, state: str, reason: str) -> None:
    """Certify, suspend or revoke a shop, with a reason."""
    target = rules.parse_state(state)
    with registry_from_env() as registry:
        if registry.get_shop(shop_id) is None:
            fail(f"no shop with id {shop_id!r}")
        event = registry.set_state(shop_id, target, reason=reason, actor=actor())
    notify_change(shop_id)
    click.echo(f"{shop_id}: {event.from_state} -> {event.to_state} ({event.reason})")


@shops.command("update")
@click.argument("shop_id")
@click.option("--reason", required=True, help="Why; kept in the shop's history with the change.")
@click.option("--name", default=None, help="Display name.")
@click.option("--legal-name", default=None, help="Legal name as in the KBO/BCE.")
@click.option("--enterprise-number", default=None, help="KBO/BCE number.")
@click.option("--domain", "domains", multiple=True, help="The new full list of domains.")
@click.option("--category", "categories", multiple=True, help="The new full list of categories.")
@click.option("--no-categories", is_flag=True, help="Remove every category.")
@click.option("--certified-since", default=None, help="YYYY-MM-DD.")
@click.option("--valid-until", default=None, help="YYYY-MM-DD (a renewal).")
@click.option("--last-audit", default=None, help="YYYY-MM-DD.")
@friendly
def shops_update(
    shop_id: str,
    reason: str,
    name: str | None,
    legal_name: str | None,
    enterprise_number: str | None,
    domains: tuple[str, ...],
    categories: tuple[str, ...],
    no_categories: bool,
    certified_since: str | None,
    valid_until: str | None,
    last_audit: str | None,
) -> None:
    """Change a shop's record, with a reason; the history keeps what changed."""
    if no_categories and categories:
        fail("give --category or --no-categories, not both")
    with registry_from_env() as registry:
        before = registry.get_shop(shop_id)
        if before is None:
            fail(f"no shop with id {shop_id!r}")
        shop = registry.update_shop(
            shop_id,
            actor=actor(),
            reason=reason,
            display_name=name,
            legal_name=legal_name,
            enterprise_number=enterprise_number,
            domains=domains or None,
            categories=() if no_categories else (categories or None),
            certified_since=rules.parse_date(certified_since, "certified_since"),
            valid_until=rules.parse_date(valid_until, "valid_until"),
            last_audit=rules.parse_date(last_audit, "last_audit"),
        )
    if shop == before:
        click.echo(f"{shop_id}: nothing changed")
        return
    notify_change(shop_id)
    click.echo(f"{shop_id}: updated ({reason})")


def _changes_text(changes: dict[str, Any]) -> str:
    return "; ".join(
        f"{name} {_value(change.get('from'))} -> {_value(change.get('to'))}"
        for name, change in changes.items()
    )


def _value(value: object) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row). JSON rows count from 1, CSV rows by their file line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not UTF-8 text (bad byte at {exc.start})") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, list):
            raise ValidationError(f"{path}: expected a JSON list of shops")
        for index, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                raise ValidationError(f"{path}: item {index} is not an object")
            yield index, item
        return
    reader = csv.DictReader(io.StringIO(text))
    missing = {"name", "legal_name", "enterprise_number", "domains"} - set(reader.fieldnames or ())
    if missing:
        raise ValidationError(f"{path}: CSV header lacks {', '.join(sorted(missing))}")
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise ValidationError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part for part in str(value).replace(";", " ").replace(",", " ").split() if part]


@shops.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly
def shops_import(file: Path) -> None:
    """Import shops from CSV or JSON; all rows are checked first, none written if one fails."""
    with registry_from_env(create=True) as registry:
        created = _import(registry, file)
    notify_change(*(shop.id for shop in created))
    for shop in created:
        click.echo(f"{shop.id}  {shop.state:<10} {shop.display_name} ({shop.domains[0]})")
    click.echo(f"imported {len(created)} shop(s)")


def _import(registry: Registry, file: Path) -> list[Shop]:
    valid: list[tuple[int, NewShop]] = []
    problems: list[str] = []
    claimed: dict[str, int] = {}
    day = today()
    for line, row in _rows(file):
        try:
            new = rules.validate_new_shop(
                display_name=str(row.get("name") or ""),
                legal_name=str(row.get("legal_name") or ""),
                enterprise_number=str(row.get("enterprise_number") or ""),
                domains=_split(row.get("domains")),
                categories=_split(row.get("categories")),
                state=str(row.get("state") or "certified"),
                certified_since=row.get("certified_since") or None,
                valid_until=row.get("valid_until") or None,
                last_audit=row.get("last_audit") or None,
                today=day,
            )
            for domain in new.domains:
                if domain in claimed:
                    raise Conflict(f"domain {domain} also appears on line {claimed[domain]}")
                holder = registry.find_by_domain(domain)
                if holder is not None:
                    raise Conflict(f"domain {domain} is already registered to shop {holder.id}")
                claimed[domain] = line
            valid.append((line, new))
        except BadgeError as exc:
            problems.append(f"line {line}: {exc.message}")
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        fail(f"{len(problems)} bad row(s) in {file}; nothing was imported")
    if not valid:
        fail(f"{file} has no shops to import")
    with click.progressbar(length=len(valid), label="importing", file=sys.stderr) as bar:
        return registry.import_shops([n for _, n in valid], actor=actor(), progress=bar.update)


@cli.group()
def keys() -> None:
    """Manage the Ed25519 signing keys in BADGE_KEYS_DIR."""


@keys.command("generate")
@friendly
def keys_generate() -> None:
    """Make the first signing key (nothing happens when one exists)."""
    from badge.signing import KeyStore

    settings = load_settings()
    store = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
    record, made = store.generate()
    click.echo(("generated " if made else "already have ") + f"signing key {record.kid}")


@keys.command("rotate")
@friendly
def keys_rotate() -> None:
    """Make a new signing key; old public keys stay published until their badges expire."""
    from badge.signing import KeyStore

    settings = load_settings()
    store = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
    store.ensure()
    record = store.rotate()
    click.echo(f"signing with new key {record.kid}")


@keys.command("list")
@friendly
def keys_list() -> None:
    """List keys: which one signs, which are still published."""
    from datetime import UTC, datetime

    from badge.signing import KeyStore

    settings = load_settings()
    store = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
    store.ensure()
    published = {r.kid for r in store.published()}
    for record in store.records:
        role = (
            "signing"
            if record.kid == store.signing_kid
            else ("published" if record.kid in published else "retired")
        )
        created = brussels_time(datetime.fromtimestamp(record.created_at, UTC))
        click.echo(f"{record.kid}  {role:<9}  created {created}")


@cli.group()
def tokens() -> None:
    """Bearer tokens for the operators' admin API."""


@tokens.command("create")
@click.argument("name")
@friendly
def tokens_create(name: str) -> None:
    """Create a token; it is printed once, alone on the last line, and stored only hashed."""
    from badge.admin.auth import token_digest

    clean = rules.clean_text(name, "token name", limit=100)
    token = "bkt_" + secrets.token_urlsafe(32)
    with registry_from_env() as registry:
        registry.add_token(clean, token_digest(token))
    click.echo(f"created token {clean!r}; store it now, it is not shown again:")
    click.echo(token)


@cli.command()
@click.argument("shop_id")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--lang", type=click.Choice(LANGS), default=DEFAULT_LANG, show_default=True)
@click.option("--size", type=click.Choice(tuple(SIZES)), default=DEFAULT_SIZE, show_default=True)
@click.option("--scale", type=click.IntRange(1, 3), default=1, show_default=True, help="PNG only.")
@click.option(
    "--site",
    metavar="HOST",
    help="The website that shows the badge, as its Referer would say [default: the shop's "
    "first registered domain]; 'none' for the badge shown without a Referer.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@friendly
def render(
    shop_id: str, fmt: str, lang: str, size: str, scale: int, site: str | None, output: Path
) -> None:
    """Write the shop's current badge, signed, to a file."""
    import anyio

    from badge import binding
    from badge.badges import BadgeService
    from badge.signing import KeyStore

    settings = load_settings()
    with registry_from_env() as registry:
        shop = registry.get_shop(shop_id)
        if shop is None:
            fail(f"no shop with id {shop_id!r}")
        if site is None:
            page: str | None = shop.domains[0]
        elif site == "none":
            page = None
        else:
            page = binding.referer_host(site.encode("utf-8", "replace"))
        keys_store = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
        keys_store.ensure()
        service = BadgeService(settings, registry, keys_store)
        rendered = anyio.run(
            service.get,
            shop_id,
            cast(Format, fmt),
            cast(Lang, lang),
            cast(Size, size),
            scale if fmt == "png" else 1,
            None,
            page,
        )
    output.write_bytes(rendered.body)
    entry = service.entries[shop_id]
    click.echo(f"wrote {output} ({len(rendered.body)} bytes, {fmt}, state {entry.state})")


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable verdict.")
@friendly
def verify(file: Path, as_json: bool) -> None:
    """Check a badge file; exit 0 only when genuine, unexpired and certified now."""
    from badge.signing import KeyStore
    from badge.verify.check import MAX_UPLOAD_BYTES, extract_token
    from badge.verify.verdict import judge_claims, not_genuine

    settings = load_settings()
    if file.stat().st_size > MAX_UPLOAD_BYTES:
        fail(f"{file} is larger than {MAX_UPLOAD_BYTES} bytes; badges are a few kilobytes")
    data = file.read_bytes()
    note = None
    try:
        token = extract_token(data, None)
    except BadgeError as exc:
        verdict = not_genuine(exc.message)
    else:
        keys_store = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
        # Verifying needs only the public keys; never make a key here.
        if not keys_store.reload_if_changed():
            fail(
                f"no keys in {settings.keys_dir.absolute()}; set BADGE_KEYS_DIR to the "
                "service's keys"
            )
        claims, why = keys_store.verify(token)
        if claims is None:
            verdict = not_genuine(why)
        else:
            subject = claims.get("sub")
            with registry_from_env() as registry:
                live = registry.get_shop(subject) if isinstance(subject, str) else None
            live_state = live.public_state(today()) if live else None
            # The keys are the proof of origin. This shell's BADGE_PORT or BADGE_PUBLIC_URL
            # may well differ from the server's, so the issuer is reported, not required.
            verdict = judge_claims(claims, live, live_state, issuer=None)
            issuer = claims.get("iss")
            if issuer != settings.public_url:
                note = (
                    f"issuer:     {issuer} (this shell's BADGE_PUBLIC_URL is "
                    f"{settings.public_url}; a configuration difference, not a problem with "
                    "the badge: the signature was checked against the keys in BADGE_KEYS_DIR)"
                )
    if as_json:
        click.echo(json.dumps(verdict.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(f"{'GENUINE' if verdict.genuine else 'NOT GENUINE'}: {verdict.reason}")
        if verdict.shop_id:
            click.echo(f"issued to:  {verdict.shop_name} ({verdict.shop_id})")
            click.echo(f"domains:    {', '.join(verdict.domains)}")
            shown = verdict.variant or "unknown (signed before badges named it)"
            if verdict.site:
                shown += f" badge, served for {verdict.site}"
            click.echo(f"showed:     {shown}")
            click.echo(
                f"signed:     {_moment(verdict.issued_at)}; "
                f"{'expired' if verdict.expired else 'expires'} {_moment(verdict.expires_at)}"
            )
            click.echo(f"state then: {verdict.state_then} (in the badge)")
            click.echo(f"state now:  {verdict.state_now} (live register)")
        if note:
            click.echo(note)
        click.echo(f"verdict:    {_summary(verdict)}")
    if not verdict.ok:
        raise SystemExit(1)


def _moment(iso: str | None) -> str:
    from datetime import datetime

    return brussels_time(datetime.fromisoformat(iso)) if iso else "unknown"


def _summary(verdict: Verdict) -> str:
    """One line that says which part decides the exit status."""
    if not verdict.genuine:
        return "NOT OK: the badge is not genuine (whatever the shop's state today)"
    if not verdict.certified_now:
        return "NOT OK: the badge is genuine, but the shop is not certified now"
    if verdict.variant not in (None, "certified"):
        return f"NOT OK: genuine, but the {verdict.variant} badge, which vouches for no site"
    if verdict.expired:
        return "NOT OK: genuine and certified now, but this copy's signature has expired"
    return "OK: genuine, unexpired, and the shop is certified now"


@cli.group()
def reports() -> None:
    """Consumers' reports of sites that show a badge wrongly."""


@reports.command("list")
@click.option("--all", "show_all", is_flag=True, help="Closed reports too, not only open ones.")
@click.option("--shop", "shop_id", metavar="ID", help="Only this shop's reports.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly
def reports_list(show_all: bool, shop_id: str | None, as_json: bool) -> None:
    """Newest first; open ones only unless --all."""
    with registry_from_env() as registry:
        found = registry.reports(status=None if show_all else "open", shop_id=shop_id, limit=1000)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in found], indent=2, ensure_ascii=False))
        return
    for report in found:
        when = report.created_at.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{report.id}  {report.status:<6} {when}  {report.shop_id}  {report.host}")
    click.echo(f"{len(found)} report(s)", err=True)


@reports.command("show")
@click.argument("report_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@friendly
def reports_show(report_id: str, as_json: bool) -> None:
    """One report in full."""
    with registry_from_env() as registry:
        report = registry.get_report(report_id)
    if report is None:
        fail(f"no report with id {report_id!r}")
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
        return
    for label, value in report.to_json().items():
        click.echo(f"{label + ':':<12}{'-' if value in (None, '') else value}")


@reports.command("close")
@click.argument("report_id")
@click.option("--resolution", required=True, help="What was done; kept with the report.")
@friendly
def reports_close(report_id: str, resolution: str) -> None:
    """Close a report, saying what was done."""
    with registry_from_env() as registry:
        report = registry.close_report(report_id, actor=actor(), resolution=resolution)
    click.echo(f"{report.id}: closed ({report.resolution})")


def main() -> None:
    cli(prog_name="badge")
