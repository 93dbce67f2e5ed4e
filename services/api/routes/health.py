"""Liveness, readiness and metrics: the three calls that need no token.

Readiness checks the database (``SELECT 1``) and the live feed's ``LISTEN`` connection
(``live_feed``: without it board screens get no pushes); the body has the shape of the
gateway's and processor's ``/readyz`` (`runtime.ops_server`).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api.live import LiveHub
from services.runtime.ops_server import NotReady, readiness_response, run_checks

router = APIRouter(tags=["operations"])

_CHECK_TIMEOUT_S = 2.0


@router.get("/healthz", summary="The process lives")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Every dependency answers; the failing one is named")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state

    async def database() -> None:
        await state.pool.fetchval("SELECT 1")

    async def live_feed() -> None:
        hub: LiveHub = state.live
        try:  # just started, or reconnecting: give it a moment
            await asyncio.wait_for(hub.listening.wait(), _CHECK_TIMEOUT_S / 2)
        except TimeoutError:
            raise NotReady("the LISTEN connection is down; reconnecting") from None

    checks = {"database": database, "live_feed": live_feed}
    return readiness_response(await run_checks(checks, timeout_s=_CHECK_TIMEOUT_S))


@router.get("/metrics", summary="Prometheus metrics of this API process")
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
