"""The home page at `/`, in the visitor's language, and `/favicon.ico` for browsers that ask."""

from __future__ import annotations

import functools
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from badge.state import app_state
from badge.verify.pages import html, request_lang, switcher
from badge.vocabulary import Lang
from badge.web.assets import STATIC_DIR

HOME_CACHE: Final = "public, max-age=300"
ICON_CACHE: Final = "public, max-age=86400"
# Where operators and developers start, and whether a plain GET shows something useful.
API_PATHS: Final = (
    ("/openapi.json", True),
    ("/api/v1/lookup?domain=", False),
    ("/api/v1/verify", False),
    ("/admin/api/v1/", False),
    ("/.well-known/jwks.json", True),
)


class Home:
    """The page only changes with the language and the public URL: render each once."""

    def __init__(self) -> None:
        self._pages: dict[tuple[Lang, str], Response] = {}

    async def page(self, request: Request) -> Response:
        lang = request_lang(request)
        public_url = app_state(request)["settings"].public_url
        found = self._pages.get((lang, public_url))
        if found is None:
            context: dict[str, object] = {
                "switcher": switcher("/", {}, lang),
                "public_url": public_url,
                "domain_input": "",
                "api_paths": API_PATHS,
            }
            found = html(lang, "home.html", context, cache=HOME_CACHE)
            self._pages[(lang, public_url)] = found
        return found


@functools.cache
def _favicon() -> bytes:
    return (STATIC_DIR / "favicon.ico").read_bytes()


async def favicon(request: Request) -> Response:
    return Response(
        _favicon(),
        media_type="image/vnd.microsoft.icon",
        headers={"cache-control": ICON_CACHE, "x-content-type-options": "nosniff"},
    )
