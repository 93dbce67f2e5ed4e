"""A line's live feed for board screens: Server-Sent Events telling them when to refetch.

The feed carries no figures, only ``event: changed`` (once on connect, then once per batch of
notices for the line, coalesced for a slow screen) and a heartbeat every ``board_heartbeat_s``
seconds, so that a screen can tell a quiet line from a dead connection. Both carry
``{"line": "f/l", "heartbeat_s": 15.0}``. The heartbeat is a ``: heartbeat`` comment (for
proxies and tools) *and* an ``event: heartbeat``: a browser's EventSource hides comments from
scripts, so a comment alone could not feed a page's dead-connection timer.

A token holds at most ``board_max_feeds_per_token`` feeds at once in one API process; one more
is a 429 (`services.api.feeds`).

Not in the OpenAPI schema: an endless stream is no request/answer call, and a client generated
from the schema (or a schema-driven test) would wait on it forever.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Final

import anyio
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask

from services.api.auth import FloorReader
from services.api.deps import Database, FactoryPath, LinePath, known_line
from services.api.feeds import FeedLimit
from services.api.live import LiveHub, Subscription, line_key
from services.runtime.settings import ApiSettings

router = APIRouter(tags=["live"])

_SHUTDOWN_GRACE_S: Final = 2.0


async def line_events(
    subscription: Subscription, *, heartbeat_s: float
) -> AsyncIterator[ServerSentEvent]:
    """``changed`` now and after every notice, until the subscription ends."""
    data = _data(subscription.key, heartbeat_s)
    yield ServerSentEvent(data, event="changed")
    while await subscription.changed():
        yield ServerSentEvent(data, event="changed")


def _data(key: str, heartbeat_s: float) -> str:
    return json.dumps({"line": key, "heartbeat_s": heartbeat_s})


def heartbeat(key: str, heartbeat_s: float) -> ServerSentEvent:
    """The keep-alive message, sent by `EventSourceResponse` every ``heartbeat_s``."""
    return ServerSentEvent(_data(key, heartbeat_s), event="heartbeat", comment="heartbeat")


@router.get("/factories/{factory}/lines/{line}/live", include_in_schema=False)
async def line_live(
    factory: FactoryPath, line: LinePath, caller: FloorReader, pool: Database, request: Request
) -> EventSourceResponse:
    await known_line(pool, scope=caller.scope, factory=factory, line=line)
    feeds: FeedLimit = request.app.state.feeds
    lease = feeds.take(caller.token_id)
    hub: LiveHub = request.app.state.live
    settings: ApiSettings = request.app.state.settings
    every = settings.board_heartbeat_s

    shutdown = anyio.Event()

    async def stream() -> AsyncIterator[ServerSentEvent]:
        # Subscribed inside the stream, so that the subscription ends with the connection.
        try:
            with hub.subscribe(factory, line) as subscription:
                ender = asyncio.create_task(_end_on(shutdown, subscription))
                try:
                    async for event in line_events(subscription, heartbeat_s=every):
                        yield event
                finally:
                    ender.cancel()
        finally:
            lease.release()

    # On server shutdown the stream ends cleanly (the response completes) and the server can
    # stop at once; the screen sees its feed end, marks stale and reconnects.
    return EventSourceResponse(
        stream(),
        ping=every,
        ping_message_factory=lambda: heartbeat(line_key(factory, line), every),
        sep="\n",
        shutdown_event=shutdown,
        shutdown_grace_period=_SHUTDOWN_GRACE_S,
        # Also when the stream never ran (the client left first): the lease is released once.
        background=BackgroundTask(lease.release),
    )


async def _end_on(shutdown: anyio.Event, subscription: Subscription) -> None:
    await shutdown.wait()
    subscription.close()
