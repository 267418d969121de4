"""The route table: every path the service answers, with the rules that hang off it.

Starlette's router dispatches; app.py binds each path here to its handler. Whatever else
depends on a path reads it from this table instead of matching the path again:
- the rate-limit bucket a request counts against (badge/platform/ratelimit.py);
- how an error is answered: an HTML page, JSON, or an error badge
  (badge/web/error_responses.py, and the 429 in badge/platform/ratelimit.py);
- the Cache-Control of a successful response that set none (badge/platform/http.py);
- whether the pure-ASGI hot path (badge/serving/hotpath.py) or prepared bytes
  (badge/serving/prepared.py) answer it before the router;
- the 429 in the OpenAPI document (badge/web/openapi.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

from starlette.routing import compile_path

from badge.platform.ratelimit import Bucket
from badge.vocabulary import FORMATS, Format

# How an error on the route is answered: a page in the visitor's language, JSON (`api`
# with the CORS headers and a cacheable refusal, `admin` never stored, `verdict` with a
# verdict's keys as well), or an error badge an `<img>` can show.
ErrorFormat = Literal["page", "api", "admin", "verdict", "badge"]
# Answered before the router: by the badge hot path, or from bytes prepared per shop.
FastPath = Literal["", "hotpath", "prepared"]
ANY_METHOD: Final = "*"


@dataclass(frozen=True, slots=True)
class Limit:
    method: str
    bucket: Bucket
    # Only a request with a query string counts: the empty lookup form is a plain page.
    with_query: bool = False


@dataclass(frozen=True, slots=True)
class Rules:
    errors: ErrorFormat = "page"
    limits: tuple[Limit, ...] = ()
    # For a response below 400 that set no Cache-Control itself; errors are never stored.
    cache: str = "no-store"
    fast: FastPath = ""

    def bucket(self, method: str, query: bytes) -> Bucket | None:
        for limit in self.limits:
            if limit.method in (method, ANY_METHOD) and (query or not limit.with_query):
                return limit.bucket
        return None


@dataclass(frozen=True, slots=True)
class RouteSpec:
    path: str
    methods: tuple[str, ...]
    rules: Rules
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", compile_path(self.path)[0])


GET_HEAD: Final = ("GET", "HEAD")
PAGE: Final = Rules()
API: Final = Rules(errors="api")
ADMIN: Final = Rules(errors="admin", limits=(Limit(ANY_METHOD, "admin"),))
BADGE: Final = Rules(errors="badge", fast="hotpath")
SHORT_PUBLIC: Final = "public, max-age=300"
ADMIN_PREFIX: Final = "/admin/api/v1"


def _admin(path: str, *methods: str) -> RouteSpec:
    return RouteSpec(ADMIN_PREFIX + path, methods, ADMIN)


# In dispatch order: Starlette tries them top down.
ROUTES: Final[tuple[RouteSpec, ...]] = (
    RouteSpec("/b/{shop_id}.svg", GET_HEAD, BADGE),
    RouteSpec("/b/{shop_id}.png", GET_HEAD, BADGE),
    RouteSpec("/", GET_HEAD, PAGE),
    RouteSpec("/favicon.ico", GET_HEAD, PAGE),
    RouteSpec("/static/{path:path}", GET_HEAD, PAGE),
    RouteSpec("/v/{shop_id}", ("GET",), Rules(fast="prepared")),
    RouteSpec("/v/{shop_id}/report", ("POST",), Rules(limits=(Limit("POST", "report"),))),
    RouteSpec(
        "/verify",
        ("GET", "HEAD", "POST"),
        Rules(limits=(Limit("POST", "uploads"), Limit("GET", "lookups", with_query=True))),
    ),
    RouteSpec("/embed.js", GET_HEAD, PAGE),
    RouteSpec("/embed/{shop_id}", GET_HEAD, PAGE),
    RouteSpec("/api/v1/shops/{shop_id}", ("GET",), Rules(errors="api", fast="prepared")),
    RouteSpec("/api/v1/lookup", ("GET",), Rules(errors="api", limits=(Limit("GET", "lookups"),))),
    RouteSpec(
        "/api/v1/verify",
        ("POST", "OPTIONS"),
        Rules(errors="verdict", limits=(Limit("POST", "uploads"),)),
    ),
    _admin("/shops", "GET", "POST"),
    _admin("/shops/{shop_id}", "GET", "PATCH"),
    _admin("/shops/{shop_id}/state", "POST"),
    _admin("/shops/{shop_id}/history", "GET"),
    _admin("/shops/{shop_id}/sightings", "GET"),
    _admin("/shops/{shop_id}/domains", "GET"),
    _admin("/shops/{shop_id}/domains/{domain}/challenge", "GET"),
    _admin("/shops/{shop_id}/domains/{domain}/check", "POST"),
    _admin("/shops/{shop_id}/domains/{domain}/attest", "POST"),
    _admin("/domains", "GET"),
    _admin("/sightings", "GET"),
    # Before /reports/{report_id}, which would take "summary" for an id.
    _admin("/reports/summary", "GET"),
    _admin("/reports", "GET"),
    _admin("/reports/{report_id}", "GET"),
    _admin("/reports/{report_id}/close", "POST"),
    RouteSpec("/openapi.json", GET_HEAD, Rules(errors="api", cache=SHORT_PUBLIC)),
    RouteSpec("/healthz", GET_HEAD, PAGE),
    RouteSpec("/readyz", GET_HEAD, PAGE),
    RouteSpec("/metrics", ("GET",), PAGE),
    RouteSpec("/.well-known/jwks.json", GET_HEAD, Rules(errors="api", cache=SHORT_PUBLIC)),
)

# Paths no route matches (the router's 404 and 405) take the rules of their family.
FAMILIES: Final[tuple[tuple[str, Rules], ...]] = (
    ("/admin/", ADMIN),
    ("/api/", API),
    ("/b/", Rules(errors="badge")),
)


def rules_for(path: str) -> Rules:
    """The rules of the route that serves `path`, else of its family, else a page's."""
    for spec in ROUTES:
        if spec.regex.match(path):
            return spec.rules
    return next((rules for prefix, rules in FAMILIES if path.startswith(prefix)), PAGE)


