"""`GET /openapi.json`: the public contract as an OpenAPI 3.1 document.

The schemas are generated from the models in badge/web/api_models.py, which also validate the
admin bodies. The paths are a table here: most routes are not JSON handlers (images,
HTML pages, a pure-ASGI fast path), so they are described rather than introspected;
tests/web/test_openapi.py keeps the table in step with the routes.
"""

from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from badge.platform.http import conditional, strong_etag
from badge.state import app_state
from badge.vocabulary import DEFAULT_LANG, DEFAULT_SIZE, LANGS, SCALES, SIZES
from badge.web import api_models, openapi_proofs, patterns
from badge.web.routes import ADMIN_PREFIX as PREFIX
from badge.web.routes import rules_for

Json = dict[str, Any]

REF: Final = "#/components/schemas/{name}"
_SIZES_TEXT: Final = ", ".join(f"{k} = {w}×{h}" for k, (w, h) in SIZES.items()) + " px"
_LANG_FALLBACK: Final = (
    f"Language: {', '.join(LANGS[:-1])} or {LANGS[-1]}. A page never fails on it: anything "
    f"else falls back to Accept-Language, then {DEFAULT_LANG}."
)


def _query(schema: Json, description: str, *, required: bool = False) -> Json:
    return {"in": "query", "required": required, "schema": schema, "description": description}


def _path(pattern: str, description: str) -> Json:
    schema = {"type": "string", "pattern": pattern}
    return {"in": "path", "required": True, "schema": schema, "description": description}


# Every parameter the document uses, by the name it has in the request.
PARAMETERS: Final[dict[str, Json]] = {
    "id": _path(patterns.SHOP_ID_PATTERN, "The shop's public id: 16 of a-z and 2-9."),
    **openapi_proofs.parameters(_path, _query),
    "report_id": _path(patterns.REPORT_ID_PATTERN, "The report's id: `r` and 16 of a-z, 2-9."),
    "lang": _query({"type": "string", "examples": list(LANGS)}, _LANG_FALLBACK),
    "size": _query(
        {"type": "string", "examples": list(SIZES)},
        f"Badge size: {_SIZES_TEXT}; anything else falls back to {DEFAULT_SIZE}.",
    ),
    "badge-lang": _query(
        {"type": "string", "enum": list(LANGS), "default": DEFAULT_LANG}, "Badge language."
    ),
    "badge-size": _query(
        {"type": "string", "enum": list(SIZES), "default": DEFAULT_SIZE},
        f"Badge size: {_SIZES_TEXT}.",
    ),
    "d": _query(
        {"type": "string", "minLength": 1, "maxLength": 253},
        "Host name of the page showing the badge (the script embed sends it). When it is "
        "not a registered domain of the shop, the badge says it is not valid for this site.",
    ),
    "scale": _query({"type": "integer", "enum": list(SCALES), "default": 1}, "Pixel ratio."),
    "lookup-domain": _query(
        {"type": "string", "maxLength": 253, "pattern": patterns.ASCII_HOST_PATTERN},
        "A host name or URL (IDN in its punycode form; the Unicode form is read too).",
        required=True,
    ),
    "domain": _query({"type": "string"}, "A web address or host name."),
    "q": _query({"type": "string"}, "Part of a shop's name or domain."),
    "limit": _query(
        {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100}, "At most this many."
    ),
    "offset": _query(
        {"type": "integer", "minimum": 0, "maximum": 1_000_000_000, "default": 0}, "Skip."
    ),
    "status": _query({"type": "string", "enum": ["", "open", "closed"]}, "Filter; empty is all."),
    "shop_id": _query(
        {"type": "string", "pattern": f"^(?:{patterns.SHOP_ID_PATTERN[1:-1]})?$"},
        "Only this shop's reports; empty is all.",
    ),
    "unregistered": _query(
        {"type": "string", "enum": list(patterns.FLAGS)},
        "Only hosts that are not a registered domain of the shop.",
    ),
    "path": {"in": "path", "required": True, "schema": {"type": "string"}},
}

# Response bodies by kind: a model's name means JSON of that model.
_BINARY: Final[Json] = {"type": "string", "format": "binary"}
_TEXT: Final[Json] = {"type": "string"}
MEDIA: Final[dict[str, tuple[str, Json]]] = {
    "html": ("text/html", _TEXT),
    "svg": ("image/svg+xml", _BINARY),
    "png": ("image/png", _BINARY),
    "text": ("text/plain", _TEXT),
    "js": ("text/javascript", _TEXT),
    "ico": ("image/vnd.microsoft.icon", _BINARY),
    "object": ("application/json", {"type": "object"}),
}


