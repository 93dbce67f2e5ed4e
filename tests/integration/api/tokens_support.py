"""What the token and isolation tests share: a started app, tokens of each role, a factory
seeded with one of every resource, and a request that never waits on an endless stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import asyncpg
import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from schemas import MachinePayload, ProductionPayload
from services.api import token_store
from services.api.app import create_app
from services.api.tokens import Role
from services.runtime.settings import ApiSettings
from tests.integration.api.support import AUTH, NOW, TOKEN, store_station

RANGE: Final = {"start": "2026-11-02T00:00:00Z", "end": "2026-11-03T00:00:00Z"}
SETTINGS: Final = {"name": "Line", "timezone": "UTC", "ideal_cycle_time_s": 1.0}


@asynccontextmanager
async def started_app(database_url: str, **settings: Any) -> AsyncIterator[FastAPI]:
    """An app on ``database_url`` with its lifespan run, its clock pinned at `NOW`."""
    options = ApiSettings(database_url=database_url, bootstrap_token=SecretStr(TOKEN), **settings)
    app = create_app(options, clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def a_token(db: asyncpg.Connection, role: Role, *factories: str) -> str:
    text, _ = await token_store.create_token(db, role=role, factories=factories, label="test")
    return text


class Stream:
    """One request sent straight to the app (ASGI), whose status is known once the answer
    starts, however long its body lasts: a live feed is open until `close`."""

    def __init__(
        self, app: FastAPI, method: str, url: str, headers: dict[str, str], body: bytes = b""
    ) -> None:
        path, _, query = url.partition("?")
        self._scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query.encode(), "root_path": "", "server": ("api", 80),
            "client": ("127.0.0.1", 1),
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                        for k, v in {**headers, "content-length": str(len(body))}.items()],
        }  # fmt: skip
        self._app, self._body = app, body
        self._sent = False
        self._gone = asyncio.Event()
        self._status: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._task: asyncio.Task[None] | None = None

    async def _receive(self) -> dict[str, Any]:
        if not self._sent:
            self._sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not self._status.done():
            self._status.set_result(message["status"])

    async def open(self) -> int:
        """Send the request; its status, once the answer starts (10 s at most)."""
        self._task = asyncio.create_task(self._app(self._scope, self._receive, self._send))
        return await asyncio.wait_for(asyncio.shield(self._status), 10)

    async def close(self) -> None:
        """Hang up, and wait until the app is done with the request."""
        self._gone.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)


async def status_of(
    app: FastAPI, method: str, url: str, headers: dict[str, str], body: object = None
) -> int:
    """The status of one request (a stream is hung up on as soon as it starts)."""
    raw = b"" if body is None else json.dumps(body).encode()
    if body is not None:
        headers = {**headers, "content-type": "application/json"}
    stream = Stream(app, method, url, headers, raw)
    try:
        return await stream.open()
    finally:
        await stream.close()


@dataclass(frozen=True)
class Seeded:
    """One factory's resources: a line with settings, events, floor state, a kanban card."""

    factory: str
    line: str
    card_id: int


async def seed_factory(db: asyncpg.Connection, http: httpx.AsyncClient, factory: str) -> Seeded:
    """A line with settings (PUT with the admin token), a station's machine and production
    events with their buckets, floor state and an open kanban card."""
    line = "l1"
    answer = await http.put(
        f"/api/v1/factories/{factory}/lines/{line}", json=SETTINGS, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    start = NOW - timedelta(hours=2)
    changes = [MachinePayload(event_id="m1", ts=start, state="running")]
    made: Sequence[ProductionPayload] = [
        ProductionPayload(event_id="p1", ts=start + timedelta(minutes=5), good=10, scrap=1)
    ]
    await store_station(
        db, factory, line, "s1", changes=changes, production=made, window=(start, NOW)
    )
    await db.execute(
        "INSERT INTO station_state (factory, line, station, state, since, last_seen)"
        " VALUES ($1, $2, 's1', 'running', $3, $3)",
        factory, line, start,
    )  # fmt: skip
    card_id: int = await db.fetchval(
        "INSERT INTO kanban_card (factory, line, material_id, slot, quantity, status, raised_at,"
        " raised_event_id, updated_at) VALUES ($1, $2, 'm1', 1, 50, 'requested', $3, 'x1', $3)"
        " RETURNING id",
        factory, line, NOW - timedelta(minutes=10),
    )  # fmt: skip
    return Seeded(factory, line, card_id)
