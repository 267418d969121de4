"""badge.proofs.job: the background checks outlive an outage and a bug, and tell them apart."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest

from badge.proofs import job
from badge.proofs.check import Checker
from badge.registry.model import DomainProof
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Settings
from tests.conftest import add_shop
from tests.faulty import tracebacks
from tests.servers import free_port


class FaultyProofs:
    """The real registry, with reading a domain's proof switched to a fault."""

    def __init__(self, inner: SQLiteRegistry, fault: Exception) -> None:
        self.inner = inner
        self.fault = fault

    def domain_proof(self, shop_id: str, domain: str) -> DomainProof:
        raise self.fault

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def unchanged(shop_id: str) -> None:
    raise AssertionError(f"{shop_id} reported as changed")


def checks_with(tmp_path: Path, fault: Exception, bug: job.BugReport = job.log_bug) -> bool:
    registry = SQLiteRegistry(tmp_path / "badge.db")
    add_shop(registry, domains=("job.test",), attest=False)
    # Nothing answers on this port: the fault comes before any lookup.
    checker = Checker(Settings(dns_resolver=(f"127.0.0.1:{free_port()}",), dns_timeout=0.3))
    faulty = FaultyProofs(registry, fault)
    try:
        return anyio.run(job.run_once, faulty, checker, unchanged, bug)
    finally:
        registry.close()


def test_an_outage_during_a_check_is_a_warning_and_no_bug(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bugs: list[str] = []
    with caplog.at_level(logging.WARNING, logger="badge"):
        outage = sqlite3.OperationalError("database is locked")
        assert checks_with(tmp_path, outage, lambda message, *args: bugs.append(message))
    said = [record.getMessage() for record in caplog.records]
    assert "ownership check of job.test failed: OperationalError" in said
    assert tracebacks(caplog) == [] and bugs == []


def test_a_bug_during_a_check_is_reported_with_its_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="badge"):
        # The job carries on: the domain's lease runs out and a later pass tries again.
        assert checks_with(tmp_path, KeyError("status"))
    [logged] = tracebacks(caplog)
    assert logged.getMessage() == "ownership check of job.test failed on an unexpected error"
    assert logged.exc_info is not None and logged.exc_info[0] is KeyError
