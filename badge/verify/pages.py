"""The consumer pages: /v/{id} for one shop's live Keurmerk, /verify to look up and check badges.

Server-rendered in the visitor's language, no JavaScript, no cookies, nothing from
other sites, and a CSP that allows only our own stylesheet and images.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from badge.i18n import LANG_NAMES, jinja_environment, negotiate
from badge.platform.caches import BoundedCache, CacheSet
from badge.platform.purge import surrogate_header_dict
from badge.platform.timeutil import BRUSSELS
from badge.registry import rules
from badge.registry.model import DomainStatus, Event, ProofState, Shop
from badge.registry.proofs import DEMO_ATTESTATION
from badge.state import AppServices, app_state
from badge.verify import lookup
from badge.verify.api import NOT_A_TOKEN, BadgeChecker, Refusal
from badge.verify.check import MAX_UPLOAD_BYTES, SCREENSHOT_MESSAGE
from badge.verify.formtoken import form_token
from badge.verify.verdict import Verdict
from badge.vocabulary import CATEGORY_COLOURS, LANGS, Lang, PublicState

CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    # Our own requests (the badge preview, the report form's POST and its Origin) need our
    # origin; nothing is sent to other sites.
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
MAX_ECHO: Final = 100
MAX_CACHED_PAGES: Final = 4096


def html(
    lang: Lang,
    template: str,
    context: dict[str, object],
    *,
    status: int = 200,
    cache: str = "no-cache",
    vary: str = "Accept-Language",
) -> HTMLResponse:
    body = jinja_environment(lang).get_template(template).render(context)
    headers = {**SECURITY_HEADERS, "cache-control": cache, "content-language": lang}
    if vary:
        headers["vary"] = vary
    return HTMLResponse(body, status_code=status, headers=headers)


def switcher(path: str, query: Mapping[str, str], current: Lang) -> list[dict[str, object]]:
    """Links to this page in every language, keeping the page's other query parameters."""
    kept = {k: v[: MAX_ECHO * 20] for k, v in query.items() if k in ("domain", "q")}
    return [
        {
            "lang": lang,
            "name": LANG_NAMES[lang],
            "url": f"{path}?{urlencode({**kept, 'lang': lang})}",
            "current": lang == current,
        }
        for lang in LANGS
    ]


def request_lang(request: Request) -> Lang:
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def shop_card(shop: Shop) -> dict[str, object]:
    """What a result list needs: enough to recognise the shop, and its live state."""
    return {
        "id": shop.id,
        "name": shop.display_name,
        "legal_name": shop.legal_name,
        "domains": [rules.shown_domain(d) for d in shop.domains],
        "state": lookup.public_state(shop),
    }


def echo(value: str) -> str:
    """User input shown back on a page: one line, short; escaping is the template's job."""
    text = " ".join(value.split())
    return text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 1] + "…"


def parse_moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class Pages:
    def __init__(
        self, checker: BadgeChecker, history: lookup.HistoryCache, caches: CacheSet
    ) -> None:
        self.checker = checker
        self.history = history
        # Rendered shop pages; a Starlette Response holds no per-request state, so it is reused.
        self.pages: BoundedCache[tuple[str, str | None, Lang, str | None], Response] = caches.new(
            "shop_pages", MAX_CACHED_PAGES
        )

    async def shop(self, request: Request) -> Response:
        state = app_state(request)
        lang = request_lang(request)
        path = request.url.path
        entry = await lookup.live_entry(state, str(request.path_params["shop_id"]))
        hosts = lookup.own_hosts(state["settings"].public_url, request.url.hostname)
        came_from = lookup.referrer_host(request.headers.get("referer"), hosts)
        base: dict[str, object] = {"switcher": switcher(path, {}, lang)}
        shop = entry.shop
        if shop is None:
            context = {**base, "came_from": came_from}
            return html(
                lang, "not_found.html", context, status=404, vary="Accept-Language, Referer"
            )
        # The token changes with every change of the shop or its state, so it keys the page.
        page_key = (shop.id, entry.token, lang, came_from)
        cached = self.pages.get(page_key)
        if cached is not None:
            return cached
        public = lookup.public_state(shop)
        events = await self.history.get(state, entry)
        referral = lookup.judge_referrer(came_from, shop)
        preview = {"lang": lang, "size": "l"}
        if referral is not None and referral.match == "mismatch":
            # The preview shows what that site's copy of the badge says: never "certified".
            preview["d"] = referral.host
        context = {
            **base,
            "shop": shop,
            "state": public,
            "since": lookup.state_since(shop, public),
            "referral": referral,
            "domains": [rules.shown_domain(d) for d in shop.domains],
            "websites": websites(shop),
            "attested": any(
                p.method == "attested" and p.note != DEMO_ATTESTATION
                for p in shop.proofs
                if p.state == "proven"
            ),
            "categories": [(c, CATEGORY_COLOURS[c]) for c in shop.categories],
            "history": history_rows(
                events, public, lookup.state_since(shop, public), shop.certified_since
            ),
            "badge_src": f"/b/{shop.id}.svg?{urlencode(preview)}",
            "report_token": form_token(state["keys"], shop.id),
            "complaints_url": state["settings"].complaints_url,
        }
        response = html(lang, "shop.html", context, vary="Accept-Language, Referer")
        response.headers.update(surrogate_header_dict(shop.id))
        # Only pages a shop's own visitors see are kept: a foreign Referer is anyone's to vary.
        if referral is None or referral.match == "ok":
            self.pages.put(page_key, response)
        return response

    async def lookup(self, request: Request) -> Response:
        state = app_state(request)
        lang = request_lang(request)
        query = request.query_params
        context: dict[str, object] = {
            "switcher": switcher("/verify", query, lang),
            "max_kb": MAX_UPLOAD_BYTES // 1024,
            "domain_input": echo(query.get("domain", "")),
            "q_input": echo(query.get("q", "")),
        }
        if "domain" in query:
            context["domain_result"] = await self._domain_result(state, query["domain"])
        if "q" in query:
            context["search_result"] = await self._search_result(state, query["q"])
        return html(lang, "verify.html", context, cache="no-cache")

    async def _domain_result(self, state: AppServices, raw: str) -> dict[str, object]:
        if not raw.strip():
            return {"kind": "empty"}
        domain = rules.try_normalise_domain(raw)
        if domain is None:
            return {"kind": "invalid", "input": echo(raw)}
        shop = await lookup.find_by_domain(state, domain)
        shown = rules.shown_domain(domain)
        if shop is None:
            return {"kind": "unregistered", "domain": shown}
        return {"kind": "found", "domain": shown, "shop": shop_card(shop)}

    async def _search_result(self, state: AppServices, raw: str) -> dict[str, object]:
        text = echo(raw)
        if not text:
            return {"kind": "empty"}
        shops = await lookup.search(state, raw)
        return {"kind": "results", "query": text, "shops": [shop_card(s) for s in shops]}

    async def check(self, request: Request) -> Response:
        """POST /verify: the HTML form for a badge file or a pasted token."""
        state = app_state(request)
        lang = request_lang(request)
        context: dict[str, object] = {
            "switcher": switcher("/verify", {}, lang),
            "max_kb": MAX_UPLOAD_BYTES // 1024,
            "domain_input": "",
            "q_input": "",
        }
        outcome = await self.checker.attempt(self.checker.check_form(state, request))
        if isinstance(outcome, Refusal):
            # Shown inline, beside the form, so the visitor can try again at once.
            context["refusal"] = {
                "status": outcome.status,
                "detail": outcome.message,
                "screenshot": outcome.message == SCREENSHOT_MESSAGE,
                # The pasted text, not the file, is what could not be read.
                "pasted": outcome.message == NOT_A_TOKEN,
            }
            return html(
                lang, "verify.html", context, status=outcome.status, cache="no-store", vary=""
            )
        context["verdict"] = verdict_view(outcome)
        return html(lang, "verify.html", context, cache="no-store", vary="")


