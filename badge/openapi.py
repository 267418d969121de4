"""`GET /openapi.json`: the public contract as a hand-maintained OpenAPI 3.1 document.

Written by hand, not generated, because most of our routes are not JSON handlers (images,
HTML pages, a pure-ASGI fast path). tests/test_openapi.py keeps it in step with the routes.
"""

from __future__ import annotations

import json
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from badge.http import conditional, strong_etag
from badge.i18n import LANGS
from badge.ratelimit import bucket_for
from badge.registry.model import CATEGORIES, PUBLIC_STATES, STATES
from badge.registry.rules import MAX_DOMAINS, MAX_NAME, MAX_REASON
from badge.render.svg import SIZES
from badge.state import app_state

Json = dict[str, Any]

ID_PATTERN: Final = "^[a-z2-9]{16}$"


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: Json, description: str) -> Json:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(description: str) -> Json:
    return json_body(ref("Error"), description)


def html_page(description: str) -> Json:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def nullable(schema: Json) -> Json:
    return {"oneOf": [schema, {"type": "null"}]}


def query(name: str, schema: Json, description: str, *, required: bool = False) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


SHOP_ID: Final[Json] = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The shop's public id: 16 characters from a-z and 2-9 (no look-alikes).",
}
REPORT_ID: Final[Json] = {
    "name": "report_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "The report's id: `r` and 16 characters from a-z and 2-9.",
}
LANG: Final = query(
    "lang", {"type": "string", "enum": list(LANGS)}, "Language; default Accept-Language, then nl."
)
SIZE: Final = query(
    "size",
    {"type": "string", "enum": list(SIZES), "default": "m"},
    "Badge size: " + ", ".join(f"{k} = {w}×{h}" for k, (w, h) in SIZES.items()) + " px.",
)
DATE: Final[Json] = {"type": "string", "format": "date"}
MOMENT: Final[Json] = {"type": "string", "format": "date-time"}
NO_STORE: Final[Json] = {"Cache-Control": {"schema": {"type": "string", "const": "no-store"}}}


def badge_operation(fmt: str) -> Json:
    media = "image/svg+xml" if fmt == "svg" else "image/png"
    parameters = [
        SHOP_ID,
        {**LANG, "description": "Badge language; default nl."},
        SIZE,
        query(
            "d",
            {"type": "string", "minLength": 1, "maxLength": 253},
            "Host name of the page showing the badge (the script embed sends it). When it is "
            "not a registered domain of the shop, the badge says it is not valid for this site.",
        ),
    ]
    if fmt == "png":
        parameters.append(
            query("scale", {"type": "integer", "enum": [1, 2, 3], "default": 1}, "Pixel ratio.")
        )
    image = {media: {"schema": {"type": "string", "format": "binary"}}}
    baked = (
        "one element in the Keurmerk namespace right after <svg>"
        if fmt == "svg"
        else "one iTXt chunk"
    )
    return {
        "tags": ["badge"],
        "summary": f"The live badge as {fmt.upper()}",
        "description": (
            "Reflects the shop's current state: only `certified` shows the thumbs-up. "
            f"A signed compact JWS (EdDSA) is baked in as {baked}. Strong ETag, "
            "`Cache-Control: public` with max-age and stale-while-revalidate. HEAD works too."
        ),
        "parameters": parameters,
        "responses": {
            "200": {"description": "The badge.", "content": image},
            "304": {"description": "Not modified (If-None-Match matched the ETag)."},
            "400": {
                "description": "A bad query parameter; the body is an error badge.",
                "content": image,
            },
            "404": {"description": "Unknown id; the body is the neutral badge.", "content": image},
            "503": {
                "description": "The register is unreachable and the cached state too old; "
                "the body is the neutral badge.",
                "content": image,
            },
        },
    }