@dataclass(frozen=True, slots=True)
class Op:
    """One operation. `parameters` names entries of PARAMETERS; `responses` maps a status
    to "kind description", the kind a key of MEDIA, a model's name, or `-` for no body;
    `body` maps a media type to a model's name (or `file`)."""

    method: str
    path: str
    tag: str
    summary: str
    parameters: str
    responses: dict[str, str]
    description: str = ""
    body: dict[str, str] = field(default_factory=dict)


def response(spec: str) -> Json:
    kind, _, description = spec.partition(" ")
    if kind == "-":
        return {"description": description}
    media, schema = MEDIA.get(kind) or ("application/json", {"$ref": REF.format(name=kind)})
    return {"description": description, "content": {media: {"schema": schema}}}


def badge_op(fmt: str) -> Op:
    baked = "one element in our namespace right after <svg>" if fmt == "svg" else "an iTXt chunk"
    return Op(
        "get",
        f"/b/{{id}}.{fmt}",
        "badge",
        f"The live badge as {fmt.upper()}",
        "id badge-lang badge-size d" + (" scale" if fmt == "png" else ""),
        {
            "200": f"{fmt} The badge.",
            "304": "- Not modified (If-None-Match matched the ETag).",
            "400": f"{fmt} A bad query parameter; the body is an error badge.",
            "404": f"{fmt} Unknown id; the body is the neutral badge.",
            "503": f"{fmt} The register is unreachable and the cached state too old.",
        },
        "Reflects the shop's current state: only `certified` shows the thumbs-up. A signed "
        f"compact JWS (EdDSA) is baked in as {baked}. Strong ETag, `Cache-Control: public` "
        "with max-age and stale-while-revalidate. HEAD works too.",
    )


_VERIFY_BODIES: Final = {
    "image/svg+xml": "file",
    "image/png": "file",
    "application/json": "TokenBody",
    "multipart/form-data": "UploadForm",
    "application/x-www-form-urlencoded": "UploadForm",
}
_REFUSED: Final = "`error` is set"
_BAD: Final = "Error Invalid JSON, unknown field, wrong type or invalid value."
_NO_SHOP: Final = "Error No shop with this id."
_NO_REPORT: Final = "Error No report with this id."
_TOO_LARGE: Final = "Error Body larger than 64 KB."
_NOT_JSON: Final = "Error Body is not JSON (application/merge-patch+json is accepted)."
_TAKEN: Final = "Error A domain is already registered to another shop, or looks like one."

