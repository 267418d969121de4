"""The OpenAPI operations and parameters of the domain ownership routes, as data that
badge/web/openapi.py turns into `Op`s (kept apart so the document's module stays a map)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from badge.web import patterns
from badge.web.routes import ADMIN_PREFIX as PREFIX

_BAD: Final = "Error Invalid JSON, unknown field, wrong type or invalid value."
_NO_SHOP: Final = "Error No shop with this id."
_NO_DOMAIN: Final = "Error No shop with this id, or not one of its domains."
_ONE: Final = f"{PREFIX}/shops/{{id}}/domains/{{domain}}"

# (method, path, tag, summary, parameters, responses[, description[, body]]), as for Op.
# fmt: off
SPECS: Final[tuple[tuple[Any, ...], ...]] = (
    ("get", f"{PREFIX}/domains", "admin", "Every registered domain's ownership proof",
     "attention", {"200": "DomainProofs By shop, in each shop's order.", "400": _BAD}),
    ("get", f"{PREFIX}/shops/{{id}}/domains", "admin", "A shop's ownership proofs", "id",
     {"200": "DomainProofs In the shop's order.", "404": _NO_SHOP}),
    ("get", f"{_ONE}/challenge", "admin",
     "What the shop publishes to prove it owns the domain", "id path-domain",
     {"200": "Challenge A TXT record at dns_name holding dns_value, or the file at "
             "http_url holding http_body.", "404": _NO_DOMAIN}),
    ("post", f"{_ONE}/check", "admin",
     "Check ownership now (DNS, then the well-known file)", "id path-domain",
     {"200": "DomainChecked The proof after the check, recorded in the history.",
      "404": _NO_DOMAIN},
     "Takes up to a few seconds: a DNS lookup and an HTTPS fetch, each bounded."),
    ("post", f"{_ONE}/attest", "admin",
     "Attest ownership checked another way, with a reason", "id path-domain",
     {"200": "DomainProof The proof, now proven by attestation.", "404": _NO_DOMAIN},
     "Audited with the actor; shown as confirmed by BeCommerce, never as a technical "
     "proof.", {"application/json": "Attestation"}),
)
# fmt: on

Json = dict[str, Any]


def parameters(path: Callable[[str, str], Json], query: Callable[..., Json]) -> dict[str, Json]:
    return {
        "path-domain": path(
            patterns.DOMAIN_PATTERN,
            "A registered domain of the shop, in its ASCII (punycode) form.",
        ),
        "attention": query(
            {"type": "string", "enum": list(patterns.FLAGS)},
            "Only domains whose ownership is not proven (pending, lost, registered before proofs).",
        ),
    }
