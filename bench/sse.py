"""A minimal board screen: one live feed over a raw asyncio stream.

Cheaper than an HTTP client library per connection, so that one process on two cores can hold
thousands of screens. It asks in HTTP/1.0, so the body comes unchunked, and reads only the
``event:`` lines of the Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class FeedRefused(Exception):
    """The API answered the feed's request with something other than 200."""


class Screen:
    """One feed; ``on_changed(screen, at)`` is called for every ``event: changed``."""

    def __init__(self, key: str, on_changed: Callable[[Screen, float], None]) -> None:
        self.key = key
        self.on_changed = on_changed
        self.changes = 0
        self.connected = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None

    async def run(self, host: str, port: int, path: str) -> None:
        """Connect, then read the feed until it ends or this task is cancelled."""
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 16)
        self._writer = writer
        try:
            request = f"GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
            writer.write(request.encode())
            status = await reader.readline()
            if b" 200 " not in status:
                raise FeedRefused(f"{self.key}: {status.decode(errors='replace').strip()}")
            while (await reader.readline()).strip():  # the headers
                pass
            self.connected.set()
            while line := await reader.readline():
                if line.startswith(b"event: changed"):
                    self.changes += 1
                    self.on_changed(self, time.perf_counter())
        finally:
            writer.close()
