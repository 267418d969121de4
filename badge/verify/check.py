"""Pull the baked signature out of an uploaded badge file, treating every byte as hostile.

Nothing here renders or decodes an image: SVG goes through defusedxml as a stream
of tags, PNG is walked chunk by chunk. Every loop and buffer has a bound, so the
worst upload costs a few milliseconds. Checking the signature itself is
signature.py's job; this module only finds the compact JWS.
"""

from __future__ import annotations

import re
import struct
import zlib

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from badge.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from badge.render.baking import ELEMENT, NAMESPACE, PNG_KEYWORD
from badge.vocabulary import Format

MAX_UPLOAD_BYTES: int = 512 * 1024  # badges are a few KB; anything bigger is refused
MAX_TOKEN_CHARS = 8 * 1024
MAX_TEXT_BYTES = 16 * 1024  # room for a token plus whitespace, never a bomb's output
MAX_SVG_ELEMENTS = 5_000
MAX_SVG_DEPTH = 64
MAX_PNG_CHUNKS = 1_000
MAX_PNG_SIDE = 4_096
SNIFF_WINDOW = 16 * 1024

Format = Format

NOT_FOUND_MESSAGE = "no Keurmerk signature found in this file"
# The usual thing a consumer has is a screenshot: say why it cannot be checked, and what can.
SCREENSHOT_MESSAGE = (
    "no Keurmerk signature found in this PNG. Screenshots and images saved by copying lose "
    "it, so a picture of a badge proves nothing; check the website instead, by its address "
    "(/verify?domain=..., or /api/v1/lookup?domain=...)"
)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SVG_NS = "http://www.w3.org/2000/svg"
_SVG_ROOTS = frozenset({"svg", f"{{{_SVG_NS}}}svg"})
_ASSERTION = f"{{{NAMESPACE}}}{ELEMENT}"
_KEYWORD = PNG_KEYWORD.encode("latin-1")
_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})

_JWS_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_SVG_START_RE = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?svg[\s/>]")
_XML_DECL_RE = re.compile(r"<\?xml\s")
_ENCODING_RE = re.compile(r"""<\?xml\s[^>]*?\bencoding\s*=\s*(["'])(.*?)\1""", re.DOTALL)
_ENCODING_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,39}")
# The encodings expat reads by itself. Any other name makes pyexpat call Python's codec
# machinery (utf-7, rot13, base64, punycode...), which fails in ways of its own.
_XML_ENCODINGS = frozenset(
    {
        "utf-8",
        "utf8",
        "us-ascii",
        "ascii",
        "iso-8859-1",
        "latin-1",
        "latin1",
        "utf-16",
        "utf-16le",
        "utf-16be",
    }
)
_MIME_RE = re.compile(r"[\w.+-]+/[\w.+-]+")
_OTHER_FORMATS = (
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
)


# What a pasted token may carry around it: spaces, tabs and line ends. The API document's
# patterns are built from it (badge/web/patterns.py).
PASTE_BLANKS = " \t\r\n"


def looks_like_jws(token: str) -> bool:
    """True for three non-empty base64url segments joined by dots, at most 8 KB long."""
    # Length first, so the regex never sees an unbounded string.
    if len(token) > MAX_TOKEN_CHARS or _JWS_RE.fullmatch(token) is None:
        return False
    # A base64 segment can never be 1 more than a multiple of 4 characters long.
    return all(len(part) % 4 != 1 for part in token.split("."))


def sniff_kind(data: bytes, content_type: str | None) -> Format:
    """Decide PNG or SVG from the bytes; the content type only improves the refusal message."""
    if not data:
        raise UnsupportedMediaType("the upload is empty; send the badge's PNG or SVG file")
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    head = _text_head(data)
    if _looks_like_svg(head):
        return "svg"
    raise UnsupportedMediaType(_not_a_badge_message(data, head, content_type))


