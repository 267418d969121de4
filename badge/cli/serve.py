"""`badge serve`: uvicorn with our settings, after checking the port is free."""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

import click

from badge.cli.common import fail
from badge.settings import Settings, SettingsError


@click.command()
@click.option("--host", default=None, help="Interface to bind (default BADGE_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default BADGE_PORT or 8000).")
@click.option("--workers", type=int, default=None, help="Worker processes (default 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve badges, pages and the APIs with uvicorn."""
    settings = settings_with(host, port, workers)
    # Before importing uvicorn and the app: a busy port is reported at once, not after
    # fonts, keys and the registry have loaded.
    check_port_free(settings.host, settings.port)
    import uvicorn

    from badge.signing import KeyStore

    try:
        # Checked here too, so an unsafe key stops the start with one line, not a traceback.
        KeyStore(settings.keys_dir, token_ttl=settings.token_ttl).ensure()
    except SettingsError as exc:
        fail(str(exc))
    _raise_open_files_limit(settings.limit_concurrency)
    click.echo(
        f"serving on http://{settings.host}:{settings.port} (public URL {settings.public_url})",
        err=True,
    )
    uvicorn.run("badge.app:app_from_env", **uvicorn_options(settings))


def settings_with(host: str | None, port: int | None, workers: int | None) -> Settings:
    """The settings with the command line's choices in place of BADGE_HOST, BADGE_PORT and
    BADGE_WORKERS, checked like the variables.

    uvicorn builds the app (in each worker process, too) from an import string, so the
    choices reach it the one way a spawned worker inherits: this process's environment.
    The public URL, the issuer and our own netlocs then follow the port we listen on.
    """
    chosen = {"BADGE_HOST": host, "BADGE_PORT": port, "BADGE_WORKERS": workers}
    overrides = {name: str(value) for name, value in chosen.items() if value is not None}
    try:
        settings = Settings.from_env({**os.environ, **overrides})
    except SettingsError as exc:
        flags = {"BADGE_HOST": "--host", "BADGE_PORT": "--port", "BADGE_WORKERS": "--workers"}
        message = str(exc)
        for name in overrides:
            message = message.replace(name, f"{flags[name]} ({name})")
        fail(message)
    os.environ.update(overrides)
    return settings


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How `badge serve` runs uvicorn; `make bench` starts its baseline with the same."""
    from badge.platform.logs import log_config
    from badge.platform.server import PROTOCOL

    return {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "access_log": settings.access_log,
        "log_level": settings.log_level,
        "log_config": log_config(settings.log_level),
        "server_header": False,
        # Behind the edge every request comes from the edge: trust its X-Forwarded-For
        # (BADGE_FORWARDED_ALLOW_IPS) so per-client rate limits see the consumer.
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
        "http": PROTOCOL,
        "limit_concurrency": settings.limit_concurrency,
    }


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
