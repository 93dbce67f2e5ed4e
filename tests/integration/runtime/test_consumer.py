"""The exactly-once consumer protocol against real Kafka (Tansu) and PostgreSQL: killed
mid-batch, rebalanced, or resumed on a new log after the broker lost its own, every record is
applied exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.stack.embedded.kafka import EmbeddedKafka
from services.stack.embedded.process import free_port
from services.stack.embedded.stack import Endpoints
from tests.support.kafka import append, topic_holding

pytestmark = pytest.mark.integration

RECORDS = 6_000


async def _topic_with_records(bootstrap: str, count: int, partitions: int = 4) -> str:
    records = [(f"k{i % 50}".encode(), f"r{i}".encode(), None) for i in range(count)]
    return await topic_holding(bootstrap, records, prefix="test.consumer", partitions=partitions)


class Members:
    """Consumer processes of one group, started and killed at will."""

    def __init__(self, stack: Endpoints, group: str, topic: str, log: Path) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "tests.support.counting_consumer",
            stack.kafka_bootstrap,
            stack.database_url,
            group,
            topic,
        ]
        self.log = log
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as output:
            process = subprocess.Popen(
                self.argv, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        self.running.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.running.remove(process)

    def stop_all(self) -> None:
        for process in self.running:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        self.running.clear()


@pytest.fixture
def members(stack: Endpoints, tmp_path: Path) -> Iterator[list[Members]]:
    made: list[Members] = []
    yield made
    for group in made:
        group.stop_all()


async def _applied(url: str, group: str) -> tuple[int, int]:
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT (partition, record_offset)) AS d"
            " FROM applied WHERE grp = $1",
            group,
        )
    except asyncpg.UndefinedTableError:
        return 0, 0
    finally:
        await connection.close()
    return int(row["n"]), int(row["d"])


async def test_killed_mid_batch_three_times_every_record_counts_once(
    stack: Endpoints, members: list[Members], tmp_path: Path
) -> None:
    topic = await _topic_with_records(stack.kafka_bootstrap, RECORDS)
    group = f"g-{uuid.uuid4().hex[:8]}"
    team = Members(stack, group, topic, tmp_path / "consumer.log")
    members.append(team)
    member = team.start()
    for progress in (RECORDS // 6, RECORDS // 3, RECORDS // 2):
        await _wait_applied(stack.database_url, group, progress)
        team.kill(member)  # kill -9, wherever it is
        member = team.start()
    await _wait_applied(stack.database_url, group, RECORDS, timeout=120)
    await _caught_up(stack, group, topic, partitions=4)  # nothing more may come
    assert await _applied(stack.database_url, group) == (RECORDS + 4, RECORDS + 4)  # 4 sentinels


async def test_two_members_one_killed_partitions_move_and_count_once(
    stack: Endpoints, members: list[Members], tmp_path: Path
) -> None:
    topic = await _topic_with_records(stack.kafka_bootstrap, RECORDS)
    group = f"g-{uuid.uuid4().hex[:8]}"
    team = Members(stack, group, topic, tmp_path / "consumer.log")
    members.append(team)
    first, _second = team.start(), team.start()
    await _wait_applied(stack.database_url, group, RECORDS // 4)
    team.kill(first)  # its partitions move to the survivor after the session times out
    await _wait_applied(stack.database_url, group, RECORDS, timeout=120)
    await _caught_up(stack, group, topic, partitions=4)
    assert await _applied(stack.database_url, group) == (RECORDS + 4, RECORDS + 4)


LOST = "is not the one the stored offset"


async def _produce(bootstrap: str, topic: str, values: list[str], partitions: int) -> None:
    """``values`` onto ``topic`` (created with ``partitions`` where it does not exist), spread
    over its partitions by key."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, v.encode(), partition=i % partitions)
            for i, v in enumerate(values)
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _distinct_values(url: str, group: str) -> tuple[int, int]:
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT value) AS d FROM applied WHERE grp = $1", group
        )
    finally:
        await connection.close()
    return int(row["n"]), int(row["d"])


