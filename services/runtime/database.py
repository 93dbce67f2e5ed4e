"""PostgreSQL: a connection pool, and the migrations every service that needs the database applies.

Migrations are plain SQL files ``NNNN_name.sql`` in ``migrations/``, applied once each, in
order, each in its own transaction, and recorded in ``schema_migrations``. Two services that
start at once serialize on an advisory lock, so each file runs exactly once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

import asyncpg
from asyncpg import Pool

from services.runtime.errors import MigrationError

log = logging.getLogger(f"floorstream.{__name__}")

_LOCK_KEY = 0x666C6F6F72  # "floor": one advisory lock for migrations
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


Record = Any
"""A row as asyncpg answers it (``asyncpg.Record``: by column name or by position)."""


class Connection(Protocol):
    """What the stores ask of PostgreSQL: the part of an asyncpg ``Connection`` they use,
    typed (asyncpg ships no type hints). An asyncpg ``Pool`` answers these statements too."""

    async def execute(self, query: str, *args: Any) -> str: ...

    async def executemany(self, command: str, args: Iterable[Sequence[Any]]) -> None: ...

    async def fetch(self, query: str, *args: Any) -> list[Record]: ...

    async def fetchrow(self, query: str, *args: Any) -> Record | None: ...

    async def fetchval(self, query: str, *args: Any, column: int = 0) -> Any: ...

    async def copy_records_to_table(
        self, table_name: str, *, records: Iterable[Sequence[Any]], columns: Sequence[str]
    ) -> str: ...


class Scope(Protocol):
    """Whom a read or a write is for: `require` raises for a factory outside theirs (the API's
    token scope). Every function of a read module that names a factory takes one and calls it
    before any statement."""

    def require(self, factory: str) -> object: ...


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The migration files shipped with the package, in version order."""
    folder = resources.files("services.runtime") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version: {versions}")
    return found


async def migrate(connection: Any, migrations: list[Migration] | None = None) -> list[int]:
    """Apply the migrations not applied yet; return the versions applied now."""
    pending = load_migrations() if migrations is None else migrations
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            row["version"]
            for row in await connection.fetch("SELECT version FROM schema_migrations")
        }
        applied = []
        for migration in pending:
            if migration.version in done:
                continue
            try:
                async with connection.transaction():
                    await connection.execute(migration.sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        migration.version,
                        migration.name,
                    )
            except asyncpg.PostgresError as error:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name}: {error}"
                ) from error
            log.info("applied migration %04d_%s", migration.version, migration.name)
            applied.append(migration.version)
        return applied
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


@asynccontextmanager
async def open_database(url: str, *, min_size: int = 1, max_size: int = 10) -> AsyncIterator[Pool]:
    """A pool on ``url`` with every migration applied; closed on exit."""
    pool = await asyncpg.create_pool(url, min_size=min_size, max_size=max_size)
    try:
        async with pool.acquire() as connection:
            await migrate(connection)
        yield pool
    finally:
        await pool.close()
