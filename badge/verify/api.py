"""The public JSON API (/api/v1/...) and the badge check that the HTML form shares with it."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Final

import anyio
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from badge.errors import BadgeError, BadRequest, NotFound, Unprocessable
from badge.platform.http import read_body
from badge.platform.purge import surrogate_header_dict
from badge.registry import rules
from badge.state import AppServices, app_state
from badge.verify import lookup
from badge.verify.check import (
    MAX_TOKEN_CHARS,
    MAX_UPLOAD_BYTES,
    PASTE_BLANKS,
    extract_token,
    looks_like_jws,
)
from badge.verify.verdict import Verdict, judge_claims, not_genuine

# Two uploads parse at once at most; the parser is bounded, so a queue stays short.
CHECK_CONCURRENCY: Final = 2
# Room for the multipart framing and the token field around one badge file.
FORM_OVERHEAD: Final = 64 * 1024

READ_HEADERS: Final = {
    "access-control-allow-origin": "*",
    "cache-control": "public, max-age=60",
    "x-content-type-options": "nosniff",
}
VERIFY_HEADERS: Final = {
    "access-control-allow-origin": "*",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
}
PREFLIGHT_HEADERS: Final = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "content-type",
    "access-control-max-age": "600",
    "cache-control": "public, max-age=600",
}


FORM_FIELDS: Final = frozenset({"file", "token"})
_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,40}")
NOT_A_TOKEN: Final = (
    "this is not a Keurmerk signature (expected a compact JWS: three "
    f"base64url parts joined by dots, at most {MAX_TOKEN_CHARS // 1024} KB)"
)


def pasted_token(text: str) -> str:
    """The token in a pasted text without the blanks a paste brings, "" when the text is
    blank. Anything else that is not shaped like a token is refused, also beside a file.
    The bound counts what was sent, as the API document's maxLength does."""
    if len(text) > MAX_TOKEN_CHARS:
        raise Unprocessable(NOT_A_TOKEN)
    token = text.strip(PASTE_BLANKS)
    if token and not looks_like_jws(token):
        raise Unprocessable(NOT_A_TOKEN)
    return token


def _field(name: str) -> str:
    """A form field's name for an error message, only when it is plainly a name."""
    return name if _PLAIN_NAME.fullmatch(name) else "one with an unusual name"


def too_large(limit: int) -> str:
    return f"the upload is larger than {limit // 1024} KB; badge files are a few KB"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A file or token we would not check: the form page shows it inline, the API as a
    verdict-shaped answer, so neither goes through the error pages."""

    status: int
    code: str
    message: str


class BadgeChecker:
    """Turns an uploaded badge file or a pasted token into a verdict on the live state."""

    def __init__(self, concurrency: int = CHECK_CONCURRENCY) -> None:
        self.concurrency = concurrency
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        # Made on first use, inside the running event loop that will share it.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        return self._limiter

    async def attempt(self, check: Awaitable[Verdict]) -> Verdict | Refusal:
        try:
            return await check
        except BadgeError as exc:
            return Refusal(exc.status, exc.code, exc.message)

    async def check_file(
        self, state: AppServices, data: bytes, content_type: str | None
    ) -> Verdict:
        token = await anyio.to_thread.run_sync(
            extract_token, data, content_type, limiter=self.limiter
        )
        return await self.check_token(state, token)

    async def check_form(self, state: AppServices, request: Request) -> Verdict:
        """A multipart form with a badge `file` or a pasted `token`: the page's and the API's."""
        limit = MAX_UPLOAD_BYTES + FORM_OVERHEAD
        body = await read_body(request, limit, too_large=too_large(limit))
        form_request = _replay(request, body)
        try:
            async with form_request.form(
                max_files=1, max_fields=5, max_part_size=MAX_TOKEN_CHARS + 1024
            ) as form:
                unknown = sorted(set(form.keys()) - FORM_FIELDS)
                if unknown:
                    # The documented form has two fields; anything else is a client's mistake.
                    raise BadRequest(
                        f"the form has a field this check does not read ({_field(unknown[0])}); "
                        "send only file or token"
                    )
                upload = form.get("file")
                token = form.get("token")
                pasted = pasted_token(token) if isinstance(token, str) else ""
                if isinstance(upload, UploadFile) and upload.size:
                    data = await upload.read(MAX_UPLOAD_BYTES + 1)
                    return await self.check_file(state, data, upload.content_type)
                if pasted:
                    return await self.judge_token(state, pasted)
        except HTTPException as exc:
            # Starlette's multipart parser refuses malformed or oversized forms this way.
            raise BadRequest(f"the form could not be read ({exc.detail})") from None
        raise BadRequest("choose a badge file or paste a signature")

    async def check_token(self, state: AppServices, token: str) -> Verdict:
        token = pasted_token(token)
        if not token:
            raise Unprocessable(NOT_A_TOKEN)
        return await self.judge_token(state, token)

    async def judge_token(self, state: AppServices, token: str) -> Verdict:
        """A token already shaped like one (pasted_token): verified, then set against the
        shop's live state."""
        keys = state["keys"]
        claims, why = keys.verify(token)
        if claims is None:
            # Forged or altered: no register lookup for whatever id it claims.
            return not_genuine(why)
        subject = claims.get("sub")
        live = None
        live_state = None
        if isinstance(subject, str) and rules.is_shop_id(subject):
            entry = await lookup.live_entry(state, subject)
            if entry.shop is not None:
                live = entry.shop
                live_state = lookup.public_state(entry.shop)
        return judge_claims(claims, live, live_state, issuer=state["settings"].public_url)


