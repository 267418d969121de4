"""Static files (CSS, icons): read once, served from memory under content-hashed names.

`/static/verify.3f9a0c1d2e4b.css` never changes, so it is cached for a year
(`immutable`); templates link to it through `static_url()`. The plain name still works,
with a short cache, for anything that links to it directly.
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from badge.platform.http import digits, etag_matches


def _static_dir() -> Path:
    """The one place that says where static files live: `static/` at the top of the
    repository, which the wheel ships as badge/static (pyproject.toml maps it)."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "static"
    return installed if installed.is_dir() else package.parent / "static"


STATIC_DIR: Final = _static_dir()

IMMUTABLE: Final = "public, max-age=31536000, immutable"
PLAIN_NAME_CACHE: Final = "public, max-age=300"
HASH_CHARS: Final = 12
MAX_FILES: Final = 200
_TYPES: Final = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str
    hashed_name: str


@dataclass(frozen=True, slots=True)
class Assets:
    by_name: dict[str, Asset]
    by_hashed_name: dict[str, Asset]

    def url(self, name: str) -> str:
        return f"/static/{self.by_name[name].hashed_name}"


@functools.cache
def load_assets(directory: Path = STATIC_DIR) -> Assets:
    """Every file directly in `directory`, hashed. Called at start, so no request waits."""
    by_name: dict[str, Asset] = {}
    if directory.is_dir():
        for path in sorted(directory.iterdir())[:MAX_FILES]:
            if not path.is_file() or path.name.startswith("."):
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()
            media_type = _TYPES.get(path.suffix) or (
                mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            )
            by_name[path.name] = Asset(
                body=body,
                media_type=media_type,
                etag=f'"{digest[:32]}"',
                hashed_name=f"{path.stem}.{digest[:HASH_CHARS]}{path.suffix}",
            )
    return Assets(by_name, {asset.hashed_name: asset for asset in by_name.values()})


def static_url(name: str) -> str:
    """The content-hashed URL of a static file, for templates."""
    return load_assets().url(name)


async def serve_static(request: Request) -> Response:
    assets = load_assets()
    name = str(request.path_params["path"])
    asset = assets.by_hashed_name.get(name)
    cache = IMMUTABLE
    if asset is None:
        asset = assets.by_name.get(name)
        cache = PLAIN_NAME_CACHE
    if asset is None:
        return PlainTextResponse(
            "no such file\n",
            status_code=404,
            headers={"cache-control": "no-store", "x-content-type-options": "nosniff"},
        )
    headers = {
        "cache-control": cache,
        "etag": asset.etag,
        "x-content-type-options": "nosniff",
        "cross-origin-resource-policy": "same-site",
    }
    header = request.headers.get("if-none-match")
    if header is not None and etag_matches(header.encode("latin-1"), asset.etag.encode()):
        return Response(status_code=304, headers=headers)
    headers["accept-ranges"] = "bytes"
    wanted = _single_range(request.headers.get("range"), len(asset.body))
    if isinstance(wanted, str):
        headers["content-range"] = f"bytes */{len(asset.body)}"
        return Response(status_code=416, headers={**headers, "cache-control": "no-store"})
    if wanted is not None:
        start, end = wanted
        headers["content-range"] = f"bytes {start}-{end}/{len(asset.body)}"
        part = asset.body[start : end + 1]
        return Response(part, status_code=206, media_type=asset.media_type, headers=headers)
    # For HEAD the server sends the headers alone.
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def _single_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """One `bytes=a-b`, `a-` or `-n` range (RFC 9110); anything else is the whole file."""
    if header is None or not header.startswith("bytes=") or "," in header or len(header) > 64:
        return None
    first, _, last = header[6:].strip().partition("-")
    if not (digits(first) or digits(last)) or not (digits(first) or first == ""):
        return None
    if last and not digits(last):
        return None
    if first == "":
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, end
