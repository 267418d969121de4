"""badge.serving.responses: a badge's HTTP response, built once, as the messages sent."""

from __future__ import annotations

import gzip

import brotli

from badge.platform.http import BR, GZIP, IDENTITY
from badge.serving.responses import SVG_CSP, build_response

SVG = b"<svg xmlns='http://www.w3.org/2000/svg'>" + b"<g/>" * 200 + b"</svg>"
XKEY = ((b"xkey", b"shop-x keurmerk"),)


def test_an_svg_has_three_forms_with_their_own_etags() -> None:
    rendered = build_response(200, SVG, "svg", b"public, max-age=60", XKEY)
    identity, coded_gzip, coded_br = (rendered.forms[c] for c in (IDENTITY, GZIP, BR))
    assert identity.body_message["body"] == SVG
    assert gzip.decompress(coded_gzip.body_message["body"]) == SVG  # type: ignore[arg-type]
    assert brotli.decompress(coded_br.body_message["body"]) == SVG  # type: ignore[arg-type]
    assert identity.etag == rendered.etag
    assert coded_gzip.etag == rendered.etag[:-1] + b'-gzip"'
    assert coded_br.etag == rendered.etag[:-1] + b'-br"'
    headers = dict(coded_br.start["headers"])  # type: ignore[call-overload]
    assert headers[b"content-encoding"] == b"br"
    assert headers[b"content-length"] == str(len(coded_br.body_message["body"])).encode()  # type: ignore[arg-type]
    assert headers[b"vary"] == b"Referer, Accept-Encoding"
    assert headers[b"content-security-policy"] == SVG_CSP
    assert headers[b"xkey"] == b"shop-x keurmerk"


def test_a_png_has_one_form_and_no_svg_policy() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(300)
    rendered = build_response(200, png, "png", b"public, max-age=60")
    assert rendered.forms[IDENTITY] is rendered.forms[GZIP] is rendered.forms[BR]
    headers = dict(rendered.headers)
    assert headers[b"content-type"] == b"image/png"
    assert headers[b"vary"] == b"Referer"
    assert b"content-security-policy" not in headers


def test_a_304_repeats_only_what_it_must() -> None:
    rendered = build_response(200, SVG, "svg", b"public, max-age=60", XKEY)
    start = rendered.forms[GZIP].not_modified_start
    assert start["status"] == 304
    names = [name for name, _ in start["headers"]]  # type: ignore[attr-defined]
    assert sorted(names) == [b"cache-control", b"etag", b"vary", b"xkey"]
    assert dict(start["headers"])[b"etag"] == rendered.forms[GZIP].etag  # type: ignore[call-overload]


def test_the_same_bytes_give_the_same_etag_and_others_another() -> None:
    one = build_response(200, SVG, "svg", b"no-store")
    assert build_response(404, SVG, "svg", b"no-store").etag == one.etag
    assert build_response(200, SVG + b" ", "svg", b"no-store").etag != one.etag
