"""The gateway against real Mosquitto and Kafka (Tansu): valid events on floor.events.v1, every bad
message on the dead-letter topic with its reason, and nothing lost when a broker goes away."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from schemas import DLQ_TOPIC, EVENTS_TOPIC
from services.gateway.command import serve
from services.runtime.settings import GatewaySettings
from services.stack.embedded.kafka import EmbeddedKafka
from services.stack.embedded.mqtt import EmbeddedMqtt
from services.stack.embedded.process import free_port
from services.stack.embedded.stack import Endpoints
from tests.support.kafka import collect, event_ids, wait_for
from tests.support.mqtt import Publisher, forget_session, machine_event

pytestmark = pytest.mark.integration


def _connected(registry: CollectorRegistry) -> float | None:
    """The gateway's ``mqtt_connected``: 1 once the broker's SUBACK granted its subscription."""
    return registry.get_sample_value("floorstream_gateway_mqtt_connected")


async def _subscribed(registry: CollectorRegistry, task: asyncio.Task[None]) -> None:
    """Until the gateway has its subscription granted: the broker routes to it what is
    published from then on."""
    await wait_for(lambda: _connected(registry) == 1 or task.done(), 30, "the gateway's SUBACK")
    if task.done():
        task.result()  # raises what stopped it
        raise AssertionError("the gateway stopped")


def _settings(mqtt_url: str, kafka: str, group: str, client_id: str) -> GatewaySettings:
    return GatewaySettings(
        mqtt_url=mqtt_url,
        kafka_bootstrap=kafka,
        gateway_client_id=client_id,
        gateway_shared_group=group,
        gateway_linger_ms=2,
    )


@asynccontextmanager
async def gateway(
    mqtt_url: str, kafka: str, *, group: str | None = None, client_id: str | None = None
) -> AsyncIterator[CollectorRegistry]:
    """A gateway running in this process until the block ends; yields its metrics registry."""
    group = group or f"g{uuid.uuid4().hex[:8]}"
    client_id = client_id or f"gw-{uuid.uuid4().hex[:8]}"
    registry, stop = CollectorRegistry(), asyncio.Event()
    task = asyncio.create_task(
        serve(_settings(mqtt_url, kafka, group, client_id), stop, registry=registry)
    )
    await _subscribed(registry, task)
    try:
        yield registry
    finally:
        stop.set()
        await task
        forget_session(mqtt_url, client_id)


def _factory() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def _all(expected: set[str]) -> Callable[[list[dict[str, object]]], bool]:
    return lambda records: expected <= event_ids(records)


BAD_INPUT = {
    # topic suffix after floor/v1/: (payload, reason)
    "{f}/l1/s1/machine": (b"{not json", "not_json"),
    "{f}/l2/s1/machine": (b"[1, 2]", "not_object"),
    "{f}/l3/s1/machine": (b'{"event_id": "\xff\xfe", "ts": "x"}', "not_utf8"),
    "{f}/l4/s1/machine": (
        b'{"ts": "2026-11-02T06:00:00+08:00", "state": "running"}',
        "missing_field",
    ),
    "{f}/l5/s1/production": (
        b'{"event_id": "p", "ts": "2026-11-02T06:00:00+08:00", "good": "58", "scrap": 2}',
        "wrong_type",
    ),
    "{f}/l6/s1/machine": (
        b'{"event_id": "m", "ts": "2026-11-02 06:00", "state": "running"}',
        "bad_timestamp",
    ),
    "{f}/l7/s1/machine": (
        b'{"event_id": "m", "ts": "2026-11-02T06:00:00+08:00", "state": "runing"}',
        "unknown_value",
    ),
    "{f}/l8/s1/production": (
        b'{"event_id": "p", "ts": "2026-11-02T06:00:00+08:00", "good": -1, "scrap": 0}',
        "negative_count",
    ),
    "{f}/l9/s1/telemetry": (
        b'{"event_id": "t", "ts": "2026-11-02T06:00:00+08:00"}',
        "unknown_kind",
    ),
    "{f}/l10/machine": (b"{}", "topic_too_short"),
    "{f}/l11/s1/machine/extra": (b"{}", "topic_too_deep"),
    "{f}/Line 12/s1/machine": (b"{}", "bad_topic_segment"),
    "{f}/l13/s1/machine#big": (b"", "payload_too_large"),
}


async def test_every_class_of_bad_input_is_dead_lettered_and_the_gateway_goes_on(
    stack: Endpoints,
) -> None:
    factory = _factory()
    messages = []
    expected: dict[str, str] = {}
    for suffix, (payload, reason) in BAD_INPUT.items():
        topic = "floor/v1/" + suffix.format(f=factory)
        if topic.endswith("#big"):
            topic = topic.removesuffix("#big")
            payload = b'{"event_id": "big", "pad": "' + b"x" * 70_000 + b'"}'
        messages.append((topic, payload))
        expected[topic] = reason
    messages.append((f"floor/v1/{factory}/ok/s1/machine", machine_event("after-the-bad-ones")))

    async with gateway(stack.mqtt_url, stack.kafka_bootstrap) as registry:
        with Publisher(stack.mqtt_url) as publisher:
            publisher.publish_all(messages)
        dead = await collect(
            stack.kafka_bootstrap,
            DLQ_TOPIC,
            key_prefix=f"floor/v1/{factory}",
            until=lambda found: len(found) >= len(expected),
        )
        valid = await collect(
            stack.kafka_bootstrap,
            EVENTS_TOPIC,
            key_prefix=f"{factory}/",
            until=_all({"after-the-bad-ones"}),
        )
        dead_lettered = registry.get_sample_value(
            "floorstream_gateway_dead_lettered_total", {"reason": "not_json"}
        )

    reasons = {str(record["topic"]): str(record["reason"]) for record in dead}
    assert reasons == expected
    assert len(set(expected.values())) == len(expected)  # each class has its own reason
    assert all(record["payload_b64"] and record["received_at"] for record in dead)
    assert event_ids(valid) == {"after-the-bad-ones"}
    assert dead_lettered == 1


async def test_a_valid_event_reaches_kafka_keyed_by_line_with_its_address(
    stack: Endpoints,
) -> None:
    factory = _factory()
    async with gateway(stack.mqtt_url, stack.kafka_bootstrap):
        with Publisher(stack.mqtt_url) as publisher:
            publisher.publish_all([(f"floor/v1/{factory}/l1/press/machine", machine_event("m-1"))])
        [record] = await collect(
            stack.kafka_bootstrap, EVENTS_TOPIC, key_prefix=f"{factory}/", until=_all({"m-1"})
        )
    assert record["factory"] == factory and record["line"] == "l1"
    assert record["station"] == "press" and record["kind"] == "machine"
    assert record["state"] == "running"
    assert str(record["ts"]).endswith("+08:00")


async def test_two_gateways_share_the_subscription_and_together_lose_nothing(
    stack: Endpoints,
) -> None:
    factory, group, count = _factory(), f"g{uuid.uuid4().hex[:8]}", 4_000
    messages = [
        (f"floor/v1/{factory}/l{i % 40}/s1/machine", machine_event(f"e{i}", i))
        for i in range(count)
    ]
    async with (
        gateway(stack.mqtt_url, stack.kafka_bootstrap, group=group) as first,
        gateway(stack.mqtt_url, stack.kafka_bootstrap, group=group) as second,
    ):
        with Publisher(stack.mqtt_url) as publisher:
            publisher.publish_all(messages)
        records = await collect(
            stack.kafka_bootstrap,
            EVENTS_TOPIC,
            key_prefix=f"{factory}/",
            until=_all({f"e{i}" for i in range(count)}),
            timeout=90,
        )
        shares = [
            registry.get_sample_value("floorstream_gateway_received_total") or 0.0
            for registry in (first, second)
        ]
    assert event_ids(records) == {f"e{i}" for i in range(count)}
    assert sum(shares) >= count
    assert min(shares) >= count * 0.2, shares  # both took a real part of the load


async def test_kafka_away_for_10s_while_publishing_loses_nothing(
    stack: Endpoints, tmp_path: Path
) -> None:
    """The embedded Kafka is memory-only: what it held before the stop is read before the stop."""
    port, factory = free_port(), _factory()
    kafka = EmbeddedKafka(port, log_path=tmp_path / "kafka.log")
    kafka.start()
    before = {f"a{i}" for i in range(300)}
    during = {f"b{i}" for i in range(1_000)}
    try:
        async with gateway(stack.mqtt_url, kafka.bootstrap) as registry:
            with Publisher(stack.mqtt_url) as publisher:
                publisher.publish_all(
                    [
                        (f"floor/v1/{factory}/l1/s1/machine", machine_event(e))
                        for e in sorted(before)
                    ]
                )
                await collect(
                    kafka.bootstrap, EVENTS_TOPIC, key_prefix=f"{factory}/", until=_all(before)
                )
                kafka.stop()
                for second in range(10):  # publishing goes on while Kafka is away
                    batch = sorted(during)[second * 100 : (second + 1) * 100]
                    await asyncio.to_thread(
                        publisher.publish_all,
                        [(f"floor/v1/{factory}/l1/s1/machine", machine_event(e)) for e in batch],
                    )
                    await asyncio.sleep(1)
                # A batch in flight fails once the producer's request timeout (10 s) passes.
                await wait_for(
                    lambda: registry.get_sample_value("floorstream_gateway_kafka_up") == 0,
                    30,
                    "the gateway to see Kafka away",
                )
                held = registry.get_sample_value("floorstream_gateway_in_flight") or 0.0
                assert held > 0  # nothing acknowledged while Kafka is away
                kafka = EmbeddedKafka(port, log_path=tmp_path / "kafka-again.log")
                kafka.start()
                records = await collect(
                    kafka.bootstrap,
                    EVENTS_TOPIC,
                    key_prefix=f"{factory}/",
                    until=_all(during),
                    timeout=90,
                )
            assert during <= event_ids(records)
            await wait_for(
                lambda: registry.get_sample_value("floorstream_gateway_in_flight") == 0,
                30,
                "every message acknowledged",
            )
    finally:
        kafka.stop()


async def test_the_gateway_resubscribes_after_the_mqtt_broker_restarts(
    stack: Endpoints, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port, factory, client_id = free_port(), _factory(), f"gw-{uuid.uuid4().hex[:8]}"
    broker = EmbeddedMqtt(port, tmp_path / "mqtt", log_path=tmp_path / "mqtt.log")
    broker.start()
    try:
        async with gateway(broker.url, stack.kafka_bootstrap, client_id=client_id) as registry:
            with Publisher(broker.url) as publisher:
                publisher.publish_all(
                    [(f"floor/v1/{factory}/l1/s1/machine", machine_event("before"))]
                )
            broker.stop()
            await wait_for(lambda: _connected(registry) == 0, 30, "the gateway to see it go")
            broker = EmbeddedMqtt(port, tmp_path / "mqtt", log_path=tmp_path / "mqtt.log")
            broker.start()
            # the subscription granted on the new connection (not just connected again)
            await wait_for(lambda: _connected(registry) == 1, 30, "the SUBACK after the reconnect")
            with Publisher(broker.url) as publisher:
                publisher.publish_all(
                    [(f"floor/v1/{factory}/l1/s1/machine", machine_event("after"))]
                )
            records = await collect(
                stack.kafka_bootstrap,
                EVENTS_TOPIC,
                key_prefix=f"{factory}/",
                until=_all({"before", "after"}),
            )
        assert event_ids(records) == {"before", "after"}
        assert "resubscribed" in caplog.text
    finally:
        broker.stop()
