"""The efficiency call reads one snapshot: a processor's commit that lands between its
statements changes none of its figures (issue 15: "read the efficiency call in one snapshot, as
the status call already does").

A pool stands in for the API's, and after the answer's first statement it commits, on another
connection, what a processor's batch would: a minute's bucket with 1,000 more good parts. The
answer must be the one from before that commit, and the next answer must see it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from schemas.line_settings import LineSettings
from services.api import figures
from services.api.scope import ALL_FACTORIES
from services.runtime.database import migrate
from services.stack.embedded.stack import Endpoints
from tests.integration.api.support import QUIET_S, a_factory, store_station
from tests.unit.efficiency.builders import at, machine, produced

pytestmark = pytest.mark.integration

START = at("2026-11-02 06:00")
END = START + timedelta(hours=1)
NOW = START + timedelta(hours=2)


class _Connection:
    """A connection whose statements call `Interfering.after_statement` once each has run."""

    def __init__(self, connection: asyncpg.Connection, pool: Interfering) -> None:
        self._connection, self._pool = connection, pool

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    async def fetch(self, *args: Any) -> Any:
        return await self._pool.after_statement(await self._connection.fetch(*args))

    async def fetchval(self, *args: Any) -> Any:
        return await self._pool.after_statement(await self._connection.fetchval(*args))

    async def fetchrow(self, *args: Any) -> Any:
        return await self._pool.after_statement(await self._connection.fetchrow(*args))


class Interfering:
    """The API's pool, with `commit` run on a connection of its own after the first statement
    of whoever uses it (on the pool or on a connection it lends)."""

    def __init__(self, pool: asyncpg.Pool, commit: Callable[[], Awaitable[None]]) -> None:
        self._pool, self._commit, self.statements = pool, commit, 0

    async def after_statement(self, result: Any) -> Any:
        self.statements += 1
        if self.statements == 1:
            await self._commit()
        return result

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[_Connection]:
        async with self._pool.acquire() as connection:
            yield _Connection(connection, self)

    async def fetch(self, *args: Any) -> Any:
        return await self.after_statement(await self._pool.fetch(*args))

    async def fetchval(self, *args: Any) -> Any:
        return await self.after_statement(await self._pool.fetchval(*args))


@pytest.fixture
async def pool(stack: Endpoints) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(stack.database_url, min_size=1, max_size=3) as created:
        async with created.acquire() as connection:
            await migrate(connection)
        yield created


async def answer(pool: Any, factory: str) -> figures.LineFigures:
    return await figures.line_figures(
        pool,
        scope=ALL_FACTORIES,
        factory=factory,
        line="l1",
        settings=LineSettings(name="snapshot", stale_after_s=QUIET_S),
        start=START,
        end=END,
        granularity=None,
        now=NOW,
    )


async def test_a_commit_between_the_statements_of_an_answer_changes_none_of_it(
    pool: asyncpg.Pool,
) -> None:
    factory = a_factory()
    async with pool.acquire() as db:
        # Running from 06:00, 100 parts at 06:10, down at 06:50: the minutes before 06:50 come
        # from the stored buckets, the rest from the live tail.
        await store_station(
            db,
            factory,
            "l1",
            "s1",
            changes=[machine(START, "running"), machine(START + timedelta(minutes=50), "down")],
            production=[produced(START + timedelta(minutes=10), 100)],
            window=(START, END),
        )
    before = await answer(pool, factory)
    assert before.total.good_count == 100

    async def processor_commit() -> None:
        async with pool.acquire() as other:
            changed = await other.execute(
                "UPDATE minute_bucket SET good_count = good_count + 1000,"
                " total_count = total_count + 1000"
                " WHERE factory = $1 AND line = 'l1' AND station = 's1' AND minute = $2",
                factory,
                START + timedelta(minutes=20),
            )
            assert changed == "UPDATE 1"

    interfering = Interfering(pool, processor_commit)
    during = await answer(interfering, factory)

    assert interfering.statements > 1  # the commit came between the answer's statements
    assert during == before
    after = await answer(pool, factory)
    assert after.total.good_count == 1100  # the commit counts from the next answer on