# fmt: off
OPS: Final = (
    badge_op("svg"),
    badge_op("png"),
    Op("get", "/v/{id}", "pages", "The verification page", "id lang",
       {"200": "html The page.", "404": "html Unknown id."},
       "Server-rendered in the visitor's language; says whether the referring site is a "
       "registered domain of the shop. No cookies, strict CSP."),
    Op("post", "/v/{id}/report", "pages", "A consumer reports a site (the form on /v/{id})",
       "id lang",
       {"201": "html Thank you, with the report's reference.",
        "400": "html The site or note is invalid.",
        "403": "html Foreign Origin, or an expired or foreign form token.",
        "404": "html Unknown id.", "413": "html More than 8 KB."},
       "No cookies: a browser's `Origin` must be this service, and `token` is the signed, "
       "expiring form token from the page.",
       {"application/x-www-form-urlencoded": "ReportForm"}),
    Op("get", "/verify", "pages", "Look a shop up by domain or name", "domain q lang",
       {"200": "html The lookup page, with results."}),
    Op("post", "/verify", "pages", "Check a saved badge image or a pasted token", "lang",
       {"200": "html The verdict.", "400": "html Nothing to check, or an unreadable form.",
        "413": "html Upload too large.", "415": "html Not a PNG or SVG file.",
        "422": "html Not a badge we can check."},
       body={"multipart/form-data": "UploadForm"}),
    Op("get", "/api/v1/shops/{id}", "public API", "A shop's live public state", "id",
       {"200": "PublicShop The shop.", "404": "Error Unknown id.",
        "503": "Error The register is unreachable."}),
    Op("get", "/api/v1/lookup", "public API", "Find the shop a domain is registered to",
       "lookup-domain",
       {"200": "Lookup The domain's shop.", "400": "Error Missing or invalid domain.",
        "404": "LookupMiss Not a registered domain."}),
    Op("post", "/api/v1/verify", "public API", "Check a badge file or token", "",
       {"200": "Verdict The verdict, also when not genuine.",
        "400": f"Verdict Bad JSON or an unreadable form; {_REFUSED}.",
        "413": f"Verdict Upload too large; {_REFUSED}.",
        "415": f"Verdict Empty body, or not SVG, PNG or JSON; {_REFUSED}.",
        "422": f"Verdict Not a badge; {_REFUSED}."},
       "Send the badge file itself, JSON with its token, or the same multipart form as "
       "`POST /verify` (field `file`, or `token`).", _VERIFY_BODIES),
    Op("options", "/api/v1/verify", "public API", "CORS preflight", "",
       {"204": "- Allowed from any origin."}),
    Op("get", "/.well-known/jwks.json", "public API", "Public keys that verify badge signatures",
       "", {"200": "Jwks The key set."},
       "Retired keys stay until the last badge they signed expires."),
    Op("get", "/embed.js", "embedding", "The script embed loader", "",
       {"200": "js JavaScript, with a strong ETag.", "304": "- Not modified."},
       'Use as `<script src=".../embed.js" data-shop="{id}" data-lang="nl" data-size="m" '
       "async>`. Under 2 KB, no cookies, no inline code or eval; inserts a fixed-size badge "
       "and passes the page's host as `d`."),
    Op("get", "/embed/{id}", "embedding", "The embed code page for a shop owner",
       "id lang size", {"200": "html Both snippets and a preview.", "404": "html Unknown id."}),
    Op("get", "/", "pages", "The home page", "lang", {"200": "html The home page."},
       "What the service is, shop lookup, badge check, embedding and where the APIs are."),
    Op("get", "/favicon.ico", "pages", "The site icon, for browsers that ask by this name",
       "", {"200": "ico An ICO file."}),
    Op("get", "/static/{path}", "pages", "Stylesheets and images for the pages", "path",
       {"200": "- The file.", "404": "- No such file."}),
    Op("get", "/healthz", "operations", "Liveness", "", {"200": "text The process answers."}),
    Op("get", "/readyz", "operations", "Readiness: the registry answers, the feed is fresh",
       "", {"200": "Readiness Ready.", "503": "Readiness Not ready; `checks` says why."}),
    Op("get", "/metrics", "operations", "Prometheus metrics", "",
       {"200": "text Text exposition format."}),
    Op("get", "/openapi.json", "operations", "This document", "",
       {"200": "object OpenAPI 3.1."}),
    Op("get", f"{PREFIX}/shops", "admin", "List shops", "limit offset",
       {"200": "ShopList A page of shops, by name.", "400": _BAD}),
    Op("post", f"{PREFIX}/shops", "admin", "Register a shop", "",
       {"201": "Shop Created.", "409": _TAKEN},
       "Check digits, date order and look-alike domains are the registry's rules: a 400 "
       "(or 409) names what to fix.", {"application/json": "NewShop"}),
    Op("get", f"{PREFIX}/shops/{{id}}", "admin", "One shop", "id",
       {"200": "Shop The shop.", "404": _NO_SHOP}),
    Op("patch", f"{PREFIX}/shops/{{id}}", "admin", "Update or renew a shop", "id",
       {"200": "Shop The updated shop.", "404": _NO_SHOP, "409": _TAKEN},
       "Every change needs a `reason`; the history keeps it with the actor and each "
       "field's old and new value.", {"application/json": "ShopUpdate"}),
    Op("post", f"{PREFIX}/shops/{{id}}/state", "admin",
       "Certify, suspend or revoke, with a reason", "id",
       {"200": "StateChanged The recorded event and the shop.", "404": _NO_SHOP,
        "409": "Error The procedure does not allow this transition."},
       "Suspending, revoking and certifying again are events in the history; renewing is an "
       "update (a new valid_until).", {"application/json": "StateChange"}),
    Op("get", f"{PREFIX}/shops/{{id}}/history", "admin",
       "The append-only history of state events", "id",
       {"200": "History Oldest first.", "404": _NO_SHOP}),
    Op("get", f"{PREFIX}/shops/{{id}}/sightings", "admin", "Where this shop's badge was shown",
       "id", {"200": "ShopSightings Hosts, from Referer or `d`, most seen first.",
              "404": _NO_SHOP}),
    *(Op(*spec) for spec in openapi_proofs.SPECS),
    Op("get", f"{PREFIX}/sightings", "admin",
       "Badge sightings; `?unregistered=1` is the misuse report", "unregistered",
       {"200": "Sightings Most seen first, at most 1000.", "400": _BAD}),
    Op("get", f"{PREFIX}/reports", "admin",
       "Consumers' reports of suspicious sites, newest first", "status shop_id limit",
       {"200": "Reports At most `limit` reports.", "400": _BAD}),
    Op("get", f"{PREFIX}/reports/{{report_id}}", "admin", "One report", "report_id",
       {"200": "Report The report.", "404": _NO_REPORT}),
    Op("post", f"{PREFIX}/reports/{{report_id}}/close", "admin",
       "Close a report, saying what was done", "report_id",
       {"200": "Report The closed report.", "404": _NO_REPORT,
        "409": "Error The report is already closed."}, body={"application/json": "ReportClose"}),
    Op("get", f"{PREFIX}/reports/summary", "admin",
       "Counts per state, shops expiring within 30 days, misuse hosts", "",
       {"200": "Summary The summary."}),
)
# fmt: on

