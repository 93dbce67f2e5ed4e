"""A schemathesis run over the app's OpenAPI document: no 5xx, no answer that breaks its schema.

The app runs in a live uvicorn server (a thread, a free port) on a database of its own, so
the requests schemathesis sends (``requests``, synchronous) meet the app as a client would,
and the fuzzed settings it PUTs touch no other test's rows. The database holds the line of
the documents' examples (``f1``/``l1``, station ``press-2``, the contract's shift), so the
examples phase reaches the handlers' 200 answers too; requests carry a valid bearer token.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from services.api.app import create_app
from services.runtime.database import migrate
from services.runtime.settings import ApiSettings
from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import AUTH, NOW, TOKEN, store_station
from tests.support.database import fresh_database
from tests.unit.efficiency.builders import at, contract_shift

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@pytest.fixture(scope="module")
async def fuzz_database(stack: Endpoints) -> AsyncIterator[str]:
    """A database of its own, migrated, with the examples' line: the contract's shift."""
    async with fresh_database(stack.database_url, "api_fuzz") as url:
        connection = await asyncpg.connect(url)
        try:
            await migrate(connection)
            await connection.execute(
                "INSERT INTO line (factory, line, settings) VALUES ('f1', 'l1', $1::jsonb)",
                '{"name": "Press line 1", "timezone": "Asia/Shanghai", "ideal_cycle_time_s": 1}',
            )
            changes, production = contract_shift()
            window = (at("2026-11-01 16:00"), at("2026-11-02 16:00"))
            await store_station(
                connection,
                "f1",
                "l1",
                "press-2",
                changes=changes,
                production=production,
                window=window,
            )
        finally:
            await connection.close()
        yield url


@pytest.fixture(scope="module")
def fuzz_server(fuzz_database: str) -> Iterator[str]:
    """The app in a uvicorn server on a free port of 127.0.0.1; its base URL."""
    settings_ = ApiSettings(database_url=fuzz_database, bootstrap_token=SecretStr(TOKEN))
    app = create_app(settings_, clock=lambda: NOW)
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", ws="none", http="h11", access_log=False
    )
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def _document() -> dict[str, Any]:
    """The OpenAPI document, from an app that is built but not started (nothing connects)."""
    never = ApiSettings(database_url="postgresql://unused", bootstrap_token=SecretStr(TOKEN))
    return create_app(never).openapi()


schema = schemathesis.openapi.from_dict(_document())


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_its_documented_promises(
    case: schemathesis.Case[Any], fuzz_server: str
) -> None:
    case.call_and_validate(base_url=fuzz_server, headers=AUTH, checks=CHECKS)


_RANGED = [
    "/api/v1/factories/f1/efficiency",
    "/api/v1/factories/f1/lines/l1/efficiency",
    "/api/v1/factories/f1/lines/l1/downtime",
    "/api/v1/factories/f1/lines/l1/timeline",
]
_AROUND_NOW = st.integers(min_value=-3 * 86_400_000, max_value=3 * 86_400_000)


@settings(max_examples=40, deadline=None)
@given(
    path=st.sampled_from(_RANGED),
    offset_ms=_AROUND_NOW,
    length_ms=st.integers(min_value=1, max_value=3 * 86_400_000),
    granularity=st.sampled_from([None, "hour", "shift", "day"]),
)
def test_any_range_around_now_is_answered_never_a_500(
    fuzz_server: str, path: str, offset_ms: int, length_ms: int, granularity: str | None
) -> None:
    """Issue 14, 2: ranges before, across and after now (the state in force now has a live
    tail), down to the millisecond: 200 with what is known, or a 4xx in the JSON format."""
    start = NOW + timedelta(milliseconds=offset_ms)
    params = {
        "start": start.isoformat(),
        "end": (start + timedelta(milliseconds=length_ms)).isoformat(),
    }
    if granularity is not None and path.endswith("/lines/l1/efficiency"):
        params["granularity"] = granularity
    response = httpx.get(fuzz_server + path, params=params, headers=AUTH, timeout=60)
    assert response.status_code in (200, 422), (params, response.text)
    if response.status_code == 422:
        assert response.headers["content-type"].startswith("application/json")
        assert "detail" in response.json() or "error" in response.json()
