"""Embedding: the `/embed.js` loader and the `/embed/{id}` page with both snippets.

The loader is generated once per public URL, with the sizes and alt texts baked in, and
served as fixed bytes with a strong ETag. It needs no inline code and sets no inline
styles, so it works on pages with a strict Content-Security-Policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode, urlsplit

from markupsafe import escape
from starlette.requests import Request
from starlette.responses import Response

from badge.i18n import LANG_NAMES, gettext_for
from badge.platform.http import conditional, strong_etag
from badge.platform.purge import surrogate_header_dict
from badge.registry.model import Shop
from badge.serving.wording import _
from badge.state import app_state
from badge.verify.lookup import live_entry, public_state
from badge.verify.pages import html, request_lang
from badge.vocabulary import (
    DEFAULT_LANG,
    DEFAULT_SIZE,
    LANGS,
    SHOP_ID_CLASS,
    SHOP_ID_LENGTH,
    SIZES,
    Lang,
    Size,
)

SCRIPT_MAX_AGE: Final = 3600


SCRIPT_ALT: Final = _("BeCommerce Keurmerk badge. Click to verify.")
SNIPPET_ALT: Final = _("BeCommerce Keurmerk badge of {shop}. Click to verify.")

# `%(name)s` slots are filled with JSON literals. Kept short: it loads on every shop page.
_LOADER: Final = """\
/* BeCommerce Keurmerk badge loader. Embed code: %(page)s */
(function(){"use strict";
var B=%(base)s,S=%(sizes)s,A=%(alts)s,I=/^[%(id_class)s]{%(id_length)d}$/;
function put(s){
if(!s||s.hasAttribute("data-kb-done"))return;
s.setAttribute("data-kb-done","");
var id=s.getAttribute("data-shop")||"",l=s.getAttribute("data-lang")||%(lang)s,\
z=s.getAttribute("data-size")||%(size)s;
if(!I.test(id)||!S.hasOwnProperty(z)||!A.hasOwnProperty(l)){
if(window.console)console.warn("Keurmerk badge: check data-shop, data-lang (nl, fr, de, en) \
and data-size (s, m, l)");return}
var h=location.hostname,r=s.previousElementSibling,a,g=document.createElement("img");
g.width=S[z][0];g.height=S[z][1];g.alt=A[l];g.referrerPolicy="origin";
g.src=B+"/b/"+id+".svg?lang="+l+"&size="+z+(h?"&d="+encodeURIComponent(h):"");
if(r&&r.hasAttribute("data-kb-box")){a=r;while(a.firstChild)a.removeChild(a.firstChild)}
else{a=document.createElement("a");s.parentNode.insertBefore(a,s.nextSibling)}
a.href=B+"/v/"+id+"?lang="+l;a.appendChild(g)}
var c=document.currentScript,all,i;
if(c&&c.hasAttribute("data-shop"))put(c);
else{all=document.querySelectorAll("script[data-shop]");
for(i=0;i<all.length;i++)if((all[i].src||"").indexOf("/embed.js")>=0)put(all[i])}
})();
"""


def build_loader(public_url: str) -> bytes:
    def literal(value: object) -> str:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=True)

    script = _LOADER % {
        "page": public_url + "/embed/{id}",
        "base": literal(public_url),
        "sizes": literal({size: list(dims) for size, dims in SIZES.items()}),
        "alts": literal({lang: gettext_for(lang, SCRIPT_ALT) for lang in LANGS}),
        "id_class": SHOP_ID_CLASS,
        "id_length": SHOP_ID_LENGTH,
        "lang": literal(DEFAULT_LANG),
        "size": literal(DEFAULT_SIZE),
    }
    return script.encode("utf-8")


@dataclass(frozen=True, slots=True)
class Prepared:
    body: bytes
    etag: str
    headers: dict[str, str]


class EmbedScript:
    """`GET /embed.js`: the loader's bytes, built on first use and kept for the app's life."""

    def __init__(self) -> None:
        self._prepared: dict[str, Prepared] = {}

    def prepared(self, public_url: str) -> Prepared:
        found = self._prepared.get(public_url)
        if found is None:
            body = build_loader(public_url)
            etag = strong_etag(body).decode()
            headers = {
                "etag": etag,
                "cache-control": f"public, max-age={SCRIPT_MAX_AGE}",
                "x-content-type-options": "nosniff",
                "cross-origin-resource-policy": "cross-origin",
                "access-control-allow-origin": "*",
                # About no shop: an edge purge of everything (`keurmerk`) drops it too.
                **surrogate_header_dict(None),
            }
            found = self._prepared[public_url] = Prepared(body, etag, headers)
        return found

    async def serve(self, request: Request) -> Response:
        prepared = self.prepared(app_state(request)["settings"].public_url)
        return conditional(
            request, prepared.body, "text/javascript; charset=utf-8", prepared.headers
        )


def snippets(shop: Shop, public_url: str, lang: Lang, size: Size) -> dict[str, str]:
    """The two embed codes as HTML source; the page shows them escaped once more."""
    width, height = SIZES[size]
    base = escape(public_url)
    query = escape(urlencode({"lang": lang, "size": size}))
    alt = escape(gettext_for(lang, SNIPPET_ALT).format(shop=shop.display_name))
    # referrerpolicy="origin": the browser tells us the showing site's origin (never the
    # page's path) even when the shop's pages set `no-referrer`; the badge is certified only
    # when that origin is one of the shop's registered domains (binding.py).
    image = (
        f'<a href="{base}/v/{shop.id}?lang={lang}">'
        f'<img src="{base}/b/{shop.id}.svg?{query}" '
        f'width="{width}" height="{height}" alt="{alt}" referrerpolicy="origin"></a>'
    )
    # The empty SVG holds the badge's box before the script runs: width and height are
    # attributes, so no inline style is needed under a strict CSP, and no layout shift.
    script = (
        f'<a href="{base}/v/{shop.id}?lang={lang}" data-kb-box>'
        f'<svg width="{width}" height="{height}" role="img" aria-label="{alt}"></svg></a>'
        f'<script src="{base}/embed.js" data-shop="{shop.id}" '
        f'data-lang="{lang}" data-size="{size}" async></script>'
    )
    return {"image": image, "script": script}


def origin(public_url: str) -> str:
    """What a site's CSP must allow: scheme, host and port, without any path."""
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}"


