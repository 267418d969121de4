"""The edge as it ships: Varnish with deploy/varnish (VCL and varnishd.params) in front of a
real uvicorn instance, all on loopback.

- It stores the codings the service prepares (Brotli reaches a Brotli browser), never
  gunzips, and keeps Vary.
- It answers browsers' revalidations itself.
- It never changes what a request means (duplicated or reordered query parameters).
- Every object it keeps carries a surrogate key.
- Nothing the cache key ignores can change what the next ordinary visitor gets.
"""

from __future__ import annotations

import gzip
import http.client
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import brotli
import pytest

from badge.registry.sqlite import SQLiteRegistry
from tests.conftest import add_shop
from tests.edge import Varnish
from tests.servers import Service, free_port, service_env, token_claims

pytestmark = pytest.mark.server

DOMAIN = "rand-edge.be"
OTHER_DOMAIN = "ander-edge.be"
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36",
    "Accept": "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "Accept-Encoding": "gzip, deflate, br",
    "Accept-Language": "nl-BE,nl;q=0.9",
}


@dataclass
class Edge:
    service: Service
    varnish: Varnish
    shop_id: str
    other_id: str

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.varnish.port}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def cache(self) -> str:
        return self.headers.get("x-cache", "")

    def decoded(self) -> bytes:
        coding = self.headers.get("content-encoding")
        if coding == "br":
            return bytes(brotli.decompress(self.body))
        if coding == "gzip":
            return gzip.decompress(self.body)
        return self.body


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> Answer:
    """One GET as sent: the path is not re-encoded and a given Host replaces the default."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        sent = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, sent, body)
    finally:
        connection.close()


def purge_all(edge: Edge) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", edge.varnish.port, timeout=5)
    try:
        connection.request("PURGE", "/", headers={"xkey-purge": "keurmerk"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def served_to_backend(edge: Edge) -> int:
    return edge.varnish.counters("MAIN.backend_req")["MAIN.backend_req"]


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    work: Path = tmp_path_factory.mktemp("edge")
    edge_port = free_port()
    env = service_env(
        work,
        BADGE_PUBLIC_URL=f"http://127.0.0.1:{edge_port}",
        BADGE_PURGE_URLS=f"http://127.0.0.1:{edge_port}/",
        # As compose.yaml has it: the instance trusts the edge's forwarded headers, so the
        # edge must not pass on a client's.
        BADGE_FORWARDED_ALLOW_IPS="127.0.0.1",
        FORWARDED_ALLOW_IPS="127.0.0.1",
        BADGE_RENDER_PROCESSES="0",
    )
    registry = SQLiteRegistry(work / "badge.db")
    shop = add_shop(registry, name="Rand Edge", domains=(DOMAIN,))
    other = add_shop(
        registry, name="Ander Edge", domains=(OTHER_DOMAIN,), enterprise_number="0234.567.873"
    )
    registry.close()
    service = Service(env)
    service.start()
    varnish = Varnish([service.port], port=edge_port)
    try:
        varnish.start()
        yield Edge(service, varnish, shop.id, other.id)
    finally:
        varnish.stop()
        service.stop()


def badge_headers(**extra: str) -> dict[str, str]:
    return {**BROWSER, "Referer": f"https://www.{DOMAIN}/", **extra}


@pytest.mark.parametrize(
    ("accept_encoding", "coding"),
    [
        pytest.param("gzip, deflate, br", "br", id="chromium"),
        pytest.param("gzip, deflate, br, zstd", "br", id="chromium-zstd"),
        pytest.param("br;q=1.0, gzip;q=0.8, *;q=0.1", "br", id="weighted"),
        pytest.param("gzip, deflate", "gzip", id="no-br"),
        pytest.param("br;q=0, gzip", "gzip", id="br-refused"),
        pytest.param("*", "br", id="star"),
        pytest.param("br;q=0, *", "gzip", id="star-but-br"),
        pytest.param("identity", None, id="identity"),
        pytest.param("gzip;q=0, br;q=0", None, id="all-refused"),
        pytest.param(None, None, id="none"),
    ],
)
def test_the_edge_sends_the_coding_the_service_prepared(
    edge: Edge, accept_encoding: str | None, coding: str | None
) -> None:
    path = f"/b/{edge.shop_id}.svg?lang=nl&size=m"
    headers = badge_headers()
    del headers["Accept-Encoding"]
    if accept_encoding is not None:
        headers["Accept-Encoding"] = accept_encoding
    direct = fetch(edge.service.port, path, headers)
    gunzips = edge.varnish.counters("MAIN.n_gunzip")
    through = [fetch(edge.varnish.port, path, headers) for _ in range(2)]
    assert through[1].cache == "HIT"
    for answer in through:
        assert answer.status == 200
        assert answer.headers.get("content-encoding") == coding
        # The bytes the service prepared for that coding, stored as they are.
        assert answer.body == direct.body
        assert answer.headers["etag"] == direct.headers["etag"]
        assert answer.headers["vary"] == "Referer, Accept-Encoding"
        # The edge's own lifetime and keys stay at the edge.
        for private in ("surrogate-control", "xkey", "surrogate-key", "cache-tag", "age"):
            assert private not in answer.headers
    assert edge.varnish.counters("MAIN.n_gunzip") == gunzips
    claims = token_claims(through[1].decoded())
    assert claims is not None and claims["variant"] == "certified"


def test_brotli_reaches_a_brotli_browser_in_fewer_bytes(edge: Edge) -> None:
    path = f"/b/{edge.shop_id}.svg?lang=fr&size=l"
    br = fetch(edge.varnish.port, path, badge_headers())
    plain = fetch(edge.varnish.port, path, badge_headers(**{"Accept-Encoding": "gzip"}))
    assert br.headers["content-encoding"] == "br"
    assert plain.headers["content-encoding"] == "gzip"
    assert len(br.body) < len(plain.body)
    assert br.decoded() == plain.decoded()


def test_the_edge_answers_revalidations_itself(edge: Edge) -> None:
    path = f"/b/{edge.shop_id}.svg?lang=de&size=s"
    first = fetch(edge.varnish.port, path, badge_headers())
    assert first.status == 200
    asked = served_to_backend(edge)
    for _ in range(5):
        again = fetch(
            edge.varnish.port, path, badge_headers(**{"If-None-Match": first.headers["etag"]})
        )
        assert (again.status, again.body, again.cache) == (304, b"", "HIT")
        assert again.headers["etag"] == first.headers["etag"]
        assert "max-age=" in again.headers["cache-control"]
    # Another coding's ETag never confirms these bytes.
    gzip_etag = first.headers["etag"].replace('-br"', '-gzip"')
    mismatch = fetch(edge.varnish.port, path, badge_headers(**{"If-None-Match": gzip_etag}))
    assert mismatch.status == 200
    assert served_to_backend(edge) == asked


def test_browsers_get_a_minute_and_the_edge_keeps_the_badge_longer(edge: Edge) -> None:
    path = f"/b/{edge.shop_id}.svg?lang=en&size=m"
    direct = fetch(edge.service.port, path, badge_headers())
    max_age = int(re.search(r"max-age=(\d+)", direct.headers["cache-control"])[1])  # type: ignore[index]
    swr = int(re.search(r"stale-while-revalidate=(\d+)", direct.headers["cache-control"])[1])  # type: ignore[index]
    assert max_age + swr <= 60
    edge_max_age = int(direct.headers["surrogate-control"].removeprefix("max-age="))
    assert edge_max_age > max_age + swr
    fetch(edge.varnish.port, path, badge_headers())
    time.sleep(1.1)
    answer = fetch(edge.varnish.port, path, badge_headers())
    assert answer.cache == "HIT"
    assert answer.headers["cache-control"] == direct.headers["cache-control"]
    # Dated as a response made now, with no Age: a browser keeps it for its whole max-age,
    # however long the edge has held it.
    assert "age" not in answer.headers
    sent = parsedate_to_datetime(answer.headers["date"]).timestamp()
    assert abs(sent - time.time()) < 1.0


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/embed.js", id="embed-js"),
        pytest.param("/b/{shop}.svg?lang=nl", id="badge"),
        pytest.param("/api/v1/shops/{shop}", id="api"),
        pytest.param("/api/v1/lookup?domain=" + DOMAIN, id="lookup"),
        pytest.param("/.well-known/jwks.json", id="jwks"),
        pytest.param("/b/{shop}.svg?lang=nl&size=m&lang=fr", id="odd-query"),
    ],
)
def test_every_cached_object_is_purged_with_the_key_of_everything(edge: Edge, path: str) -> None:
    path = path.format(shop=edge.shop_id)
    fetch(edge.varnish.port, path, BROWSER)
    assert fetch(edge.varnish.port, path, BROWSER).cache == "HIT"
    purge_all(edge)
    assert fetch(edge.varnish.port, path, BROWSER).cache == "MISS"


def test_embed_js_carries_the_key_of_everything(edge: Edge) -> None:
    direct = fetch(edge.service.port, "/embed.js")
    assert direct.headers["xkey"] == "keurmerk"
    assert direct.headers["surrogate-key"] == "keurmerk"


QUERIES = [
    pytest.param("lang=nl&lang=fr", id="repeated-lang"),
    pytest.param("lang=fr&size=m&lang=nl", id="repeated-lang-apart"),
    pytest.param("size=l&lang=de&size=s", id="repeated-size"),
    pytest.param("d=elders.example&lang=nl&d=" + DOMAIN, id="repeated-d"),
    pytest.param("lang=nl&%6Cang=fr", id="encoded-name"),
    pytest.param("lang=de&size=l", id="plain"),
    # The URL embed.js writes, which the VCL keys as it is, and the same parameters sorted.
    pytest.param("lang=nl&size=m&d=" + DOMAIN, id="embed"),
    pytest.param("d=" + DOMAIN + "&lang=nl&size=m", id="embed-sorted"),
    pytest.param("lang=nl&size=m&d=elders.example&d=" + DOMAIN, id="embed-repeated-d"),
    pytest.param("size=l&lang=de", id="reordered"),
    pytest.param("zz=1&lang=fr&aa=2", id="unknown-names"),
    pytest.param("lang=nl&&size=s&", id="empty-parts"),
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_edge_never_changes_what_a_query_means(edge: Edge, query: str) -> None:
    path = f"/b/{edge.shop_id}.svg?{query}"
    direct = fetch(edge.service.port, path, badge_headers())
    for _ in range(2):
        through = fetch(edge.varnish.port, path, badge_headers())
        assert through.status == direct.status
        assert through.body == direct.body, query


def test_a_reordered_badge_query_shares_one_object(edge: Edge) -> None:
    fetch(edge.varnish.port, f"/b/{edge.shop_id}.png?lang=fr&size=s&scale=2", badge_headers())
    answer = fetch(
        edge.varnish.port, f"/b/{edge.shop_id}.png?scale=2&size=s&lang=fr", badge_headers()
    )
    assert answer.cache == "HIT"


# What an attacker may add to a request. Each runs first, on an empty cache; then an ordinary
# visitor asks for the same URL and must get what the service gives that visitor directly.
HEADER_ATTACKS: list[tuple[str, dict[str, str]]] = [
    ("X-Forwarded-Host", {"X-Forwarded-Host": "evil.example"}),
    ("X-Forwarded-Host with a port", {"X-Forwarded-Host": "evil.example:8443"}),
    ("X-Forwarded-Proto", {"X-Forwarded-Proto": "https"}),
    ("X-Forwarded-Proto, two values", {"X-Forwarded-Proto": "https, http"}),
    ("X-Forwarded-Scheme", {"X-Forwarded-Scheme": "https"}),
    ("X-Forwarded-Port", {"X-Forwarded-Port": "8443"}),
    ("X-Original-URL", {"X-Original-URL": "/b/{other}.svg?lang=fr"}),
    ("X-Rewrite-URL", {"X-Rewrite-URL": "/admin/api/v1/shops"}),
    ("X-Host", {"X-Host": "evil.example"}),
    ("Forwarded", {"Forwarded": "for=192.0.2.1;host=evil.example;proto=https"}),
    ("X-HTTP-Method-Override", {"X-HTTP-Method-Override": "PURGE"}),
    ("X-Forwarded-For", {"X-Forwarded-For": "192.0.2.66"}),
    ("Cookie", {"Cookie": "session=evil"}),
    ("Referer of another site", {"Referer": "https://evil.example/"}),
    ("Referer of the other shop", {"Referer": f"https://{OTHER_DOMAIN}/"}),
    ("Accept-Language", {"Accept-Language": "de-DE"}),
    ("Accept-Encoding refusing br", {"Accept-Encoding": "br;q=0, gzip"}),
    ("Accept-Encoding none", {"Accept-Encoding": "identity"}),
    ("Host with an odd port", {"Host": "{edge_ip}:1"}),
    ("Host with a trailing dot", {"Host": "{edge_ip}."}),
    ("Host in upper case", {"Host": "LOCALHOST"}),
    ("Host of another site", {"Host": "evil.example"}),
]
# Odd forms of the visitor's own URL: (what is appended or swapped in, how).
QUERY_ATTACKS: list[tuple[str, str]] = [
    ("duplicated lang", "{path}{sep}lang=fr&lang=de"),
    ("duplicated d", "{path}{sep}d=evil.example&d=" + DOMAIN),
    ("a percent-encoded name", "{path}{sep}%6Cang=fr"),
    ("an unknown parameter", "{path}{sep}utm_source=%3Cscript%3E"),
    ("a fragment", "{path}#lang=fr"),
    ("a trailing ampersand", "{path}{sep}"),
    ("a parameter in upper case", "{path}{sep}LANG=fr"),
]
TARGETS = [
    ("badge SVG", "/b/{shop}.svg?lang=nl&size=m"),
    ("badge PNG", "/b/{shop}.png?lang=nl&size=m&scale=2"),
    ("verification page", "/v/{shop}"),
    ("embed page", "/embed/{shop}"),
    ("embed.js", "/embed.js"),
    ("shop JSON", "/api/v1/shops/{shop}"),
    ("lookup JSON", "/api/v1/lookup?domain=" + DOMAIN),
]
CACHED = {"badge SVG", "badge PNG", "embed.js", "shop JSON", "lookup JSON"}


def shared(attack: str, target: str) -> bool:
    """Whether the attacker's request lands in the very object the visitor then gets: the
    header is not in the key (badges are keyed by the Referer's host, nothing else is)."""
    if target not in CACHED or attack.startswith(("Host", "Accept-Encoding")):
        return False
    return not (attack.startswith("Referer") and target.startswith("badge"))


# A report form token is signed per second: masked before two pages are compared.
_FORM_TOKEN = re.compile(rb'name="token" value="[^"]*"')


def _same(answer: Answer, expected: Answer) -> bool:
    if answer.status != expected.status:
        return False
    for name in ("content-type", "content-encoding", "etag", "vary", "cache-control", "location"):
        if answer.headers.get(name) != expected.headers.get(name):
            return False
    if answer.headers.get("etag") is not None:
        return answer.body == expected.body
    return _FORM_TOKEN.sub(b"", answer.decoded()) == _FORM_TOKEN.sub(b"", expected.decoded())


def ordinary_headers(target: str) -> dict[str, str]:
    return badge_headers() if target.startswith("badge") else dict(BROWSER)


def test_nothing_unkeyed_changes_what_the_next_visitor_gets(
    edge: Edge, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = [(name, path.format(shop=edge.shop_id)) for name, path in TARGETS]
    expected = {
        name: fetch(edge.service.port, path, ordinary_headers(name)) for name, path in targets
    }
    for name, answer in expected.items():
        assert answer.status == 200, name
    attempts: list[str] = []
    poisoned: list[str] = []
    for attack, extra in HEADER_ATTACKS:
        sent = {k: v.format(other=edge.other_id, edge_ip="127.0.0.1") for k, v in extra.items()}
        purge_all(edge)
        for name, path in targets:
            fetch(edge.varnish.port, path, {**ordinary_headers(name), **sent})
            answer = fetch(edge.varnish.port, path, ordinary_headers(name))
            attempts.append(f"{attack} on {name}")
            if not _same(answer, expected[name]):
                poisoned.append(f"{attack} on {name}")
            if shared(attack, name):
                # The attack really went through the cache the visitor is served from.
                assert answer.cache == "HIT", (attack, name)
    for attack, form in QUERY_ATTACKS:
        purge_all(edge)
        for name, path in targets:
            odd = form.format(path=path, sep="&" if "?" in path else "?")
            fetch(edge.varnish.port, odd, ordinary_headers(name))
            answer = fetch(edge.varnish.port, path, ordinary_headers(name))
            attempts.append(f"{attack} on {name}")
            if not _same(answer, expected[name]):
                poisoned.append(f"{attack} on {name}")
    with capsys.disabled():
        print(
            f"\n[edge] {len(attempts)} poisoning attempts ({len(HEADER_ATTACKS)} headers and "
            f"{len(QUERY_ATTACKS)} query forms on {len(targets)} targets): "
            f"{len(poisoned)} changed what the next visitor got"
        )
    assert poisoned == []
