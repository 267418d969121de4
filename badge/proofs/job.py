"""The background job: every instance asks the registry for the domains due a check.

`claim_due_checks` hands each due domain to one instance only, for a lease, so instances
sharing a registry split the work and never check a domain twice at once; one that dies
mid-check leaves its domains to the others when the lease ends. A new domain is due at
once, so it is checked within a minute of being added.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import anyio

from badge.proofs.check import Checker
from badge.registry.base import Registry
from badge.registry.unreachable import UNREACHABLE_ERRORS

logger = logging.getLogger("badge")
ACTOR: Final = "ownership-check"
# How often an idle instance asks whether anything is due: a cheap indexed query.
POLL_SECONDS: Final = 60.0
# What is told of a bug (not an outage): called in the `except` block, it logs the traceback;
# the app passes BadgeService.internal_error, which also counts it in /metrics.
BugReport = Callable[..., None]


def log_bug(message: str, *args: object) -> None:
    logger.exception(message, *args)


async def run(
    registry: Registry,
    checker: Checker,
    changed: Callable[[str], Awaitable[None]],
    bug: BugReport = log_bug,
) -> None:
    """Until cancelled. `changed(shop_id)` tells this instance's badges and the others."""
    pause = min(POLL_SECONDS, float(checker.settings.domain_check_interval))
    busy = False
    while True:
        # A pause first: a starting instance serves badges before it checks anything.
        if not busy:
            await anyio.sleep(pause)
        try:
            busy = await run_once(registry, checker, changed, bug)
        except UNREACHABLE_ERRORS as exc:
            logger.warning("ownership checks failed: %s", type(exc).__name__)
            busy = False
        except Exception:
            bug("ownership checks failed on an unexpected error")
            busy = False


async def run_once(
    registry: Registry,
    checker: Checker,
    changed: Callable[[str], Awaitable[None]],
    bug: BugReport = log_bug,
) -> bool:
    """Check what is due now; True when there may be more."""
    due = await anyio.to_thread.run_sync(registry.claim_due_checks)
    for shop_id, domain in due:
        try:
            work = functools.partial(checker.check, registry, shop_id, domain, actor=ACTOR)
            checked = await anyio.to_thread.run_sync(work)
        except UNREACHABLE_ERRORS as exc:
            # Its lease runs out and a later pass tries again.
            logger.warning("ownership check of %s failed: %s", domain, type(exc).__name__)
            continue
        except Exception:
            bug("ownership check of %s failed on an unexpected error", domain)
            continue
        if checked.changed:
            await changed(shop_id)
    counts = await anyio.to_thread.run_sync(registry.proof_counts)
    checker.stats.states = {str(state): n for state, n in counts.items()}
    return len(due) > 0