@pytest.mark.parametrize("new_records", [300, 60], ids=["longer", "shorter"])
async def test_a_restarted_broker_s_new_log_is_read_from_its_start(
    stack: Endpoints, members: list[Members], tmp_path: Path, new_records: int
) -> None:
    """The memory-only broker restarted: its new log holds more records than the old stored
    positions, or fewer; every record of both logs is applied once, and each partition's loss
    is said once."""
    kafka = EmbeddedKafka(free_port(), log_path=tmp_path / "kafka.log")
    kafka.start()
    try:
        topic, group = f"test.lost.{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
        own = Endpoints(stack.mqtt_url, kafka.bootstrap, stack.database_url, stack.mqtt_flavour)
        team = Members(own, group, topic, tmp_path / "consumer.log")
        members.append(team)
        await _produce(kafka.bootstrap, topic, [f"old{i}" for i in range(100)], partitions=3)
        team.start()
        await _wait_applied(stack.database_url, group, 100)
        team.stop_all()
        kafka.kill()  # its log is gone
        kafka.start()
        new = [f"new{i}" for i in range(new_records)]
        await _produce(kafka.bootstrap, topic, new, partitions=3)
        team.start()
        await _wait_applied(stack.database_url, group, 100 + new_records)
        await _caught_up(own, group, topic, partitions=3)  # nothing more may come
        assert await _distinct_values(stack.database_url, group) == (100 + new_records + 3,) * 2
        assert (tmp_path / "consumer.log").read_text().count(LOST) == 3  # once per partition
    finally:
        kafka.stop()


async def test_a_restart_on_the_same_log_goes_on_where_it_stopped(
    stack: Endpoints, members: list[Members], tmp_path: Path
) -> None:
    topic, group = f"test.same.{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    team = Members(stack, group, topic, tmp_path / "consumer.log")
    members.append(team)
    await _produce(stack.kafka_bootstrap, topic, [f"a{i}" for i in range(100)], partitions=3)
    team.start()
    await _wait_applied(stack.database_url, group, 100)
    team.stop_all()
    await _produce(stack.kafka_bootstrap, topic, [f"b{i}" for i in range(50)], partitions=3)
    team.start()
    await _wait_applied(stack.database_url, group, 150)
    await _caught_up(stack, group, topic, partitions=3)
    assert await _distinct_values(stack.database_url, group) == (150 + 3, 150 + 3)
    assert LOST not in (tmp_path / "consumer.log").read_text()


async def test_a_stored_offset_without_a_mark_beyond_the_log_end_reads_the_new_log(
    stack: Endpoints, members: list[Members], tmp_path: Path
) -> None:
    """A row stored before marks existed, 5,000 records into a log that now holds 100: the log
    is a new one, read from its start (never "resume at the end")."""
    topic = await _topic_with_records(stack.kafka_bootstrap, 100, partitions=1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(stack.database_url)
    await connection.execute(
        "INSERT INTO consumer_offset (grp, topic, partition, next_offset) VALUES ($1, $2, 0, 5000)",
        group,
        topic,
    )
    await connection.close()
    team = Members(stack, group, topic, tmp_path / "consumer.log")
    members.append(team)
    team.start()
    await _wait_applied(stack.database_url, group, 100)
    await _caught_up(stack, group, topic, partitions=1)
    assert await _applied(stack.database_url, group) == (100 + 1, 100 + 1)
    assert (tmp_path / "consumer.log").read_text().count(LOST) == 1


async def _wait_applied(url: str, group: str, at_least: int, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await _applied(url, group))[0] < at_least:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"fewer than {at_least} records applied in {timeout}s")
        await asyncio.sleep(0.05)


async def _sentinels_applied(url: str, group: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM applied WHERE grp = $1 AND value LIKE 'sentinel-%'", group
            )
        )
    finally:
        await connection.close()


async def _caught_up(stack: Endpoints, group: str, topic: str, *, partitions: int) -> None:
    """Once every record of the test is applied: one sentinel record more at the end of each
    partition (value ``sentinel-{partition}``), awaited until all are applied.

    A partition is read in order, so a record of it applied a second time (read again from
    behind the stored position) is applied before the sentinel behind it: every such
    duplicate is in the table by then, however slow the consumer, and no fixed wait is needed.
    """
    sentinels = [(b"sentinel", f"sentinel-{p}".encode(), p) for p in range(partitions)]
    await append(stack.kafka_bootstrap, topic, sentinels)
    deadline = asyncio.get_running_loop().time() + 60
    while await _sentinels_applied(stack.database_url, group) < partitions:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the {partitions} sentinels not applied in 60s")
        await asyncio.sleep(0.05)
