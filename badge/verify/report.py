"""Consumers report a site: the form on /v/{id}, without JavaScript and without cookies.

Cross-site forgery is stopped without a cookie in two ways:
- a browser sends `Origin` on a form POST; one that is not ours is refused;
- the form carries a short-lived token, signed with the badge keys and bound to the shop,
  so a report can only follow a visit of that shop's verification page.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from badge.errors import BadRequest, Forbidden, NotFound
from badge.platform.http import read_body
from badge.registry import rules
from badge.state import app_state
from badge.verify import lookup
from badge.verify.formtoken import check_form_token
from badge.verify.pages import html, request_lang, switcher

MAX_FORM_BYTES: Final = 8 * 1024
# token, site, referrer and note, with room to spare; more is not our form.
MAX_FORM_FIELDS: Final = 8


def check_origin(request: Request, public_url: str) -> None:
    """A browser's `Origin` on a POST must be ours; `null` (an opaque origin) is not."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser, or an old one: the signed form token still has to match
    ours = {_origin(public_url), f"{request.url.scheme}://{request.headers.get('host', '')}"}
    if origin.rstrip("/").lower() not in ours:
        raise Forbidden("reports are accepted only from the form on our own pages")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _form(body: bytes) -> dict[str, str]:
    """The report form's fields; a body with more fields than the form has is refused."""
    try:
        return dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=MAX_FORM_FIELDS))
    except ValueError:
        raise BadRequest(
            f"the report form has at most {MAX_FORM_FIELDS} fields; send it from the shop's page"
        ) from None


async def submit_report(request: Request) -> Response:
    """POST /v/{id}/report: store a consumer's report, answer with a thank-you page."""
    state = app_state(request)
    lang = request_lang(request)
    shop_id = str(request.path_params["shop_id"])
    check_origin(request, state["settings"].public_url)
    body = await read_body(request, MAX_FORM_BYTES, too_large="the report is too long")
    form = _form(body)
    entry = await lookup.live_entry(state, shop_id)
    if entry.shop is None:
        raise NotFound("no shop with this id is in the Keurmerk register")
    check_form_token(state["keys"], form.get("token", ""), shop_id)
    report = rules.validate_report(
        shop_id,
        form.get("site", ""),
        form.get("referrer") or None,
        form.get("note", ""),
        lang,
    )
    registry = state["registry"]
    stored = await lookup.ask_registry(state, lambda: registry.add_report(report))
    context = {
        "switcher": switcher(request.url.path, {}, lang),
        "shop": entry.shop,
        "site": rules.unicode_domain(stored.host),
        "reference": stored.id,
    }
    return html(lang, "reported.html", context, status=201, cache="no-store", vary="")
