"""A database of a test's own on the session's PostgreSQL, created empty and dropped after."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg


@asynccontextmanager
async def fresh_database(server_url: str, prefix: str = "test") -> AsyncIterator[str]:
    """Yield the URL of a new empty database on the server of ``server_url``."""
    name = f"{prefix}_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
