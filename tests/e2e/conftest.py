"""Fixtures of the board tests: a fresh database, `floorstream api` on it, and a browser."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from services.stack.embedded.process import free_port
from services.stack.embedded.stack import Endpoints
from tests.support.board import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, Api
from tests.support.database import fresh_database


@pytest.fixture
async def database(stack: Endpoints) -> AsyncIterator[str]:
    async with fresh_database(stack.database_url, "board") as url:
        yield url


@pytest.fixture
def api(database: str, tmp_path: Path) -> Iterator[Api]:
    running = Api(database, free_port(), tmp_path / "api.log")
    running.start()
    yield running
    if running.process is not None:
        running.resume()
        running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()
