from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import asyncpg
import paho.mqtt.client as mqtt
import pytest

from services.runtime.database import migrate
from services.runtime.errors import ServerStartError
from services.stack.embedded.mqtt import EmbeddedMqtt, MqttFlavour
from services.stack.embedded.postgres import EmbeddedPostgres
from services.stack.embedded.process import free_port
from services.stack.embedded.stack import EmbeddedStack, Endpoints, StackPlan

pytestmark = pytest.mark.integration


async def test_postgres_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", free_port(), log_path=tmp_path / "pg.log")
    server.start()
    try:
        connection = await asyncpg.connect(server.url)
        await connection.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
        await connection.close()
    finally:
        server.stop()
    again = EmbeddedPostgres(tmp_path / "pg", free_port(), log_path=tmp_path / "pg.log")
    again.start()
    try:
        connection = await asyncpg.connect(again.url)
        assert await connection.fetchval("SELECT v FROM kept") == 42
        await connection.close()
    finally:
        again.stop()


def test_postgres_keeps_its_port_across_starts_on_one_data_dir(
    stack: Endpoints, tmp_path: Path
) -> None:
    """Issue 14, 5: an exported FLOORSTREAM_DATABASE_URL stays right after a restart; a port
    taken in between is given up for another, said in the log."""
    plan = StackPlan(tmp_path, mqtt_url=stack.mqtt_url, kafka_bootstrap=stack.kafka_bootstrap)
    with EmbeddedStack(plan) as first:
        pass
    with EmbeddedStack(plan) as second:
        pass
    assert second.database_url == first.database_url
    port = int(first.database_url.split(":")[-1].split("/")[0])
    with socket.socket() as holder:
        # the stopped server's closed connections may leave the port in TIME_WAIT
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with EmbeddedStack(plan) as third:
            assert third.database_url != first.database_url


def test_given_servers_are_used_and_none_started(stack: Endpoints, tmp_path: Path) -> None:
    plan = StackPlan(
        tmp_path,
        mqtt_url=stack.mqtt_url,
        kafka_bootstrap=stack.kafka_bootstrap,
        database_url=stack.database_url,
    )
    embedded = EmbeddedStack(plan)
    with embedded as endpoints:
        assert (embedded.mqtt, embedded.kafka, embedded.postgres) == (None, None, None)
        assert endpoints.database_url == stack.database_url
        assert endpoints.mqtt_flavour is MqttFlavour.EXTERNAL
        assert endpoints.environment()["FLOORSTREAM_GATEWAY_SHARED_SUBSCRIPTION"] == "true"


def test_a_port_in_use_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ServerStartError, match=f"port {port} .* already in use"):
            EmbeddedStack(StackPlan(tmp_path, mqtt_port=port)).start()


async def test_two_services_migrating_at_once_apply_each_file_once(stack: Endpoints) -> None:
    admin = await asyncpg.connect(stack.database_url)
    await admin.execute("DROP DATABASE IF EXISTS migrate_race")
    await admin.execute("CREATE DATABASE migrate_race")
    await admin.close()
    url = stack.database_url.rsplit("/", 1)[0] + "/migrate_race"
    connections = [await asyncpg.connect(url) for _ in range(4)]
    applied = await asyncio.gather(*(migrate(c) for c in connections))
    versions = sorted(v for batch in applied for v in batch)
    assert versions == sorted({v for batch in applied for v in batch})  # none applied twice
    rows = await connections[0].fetch("SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in rows] == versions
    assert await migrate(connections[0]) == []  # a later start applies nothing
    for connection in connections:
        await connection.close()


def _round_trip(port: int) -> bytes:
    received: list[bytes] = []
    arrived = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        received.append(message.payload)
        arrived.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.subscribe("probe/#", qos=1)
        client.publish("probe/x", b"hello", qos=1).wait_for_publish(5)
        arrived.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    return received[0] if received else b""


@pytest.mark.parametrize("flavour", [MqttFlavour.MOSQUITTO, MqttFlavour.AMQTT])
def test_each_mqtt_flavour_starts_and_carries_messages(
    tmp_path: Path, flavour: MqttFlavour
) -> None:
    broker = EmbeddedMqtt(
        free_port(), tmp_path / "mqtt", log_path=tmp_path / "mqtt.log", prefer=flavour
    )
    broker.start()
    try:
        assert _round_trip(broker.port) == b"hello"
    finally:
        broker.stop()


def test_mosquitto_keeps_a_burst_beyond_its_default_queue_for_an_absent_subscriber(
    stack: Endpoints,
) -> None:
    """Mosquitto's default would keep only 1,000 queued messages for a session away."""
    if stack.mqtt_flavour is not MqttFlavour.MOSQUITTO:
        pytest.skip("only Mosquitto queues for persistent sessions")
    port = int(stack.mqtt_url.rsplit(":", 1)[1])
    count = 3_000

    def session() -> mqtt.Client:  # a fresh client object each time: paho leaks on a re-start
        return mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="slow-sub", protocol=mqtt.MQTTv5
        )

    subscriber = session()
    properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 600
    subscribed = threading.Event()
    subscriber.on_subscribe = lambda *args: subscribed.set()
    subscriber.connect("127.0.0.1", port, clean_start=False, properties=properties)
    subscriber.loop_start()
    subscriber.subscribe("burst/#", qos=1)
    assert subscribed.wait(5)
    subscriber.disconnect()
    subscriber.loop_stop()

    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    publisher.connect("127.0.0.1", port)
    publisher.loop_start()
    infos = [publisher.publish("burst/x", str(i).encode(), qos=1) for i in range(count)]
    for info in infos:
        info.wait_for_publish(10)
    publisher.disconnect()
    publisher.loop_stop()

    received: set[bytes] = set()
    done = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        received.add(message.payload)
        if len(received) == count:
            done.set()

    subscriber = session()
    subscriber.on_message = on_message
    subscriber.connect("127.0.0.1", port, clean_start=False, properties=properties)
    subscriber.loop_start()
    done.wait(30)
    subscriber.disconnect()
    subscriber.loop_stop()
    assert len(received) == count
