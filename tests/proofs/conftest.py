"""Real servers for the ownership checks: dnslib on loopback, and HTTPS with a test CA."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proofservers import DnsServer, ProofCA, WebServer

HOSTS = ["shop.test", "big.test", "slow.test", "redirect.test", "elsewhere.test"]


@pytest.fixture(scope="module")
def dns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsServer]:
    server = DnsServer(tmp_path_factory.mktemp("dns"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> ProofCA:
    return ProofCA(tmp_path_factory.mktemp("ca"), HOSTS)


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory, test_ca: ProofCA) -> Iterator[WebServer]:
    server = WebServer(tmp_path_factory.mktemp("https"), test_ca)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    server = WebServer(tmp_path_factory.mktemp("http"), None)
    yield server
    server.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
