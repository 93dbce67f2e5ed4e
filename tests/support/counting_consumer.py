"""A consumer group member for tests of the exactly-once protocol, runnable as a process.

Every record it applies is inserted into ``applied`` (no uniqueness: a record applied twice shows
twice). Each batch lingers a moment inside its transaction, so that a kill lands mid-batch.

    python -m tests.support.counting_consumer BOOTSTRAP DATABASE_URL GROUP TOPIC
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import Any

from services.runtime.consumer import Records, consume
from services.runtime.database import open_database

SCHEMA = """CREATE TABLE IF NOT EXISTS applied (
    grp text NOT NULL, topic text NOT NULL, partition int NOT NULL, record_offset bigint NOT NULL,
    value text NOT NULL)"""


def handler(group: str) -> Any:
    async def apply(connection: Any, records: Records) -> None:
        await connection.executemany(
            "INSERT INTO applied VALUES ($1, $2, $3, $4, $5)",
            [(group, r.topic, r.partition, r.offset, r.value.decode()) for r in records],
        )
        await asyncio.sleep(0.02)  # a window for kill -9 inside the transaction

    return apply


async def main(bootstrap: str, database: str, group: str, topic: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_database(database, max_size=3) as pool:
        await pool.execute(SCHEMA)
        print("consuming", flush=True)  # noqa: T201
        await consume(
            bootstrap,
            pool,
            group=group,
            topics=[topic],
            handler=handler(group),
            stop=stop,
            batch_max=200,
            batch_ms=50,
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(*sys.argv[1:5]))