def schemas() -> Json:
    state_enum = {"type": "string", "enum": list(PUBLIC_STATES)}
    stored_state = {"type": "string", "enum": list(STATES)}
    category = {"type": "string", "enum": list(CATEGORIES)}
    string_list = {"type": "array", "items": {"type": "string"}}
    # Input domains: an empty string is refused (found by schemathesis).
    domain_list = {"type": "array", "items": {"type": "string", "minLength": 1}}
    return {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "description": "A stable code, e.g. `invalid`."},
                "message": {"type": "string", "description": "What went wrong, for people."},
            },
        },
        "PublicShop": {
            "type": "object",
            "required": ["id", "display_name", "state", "certified_now", "domains"],
            "properties": {
                "id": {"type": "string", "pattern": ID_PATTERN},
                "display_name": {"type": "string"},
                "legal_name": {"type": "string"},
                "enterprise_number": {"type": "string", "examples": ["0123.456.749"]},
                "domains": string_list,
                "categories": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"id": category, "colour": {"type": "string"}},
                    },
                },
                "state": state_enum,
                "state_since": MOMENT,
                "certified_now": {"type": "boolean"},
                "certified_since": nullable(DATE),
                "valid_until": nullable(DATE),
                "last_audit": nullable(DATE),
                "verify_url": {"type": "string", "format": "uri"},
                "badge": {
                    "type": "object",
                    "properties": {
                        "svg": {"type": "string", "format": "uri"},
                        "png": {"type": "string", "format": "uri"},
                    },
                },
            },
        },
        "Lookup": {
            "allOf": [
                ref("PublicShop"),
                {
                    "type": "object",
                    "required": ["found", "domain"],
                    "properties": {"found": {"const": True}, "domain": {"type": "string"}},
                },
            ]
        },
        "LookupMiss": {
            "type": "object",
            "required": ["found", "domain", "certified_now", "error", "message"],
            "properties": {
                "found": {"const": False},
                "domain": {"type": "string"},
                "certified_now": {"const": False},
                "error": {"type": "string"},
                "message": {"type": "string"},
            },
        },
        "Verdict": {
            "type": "object",
            "required": ["genuine", "shop_id", "expired", "certified_now", "reason"],
            "properties": {
                "genuine": {"type": "boolean", "description": "The signature is ours."},
                "shop_id": nullable({"type": "string"}),
                "shop_name": nullable({"type": "string"}),
                "domains": string_list,
                "issued_at": nullable(MOMENT),
                "expires_at": nullable(MOMENT),
                "expired": {"type": "boolean"},
                "state_then": nullable({"type": "string"}),
                "state_now": nullable(state_enum),
                "certified_now": {"type": "boolean"},
                "reason": {"type": "string"},
                "variant": nullable(
                    {
                        "type": "string",
                        "enum": ["certified", "mismatch", "neutral", "not_certified"],
                        "description": "What the badge showed where it was served: only "
                        "`certified` vouched for a site (`site`).",
                    }
                ),
                "site": nullable({"type": "string"}),
                "error": {
                    "type": "string",
                    "description": "Only when the file or token was refused unchecked.",
                },
            },
        },
        "Jwks": {
            "type": "object",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "crv", "x", "kid"],
                        "properties": {
                            "kty": {"const": "OKP"},
                            "crv": {"const": "Ed25519"},
                            "x": {"type": "string"},
                            "kid": {"type": "string", "description": "RFC 7638 thumbprint."},
                            "alg": {"const": "EdDSA"},
                            "use": {"const": "sig"},
                        },
                    },
                }
            },
        },
        "Shop": {
            "type": "object",
            "description": "A shop as operators see it.",
            "required": ["id", "display_name", "state", "stored_state", "domains"],
            "properties": {
                "id": {"type": "string", "pattern": ID_PATTERN},
                "display_name": {"type": "string"},
                "legal_name": {"type": "string"},
                "enterprise_number": {"type": "string"},
                "domains": string_list,
                "categories": {"type": "array", "items": category},
                "state": {**state_enum, "description": "Public state; `expired` is derived."},
                "stored_state": stored_state,
                "state_since": MOMENT,
                "certified_since": nullable(DATE),
                "valid_until": nullable(DATE),
                "last_audit": nullable(DATE),
                "created_at": MOMENT,
                "updated_at": MOMENT,
            },
        },
        "ShopList": {
            "type": "object",
            "required": ["shops", "total", "limit", "offset"],
            "properties": {
                "shops": {"type": "array", "items": ref("Shop")},
                "total": {"type": "integer"},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
            },
        },
        "NewShop": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "legal_name", "enterprise_number", "domains"],
            "properties": {
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_NAME,
                    "description": "Display name (`display_name` is accepted too).",
                },
                "legal_name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                "enterprise_number": {
                    "type": "string",
                    "description": "KBO/BCE number, e.g. 0123.456.749; the check digits count.",
                },
                "domains": {
                    **domain_list,
                    "minItems": 1,
                    "maxItems": MAX_DOMAINS,
                    "description": "Normalised: lower case, punycode, no `www.`.",
                },
                "categories": {"type": "array", "items": category},
                "state": {**stored_state, "default": "certified"},
                "certified_since": DATE,
                "valid_until": DATE,
                "last_audit": DATE,
            },
        },
        "ShopUpdate": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 2,
            "required": ["reason"],
            "description": "Only the fields sent change. The state changes through /state. "
            "Every change needs a `reason`; the history keeps it with the actor and each "
            "field's old and new value. A new `valid_until` renews the certification.",
            "properties": {
                "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON},
                "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                "legal_name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME},
                "enterprise_number": {"type": "string"},
                "domains": {**domain_list, "minItems": 1, "maxItems": MAX_DOMAINS},
                "categories": {"type": "array", "items": category},
                "certified_since": DATE,
                "valid_until": DATE,
                "last_audit": DATE,
            },
        },
        "StateChange": {
            "type": "object",
            "additionalProperties": False,
            "required": ["state", "reason"],
            "properties": {
                "state": stored_state,
                "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON},
            },
        },
        "Report": {
            "type": "object",
            "required": ["id", "shop_id", "host", "status", "created_at"],
            "properties": {
                "id": {"type": "string", "pattern": "^r[a-z2-9]{16}$"},
                "shop_id": {"type": "string"},
                "host": {"type": "string", "description": "The reported site (domain or IP)."},
                "referrer": nullable({"type": "string"}),
                "note": {"type": "string", "maxLength": 1000},
                "lang": {"type": "string"},
                "created_at": MOMENT,
                "status": {"type": "string", "enum": ["open", "closed"]},
                "closed_at": nullable(MOMENT),
                "closed_by": nullable({"type": "string"}),
                "resolution": nullable({"type": "string"}),
            },
        },
        "ReportClose": {
            "type": "object",
            "additionalProperties": False,
            "required": ["resolution"],
            "properties": {
                "resolution": {"type": "string", "minLength": 1, "maxLength": MAX_REASON},
            },
        },
        "Event": {
            "type": "object",
            "properties": {
                "seq": {"type": "integer"},
                "shop_id": {"type": "string"},
                "at": MOMENT,
                "actor": {"type": "string", "examples": ["api:crm", "cli:alice"]},
                "from": nullable(stored_state),
                "to": stored_state,
                "reason": {"type": "string"},
                "changes": {
                    "type": ["object", "null"],
                    "description": "For an edit of the record: field -> {from, to}; "
                    "null for a change of state or a registration.",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"from": {}, "to": {}},
                    },
                },
            },
        },
        "StateChanged": {
            "type": "object",
            "properties": {"event": ref("Event"), "shop": ref("Shop")},
        },
        "History": {
            "type": "object",
            "properties": {
                "shop_id": {"type": "string"},
                "events": {"type": "array", "items": ref("Event")},
            },
        },
        "Sighting": {
            "type": "object",
            "properties": {
                "shop_id": {"type": "string"},
                "shop_name": nullable({"type": "string"}),
                "host": {"type": "string"},
                "source": {
                    "type": "string",
                    "enum": ["referer", "claim"],
                    "description": "`referer`: the page that showed the badge, as the browser "
                    "said; `claim`: what `d=` said. Referer rows come first.",
                },
                "registered": {"type": "boolean"},
                "first_seen": MOMENT,
                "last_seen": MOMENT,
                "count": {"type": "integer"},
            },
        },
        "Summary": {
            "type": "object",
            "properties": {
                "as_of": DATE,
                "total": {"type": "integer"},
                "by_state": {
                    "type": "object",
                    "additionalProperties": {"type": "integer"},
                    "description": "Shops per public state.",
                },
                "expiring_within_30_days": {
                    "type": "object",
                    "properties": {
                        "count": {"type": "integer"},
                        "shops": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "display_name": {"type": "string"},
                                    "valid_until": DATE,
                                },
                            },
                        },
                    },
                },
                "unregistered_sighting_hosts": {"type": "integer"},
            },
        },
    }


