"""The operators' API for domain ownership: proofs, challenges, checks and attestations.

A check runs the same probe as `badge domains check` (DNS, then the well-known file), in a
worker thread: it may take a few seconds, bounded by the lookup and fetch limits.
"""

from __future__ import annotations

import functools

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from badge.admin.body import read_model
from badge.admin.shops import _actor, _bool_param, _registry, _require, _shop_id
from badge.errors import NotFound
from badge.registry import proofs, rules
from badge.registry.model import DomainProof
from badge.state import app_state
from badge.web import api_models

_ATTEST_HINTS = {"reason": "a reason is required: how ownership was checked"}


def _domain(request: Request) -> str:
    raw = str(request.path_params["domain"])
    domain = rules.try_normalise_domain(raw)
    if domain is None:
        raise NotFound(f"{raw[:60]!r} is not a registered domain of this shop")
    return domain


async def list_domains(request: Request) -> Response:
    """Every registered domain's proof; `?attention=1`: only those not proven."""
    attention = _bool_param(request, "attention")
    found = await anyio.to_thread.run_sync(_registry(request).domain_proofs)
    if attention:
        found = [p for p in found if p.status.state != "proven"]
    return JSONResponse({"domains": [p.to_json() for p in found]})


async def shop_domains(request: Request) -> Response:
    shop_id = _shop_id(request)
    registry = _registry(request)

    def work() -> list[DomainProof]:
        _require(registry.get_shop(shop_id), shop_id)
        return registry.domain_proofs(shop_id)

    return JSONResponse({"domains": [p.to_json() for p in await anyio.to_thread.run_sync(work)]})


async def challenge(request: Request) -> Response:
    shop_id, domain = _shop_id(request), _domain(request)
    registry = _registry(request)
    proof = await anyio.to_thread.run_sync(registry.domain_proof, shop_id, domain)
    return JSONResponse(proofs.challenge(proof.domain, proof.token))


async def check(request: Request) -> Response:
    shop_id, domain = _shop_id(request), _domain(request)
    state = app_state(request)
    registry, checker = state["registry"], state["checker"]
    work = functools.partial(checker.check, registry, shop_id, domain, actor=_actor(request))
    checked = await anyio.to_thread.run_sync(work)
    if checked.changed:
        await state["badges"].changed(shop_id)
    proof = checked.proof
    return JSONResponse(
        {
            "domain": proof.to_json(),
            "proven": proof.status.state == "proven",
            "changed": checked.changed,
        }
    )


async def attest(request: Request) -> Response:
    shop_id, domain = _shop_id(request), _domain(request)
    registry = _registry(request)
    # An unknown shop or domain is a 404 whatever the body says.
    await anyio.to_thread.run_sync(registry.domain_proof, shop_id, domain)
    body = await read_model(request, api_models.Attestation, hints=_ATTEST_HINTS)
    work = functools.partial(
        registry.attest_domain, shop_id, domain, actor=_actor(request), reason=body.reason
    )
    proof, _ = await anyio.to_thread.run_sync(work)
    await app_state(request)["badges"].changed(shop_id)
    return JSONResponse(proof.to_json())