def _choice(path: str, lang: Lang, size: Size) -> str:
    return f"{path}?{urlencode({'lang': lang, 'size': size})}"


async def embed_page(request: Request) -> Response:
    state = app_state(request)
    lang = request_lang(request)
    raw_size = request.query_params.get("size", DEFAULT_SIZE)
    # A page, not an API: an odd size falls back to the default rather than failing.
    size: Size = raw_size if raw_size in SIZES else DEFAULT_SIZE
    path = request.url.path
    switcher = [
        {
            "lang": choice,
            "name": LANG_NAMES[choice],
            "url": _choice(path, choice, size),
            "current": choice == lang,
        }
        for choice in LANGS
    ]
    entry = await live_entry(state, str(request.path_params["shop_id"]))
    shop = entry.shop
    if shop is None:
        missing: dict[str, object] = {"switcher": switcher, "came_from": None}
        return html(lang, "not_found.html", missing, status=404)
    width, height = SIZES[size]
    public_url = state["settings"].public_url
    context: dict[str, object] = {
        "switcher": switcher,
        "shop": shop,
        "state": public_state(shop),
        "size": size,
        "width": width,
        "height": height,
        # No-break spaces: "210 × 60" must not wrap in the middle.
        "dims": f"{width}\u00a0×\u00a0{height}",
        "sizes": [
            {
                "size": choice,
                "width": SIZES[choice][0],
                "height": SIZES[choice][1],
                "url": _choice(path, lang, choice),
                "current": choice == size,
            }
            for choice in SIZES
        ],
        "langs": switcher,
        "lang_name": LANG_NAMES[lang],
        "snippets": snippets(shop, public_url, lang, size),
        "origin": origin(public_url),
        "preview_href": f"/v/{shop.id}?lang={lang}",
        "preview_src": f"/b/{shop.id}.svg?{urlencode({'lang': lang, 'size': size})}",
        "preview_alt": gettext_for(lang, SNIPPET_ALT).format(shop=shop.display_name),
    }
    response = html(lang, "embed.html", context)
    response.headers.update(surrogate_header_dict(shop.id))
    return response
