"""DNS lookups for ownership proofs, with dnspython: TXT records and a host's addresses.

Every lookup is bounded by BADGE_DNS_TIMEOUT. Queries ask for the AD bit (RFC 6840,
section 5.7), so a validating resolver says whether DNSSEC vouched for the answer.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.nameserver
import dns.rdatatype
import dns.resolver

from badge.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def make_resolver(settings: Settings) -> dns.resolver.Resolver:
    """BADGE_DNS_RESOLVER's servers, or the system's (/etc/resolv.conf) when unset."""
    if settings.dns_resolver:
        resolver = dns.resolver.Resolver(configure=False)
        servers: list[str | dns.nameserver.Nameserver] = []
        for item in settings.dns_resolver:
            host, _, port = item.rpartition(":")
            servers.append(dns.nameserver.Do53Nameserver(host.strip("[]"), int(port)))
        resolver.nameservers = servers
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = settings.dns_timeout
    resolver.lifetime = settings.dns_timeout
    resolver.flags = dns.flags.RD | dns.flags.AD
    # A proof is checked against the DNS as it is now, never a cached answer.
    resolver.cache = None
    return resolver


@dataclass(frozen=True, slots=True)
class TxtAnswer:
    values: tuple[str, ...]
    # The AD flag of the answer; None when no answer was read.
    ad: bool | None
    detail: str


def lookup_txt(resolver: dns.resolver.Resolver, name: str) -> TxtAnswer:
    """The TXT strings at `name` (each record's strings joined, as RFC 7208 does)."""
    try:
        answer = resolver.resolve(name, "TXT", raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return TxtAnswer((), None, f"{name} does not exist")
    except dns.exception.Timeout:
        return TxtAnswer((), None, f"the DNS lookup of {name} timed out")
    except dns.exception.DNSException as exc:
        return TxtAnswer((), None, f"the DNS lookup of {name} failed ({type(exc).__name__})")
    ad = bool(answer.response.flags & dns.flags.AD)
    values = tuple(
        b"".join(rdata.strings).decode("utf-8", "replace")
        for rdata in (answer.rrset or ())
        if rdata.rdtype == dns.rdatatype.TXT
    )
    if not values:
        return TxtAnswer((), ad, f"no TXT record at {name}")
    return TxtAnswer(values, ad, f"{len(values)} TXT record(s) at {name}, none the challenge")


def addresses(resolver: dns.resolver.Resolver, host: str) -> list[IPAddress]:
    """Every A and AAAA address of `host`; a lookup that fails raises LookupError."""
    found: list[IPAddress] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(host, rdtype, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            raise LookupError(f"{host} does not exist") from None
        except dns.exception.Timeout:
            raise LookupError(f"the DNS lookup of {host} timed out") from None
        except dns.exception.DNSException as exc:
            raise LookupError(f"the DNS lookup of {host} failed ({type(exc).__name__})") from None
        found.extend(ipaddress.ip_address(rdata.address) for rdata in (answer.rrset or ()))
    if not found:
        raise LookupError(f"{host} has no address")
    return found
