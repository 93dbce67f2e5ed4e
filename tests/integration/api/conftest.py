"""API clients on the session's PostgreSQL: the shared database, or a fresh empty one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from floorstream.services.runtime.embedded.stack import Endpoints
from tests.integration.api.support import serve


@pytest.fixture
async def client(stack: Endpoints) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API on the session's database, which other tests share."""
    async with serve(stack.database_url) as http:
        yield http


@pytest.fixture
async def empty_client(stack: Endpoints) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API on a database of its own, created empty and dropped after."""
    name = f"api_empty_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(stack.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = urlunsplit(urlsplit(stack.database_url)._replace(path=f"/{name}"))
        async with serve(url) as http:
            yield http
        await admin.execute(f'DROP DATABASE "{name}"')
    finally:
        await admin.close()
