"""The live hub without a database: fan-out per line, coalescing, reconnection with back-off."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from services.api.live import CHANNEL, LiveHub, Subscription, notify_changed

WAIT_S = 30  # a deadline only: each wait ends as soon as what it waits on is done


class FakeListenConnection:
    """A LISTEN connection the test drives: it delivers notifications and dies on demand."""

    def __init__(self) -> None:
        self.listeners: dict[str, Callable[..., object]] = {}
        self.on_termination: list[Callable[..., object]] = []
        self.closed = False

    async def add_listener(self, channel: str, callback: Callable[..., object]) -> None:
        self.listeners[channel] = callback

    def add_termination_listener(self, callback: Callable[..., object]) -> None:
        self.on_termination.append(callback)

    async def fetchval(self, query: str) -> Any:
        return 1

    def terminate(self) -> None:
        self.closed = True

    def notify(self, payload: str) -> None:
        self.listeners[CHANNEL](self, 4242, CHANNEL, payload)


class FakeDatabase:
    """Hands out connections; refuses the first ``failures`` attempts."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.connections: list[FakeListenConnection] = []
        self.connected = asyncio.Event()

    async def connect(self) -> FakeListenConnection:
        if self.failures:
            self.failures -= 1
            raise OSError("connection refused")
        connection = FakeListenConnection()
        self.connections.append(connection)
        self.connected.set()
        return connection


class Naps:
    """A `sleep` that records the delays asked for and lets time pass instantly (the hub's
    clock, injected: no test waits on it)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)  # no time passes; a hub retrying for ever lets the others run


def take(subscription: Subscription) -> int:
    """How many notices are pending (0 or 1), taking them."""
    count = 0
    while subscription.pending:
        subscription._pending.get_nowait()
        count += 1
    return count


def test_a_notice_reaches_the_subscriptions_of_its_line_only() -> None:
    hub = LiveHub(FakeDatabase().connect)
    with (
        hub.subscribe("f1", "l1") as first,
        hub.subscribe("f1", "l1") as second,
        hub.subscribe("f1", "l2") as other,
    ):
        hub.publish("f1/l1")
        assert (take(first), take(second), take(other)) == (1, 1, 0)
        hub.publish("f2/l1")  # nobody watches it
        assert (take(first), take(second), take(other)) == (0, 0, 0)


def test_a_slow_screen_gets_one_notice_for_many() -> None:
    hub = LiveHub(FakeDatabase().connect)
    with hub.subscribe("f1", "l1") as slow:
        for _ in range(1000):
            hub.publish("f1/l1")
        assert take(slow) == 1


async def test_changed_returns_per_notice_and_false_once_closed() -> None:
    subscription = Subscription("f1/l1")
    subscription.notify()
    subscription.notify()
    assert await subscription.changed() is True
    assert not subscription.pending
    subscription.close()
    assert await subscription.changed() is False
    assert await subscription.changed() is False


def test_leaving_the_block_unsubscribes() -> None:
    hub = LiveHub(FakeDatabase().connect)
    with hub.subscribe("f1", "l1"), hub.subscribe("f1", "l1"):
        assert hub.subscriber_count() == 2
    assert hub.subscriber_count() == 0
    hub.publish("f1/l1")  # no one left: nothing happens


async def test_notifications_from_the_database_are_fanned_out() -> None:
    database = FakeDatabase()
    hub = LiveHub(database.connect, sleep=Naps())
    with hub.subscribe("f1", "l1") as screen:
        await hub.start()
        await asyncio.wait_for(hub.listening.wait(), WAIT_S)
        assert take(screen) == 1  # a (re)connect wakes everyone: notices may have been missed
        database.connections[0].notify("f1/l1")
        database.connections[0].notify("f1/l9")
        assert take(screen) == 1
        await hub.stop()
    assert screen.closed


async def test_the_listen_connection_is_retried_with_back_off_and_after_a_loss() -> None:
    database, naps = FakeDatabase(failures=4), Naps()
    hub = LiveHub(database.connect, retry_min_s=0.5, retry_max_s=3.0, sleep=naps)
    with hub.subscribe("f1", "l1") as screen:
        await hub.start()
        await asyncio.wait_for(hub.listening.wait(), WAIT_S)
        assert naps.delays == [0.5, 1.0, 2.0, 3.0]
        take(screen)

        first = database.connections[0]
        database.connected.clear()
        first.on_termination[0](first)  # the server went away
        await asyncio.wait_for(database.connected.wait(), WAIT_S)
        await asyncio.wait_for(hub.listening.wait(), WAIT_S)
        assert len(database.connections) == 2
        assert first.closed
        assert naps.delays[-1] == 0.5  # the back-off starts over after a good connection
        assert take(screen) == 1  # told to refetch: what was sent meanwhile is lost
        database.connections[1].notify("f1/l1")
        assert take(screen) == 1
        await hub.stop()


async def test_stopping_ends_every_feed() -> None:
    hub = LiveHub(FakeDatabase(failures=10**6).connect, sleep=Naps())
    await hub.start()
    with hub.subscribe("f1", "l1") as screen:
        waiting = asyncio.create_task(screen.changed())
        await hub.stop()
        assert await asyncio.wait_for(waiting, WAIT_S) is False


class RecordingConnection:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def execute(self, query: str, *args: Any) -> str:
        self.calls.append((query, *args))
        return "SELECT 1"


@pytest.mark.parametrize(
    ("lines", "keys"),
    [
        ([("f1", "l2"), ("f1", "l1"), ("f1", "l2")], ["f1/l1", "f1/l2"]),
        ([], None),
    ],
)
async def test_notify_changed_sends_each_distinct_line_once(
    lines: list[tuple[str, str]], keys: list[str] | None
) -> None:
    connection = RecordingConnection()
    await notify_changed(connection, lines)
    if keys is None:
        assert connection.calls == []
    else:
        [(query, channel, sent)] = connection.calls
        assert "pg_notify" in query and channel == CHANNEL and sent == keys
