"""Fetching `https://<domain>/.well-known/keurmerk-badge.txt`, with strict limits.

The URL is the shop's to choose, so the fetch is a way into our network unless it is held:
- HTTPS only (BADGE_PROOF_ALLOW_HTTP allows plain HTTP, for tests);
- the host's addresses are resolved once and refused if any is private, loopback,
  link-local or otherwise not global (BADGE_PROOF_ALLOW_LOOPBACK lets loopback through, for
  tests); the connection goes to the address that was checked, so a second answer from
  the DNS (rebinding) never reaches the socket. TLS still verifies the certificate for the
  host name;
- no redirect to another host (two at most, on the same host);
- at most 4 KB of body, and 3 s from the first lookup to the last byte, enforced by a
  watchdog that shuts the socket down, whatever the server dribbles.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

import dns.resolver

from badge.proofs.resolve import IPAddress, addresses
from badge.registry.proofs import WELL_KNOWN_PATH

MAX_BYTES: Final = 4096
TIME_LIMIT: Final = 3.0
MAX_REDIRECTS: Final = 2
USER_AGENT: Final = "keurmerk-badge-ownership-check/1 (+https://www.becommerce.be/)"


class Refused(Exception):
    """The file was not fetched, or not accepted; the message says why, in plain words."""


@dataclass(frozen=True, slots=True)
class FetchRules:
    allow_http: bool = False
    allow_loopback: bool = False
    # 0: the scheme's own port.
    port: int = 0
    ssl_context: ssl.SSLContext | None = None


def check_address(ip: IPAddress, allow_loopback: bool) -> None:
    """Refuse anything but a public unicast address (an IPv4-mapped one as its IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        if allow_loopback:
            return
        raise Refused(f"{ip} is a loopback address")
    if ip.is_link_local:
        raise Refused(f"{ip} is a link-local address")
    if ip.is_private:
        raise Refused(f"{ip} is a private address")
    if not ip.is_global or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        raise Refused(f"{ip} is not a public address")


def fetch_file(domain: str, resolver: dns.resolver.Resolver, rules: FetchRules) -> str:
    """The well-known file's text, or Refused."""
    deadline = time.monotonic() + TIME_LIMIT
    scheme = "http" if rules.allow_http else "https"
    url = f"{scheme}://{domain}{WELL_KNOWN_PATH}"
    for _ in range(MAX_REDIRECTS + 1):
        status, location, body = _get(url, domain, resolver, rules, deadline)
        if status in (301, 302, 303, 307, 308):
            url = _same_host(url, location, domain)
            continue
        if status != 200:
            raise Refused(f"{url} answered HTTP {status}")
        return body.decode("utf-8", "replace")
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


def _same_host(url: str, location: str | None, domain: str) -> str:
    if not location:
        raise Refused("a redirect without a Location")
    target = urljoin(url, location)
    parts, before = urlsplit(target), urlsplit(url)
    if parts.scheme != before.scheme or parts.netloc.lower() != before.netloc.lower():
        raise Refused(f"a redirect to another host or scheme ({parts.scheme}://{parts.netloc})")
    return target


def _get(
    url: str, domain: str, resolver: dns.resolver.Resolver, rules: FetchRules, deadline: float
) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    try:
        found = addresses(resolver, domain)
    except LookupError as exc:
        raise Refused(str(exc)) from None
    for ip in found:
        check_address(ip, rules.allow_loopback)
    port = rules.port or (443 if parts.scheme == "https" else 80)
    sock = _connect(found[0], port, deadline)
    # The watchdog: whatever the server does, the socket (once wrapped, the TLS one) is
    # shut down at the deadline.
    current = [sock]
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, (current,))
    watchdog.start()
    try:
        if parts.scheme == "https":
            context = rules.ssl_context or ssl.create_default_context()
            sock = current[0] = context.wrap_socket(sock, server_hostname=domain)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return _exchange(sock, domain, target, deadline)
    except (OSError, http.client.HTTPException) as exc:
        if time.monotonic() >= deadline:
            raise Refused(f"{url} took longer than {TIME_LIMIT:g} s") from None
        raise Refused(f"{url} failed ({_reason(exc)})") from None
    finally:
        watchdog.cancel()
        sock.close()


def _connect(ip: IPAddress, port: int, deadline: float) -> socket.socket:
    try:
        return socket.create_connection((str(ip), port), timeout=_left(deadline))
    except OSError as exc:
        raise Refused(f"could not connect to {ip} port {port} ({_reason(exc)})") from None


def _exchange(
    sock: socket.socket, host: str, path: str, deadline: float
) -> tuple[int, str | None, bytes]:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: text/plain\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )
    sock.settimeout(_left(deadline))
    sock.sendall(request.encode("ascii"))
    response = http.client.HTTPResponse(sock, method="GET")
    response.begin()
    body = b""
    while len(body) <= MAX_BYTES:
        sock.settimeout(_left(deadline))
        chunk = response.read1(MAX_BYTES + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if time.monotonic() >= deadline:
        # The watchdog shut the socket down: what was read may be cut anywhere.
        raise TimeoutError("out of time")
    if len(body) > MAX_BYTES:
        raise Refused(f"the file is larger than {MAX_BYTES} bytes")
    return response.status, response.getheader("location"), body


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("out of time")
    return left


def _shut(current: list[socket.socket]) -> None:
    with contextlib.suppress(OSError):  # closed already: nothing left to cut off
        current[0].shutdown(socket.SHUT_RDWR)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not valid: {exc.verify_message}"
    return type(exc).__name__
