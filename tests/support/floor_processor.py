"""The floor-state processor's handler and consumer loop on a topic of the test's choosing,
runnable as a process so that a test can kill it with SIGKILL.

    python -m tests.support.floor_processor BOOTSTRAP DATABASE_URL GROUP TOPIC NOW

``NOW`` (RFC 3339) is the processor's clock, fixed; events more than 90 days before it are
skipped as older than the retention period.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import datetime, timedelta

from services.floor.processor import retaining
from services.runtime.consumer import consume
from services.runtime.database import open_database


async def main(bootstrap: str, database: str, group: str, topic: str, now: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    clock = datetime.fromisoformat(now)
    async with open_database(database, max_size=3) as pool:
        print("consuming", flush=True)  # noqa: T201
        await consume(
            bootstrap,
            pool,
            group=group,
            topics=[topic],
            handler=retaining(timedelta(days=90), lambda: clock),
            stop=stop,
            batch_max=500,
            batch_ms=50,
        )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(*sys.argv[1:6]))
