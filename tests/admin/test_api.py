"""The operators' admin API: bearer tokens, shops, state changes, history, sightings, reports.

Real SQLite and the real app through TestClient; tokens are stored hashed, as the CLI does.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import anyio
import pytest
from starlette.testclient import TestClient

from badge.admin.auth import CACHE_SECONDS, TokenCache, bearer_token
from badge.app import create_app
from badge.platform.timeutil import today
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Settings
from tests.conftest import add_shop
from tests.servers import cli, service_env, token_claims

API = "/admin/api/v1"
TOKEN = "bkt_test-token-for-the-crm-0123456789abcdefghijk"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.fixture
def admin(registry: SQLiteRegistry, settings: Settings) -> Iterator[TestClient]:
    registry.add_token("crm", digest(TOKEN))
    with TestClient(create_app(settings)) as client:
        client.headers["authorization"] = f"Bearer {TOKEN}"
        yield client


def new_shop_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Fietsen Peeters",
        "legal_name": "Fietsen Peeters BV",
        "enterprise_number": "0123.456.749",
        "domains": ["Fietsen-Peeters.be", "www.fietsenpeeters.com"],
        "categories": ["b2c_member"],
        "state": "certified",
        "certified_since": "2024-01-15",
        "valid_until": (today() + timedelta(days=300)).isoformat(),
        "last_audit": "2025-11-02",
    }
    body.update(overrides)
    return body


def badge_state(client: TestClient, shop_id: str) -> object:
    """The state signed into the badge this instance serves now."""
    claims = token_claims(client.get(f"/b/{shop_id}.svg").content)
    assert claims is not None
    return claims["state"]


def assert_error(response: Any, status: int, *fragments: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error", "message"}
    for fragment in fragments:
        assert fragment in body["message"]


class TestAuthentication:
    @pytest.mark.parametrize(
        "headers",
        [
            pytest.param({}, id="missing"),
            pytest.param({"authorization": "Bearer bkt_wrong"}, id="wrong-token"),
            pytest.param({"authorization": f"Basic {TOKEN}"}, id="wrong-scheme"),
            pytest.param({"authorization": "Bearer "}, id="empty"),
            pytest.param({"authorization": "Bearer " + "x" * 5000}, id="huge"),
            pytest.param({"authorization": f"Bearer {digest(TOKEN)}"}, id="the-digest-itself"),
        ],
    )
    def test_rejected(
        self, registry: SQLiteRegistry, client: TestClient, headers: dict[str, str]
    ) -> None:
        registry.add_token("crm", digest(TOKEN))
        for path in (f"{API}/shops", f"{API}/no-such-path"):
            response = client.get(path, headers=headers)
            assert_error(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")

    def test_accepted_with_any_case_scheme(self, admin: TestClient) -> None:
        response = admin.get(f"{API}/shops", headers={"authorization": f"bearer {TOKEN}"})
        assert response.status_code == 200

    def test_token_from_the_cli(self, client: TestClient, settings: Settings) -> None:
        env = service_env(settings.keys_dir.parent)
        env["BADGE_DATABASE_URL"] = settings.database_url.reveal()
        result = cli(env, "tokens", "create", "crm-from-cli")
        assert result.returncode == 0, result.stderr
        token = result.stdout.strip().splitlines()[-1]
        response = client.get(f"{API}/shops", headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text

    def test_tokens_never_logged(self, admin: TestClient, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.DEBUG):
            admin.get(f"{API}/shops")
            admin.get(f"{API}/shops", headers={"authorization": "Bearer bkt_not-a-real-one"})
        assert TOKEN not in caplog.text
        assert "bkt_not-a-real-one" not in caplog.text

    def test_bearer_token_parsing(self) -> None:
        from starlette.datastructures import Headers

        assert bearer_token(Headers({"authorization": "Bearer  abc "})) == "abc"
        assert bearer_token(Headers({"authorization": "Bearer a b"})) is None
        assert bearer_token(Headers({"authorization": "Bearer é"})) is None
        assert bearer_token(Headers({})) is None


class FakeRegistry:
    def __init__(self) -> None:
        self.tokens: list[tuple[str, str]] = []
        self.loads = 0

    def token_digests(self) -> list[tuple[str, str]]:
        self.loads += 1
        return list(self.tokens)


class TestTokenCache:
    def identify(self, cache: TokenCache, registry: FakeRegistry, token: str) -> str | None:
        return anyio.run(cache.identify, registry, token)  # type: ignore[arg-type]

    def test_digests_are_cached_and_new_tokens_work_soon(self) -> None:
        now = [100.0]
        cache = TokenCache(clock=lambda: now[0])
        registry = FakeRegistry()
        registry.tokens.append(("crm", digest("one")))
        assert self.identify(cache, registry, "one") == "crm"
        for _ in range(20):
            assert self.identify(cache, registry, "one") == "crm"
        assert registry.loads == 1
        # A bad token right away does not reach the registry...
        assert self.identify(cache, registry, "nope") is None
        assert registry.loads == 1
        # ...but a token created a moment ago works within a second.
        registry.tokens.append(("ops", digest("two")))
        now[0] += 1.0
        assert self.identify(cache, registry, "two") == "ops"
        assert registry.loads == 2
        now[0] += CACHE_SECONDS
        assert self.identify(cache, registry, "one") == "crm"
        assert registry.loads == 3

    def test_every_digest_is_compared(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import hmac

        from badge.admin import auth

        calls: list[bytes] = []
        real = hmac.compare_digest

        def counting(a: bytes, b: bytes) -> bool:
            calls.append(a)
            return real(a, b)

        monkeypatch.setattr(hmac, "compare_digest", counting)
        digests = [(f"t{i}", digest(f"token{i}").encode()) for i in range(5)]
        assert auth.match(digests, digest("token0").encode()) == "t0"
        assert len(calls) == 5


class TestShops:
    def test_create_read_list(self, admin: TestClient) -> None:
        response = admin.post(f"{API}/shops", json=new_shop_body())
        assert response.status_code == 201, response.text
        assert response.headers["cache-control"] == "no-store"
        created = response.json()
        assert re.fullmatch(r"[a-z2-9]{16}", created["id"])
        assert response.headers["location"] == f"{API}/shops/{created['id']}"
        assert created["domains"] == ["fietsen-peeters.be", "fietsenpeeters.com"]
        assert created["state"] == "certified"

        fetched = admin.get(response.headers["location"])
        assert fetched.status_code == 200
        assert fetched.json() == created
        assert fetched.headers["cache-control"] == "no-store"

        listed = admin.get(f"{API}/shops").json()
        assert listed["total"] == 1
        assert [s["id"] for s in listed["shops"]] == [created["id"]]

        history = admin.get(f"{API}/shops/{created['id']}/history").json()
        assert [(e["to"], e["actor"]) for e in history["events"]] == [("certified", "api:crm")]

    def test_create_suspended_with_display_name_alias(self, admin: TestClient) -> None:
        body = new_shop_body(state="suspended")
        body["display_name"] = body.pop("name")
        response = admin.post(f"{API}/shops", json=body)
        assert response.status_code == 201, response.text
        assert response.json()["state"] == "suspended"

    def test_list_paginates(self, admin: TestClient, registry: SQLiteRegistry) -> None:
        for index in range(5):
            add_shop(registry, name=f"Shop {index}", domains=(f"shop{index}.be",))
        page = admin.get(f"{API}/shops?limit=2&offset=2").json()
        assert page["total"] == 5
        assert page["limit"] == 2
        assert page["offset"] == 2
        assert [s["display_name"] for s in page["shops"]] == ["Shop 2", "Shop 3"]

    @pytest.mark.parametrize(
        "query",
        [
            *("limit=-1", "limit=", "limit=abc", "limit=1001", "offset=1e3", "limit=99999999999"),
            # Digits to str.isdigit(), not to int(): refused like any other word.
            *("limit=%C2%B9", "offset=%C2%B2%C2%B3", "limit=%D9%A3"),
            # Given twice, refused: neither the first nor the last wins silently.
            *("limit=2&limit=3", "offset=&offset=1"),
        ],
    )
    def test_list_bad_paging(self, admin: TestClient, query: str) -> None:
        assert_error(admin.get(f"{API}/shops?{query}"), 400)

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            pytest.param(new_shop_body(colour="red"), "unknown field 'colour'", id="unknown-field"),
            pytest.param(new_shop_body(domains="a.be"), "domains must be a list", id="domains-str"),
            pytest.param(new_shop_body(domains=[1]), "list of strings", id="domains-int"),
            pytest.param(new_shop_body(name=42), "name must be a string", id="name-int"),
            pytest.param(new_shop_body(name=None), "name", id="name-missing"),
            pytest.param(new_shop_body(domains=[]), "at least one", id="no-domains"),
            pytest.param(new_shop_body(enterprise_number="0123.456.789"), "check digit", id="kbo"),
            pytest.param(new_shop_body(state="expired"), "derived", id="state-expired"),
            pytest.param(new_shop_body(state="happy"), "unknown state", id="state-unknown"),
            pytest.param(new_shop_body(categories=["gold"]), "unknown category", id="category"),
            pytest.param(new_shop_body(valid_until="31/12/2027"), "2027-12-31", id="date"),
            pytest.param(
                new_shop_body(certified_since="2025-01-01", valid_until="2024-01-01"),
                "before",
                id="dates-reversed",
            ),
            pytest.param(
                {**new_shop_body(), "display_name": "X"}, "not both", id="name-and-display_name"
            ),
            pytest.param(new_shop_body(domains=["<script>"]), "domain", id="domain-html"),
        ],
    )
    def test_create_validation(self, admin: TestClient, body: Any, fragment: str) -> None:
        response = admin.post(f"{API}/shops", json=body)
        assert_error(response, 400, fragment)
        assert admin.get(f"{API}/shops").json()["total"] == 0

    @pytest.mark.parametrize(
        ("content", "fragment"),
        [
            pytest.param(b"{", "not valid JSON", id="truncated"),
            pytest.param(b"[1, 2]", "JSON object", id="array"),
            pytest.param(b'{"name": NaN}', "not valid JSON", id="nan"),
            pytest.param(b"\xff\xfe", "UTF-8", id="not-utf8"),
            # Refused at the first byte of the unexpected value, never parsed deeper.
            pytest.param(b"[" * 30_000 + b"]" * 30_000, "JSON object", id="deep-nesting"),
            pytest.param(
                b'{"name": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
                "name must be a string",
                id="deep-nesting-in-a-field",
            ),
            pytest.param(b'{"name": "\\ud800"}', "surrogate", id="lone-surrogate"),
        ],
    )
    def test_bad_json(self, admin: TestClient, content: bytes, fragment: str) -> None:
        response = admin.post(
            f"{API}/shops", content=content, headers={"content-type": "application/json"}
        )
        assert_error(response, 400, fragment)

    def test_json_only(self, admin: TestClient) -> None:
        response = admin.post(f"{API}/shops", data={"name": "x"})
        assert_error(response, 415, "application/json")
        response = admin.post(f"{API}/shops", content=b"{}")
        assert_error(response, 415)

    def test_body_is_bounded(self, admin: TestClient) -> None:
        huge = new_shop_body(name="x" * (70 * 1024))
        assert_error(admin.post(f"{API}/shops", json=huge), 413, "64 KB")

        def chunks() -> Iterator[bytes]:
            yield b'{"name": "'
            for _ in range(100):
                yield b"x" * 1024
            yield b'"}'

        response = admin.post(
            f"{API}/shops", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_error(response, 413)

    def test_domain_taken_is_a_conflict(self, admin: TestClient, shop: Shop) -> None:
        response = admin.post(f"{API}/shops", json=new_shop_body(domains=[shop.domains[0]]))
        assert_error(response, 409, shop.domains[0])

    def test_unknown_and_odd_ids(self, admin: TestClient) -> None:
        for shop_id in ("aaaaaaaaaaaaaaaa", "nope", "x" * 300, "%3Cscript%3E"):
            assert_error(admin.get(f"{API}/shops/{shop_id}"), 404)
            assert_error(admin.get(f"{API}/shops/{shop_id}/history"), 404)
            assert_error(admin.get(f"{API}/shops/{shop_id}/sightings"), 404)
            assert_error(
                admin.post(
                    f"{API}/shops/{shop_id}/state", json={"state": "revoked", "reason": "r"}
                ),
                404,
            )
            assert_error(admin.patch(f"{API}/shops/{shop_id}", json={"name": "x"}), 404)

    def test_router_errors_are_json_and_no_store(self, admin: TestClient, shop: Shop) -> None:
        assert_error(admin.get(f"{API}/nothing-here"), 404)
        response = admin.delete(f"{API}/shops/{shop.id}")
        assert_error(response, 405)
        assert "GET" in response.headers["allow"]


class TestUpdate:
    def test_rename_and_renew(self, admin: TestClient, shop: Shop) -> None:
        renewed = (today() + timedelta(days=730)).isoformat()
        response = admin.patch(
            f"{API}/shops/{shop.id}",
            json={
                "name": "Bakkerij <Nieuw>",
                "valid_until": renewed,
                "categories": [],
                "reason": "renewed after the 2026 audit",
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["display_name"] == "Bakkerij <Nieuw>"
        assert body["valid_until"] == renewed
        assert body["categories"] == []
        assert body["legal_name"] == shop.legal_name
        events = admin.get(f"{API}/shops/{shop.id}/history").json()["events"]
        assert events[-1]["reason"] == "renewed after the 2026 audit"
        assert events[-1]["actor"] == "api:crm"
        assert events[-1]["changes"] == {
            "display_name": {"from": shop.display_name, "to": "Bakkerij <Nieuw>"},
            "valid_until": {"from": shop.valid_until.isoformat(), "to": renewed},  # type: ignore[union-attr]
            "categories": {"from": list(shop.categories), "to": []},
        }

    def test_renewing_an_expired_shop_certifies_its_badge(
        self, admin: TestClient, registry: SQLiteRegistry
    ) -> None:
        expired = add_shop(registry, valid_days=-1)
        assert admin.get(f"{API}/shops/{expired.id}").json()["state"] == "expired"
        assert badge_state(admin, expired.id) == "expired"
        renewed = (today() + timedelta(days=365)).isoformat()
        response = admin.patch(
            f"{API}/shops/{expired.id}", json={"valid_until": renewed, "reason": "renewed"}
        )
        assert response.json()["state"] == "certified"
        # This instance forgets the cached badge at once.
        assert badge_state(admin, expired.id) == "certified"

    def test_domains(self, admin: TestClient, shop: Shop, registry: SQLiteRegistry) -> None:
        other = add_shop(registry, name="Other", domains=("other.be",))
        response = admin.patch(
            f"{API}/shops/{shop.id}", json={"domains": ["NEW.be", "b.be"], "reason": "moved"}
        )
        assert response.json()["domains"] == ["new.be", "b.be"]
        taken = {"domains": ["other.be"], "reason": "r"}
        assert_error(admin.patch(f"{API}/shops/{shop.id}", json=taken), 409)
        assert_error(
            admin.patch(f"{API}/shops/{shop.id}", json={"domains": [], "reason": "r"}), 400
        )
        assert registry.get_shop(other.id) is not None

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            pytest.param({}, "nothing to update", id="empty"),
            pytest.param({"state": "revoked"}, "/state", id="state"),
            pytest.param({"valid_until": None}, "cannot be null", id="null"),
            pytest.param({"id": "x"}, "unknown field 'id'", id="id"),
            pytest.param({"enterprise_number": "9"}, "ten digits", id="kbo"),
            pytest.param({"valid_until": "2000-01-01"}, "before certified_since", id="dates"),
            pytest.param({"name": " "}, "empty", id="blank-name"),
            pytest.param({"name": ["x"]}, "must be a string", id="name-list"),
        ],
    )
    def test_validation(self, admin: TestClient, shop: Shop, body: Any, fragment: str) -> None:
        body = {**body, "reason": "checking the validation"}
        assert_error(admin.patch(f"{API}/shops/{shop.id}", json=body), 400, fragment)

    @pytest.mark.parametrize(
        ("method", "suffix", "content"),
        [
            pytest.param(
                "PATCH", "", b'{"legal_name": "\\ud800", "reason": "r"}', id="patch-value"
            ),
            pytest.param("PATCH", "", b'{"\\udc00": 1}', id="patch-key"),
            pytest.param(
                "POST", "/state", b'{"state": "suspended", "reason": "x\\udfff"}', id="state"
            ),
        ],
    )
    def test_lone_surrogate_is_a_400(
        self, admin: TestClient, shop: Shop, method: str, suffix: str, content: bytes
    ) -> None:
        # Found by fuzzing: json.loads keeps a lone "\ud800" and SQLite then failed with a 500.
        response = admin.request(
            method,
            f"{API}/shops/{shop.id}{suffix}",
            content=content,
            headers={"content-type": "application/json"},
        )
        assert_error(response, 400, "surrogate")
        assert admin.get(f"{API}/shops/{shop.id}").json()["legal_name"] == shop.legal_name

    def test_merge_patch_content_type(self, admin: TestClient, shop: Shop) -> None:
        response = admin.patch(
            f"{API}/shops/{shop.id}",
            content=b'{"legal_name": "Bakkerij Test NV", "reason": "new legal form"}',
            headers={"content-type": "application/merge-patch+json"},
        )
        assert response.status_code == 200
        assert response.json()["legal_name"] == "Bakkerij Test NV"


class TestState:
    def post_state(self, admin: TestClient, shop_id: str, **body: Any) -> Any:
        return admin.post(f"{API}/shops/{shop_id}/state", json=body)

    def test_suspend_then_recertify(self, admin: TestClient, shop: Shop) -> None:
        assert badge_state(admin, shop.id) == "certified"
        response = self.post_state(
            admin, shop.id, state="suspended", reason="complaint under review"
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["shop"]["state"] == "suspended"
        assert body["event"]["from"] == "certified"
        assert body["event"]["to"] == "suspended"
        assert body["event"]["actor"] == "api:crm"
        # The badge on this instance changes on the next request, not after the cache ages.
        assert badge_state(admin, shop.id) == "suspended"

        assert (
            self.post_state(admin, shop.id, state="certified", reason="cleared").status_code == 200
        )
        events = admin.get(f"{API}/shops/{shop.id}/history").json()["events"]
        assert [(e["from"], e["to"], e["reason"]) for e in events] == [
            (None, "certified", "registered"),
            ("certified", "certified", "test shop"),  # the test operator attests its domain
            ("certified", "suspended", "complaint under review"),
            ("suspended", "certified", "cleared"),
        ]

    @pytest.mark.parametrize(
        ("body", "fragment"),
        [
            pytest.param({"state": "suspended"}, "reason is required", id="no-reason"),
            pytest.param({"state": "suspended", "reason": "  "}, "reason", id="blank-reason"),
            pytest.param({"reason": "x"}, "state", id="no-state"),
            pytest.param({"state": "expired", "reason": "x"}, "derived", id="expired"),
            pytest.param({"state": "suspended", "reason": 5}, "string", id="reason-number"),
            pytest.param({"state": "suspended", "reason": "x", "by": "me"}, "'by'", id="extra"),
            pytest.param({"state": "suspended", "reason": "x" * 1001}, "1000", id="long-reason"),
        ],
    )
    def test_validation(self, admin: TestClient, shop: Shop, body: Any, fragment: str) -> None:
        response = admin.post(f"{API}/shops/{shop.id}/state", json=body)
        assert_error(response, 400, fragment)
        # The registration and the attestation of its domain; the refused change left nothing.
        assert len(admin.get(f"{API}/shops/{shop.id}/history").json()["events"]) == 2

    def test_illegal_transitions_conflict(self, admin: TestClient, shop: Shop) -> None:
        assert_error(self.post_state(admin, shop.id, state="certified", reason="x"), 409, "already")
        assert self.post_state(admin, shop.id, state="revoked", reason="fraud").status_code == 200
        response = self.post_state(admin, shop.id, state="suspended", reason="x")
        assert_error(response, 409, "revoked")


class TestSightingsAndReports:
    def test_misuse_report(self, registry: SQLiteRegistry, settings: Settings, shop: Shop) -> None:
        registry.add_token("crm", digest(TOKEN))
        with TestClient(create_app(settings)) as client:
            client.get(f"/b/{shop.id}.svg?d=other.example")
            client.get(f"/b/{shop.id}.svg?d=other.example&size=s")
            client.get(f"/b/{shop.id}.svg", headers={"referer": "https://www.bakkerij-test.be/x"})
            client.get(f"/b/{shop.id}.png", headers={"referer": "https://copycat.example/shop"})
        # The sightings were flushed when that app shut down.
        with TestClient(create_app(settings)) as admin:
            admin.headers["authorization"] = f"Bearer {TOKEN}"
            misuse = admin.get(f"{API}/sightings?unregistered=1").json()
            assert misuse["unregistered_only"] is True
            rows = {(s["shop_id"], s["host"]): s for s in misuse["sightings"]}
            assert set(rows) == {(shop.id, "other.example"), (shop.id, "copycat.example")}
            assert rows[(shop.id, "other.example")]["count"] == 2
            assert rows[(shop.id, "other.example")]["shop_name"] == shop.display_name
            assert rows[(shop.id, "other.example")]["registered"] is False

            everything = admin.get(f"{API}/sightings").json()["sightings"]
            assert {s["host"] for s in everything} == {
                "other.example",
                "copycat.example",
                "bakkerij-test.be",
            }
            per_shop = admin.get(f"{API}/shops/{shop.id}/sightings").json()
            assert len(per_shop["sightings"]) == 3

            summary = admin.get(f"{API}/reports/summary").json()
            assert summary["unregistered_sighting_hosts"] == 2
            # Exactly the documented spellings: a stray newline or capital is refused.
            for odd in ("maybe", "%0A", "%201", "TRUE"):
                assert_error(admin.get(f"{API}/sightings?unregistered={odd}"), 400)
            assert admin.get(f"{API}/sightings?unregistered=").json()["unregistered_only"] is False

    def test_summary(self, admin: TestClient, registry: SQLiteRegistry) -> None:
        add_shop(registry, name="Soon", domains=("soon.be",), valid_days=10)
        add_shop(registry, name="Later", domains=("later.be",), valid_days=100)
        add_shop(registry, name="Gone", domains=("gone.be",), valid_days=-5)
        add_shop(registry, name="Paused", domains=("paused.be",), state="suspended", valid_days=3)
        add_shop(registry, name="Out", domains=("out.be",), state="revoked")
        response = admin.get(f"{API}/reports/summary")
        assert response.headers["cache-control"] == "no-store"
        summary = response.json()
        assert summary["total"] == 5
        assert summary["by_state"] == {
            "certified": 2,
            "suspended": 1,
            "revoked": 1,
            "expired": 1,
        }
        expiring = summary["expiring_within_30_days"]
        assert expiring["count"] == 1
        assert [s["display_name"] for s in expiring["shops"]] == ["Soon"]
        assert summary["unregistered_sighting_hosts"] == 0
        assert summary["as_of"] == today().isoformat()


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        pytest.param("/admin/api/v1/shops", {"GET", "HEAD", "POST"}, id="shops"),
        pytest.param("/admin/api/v1/shops/{id}", {"GET", "HEAD", "PATCH"}, id="shop"),
    ],
)
def test_405_lists_every_allowed_method(
    client: TestClient, registry: SQLiteRegistry, path: str, allowed: set[str]
) -> None:
    shop = add_shop(registry)
    token = "bkt_" + "m" * 40
    registry.add_token("allow-test", hashlib.sha256(token.encode()).hexdigest())
    response = client.delete(
        path.replace("{id}", shop.id), headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


def test_verify_405_lists_get_and_post(client: TestClient) -> None:
    response = client.put("/verify")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD", "POST"}
