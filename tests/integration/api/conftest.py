"""API clients on the session's PostgreSQL: the shared database, or a fresh empty one."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from floorstream.services.runtime.embedded.stack import Endpoints
from tests.integration.api.support import serve
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
