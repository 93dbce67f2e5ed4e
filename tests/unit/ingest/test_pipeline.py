"""The delivery protocol against fakes: acknowledged only once durable, in arrival order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from ingest import pipeline
from ingest.metrics import GatewayMetrics
from ingest.pipeline import Gateway
from ingest.types import Record
from schemas import DLQ_TOPIC, EVENTS_TOPIC
from tests.support.fakes import FakeSink, FakeSource
from tests.support.waiting import wait_for

TOPIC = "floor/v1/f1/l1/press/machine"
WAIT_S = 30  # a deadline only: each wait ends as soon as its condition holds
VALID = b'{"event_id": "m-1", "ts": "2026-11-02T06:00:00+08:00", "state": "running"}'


@dataclass
class Running:
    gateway: Gateway
    source: FakeSource
    sink: FakeSink
    registry: CollectorRegistry
    stop: asyncio.Event
    task: asyncio.Task[None]

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return value if value is not None else 0.0


async def started(source: FakeSource) -> None:
    """Until the gateway has started its source (it takes deliveries from then on)."""
    await wait_for(lambda: source.deliver is not None, WAIT_S, "the gateway to start the source")


async def submitted(sink: FakeSink, count: int) -> None:
    """Until the gateway has submitted ``count`` records to the sink (one a message published;
    more would be a bug)."""
    await wait_for(lambda: len(sink.records) >= count, WAIT_S, f"{count} records submitted")
    assert len(sink.records) == count


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    registry = CollectorRegistry()
    source, sink, stop = FakeSource(), FakeSink(), asyncio.Event()
    gateway = Gateway(
        source,
        sink,
        GatewayMetrics.create(registry),
        wall_clock=lambda: datetime(2026, 11, 2, tzinfo=UTC),
    )
    task = asyncio.create_task(gateway.run(stop))
    await started(source)
    yield Running(gateway, source, sink, registry, stop, task)
    stop.set()
    await asyncio.wait_for(task, WAIT_S)


async def test_a_valid_event_is_acknowledged_only_once_kafka_has_it(running: Running) -> None:
    running.source.publish(TOPIC, VALID)
    await submitted(running.sink, 1)
    [record] = running.sink.records
    assert (record.topic, record.key) == (EVENTS_TOPIC, b"f1/l1")
    value = json.loads(record.value)
    assert value | {"factory": "f1", "line": "l1", "station": "press", "kind": "machine"} == value
    assert running.source.acked == []
    assert running.metric("floorstream_gateway_in_flight") == 1
    running.sink.make_durable(0)
    assert running.source.acked == [1]
    assert running.metric("floorstream_gateway_produced_total") == 1
    assert running.metric("floorstream_gateway_in_flight") == 0


async def test_acknowledgements_keep_arrival_order(running: Running) -> None:
    for _ in range(3):
        running.source.publish(TOPIC, VALID)
    await submitted(running.sink, 3)
    running.sink.make_durable(2)
    running.sink.make_durable(1)
    assert running.source.acked == []
    running.sink.make_durable(0)
    assert running.source.acked == [1, 2, 3]


async def test_an_invalid_message_is_dead_lettered_with_its_reason(running: Running) -> None:
    running.source.publish(TOPIC, b"not json")
    running.source.publish(TOPIC, VALID)
    await submitted(running.sink, 2)
    dead, valid = running.sink.records
    assert (dead.topic, dead.key) == (DLQ_TOPIC, TOPIC.encode())
    body = json.loads(dead.value)
    assert body["reason"] == "not_json" and body["topic"] == TOPIC
    assert valid.topic == EVENTS_TOPIC  # the gateway goes on
    running.sink.make_durable(0)
    running.sink.make_durable(1)
    assert running.source.acked == [1, 2]
    assert running.metric("floorstream_gateway_dead_lettered_total", reason="not_json") == 1


async def test_an_event_ahead_of_the_tolerance_is_dead_lettered_and_counted() -> None:
    registry = CollectorRegistry()
    source, sink, stop = FakeSource(), FakeSink(), asyncio.Event()
    now = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    metrics = GatewayMetrics.create(registry)
    ahead_ok = timedelta(seconds=60)
    gateway = Gateway(source, sink, metrics, wall_clock=lambda: now, future_tolerance=ahead_ok)
    task = asyncio.create_task(gateway.run(stop))
    await started(source)
    running = Running(gateway, source, sink, registry, stop, task)
    for ahead in (60, 120):
        ts = (now + timedelta(seconds=ahead)).isoformat()
        payload = {"event_id": f"m-{ahead}", "ts": ts, "state": "down"}
        source.publish(TOPIC, json.dumps(payload).encode())
    await submitted(sink, 2)
    accepted, dead = sink.records
    assert (accepted.topic, dead.topic) == (EVENTS_TOPIC, DLQ_TOPIC)
    assert json.loads(dead.value)["reason"] == "from_the_future"
    sink.make_durable(0)
    sink.make_durable(1)
    assert source.acked == [1, 2]  # dead-lettered, so acknowledged: the broker does not resend it
    assert running.metric("floorstream_gateway_dead_lettered_total", reason="from_the_future") == 1
    assert running.metric("floorstream_gateway_produced_total") == 1
    stop.set()
    await asyncio.wait_for(task, WAIT_S)


async def test_stop_acknowledges_what_became_durable_and_leaves_the_rest(
    running: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "DRAIN_TIMEOUT_S", 0.01)
    running.source.publish(TOPIC, VALID)
    running.source.publish(TOPIC, VALID)
    await submitted(running.sink, 2)
    running.sink.make_durable(0)
    running.stop.set()
    await asyncio.wait_for(running.task, WAIT_S)  # stopped: drained for DRAIN_TIMEOUT_S, closed
    assert running.source.acked == [1]  # the second is redelivered by the broker
    assert running.source.stopped and running.sink.stopped


async def test_a_full_sink_holds_back_later_messages_unacknowledged() -> None:
    registry = CollectorRegistry()
    source, sink, stop = FakeSource(), FakeSink(capacity=2), asyncio.Event()
    task = asyncio.create_task(Gateway(source, sink, GatewayMetrics.create(registry)).run(stop))
    await started(source)
    for _ in range(5):
        source.publish(TOPIC, VALID)
    # the gateway is held in `submit`, waiting for room: it goes no further until stopped
    await wait_for(lambda: sink.waiting == 1, WAIT_S, "the gateway to wait for room in the sink")
    assert len(sink.records) == 2
    assert registry.get_sample_value("floorstream_gateway_in_flight") == 5
    assert source.acked == []
    stop.set()
    await asyncio.wait_for(task, WAIT_S)


class BrokenSink(FakeSink):
    async def submit(
        self, records: Sequence[Record], on_durable: Callable[[Sequence[int]], None]
    ) -> None:
        raise RuntimeError("a bug in the sink")


async def test_a_broken_forwarder_stops_the_gateway_for_its_supervisor_to_restart() -> None:
    source, sink = FakeSource(), BrokenSink()
    gateway = Gateway(source, sink, GatewayMetrics.create(CollectorRegistry()))
    task = asyncio.create_task(gateway.run(asyncio.Event()))
    await started(source)
    source.publish(TOPIC, VALID)
    with pytest.raises(RuntimeError, match="a bug in the sink"):
        await asyncio.wait_for(task, WAIT_S)
    assert source.stopped and sink.stopped  # resources closed all the same
    assert source.acked == []  # and nothing acknowledged: the broker redelivers
