"""Running one service: logging, signals, and a clean stop.

A service is an ``async def main(stop: asyncio.Event)`` that opens its resources in
``async with`` blocks and returns once ``stop`` is set (SIGINT or SIGTERM).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from services.runtime.logs import configure_logging
from services.runtime.settings import CommonSettings

log = logging.getLogger(f"floorstream.{__name__}")

ServiceMain = Callable[[asyncio.Event], Awaitable[None]]


def run_service(name: str, settings: CommonSettings, main: ServiceMain) -> int:
    """Run ``main`` until it returns or a stop signal arrives; return the exit code."""
    configure_logging(settings.log_level, settings.log_format, name=name)

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    try:
        asyncio.run(runner())
    except Exception:
        log.exception("%s stopped on an error", name)
        return 1
    log.info("%s stopped", name)
    return 0
