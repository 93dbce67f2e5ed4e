"""The efficiency processor's handler and consumer loop on a topic of the test's choosing,
runnable as a process so that a test can kill it with SIGKILL.

    python -m tests.support.efficiency_processor BOOTSTRAP DATABASE_URL GROUP TOPIC
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from services.efficiency.processor import apply_batch
from services.runtime.consumer import consume
from services.runtime.database import open_database


async def main(bootstrap: str, database: str, group: str, topic: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with open_database(database, max_size=3) as pool:
        print("consuming", flush=True)  # noqa: T201
        await consume(
            bootstrap,
            pool,
            group=group,
            topics=[topic],
            handler=apply_batch,
            stop=stop,
            batch_max=500,
            batch_ms=50,
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(*sys.argv[1:5]))
