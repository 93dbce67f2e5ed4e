"""Live pushes to board screens: PostgreSQL ``LISTEN floor_changed``, fanned out per line.

The delivery protocol, numbered as the code follows it:

1. A processor writes a batch, and in the same transaction calls `notify_changed` for the
   lines it touched: ``pg_notify('floor_changed', '{factory}/{line}')``. PostgreSQL delivers a
   notification only once that transaction commits, so a screen never refetches before the
   figures are there.
2. Every API replica holds ONE connection that LISTENs on the channel (`LiveHub`), so any
   replica can serve any screen.
3. The hub wakes each `Subscription` of that line. A subscription holds at most one pending
   notice: a screen slower than the notices gets a single "changed" for all of them
   (coalescing), never a backlog. A notice carries no figures, only "refetch".
4. When the LISTEN connection is lost the hub reconnects with back-off; on every (re)connect
   it wakes every subscription, since notifications sent while nobody listened are gone. The
   loss is logged once, then summarised, never once per retry (`Outage`).
5. When the hub stops, every subscription ends and so does every screen's stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, Protocol

import asyncpg

from services.runtime.board_push import CHANNEL, line_key, notify_changed
from services.runtime.outage import Outage

__all__ = ["CHANNEL", "LiveHub", "ListenConnection", "Subscription", "line_key", "notify_changed"]

log = logging.getLogger(f"floorstream.{__name__}")

_HEALTH_CHECK_S: Final = 30.0
_HEALTH_TIMEOUT_S: Final = 5.0


class ListenConnection(Protocol):
    """The part of an asyncpg connection the hub uses (a fake stands in for it in tests)."""

    async def add_listener(self, channel: str, callback: Callable[..., object]) -> None: ...

    def add_termination_listener(self, callback: Callable[..., object]) -> None: ...

    async def fetchval(self, query: str) -> Any: ...

    def terminate(self) -> None: ...


Connect = Callable[[], Awaitable[ListenConnection]]
Sleep = Callable[[float], Awaitable[None]]


class Subscription:
    """One screen's feed of one line: `changed` returns once per (coalesced) notice."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._pending: asyncio.Queue[None] = asyncio.Queue(maxsize=1)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> bool:
        """A notice waits to be taken by `changed`."""
        return not self._pending.empty()

    def notify(self) -> None:
        """Mark the line changed; a notice already pending absorbs this one."""
        with contextlib.suppress(asyncio.QueueFull):
            self._pending.put_nowait(None)

    def close(self) -> None:
        self._closed = True
        self.notify()

    async def changed(self) -> bool:
        """Wait for the next notice: True for "changed", False once the feed has ended."""
        if self._closed:
            return False
        await self._pending.get()
        return not self._closed


class LiveHub:
    """Holds the LISTEN connection and the subscriptions of this API process (steps 2–5)."""

    def __init__(
        self,
        connect: Connect,
        *,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
        health_check_s: float = _HEALTH_CHECK_S,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._connect = connect
        self._retry_min_s = retry_min_s
        self._retry_max_s = retry_max_s
        self._health_check_s = health_check_s
        self._sleep = sleep
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage(log, "live feed: LISTEN connection", detail="reconnecting")
        self.listening = asyncio.Event()
        """Set while the LISTEN connection is up (tests and readiness may wait on it)."""

    @classmethod
    def for_database(cls, url: str, **options: Any) -> LiveHub:
        """A hub that LISTENs on a connection of its own to ``url``."""

        async def connect() -> ListenConnection:
            connection: ListenConnection = await asyncpg.connect(url, timeout=10)
            return connection

        return cls(connect, **options)

    # -- subscriptions -------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self, factory: str, line: str) -> Iterator[Subscription]:
        """A subscription to one line for the duration of the ``with`` block."""
        subscription = Subscription(line_key(factory, line))
        self._subscriptions.setdefault(subscription.key, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscriptions.get(subscription.key)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscriptions[subscription.key]

    def subscriber_count(self) -> int:
        return sum(len(subscribers) for subscribers in self._subscriptions.values())

    def publish(self, key: str) -> None:
        """Wake every subscription of the line ``key`` (step 3)."""
        for subscription in self._subscriptions.get(key, ()):
            subscription.notify()

    def publish_all(self) -> None:
        """Wake every subscription: notices may have been missed (step 4)."""
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                subscription.notify()

    def _on_notification(self, connection: object, pid: int, channel: str, payload: str) -> None:
        self.publish(payload)

    # -- the LISTEN connection -----------------------------------------------------------

    async def start(self) -> None:
        """Start listening in the background; returns at once (the database may be down)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        """Stop listening and end every subscription (step 5)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscribers in self._subscriptions.values():
            for subscription in subscribers:
                subscription.close()

    async def _run(self) -> None:
        delay = self._retry_min_s
        while True:
            try:
                connection = await self._connect()
            except Exception as error:  # any failure to connect: try again later
                self._outage.failed(error)
                await self._sleep(delay)
                delay = min(delay * 2, self._retry_max_s)
                continue
            delay = self._retry_min_s
            try:
                await self._listen(connection)
                self._outage.failed("connection lost")
            except Exception as error:  # the connection failed under us
                self._outage.failed(error)
            finally:
                self.listening.clear()
                # Lost or stopping: no goodbye to a server that may not answer.
                connection.terminate()
            await self._sleep(delay)

    async def _listen(self, connection: ListenConnection) -> None:
        """Listen until the connection is lost (or found dead by a health check)."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda *_: lost.set())
        await connection.add_listener(CHANNEL, self._on_notification)
        self.listening.set()
        if self._outage.away:
            self._outage.recovered()
        else:
            log.info("live feed: listening on %s", CHANNEL)
        self.publish_all()
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), self._health_check_s)
            except TimeoutError:
                # A connection can die silently (a dropped route); ask it something.
                await asyncio.wait_for(connection.fetchval("SELECT 1"), _HEALTH_TIMEOUT_S)