_UNAUTHORIZED: Final[Json] = {
    **response("Error Missing or unknown bearer token."),
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
}
_NO_STORE: Final[Json] = {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}}}
_LIMITED: Final[Json] = {
    "description": "Too many requests from this client; try again after Retry-After.",
    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
}


def operation(op: Op, refs: dict[str, Json]) -> Json:
    specs = dict(op.responses)
    if "application/json" in op.body and op.tag == "admin":
        # Every admin body is read by badge/admin/body.py, with these refusals.
        specs = {**specs, "400": _BAD, "413": _TOO_LARGE, "415": _NOT_JSON}
    responses = {code: response(spec) for code, spec in sorted(specs.items())}
    # A route that counts against a rate limit (with a query: a lookup, not its empty form).
    if rules_for(op.path).bucket(op.method.upper(), b"q"):
        responses["429"] = _LIMITED
    described: Json = {"tags": [op.tag], "summary": op.summary, "responses": responses}
    if op.description:
        described["description"] = op.description
    if op.parameters:
        names = op.parameters.split()
        described["parameters"] = [{"name": n.split("-")[-1], **PARAMETERS[n]} for n in names]
    if op.body:
        content = {media: {"schema": body_schema(name, refs)} for media, name in op.body.items()}
        described["requestBody"] = {"required": True, "content": content}
    if op.tag == "admin":
        for code, answer in responses.items():
            if code.startswith("2"):
                answer["headers"] = {**answer.get("headers", {}), **_NO_STORE}
        if "201" in responses:
            responses["201"]["headers"]["Location"] = {"schema": {"type": "string"}}
        responses["401"] = _UNAUTHORIZED
        described["security"] = [{"adminToken": []}]
    return described


def body_schema(name: str, refs: dict[str, Json]) -> Json:
    if name == "file":
        return _BINARY
    return refs.get(name) or {"$ref": REF.format(name=name)}


def components() -> tuple[dict[str, Json], dict[str, Json]]:
    """(references by model name, with what a reference adds; the schemas themselves)."""
    models = api_models.MODELS
    refs, found = msgspec.json.schema_components(models, ref_template=REF)
    return dict(zip(map(_name, models), refs, strict=True)), found


def _name(model: object) -> str:
    """A model's name; an `Annotated[Model, Meta(...)]` is named after its model."""
    args = typing.get_args(model)
    return typing.cast(type, args[0] if args else model).__name__


def openapi_document(public_url: str) -> Json:
    refs, found = components()
    paths: dict[str, Json] = {}
    for op in OPS:
        paths.setdefault(op.path, {})[op.method] = operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "BeCommerce Keurmerk badge service",
            "version": "1",
            "summary": "Live, signed trustmark badges for BeCommerce-certified webshops.",
            "description": "Badges, verification pages and APIs for consumers and platforms, "
            "the embed loader for webshops, and the operators' admin API.",
        },
        "servers": [{"url": public_url}],
        "tags": [
            {"name": "badge", "description": "The badge images, on every shop page view."},
            {"name": "pages", "description": "Server-rendered pages for consumers."},
            {"name": "public API", "description": "The same answers as JSON."},
            {"name": "embedding", "description": "What webshops put on their pages."},
            {"name": "admin", "description": "BeCommerce operators (bearer token)."},
            {"name": "operations", "description": "Health, readiness and metrics."},
        ],
        "paths": paths,
        "components": {
            "schemas": found,
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `badge tokens create NAME`; stored hashed.",
                }
            },
        },
    }


class OpenApi:
    def __init__(self) -> None:
        self._cached: dict[str, tuple[bytes, str]] = {}

    def render(self, public_url: str) -> tuple[bytes, str]:
        found = self._cached.get(public_url)
        if found is None:
            document = openapi_document(public_url)
            body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
            found = self._cached[public_url] = (body, strong_etag(body).decode())
        return found

    async def serve(self, request: Request) -> Response:
        body, etag = self.render(app_state(request)["settings"].public_url)
        # Its Cache-Control is the route table's.
        headers = {
            "etag": etag,
            "access-control-allow-origin": "*",
            "x-content-type-options": "nosniff",
        }
        return conditional(request, body, "application/json", headers)
