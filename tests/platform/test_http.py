"""badge.platform.http: Accept-Encoding negotiation, coded ETags, compression."""

from __future__ import annotations

import gzip

import brotli
import pytest

from badge.platform.caches import CacheSet
from badge.platform.http import (
    BR,
    GZIP,
    IDENTITY,
    MAX_CACHED_ACCEPT,
    Coding,
    Codings,
    coded_etag,
    compress,
    digits,
    etag_matches,
    strip_coding,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, IDENTITY, id="none"),
        pytest.param(b"", IDENTITY, id="empty"),
        pytest.param(b"identity", IDENTITY, id="identity"),
        pytest.param(b"gzip, deflate, br, zstd", BR, id="chrome"),
        pytest.param(b"gzip, deflate", GZIP, id="gzip-only"),
        pytest.param(b"GZIP", GZIP, id="case"),
        pytest.param(b"x-gzip", GZIP, id="x-gzip"),
        pytest.param(b"br;q=0, gzip", GZIP, id="br-refused"),
        pytest.param(b"br;q=0.0, gzip;q=0", IDENTITY, id="both-refused"),
        pytest.param(b"gzip;q=0.5, br;q=0.2", BR, id="any-weight-counts"),
        pytest.param(b"*", BR, id="star"),
        pytest.param(b"*, br;q=0", GZIP, id="star-but-br"),
        pytest.param(b"gzip;q=abc", IDENTITY, id="garbled-weight"),
        pytest.param(b"deflate, compress", IDENTITY, id="nothing-we-make"),
        pytest.param(b"," * 5000 + b"br", IDENTITY, id="huge"),
    ],
)
def test_pick_coding(header: bytes | None, expected: Coding) -> None:
    caches = CacheSet()
    codings = Codings(caches)
    assert codings.pick(header) == expected
    assert codings.pick(header) == expected  # second time from the cache
    (stats,) = caches.snapshot()
    assert (stats.name, stats.hits) == ("accept_encodings", 0 if header is None else 1)


def test_codings_are_bounded_per_app() -> None:
    caches = CacheSet()
    codings = Codings(caches)
    for n in range(MAX_CACHED_ACCEPT + 10):
        assert codings.pick(b"gzip, x-%d" % n) == GZIP
    assert codings.pick(b"br") == BR
    (stats,) = caches.snapshot()
    assert stats.size == MAX_CACHED_ACCEPT
    assert stats.evictions == 11
    # Another app parses on its own: no cache is shared between processes' apps.
    other = CacheSet()
    Codings(other).pick(b"br")
    assert other.snapshot()[0].size == 1


def test_coded_etags_differ_and_strip_back() -> None:
    etag = b'"0123456789abcdef"'
    tags = {coded_etag(etag, coding) for coding in (IDENTITY, GZIP, BR)}
    assert tags == {etag, b'"0123456789abcdef-gzip"', b'"0123456789abcdef-br"'}
    for coding in (IDENTITY, GZIP, BR):
        assert strip_coding(coded_etag(etag, coding)) == (etag, coding)
    # One coding's ETag never confirms another's bytes.
    assert not etag_matches(coded_etag(etag, GZIP), coded_etag(etag, BR))
    assert not etag_matches(etag, coded_etag(etag, GZIP))


@pytest.mark.parametrize("best", [False, True], ids=["fast", "best"])
def test_compress_round_trips_and_is_deterministic(best: bool) -> None:
    body = b"<svg>" + b"Keurmerk " * 500 + b"</svg>"
    assert compress(body, IDENTITY, best=best) is body
    zipped = compress(body, GZIP, best=best)
    assert gzip.decompress(zipped) == body
    assert zipped == compress(body, GZIP, best=best)  # same bytes on every instance
    squeezed = compress(body, BR, best=best)
    assert brotli.decompress(squeezed) == body
    assert len(squeezed) < len(zipped) < len(body) // 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", True), ("0123", True), ("", False), ("-1", False), ("1e3", False), (" 1", False),
     ("\u00b2", False), ("1\u00b9", False), ("\u0663", False), ("\uff11", False)],
)  # fmt: skip
def test_digits_are_ascii_digits_int_can_read(text: str, expected: bool) -> None:
    assert digits(text) is expected
    if expected:
        assert int(text) >= 0
