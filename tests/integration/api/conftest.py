"""API clients on the session's PostgreSQL: the shared database, or a fresh empty one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from services.runtime.database import migrate
from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import NOW, serve
from tests.support.database import fresh_database


@pytest.fixture
async def client(stack: Endpoints) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API on the session's database, which other tests share."""
    async with serve(stack.database_url) as http:
        yield http


@pytest.fixture
async def empty_client(stack: Endpoints) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API on a database of its own, created empty and dropped after."""
    async with fresh_database(stack.database_url, "api_empty") as url, serve(url) as http:
        yield http


@pytest.fixture
async def db(stack: Endpoints) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the session's database, its schema migrated (whichever test runs first)."""
    connection = await asyncpg.connect(stack.database_url)
    await migrate(connection)
    yield connection
    await connection.close()


@pytest.fixture
async def api(stack: Endpoints) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API whose clock is pinned at `NOW`."""
    async with serve(stack.database_url, clock=lambda: NOW) as http:
        yield http
