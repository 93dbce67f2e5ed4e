"""Health, readiness, metrics and auth of the API, with a real PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.api.app import create_app
from services.runtime.settings import ApiSettings
from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import AUTH, TOKEN, a_factory, put_line

pytestmark = pytest.mark.integration


async def test_health_readiness_and_metrics_need_no_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "live_feed": "ok"}}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200 and "process_cpu_seconds_total" in metrics.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
    ],
)
async def test_a_missing_or_wrong_token_gets_401_in_json(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/lines", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


async def test_the_token_is_taken_as_a_header_or_a_board_link(
    empty_client: httpx.AsyncClient,
) -> None:
    by_header = await empty_client.get(
        "/api/v1/lines", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    by_link = await empty_client.get(f"/api/v1/lines?token={TOKEN}")
    assert by_header.status_code == by_link.status_code == 200
    assert by_header.json() == by_link.json() == {"items": [], "next": None}


async def test_an_unknown_path_is_a_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_readiness_names_the_failing_dependency(stack: Endpoints) -> None:
    settings = ApiSettings(database_url=stack.database_url, bootstrap_token=SecretStr(TOKEN))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.pool.close()  # the database "goes away"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")


@asynccontextmanager
async def _started(stack: Endpoints) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = ApiSettings(database_url=stack.database_url, bootstrap_token=SecretStr(TOKEN))
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield app, http


async def test_readiness_names_a_lost_live_feed(stack: Endpoints) -> None:
    async with _started(stack) as (app, http):
        assert (await http.get("/readyz")).status_code == 200
        await app.state.live.stop()  # the LISTEN connection is gone
        response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "live_feed": "unavailable: the LISTEN connection is down; reconnecting",
    }


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_request_latency_is_labelled_by_route_template(client: httpx.AsyncClient) -> None:
    factory = a_factory()
    for line in ("l1", "l2", "l3"):
        await client.get(f"/api/v1/factories/{factory}/lines/{line}", headers=AUTH)
    await client.get("/api/v1/lines", headers=AUTH)
    await client.get(f"/api/v1/{factory}/nothing-here")
    text = (await client.get("/metrics")).text
    count = "floorstream_api_request_seconds_count"
    template = "/api/v1/factories/{factory}/lines/{line}"
    assert _sample(text, count, route=template, method="GET", status="404") == 3
    assert _sample(text, count, route="/api/v1/lines", method="GET", status="200") == 1
    assert _sample(text, count, route="unmatched", method="GET", status="404") == 1
    assert factory not in text  # never a raw path
    routes = set(re.findall(r'floorstream_api_request_seconds_count\{[^}]*route="([^"]*)"', text))
    assert routes <= {template, "/api/v1/lines", "unmatched", "/metrics", "/healthz", "/readyz"}


class _Feed:
    """A live feed opened straight on the ASGI app: open until `close` (a screen leaving)."""

    def __init__(self, app: FastAPI, path: str) -> None:
        self._scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "server": ("api", 80),
            "client": ("127.0.0.1", 1),
            "headers": [(b"authorization", f"Bearer {TOKEN}".encode())],
        }  # fmt: skip
        self._app = app
        self._asked = False
        self._gone = asyncio.Event()
        self.status: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._app(self._scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and not self.status.done():
            self.status.set_result(message["status"])

    async def close(self) -> None:
        self._gone.set()
        await asyncio.wait_for(self._task, 10)


async def _screens(http: httpx.AsyncClient, expected: float) -> None:
    async with asyncio.timeout(10):
        while True:
            if _sample((await http.get("/metrics")).text, "floorstream_api_screens") == expected:
                return
            await asyncio.sleep(0.05)


async def test_the_screens_gauge_counts_open_live_feeds(stack: Endpoints) -> None:
    factory = a_factory()
    async with _started(stack) as (app, http):
        await put_line(http, factory, "l1", name="Line 1")
        await _screens(http, 0)
        feed = _Feed(app, f"/api/v1/factories/{factory}/lines/l1/live")
        try:
            assert await asyncio.wait_for(feed.status, 10) == 200
            await _screens(http, 1)
        finally:
            await feed.close()
        await _screens(http, 0)
        text = (await http.get("/metrics")).text
    live = "/api/v1/factories/{factory}/lines/{line}/live"
    count = "floorstream_api_request_seconds_count"
    assert _sample(text, count, route=live, method="GET", status="200") == 1
