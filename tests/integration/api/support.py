"""The API under test: an app on a given database, reached through httpx in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Final

import httpx
from pydantic import SecretStr

from floorstream.services.api.app import create_app
from floorstream.services.runtime.settings import ApiSettings

TOKEN: Final = "t" * 32
AUTH: Final = {"Authorization": f"Bearer {TOKEN}"}


@asynccontextmanager
async def serve(
    database_url: str, *, clock: Callable[[], datetime] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a started app (lifespan run) on ``database_url``; ``clock`` pins "now"."""
    settings = ApiSettings(database_url=database_url, bootstrap_token=SecretStr(TOKEN))
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http