def admin_paths() -> Json:
    common = {
        "401": {
            **error("Missing or unknown bearer token."),
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        },
    }

    def op(summary: str, ok: Json, *errors: tuple[str, str], **extra: Any) -> Json:
        responses = {
            **{code: {**body, "headers": NO_STORE} for code, body in ok.items()},
            **common,
            **{code: error(text) for code, text in errors},
        }
        security: list[dict[str, list[str]]] = [{"adminToken": []}]
        return {
            "tags": ["admin"],
            "summary": summary,
            "security": security,
            "responses": responses,
            **extra,
        }

    def body(name: str) -> Json:
        return {
            "required": True,
            "content": {"application/json": {"schema": ref(name)}},
            "description": "JSON only (415 otherwise), at most 64 KB (413); unknown fields "
            "and wrong types are a 400.",
        }

    bad = ("400", "Invalid JSON, unknown field, wrong type or invalid value.")
    missing = ("404", "No shop with this id.")
    by_id = {"parameters": [SHOP_ID]}
    return {
        "/admin/api/v1/shops": {
            "get": op(
                "List shops",
                {"200": json_body(ref("ShopList"), "A page of shops, by name.")},
                bad,
                parameters=[
                    query(
                        "limit",
                        {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100},
                        "Page size.",
                    ),
                    query(
                        "offset",
                        {"type": "integer", "minimum": 0, "maximum": 1_000_000_000, "default": 0},
                        "Skip.",
                    ),
                ],
            ),
            "post": op(
                "Register a shop",
                {
                    "201": {
                        **json_body(ref("Shop"), "Created."),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    }
                },
                bad,
                ("409", "A domain is already registered to another shop."),
                ("413", "Body larger than 64 KB."),
                ("415", "Body is not JSON."),
                requestBody=body("NewShop"),
            ),
        },
        "/admin/api/v1/shops/{id}": {
            **by_id,
            "get": op("One shop", {"200": json_body(ref("Shop"), "The shop.")}, missing),
            "patch": op(
                "Update or renew a shop",
                {"200": json_body(ref("Shop"), "The updated shop.")},
                bad,
                missing,
                (
                    "409",
                    "A domain is already registered to another shop, or looks like one.",
                ),
                ("413", "Body larger than 64 KB."),
                ("415", "Body is not JSON (application/merge-patch+json is accepted)."),
                requestBody=body("ShopUpdate"),
            ),
        },
        "/admin/api/v1/shops/{id}/state": {
            **by_id,
            "post": op(
                "Certify, suspend or revoke, with a reason",
                {"200": json_body(ref("StateChanged"), "The recorded event and the shop.")},
                bad,
                missing,
                ("409", "The procedure does not allow this transition."),
                ("415", "Body is not JSON."),
                requestBody=body("StateChange"),
            ),
        },
        "/admin/api/v1/shops/{id}/history": {
            **by_id,
            "get": op(
                "The append-only history of state events",
                {"200": json_body(ref("History"), "Oldest first.")},
                missing,
            ),
        },
        "/admin/api/v1/shops/{id}/sightings": {
            **by_id,
            "get": op(
                "Where this shop's badge was shown",
                {
                    "200": json_body(
                        {
                            "type": "object",
                            "properties": {
                                "shop_id": {"type": "string"},
                                "sightings": {"type": "array", "items": ref("Sighting")},
                            },
                        },
                        "Hosts, from Referer or `d`, most seen first.",
                    )
                },
                missing,
            ),
        },
        "/admin/api/v1/sightings": {
            "get": op(
                "Badge sightings; `?unregistered=1` is the misuse report",
                {
                    "200": json_body(
                        {
                            "type": "object",
                            "properties": {
                                "unregistered_only": {"type": "boolean"},
                                "sightings": {"type": "array", "items": ref("Sighting")},
                            },
                        },
                        "Most seen first, at most 1000.",
                    )
                },
                bad,
                parameters=[
                    query(
                        "unregistered",
                        {"type": "string", "enum": ["0", "1", "true", "false"]},
                        "Only hosts that are not a registered domain of the shop.",
                    ),
                ],
            ),
        },
        "/admin/api/v1/reports": {
            "get": op(
                "Consumers' reports of suspicious sites, newest first",
                {
                    "200": json_body(
                        {
                            "type": "object",
                            "properties": {
                                "reports": {"type": "array", "items": ref("Report")},
                            },
                        },
                        "At most `limit` reports.",
                    )
                },
                bad,
                parameters=[
                    query("status", {"type": "string", "enum": ["open", "closed"]}, "Filter."),
                    query("shop_id", {"type": "string"}, "Only this shop's reports."),
                    query(
                        "limit",
                        {"type": "integer", "minimum": 0, "maximum": 1000, "default": 100},
                        "At most this many.",
                    ),
                ],
            ),
        },
        "/admin/api/v1/reports/{report_id}": {
            "parameters": [REPORT_ID],
            "get": op(
                "One report",
                {"200": json_body(ref("Report"), "The report.")},
                ("404", "No report with this id."),
            ),
        },
        "/admin/api/v1/reports/{report_id}/close": {
            "parameters": [REPORT_ID],
            "post": op(
                "Close a report, saying what was done",
                {"200": json_body(ref("Report"), "The closed report.")},
                bad,
                ("404", "No report with this id."),
                ("409", "The report is already closed."),
                ("415", "Body is not JSON."),
                requestBody=body("ReportClose"),
            ),
        },
        "/admin/api/v1/reports/summary": {
            "get": op(
                "Counts per state, shops expiring within 30 days, misuse hosts",
                {"200": json_body(ref("Summary"), "The summary.")},
            ),
        },
    }


