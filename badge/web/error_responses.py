"""The one error path: a `BadgeError` or Starlette's `HTTPException` answered by route.

Handlers raise and never catch. Here the answer takes the form its route's `errors` rule
names (badge/web/routes.py):
- `admin`: JSON, `no-store` (the admin guard adds no-store too);
- `api`: JSON with the CORS headers every API answer carries; `verdict` adds the keys of a
  verdict, which every answer of the verify API has;
- `badge` (what the hot path in badge/serving/hotpath.py passed on): an error badge;
- `page`: HTML in the visitor's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from badge.errors import BadgeError
from badge.i18n import parse_lang
from badge.serving.query import BadgeQuery
from badge.state import app_state
from badge.verify.pages import html, request_lang, switcher
from badge.verify.verdict import not_genuine
from badge.vocabulary import DEFAULT_LANG
from badge.web.routes import rules_for

# What a JSON answer calls the router's own refusals.
_HTTP_CODES: Final = {404: "not_found", 405: "method_not_allowed"}
API_HEADERS: Final = {"access-control-allow-origin": "*", "x-content-type-options": "nosniff"}
# A refused API request is as cacheable as its answer would be (a bad domain stays bad);
# outages and the router's own 404/405 are not kept.
API_REFUSAL_CACHE: Final = "public, max-age=60"


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    code: str
    message: str
    headers: dict[str, str]
    # Raised by a handler (a refusal it chose), not by the router.
    chosen: bool

    @classmethod
    def of(cls, exc: Exception) -> Problem:
        if isinstance(exc, BadgeError):
            return cls(exc.status, exc.code, exc.message, exc.headers, chosen=True)
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return cls(exc.status_code, code, exc.detail, dict(exc.headers or {}), chosen=False)

    def json(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


async def handle_exception(request: Request, exc: Exception) -> Response:
    problem = Problem.of(exc)
    errors = rules_for(request.url.path).errors
    if errors == "admin":
        headers = {**problem.headers, "cache-control": "no-store"}
        return JSONResponse(problem.json(), status_code=problem.status, headers=headers)
    if errors in ("api", "verdict"):
        cache = API_REFUSAL_CACHE if problem.chosen and problem.status < 500 else "no-store"
        headers = {**problem.headers, **API_HEADERS, "cache-control": cache}
        body: dict[str, object] = dict(problem.json())
        if errors == "verdict":
            body = {**not_genuine(problem.message).to_json(), **body}
        return JSONResponse(body, status_code=problem.status, headers=headers)
    if errors == "badge":
        return await error_badge(request, problem)
    return error_page(request, problem)


def error_page(request: Request, problem: Problem) -> Response:
    lang = request_lang(request)
    context: dict[str, object] = {
        "switcher": switcher(request.url.path, {}, lang),
        "status": problem.status,
        "detail": problem.message,
    }
    response = html(lang, "error.html", context, status=problem.status, cache="no-store", vary="")
    response.headers.update(problem.headers)
    return response


async def error_badge(request: Request, problem: Problem) -> Response:
    """What an `<img>` can show: the badge service's neutral badge for an unknown shop,
    with this error's status; the reason goes in a header, as on the hot path."""
    lang = parse_lang(request.query_params.get("lang")) or DEFAULT_LANG
    rendered = await app_state(request)["badges"].get("", "svg", BadgeQuery(lang), None)
    why = "".join(ch if " " <= ch <= "~" else "?" for ch in problem.message[:200])
    headers = {**problem.headers, "cache-control": "no-store", "x-badge-error": why}
    return Response(
        rendered.body, status_code=problem.status, media_type="image/svg+xml", headers=headers
    )