def _replay(request: Request, body: bytes) -> Request:
    """A request whose body is the bytes we already read (and bounded) ourselves."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def token_from_json(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest('the body is not valid JSON; send {"token": "<compact JWS>"}') from None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token.strip(PASTE_BLANKS):
        raise BadRequest('the JSON body needs a "token" string; send {"token": "<compact JWS>"}')
    return token


class VerifyApi:
    def __init__(self, checker: BadgeChecker) -> None:
        self.checker = checker

    async def shop(self, request: Request) -> Response:
        state = app_state(request)
        entry = await lookup.live_entry(state, str(request.path_params["shop_id"]))
        if entry.shop is None:
            raise NotFound("no shop with this id is in the Keurmerk register")
        return JSONResponse(
            lookup.shop_json(entry.shop, state["settings"].public_url),
            headers={**READ_HEADERS, **surrogate_header_dict(entry.shop.id)},
        )

    async def lookup(self, request: Request) -> Response:
        state = app_state(request)
        raw = request.query_params.get("domain", "")
        if not raw.strip():
            raise BadRequest("add ?domain=, for example ?domain=shop.be")
        domain = rules.try_normalise_domain(raw)
        if domain is None:
            raise BadRequest("the domain is not a valid host name, for example shop.be")
        shop = await lookup.find_by_domain(state, domain)
        if shop is None:
            body: dict[str, object] = {
                "found": False,
                "domain": domain,
                "certified_now": False,
                "error": NotFound.code,
                "message": f"{domain} is not a registered domain of any Keurmerk shop",
            }
            return JSONResponse(body, status_code=404, headers=READ_HEADERS)
        found = lookup.shop_json(shop, state["settings"].public_url)
        return JSONResponse(
            {"found": True, "domain": domain, **found},
            headers={**READ_HEADERS, **surrogate_header_dict(shop.id)},
        )

    async def verify(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT_HEADERS)
        outcome = await self.checker.attempt(self._verdict(request))
        if isinstance(outcome, Refusal):
            # The contract: even a refused file gets a verdict-shaped answer.
            body = not_genuine(outcome.message).to_json()
            body["error"] = outcome.code
            return JSONResponse(body, status_code=outcome.status, headers=VERIFY_HEADERS)
        return JSONResponse(outcome.to_json(), headers=VERIFY_HEADERS)

    async def _verdict(self, request: Request) -> Verdict:
        state = app_state(request)
        content_type = request.headers.get("content-type", "")
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime in ("multipart/form-data", "application/x-www-form-urlencoded"):
            return await self.checker.check_form(state, request)
        body = await read_body(request, MAX_UPLOAD_BYTES, too_large=too_large(MAX_UPLOAD_BYTES))
        if mime == "application/json" or mime.endswith("+json"):
            return await self.checker.check_token(state, token_from_json(body))
        # The checker sniffs the bytes; the declared type only sharpens its message.
        return await self.checker.check_file(state, body, content_type or None)