def public_paths() -> Json:
    text = {"text/plain": {"schema": {"type": "string"}}}
    public_shop = ref("PublicShop")
    return {
        "/b/{id}.svg": {"get": badge_operation("svg")},
        "/b/{id}.png": {"get": badge_operation("png")},
        "/v/{id}": {
            "get": {
                "tags": ["pages"],
                "summary": "The verification page",
                "description": "Server-rendered in the visitor's language; says whether the "
                "referring site is a registered domain of the shop. No cookies, strict CSP.",
                "parameters": [SHOP_ID, LANG],
                "responses": {"200": html_page("The page."), "404": html_page("Unknown id.")},
            }
        },
        "/verify": {
            "get": {
                "tags": ["pages"],
                "summary": "Look a shop up by domain or name",
                "parameters": [
                    query("domain", {"type": "string"}, "A web address or host name."),
                    query("q", {"type": "string"}, "Part of a shop's name or domain."),
                    LANG,
                ],
                "responses": {"200": html_page("The lookup page, with results.")},
            },
            "post": {
                "tags": ["pages"],
                "summary": "Check a saved badge image or a pasted token",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "token": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": html_page("The verdict."),
                    "400": html_page("Nothing to check, or an unreadable form."),
                    "413": html_page("Upload too large."),
                    "422": html_page("Not a badge we can check."),
                },
            },
        },
        "/api/v1/shops/{id}": {
            "get": {
                "tags": ["public API"],
                "summary": "A shop's live public state",
                "parameters": [SHOP_ID],
                "responses": {
                    "200": json_body(public_shop, "The shop."),
                    "404": error("Unknown id."),
                    "503": error("The register is unreachable."),
                },
            }
        },
        "/api/v1/lookup": {
            "get": {
                "tags": ["public API"],
                "summary": "Find the shop a domain is registered to",
                "parameters": [
                    query(
                        "domain",
                        {"type": "string", "minLength": 1},
                        "A host name or URL.",
                        required=True,
                    )
                ],
                "responses": {
                    "200": json_body(ref("Lookup"), "The domain's shop."),
                    "400": error("Missing or invalid domain."),
                    "404": json_body(ref("LookupMiss"), "Not a registered domain."),
                },
            }
        },
        "/api/v1/verify": {
            "post": {
                "tags": ["public API"],
                "summary": "Check a badge file or token",
                "description": "Send the badge file itself, JSON with its token, or the same "
                "multipart form as `POST /verify` (field `file`, or `token`).",
                "requestBody": {
                    "required": True,
                    "content": {
                        "image/svg+xml": {"schema": {"type": "string", "format": "binary"}},
                        "image/png": {"schema": {"type": "string", "format": "binary"}},
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["token"],
                                "properties": {"token": {"type": "string"}},
                            }
                        },
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "token": {"type": "string"},
                                },
                            }
                        },
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["token"],
                                "properties": {"token": {"type": "string"}},
                            }
                        },
                    },
                },
                "responses": {
                    "200": json_body(ref("Verdict"), "The verdict, also when not genuine."),
                    "400": json_body(
                        ref("Verdict"), "Bad JSON or an unreadable form; `error` is set."
                    ),
                    "413": json_body(ref("Verdict"), "Upload too large; `error` is set."),
                    "415": json_body(
                        ref("Verdict"), "Empty body, or not SVG, PNG or JSON; `error` is set."
                    ),
                    "422": json_body(ref("Verdict"), "Not a badge; `error` is set."),
                },
            },
            "options": {
                "tags": ["public API"],
                "summary": "CORS preflight",
                "responses": {"204": {"description": "Allowed from any origin."}},
            },
        },
        "/.well-known/jwks.json": {
            "get": {
                "tags": ["public API"],
                "summary": "Public keys that verify badge signatures",
                "description": "Retired keys stay until the last badge they signed expires.",
                "responses": {"200": json_body(ref("Jwks"), "The key set.")},
            }
        },
        "/embed.js": {
            "get": {
                "tags": ["embedding"],
                "summary": "The script embed loader",
                "description": 'Use as `<script src=".../embed.js" data-shop="{id}" '
                'data-lang="nl" data-size="m" async>`. Under 2 KB, no cookies, no inline '
                "code or eval; inserts a fixed-size badge and passes the page's host as `d`.",
                "responses": {
                    "200": {
                        "description": "JavaScript, with a strong ETag.",
                        "content": {"text/javascript": {"schema": {"type": "string"}}},
                    },
                    "304": {"description": "Not modified."},
                },
            }
        },
        "/v/{id}/report": {
            "post": {
                "tags": ["pages"],
                "summary": "A consumer reports a site (the form on /v/{id})",
                "description": "No cookies: a browser's `Origin` must be this service, and "
                "`token` is the signed, expiring form token from the page.",
                "parameters": [SHOP_ID, LANG],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["token", "site"],
                                "properties": {
                                    "token": {"type": "string"},
                                    "site": {"type": "string", "maxLength": 2048},
                                    "referrer": {"type": "string"},
                                    "note": {"type": "string", "maxLength": 1000},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": html_page("Thank you, with the report's reference."),
                    "400": html_page("The site or note is invalid."),
                    "403": html_page("Foreign Origin, or an expired or foreign form token."),
                    "404": html_page("Unknown id."),
                    "413": html_page("More than 8 KB."),
                },
            }
        },
        "/embed/{id}": {
            "get": {
                "tags": ["embedding"],
                "summary": "The embed code page for a shop owner",
                "parameters": [SHOP_ID, LANG, SIZE],
                "responses": {
                    "200": html_page("Both snippets and a preview."),
                    "404": html_page("Unknown id."),
                },
            }
        },
        "/": {
            "get": {
                "tags": ["pages"],
                "summary": "The home page",
                "description": "What the service is, shop lookup, badge check, embedding and "
                "where the APIs are; in `?lang=` or the browser's language.",
                "parameters": [LANG],
                "responses": {"200": html_page("The home page.")},
            }
        },
        "/favicon.ico": {
            "get": {
                "tags": ["pages"],
                "summary": "The site icon, for browsers that ask for it by this name",
                "responses": {
                    "200": {
                        "description": "An ICO file.",
                        "content": {
                            "image/vnd.microsoft.icon": {
                                "schema": {"type": "string", "format": "binary"}
                            }
                        },
                    }
                },
            }
        },
        "/static/{path}": {
            "get": {
                "tags": ["pages"],
                "summary": "Stylesheets and images for the pages",
                "parameters": [
                    {"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "The file."},
                    "404": {"description": "No such file."},
                },
            }
        },
        "/healthz": {
            "get": {
                "tags": ["operations"],
                "summary": "Liveness",
                "responses": {"200": {"description": "The process answers.", "content": text}},
            }
        },
        "/readyz": {
            "get": {
                "tags": ["operations"],
                "summary": "Readiness: the registry answers and the change feed is fresh",
                "responses": {
                    "200": json_body({"type": "object"}, "Ready."),
                    "503": json_body({"type": "object"}, "Not ready; `checks` says why."),
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["operations"],
                "summary": "Prometheus metrics",
                "responses": {"200": {"description": "Text exposition format.", "content": text}},
            }
        },
        "/openapi.json": {
            "get": {
                "tags": ["operations"],
                "summary": "This document",
                "responses": {"200": json_body({"type": "object"}, "OpenAPI 3.1.")},
            }
        },
    }


def openapi_document(public_url: str) -> Json:
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
        "paths": with_rate_limits({**public_paths(), **admin_paths()}),
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `badge tokens create NAME`; stored hashed.",
                }
            },
        },
    }


def with_rate_limits(paths: Json) -> Json:
    """Add the 429 to every operation that badge/ratelimit.py counts."""
    limited = {
        "429": {
            "description": "Too many requests from this client; try again after Retry-After.",
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
        }
    }
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method in ("get", "post", "patch", "put", "delete") and (
                bucket_for(method.upper(), path, b"q" if path == "/verify" else b"") is not None
            ):
                operation["responses"] = {**operation["responses"], **limited}
    return paths


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
        headers = {
            "etag": etag,
            "cache-control": "public, max-age=300",
            "access-control-allow-origin": "*",
            "x-content-type-options": "nosniff",
        }
        return conditional(request, body, "application/json", headers)