def websites(shop: Shop) -> list[dict[str, object]]:
    """Each registered domain with how and when its ownership was confirmed, if it was."""
    # No proofs at all: a record from before they existed (an older instance's copy).
    default: ProofState = "pending" if shop.proofs else "registered_before_proofs"
    found: list[dict[str, object]] = []
    for domain in shop.domains:
        proof = shop.proof(domain) or DomainStatus(domain, default)
        found.append(
            {
                "domain": rules.shown_domain(domain),
                "state": proof.state,
                "method": proof.method,
                "since": proof.since,
                "note": proof.note,
                # `badge demo`'s fictitious shops: said in the page's language, not quoted.
                "demo": proof.method == "attested" and proof.note == DEMO_ATTESTATION,
            }
        )
    return found


def history_rows(
    events: list[Event], state: PublicState, since: datetime, certified_since: date | None = None
) -> list[tuple[datetime, str]]:
    """(when, what) newest first; an expiry is derived, so it joins the stored events here.

    A shop registered (or imported) as already certified was granted the Keurmerk on its
    `certified_since` day, not on the day it was typed in: its first row says so, as the
    facts beside the history do.
    """
    # The position breaks ties: changes within one second keep their recorded order.
    rows: list[tuple[datetime, int, str]] = []
    for position, event in enumerate(events):
        if event.changes is not None and (
            event.to_state != "certified" or "valid_until" not in event.changes
        ):
            continue  # an edit of the record (name, domains...), not a step of the Keurmerk
        if event.to_state != "certified":
            what: str = event.to_state
        elif event.from_state is None:
            what = "granted"
        elif event.from_state == "certified":
            what = "renewed"
        else:
            what = "restored"
        at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
        if what == "granted" and position == 0 and certified_since is not None:
            granted = datetime.combine(certified_since, time(0), tzinfo=BRUSSELS)
            at = min(at, granted)
        rows.append((at, position, what))
    if state == "expired":
        rows.append((since, len(events), "expired"))
    rows.sort(reverse=True)
    return [(at, what) for at, _, what in rows]


def verdict_view(verdict: Verdict) -> dict[str, object]:
    """The verdict with parsed times, for the template to word in the visitor's language."""
    if not verdict.genuine:
        outcome = "forged"
    elif verdict.state_now in (None, "unknown"):
        outcome = "gone"
    elif not verdict.certified_now:
        outcome = "not_certified"
    elif verdict.variant in ("mismatch", "neutral", "not_certified"):
        # The shop is certified, but this copy never said so where it was shown.
        outcome = "borrowed" if verdict.variant == "mismatch" else "unbound"
    elif verdict.expired:
        outcome = "old_copy"
    else:
        outcome = "valid"
    return {
        "outcome": outcome,
        "genuine": verdict.genuine,
        "shop_id": verdict.shop_id,
        "shop_name": verdict.shop_name,
        "domains": [rules.shown_domain(d) for d in verdict.domains],
        "issued_at": parse_moment(verdict.issued_at),
        "expires_at": parse_moment(verdict.expires_at),
        "expired": verdict.expired,
        "state_then": verdict.state_then,
        "state_now": verdict.state_now,
        "certified_now": verdict.certified_now,
        "reason": verdict.reason,
        "variant": verdict.variant,
        "site": None if verdict.site is None else rules.unicode_domain(verdict.site),
        "link": verdict.shop_id is not None and rules.is_shop_id(verdict.shop_id),
    }