def extract_token(data: bytes, content_type: str | None = None) -> str:
    """Return the compact JWS baked into a PNG or SVG badge, or raise a 4xx error."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"the file is {-(-len(data) // 1024):,} KB; badge files are a few KB "
            f"and uploads are limited to {MAX_UPLOAD_BYTES // 1024} KB"
        )
    if sniff_kind(data, content_type) == "png":
        return _token_from_png(data)
    return _token_from_svg(data)


def _text_head(data: bytes) -> str:
    """The start of the file as text, good enough to spot markup."""
    window = data[:SNIFF_WINDOW]
    if window.startswith(b"\xef\xbb\xbf"):
        window = window[3:]
    elif window[:2] in (b"\xff\xfe", b"\xfe\xff"):
        codec = "utf-16-le" if window[:2] == b"\xff\xfe" else "utf-16-be"
        body = window[2:]
        return body[: len(body) - len(body) % 2].decode(codec, errors="replace")
    # Latin-1 maps every byte, and the markers we look for are ASCII.
    return window.decode("latin-1")


def _looks_like_svg(head: str) -> bool:
    """Skip whitespace, comments and processing instructions, then expect <svg."""
    pos = 0
    saw_xml_decl = False
    while True:
        while pos < len(head) and head[pos] in " \t\r\n":
            pos += 1
        if head.startswith("<?", pos):
            saw_xml_decl = saw_xml_decl or _XML_DECL_RE.match(head, pos) is not None
            end = head.find("?>", pos)
            if end < 0:
                return saw_xml_decl
            pos = end + 2
        elif head.startswith("<!--", pos):
            end = head.find("-->", pos + 4)
            if end < 0:
                return saw_xml_decl
            pos = end + 3
        elif head[pos : pos + 9].lower() == "<!doctype":
            # Let the parser refuse an SVG doctype with a clear message; others are HTML.
            name = head[pos + 9 : pos + 64].lstrip().lower()
            return saw_xml_decl or name.startswith("svg")
        else:
            # An XML declaration means "some XML"; the parser then says whether it is an SVG.
            return saw_xml_decl or _SVG_START_RE.match(head, pos) is not None


def _not_a_badge_message(data: bytes, head: str, content_type: str | None) -> str:
    found = next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), None)
    if found is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        found = "a WebP image"
    if found is None and "<html" in head[:2048].lower():
        found = "an HTML page"
    message = "only PNG and SVG badge files can be checked"
    if found is not None:
        return f"{message}; this file looks like {found}"
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    # Echo the declared type only when it is a plain type/subtype, never arbitrary input.
    if len(mime) <= 100 and _MIME_RE.fullmatch(mime):
        return f"{message}; this file was sent as {mime} but its content is neither"
    return f"{message}; this file is neither"


class _SvgLimit(Exception):
    """Raised from inside the parser callbacks to stop reading at once."""


class _AssertionFinder:
    """Parser target that keeps only the text of our assertion element and counts the rest."""

    def __init__(self) -> None:
        self.depth = 0
        self.elements = 0
        self.found = 0
        self.inside = False
        self.text: list[str] = []
        self.text_len = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        self.elements += 1
        if self.elements > MAX_SVG_ELEMENTS:
            raise _SvgLimit(
                f"SVG has more than {MAX_SVG_ELEMENTS:,} elements; badges have a few dozen"
            )
        if self.depth > MAX_SVG_DEPTH:
            raise _SvgLimit(
                f"SVG nests elements more than {MAX_SVG_DEPTH} deep; badges are shallow"
            )
        if self.depth == 1:
            if tag not in _SVG_ROOTS:
                raise _SvgLimit("this XML file is not an SVG image")
        elif self.inside:
            raise _SvgLimit("the Keurmerk element in this SVG contains unexpected markup")
        elif tag == _ASSERTION:
            self.found += 1
            if self.found > 1:
                raise _SvgLimit("this SVG holds more than one Keurmerk signature")
            if self.depth != 2:
                raise _SvgLimit("the Keurmerk element must sit directly inside <svg>")
            self.inside = True

    def end(self, tag: str) -> None:
        self.depth -= 1
        if self.inside and tag == _ASSERTION:
            self.inside = False

    def data(self, data: str) -> None:
        if self.inside:
            self.text_len += len(data)
            if self.text_len > MAX_TEXT_BYTES:
                raise _SvgLimit("the Keurmerk element in this SVG is far too long")
            self.text.append(data)

    def close(self) -> None:
        return None


def _check_declared_encoding(data: bytes) -> None:
    """Refuse an XML declaration naming an encoding other than the few expat reads itself."""
    found = _ENCODING_RE.search(_text_head(data)[:1024])
    if found is None:
        return
    name = found.group(2).strip()
    if name.lower() in _XML_ENCODINGS:
        return
    shown = repr(name) if _ENCODING_NAME_RE.fullmatch(name) else "an unusual name"
    raise Unprocessable(f"this SVG declares the text encoding {shown}; badge files are UTF-8")


def _token_from_svg(data: bytes) -> str:
    _check_declared_encoding(data)
    finder = _AssertionFinder()
    parser = DefusedXMLParser(
        target=finder, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(data)
        parser.close()
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden) as exc:
        raise Unprocessable(
            "SVG contains a DTD or entity declarations, which badges never have"
        ) from exc
    except _SvgLimit as exc:
        raise Unprocessable(str(exc)) from exc
    except ParseError as exc:
        # expat's own message ("not well-formed (invalid token): line 1, column 5") is
        # specific enough to help and carries no file content.
        raise Unprocessable(f"this SVG is not well-formed XML ({exc})") from exc
    except (ValueError, LookupError, TypeError) as exc:
        # Codec trouble the check above did not foresee (UnicodeError is a ValueError):
        # still the uploader's file, never our 500.
        raise Unprocessable("this SVG could not be read as text; badge files are UTF-8") from exc
    if finder.found == 0:
        raise Unprocessable(NOT_FOUND_MESSAGE)
    token = "".join(finder.text).strip()
    if not looks_like_jws(token):
        raise Unprocessable("the Keurmerk element in this SVG does not hold a valid signature")
    return token


def _token_from_png(data: bytes) -> str:
    pos = len(_PNG_SIGNATURE)
    token: str | None = None
    for index in range(MAX_PNG_CHUNKS):
        if pos + 8 > len(data):
            raise Unprocessable("this PNG is truncated")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if not ctype.isalpha():
            raise Unprocessable("this PNG is damaged (garbled chunk)")
        end = pos + 8 + length
        if length > 0x7FFFFFFF or end + 4 > len(data):
            raise Unprocessable("this PNG is truncated")
        body = data[pos + 8 : end]
        (crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(body, zlib.crc32(ctype)) != crc:
            raise Unprocessable(f"this PNG is damaged (bad checksum in its {ctype.decode()} chunk)")
        pos = end + 4
        if index == 0:
            _check_ihdr(ctype, body)
        elif ctype == b"IEND":
            break
        elif ctype in _TEXT_CHUNKS and body.startswith(_KEYWORD + b"\0"):
            if token is not None:
                raise Unprocessable("this PNG holds more than one Keurmerk signature")
            token = _png_text(ctype, body[len(_KEYWORD) + 1 :])
    else:
        raise Unprocessable(f"this PNG has more than {MAX_PNG_CHUNKS:,} chunks; badges have few")
    if token is None:
        raise Unprocessable(SCREENSHOT_MESSAGE)
    if not looks_like_jws(token):
        raise Unprocessable("the Keurmerk text in this PNG does not hold a valid signature")
    return token


def _check_ihdr(ctype: bytes, body: bytes) -> None:
    if ctype != b"IHDR" or len(body) != 13:
        raise Unprocessable("this PNG is damaged (it does not start with a header chunk)")
    width, height = struct.unpack_from(">II", body)
    # We never decode pixels, but a badge this size is not one of ours.
    if not (0 < width <= MAX_PNG_SIDE and 0 < height <= MAX_PNG_SIDE):
        raise Unprocessable(
            f"this PNG is {width}x{height} pixels; badges are at most {MAX_PNG_SIDE} px a side"
        )


def _png_text(ctype: bytes, rest: bytes) -> str:
    """Decode the text after "keyword\\0" in a tEXt, zTXt or iTXt chunk."""
    if ctype == b"tEXt":
        return rest.decode("latin-1").strip()
    if ctype == b"zTXt":
        if rest[:1] != b"\0":
            raise Unprocessable("the Keurmerk text in this PNG uses an unknown compression")
        return _inflate(rest[1:]).decode("latin-1").strip()
    flag, method, tail = rest[:1], rest[1:2], rest[2:]
    parts = tail.split(b"\0", 2)
    if len(parts) != 3 or flag not in (b"\0", b"\1"):
        raise Unprocessable("the Keurmerk text chunk in this PNG is damaged")
    text = parts[2]
    if flag == b"\1":
        if method != b"\0":
            raise Unprocessable("the Keurmerk text in this PNG uses an unknown compression")
        text = _inflate(text)
    try:
        return text.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise Unprocessable("the Keurmerk text in this PNG is not valid UTF-8") from exc


def _inflate(compressed: bytes) -> bytes:
    # max_length caps the output, so a compressed bomb stops after 16 KB of work.
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(compressed, MAX_TEXT_BYTES)
    except zlib.error as exc:
        raise Unprocessable("the Keurmerk text in this PNG is damaged (bad compression)") from exc
    if inflater.unconsumed_tail or len(out) >= MAX_TEXT_BYTES:
        raise Unprocessable(
            "the Keurmerk text in this PNG expands far beyond any signature; refused"
        )
    if not inflater.eof:
        raise Unprocessable("the Keurmerk text in this PNG is damaged (cut-off compression)")
    return out