def cache_for(path: str) -> str:
    return rules_for(path).cache


def _prefix_and_suffix(template: str) -> tuple[str, str]:
    """`/b/{shop_id}.svg` -> ("/b/", ".svg"): a route whose one parameter is a shop id."""
    prefix, _, rest = template.partition("{shop_id}")
    if not rest and not template.endswith("{shop_id}"):
        raise ValueError(f"{template}: a fast route is keyed by its shop id")
    return prefix, rest


def hot_path_routes() -> tuple[str, dict[str, Format]]:
    """The prefix the hot path answers, and the format of each suffix."""
    found = [_prefix_and_suffix(s.path) for s in ROUTES if s.rules.fast == "hotpath"]
    prefixes = {prefix for prefix, _ in found}
    if len(prefixes) != 1:
        raise ValueError(f"the hot path answers one prefix, not {sorted(prefixes)}")
    formats: dict[str, Format] = {}
    for _, suffix in found:
        fmt = next((f for f in FORMATS if suffix == f".{f}"), None)
        if fmt is None:
            raise ValueError(f"the hot path serves {FORMATS}, not {suffix!r}")
        formats[suffix] = fmt
    if len({len(suffix) for suffix in formats}) != 1:
        raise ValueError("the hot path's suffixes are of one length")
    return prefixes.pop(), formats


def prepared_prefixes() -> tuple[str, ...]:
    """The prefixes of the paths whose answers may be prepared bytes (then the shop id)."""
    found = [_prefix_and_suffix(s.path) for s in ROUTES if s.rules.fast == "prepared"]
    if any(suffix for _, suffix in found):
        raise ValueError("a prepared route ends with its shop id")
    return tuple(prefix for prefix, _ in found)
