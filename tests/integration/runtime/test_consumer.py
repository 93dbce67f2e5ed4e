"""The exactly-once consumer protocol against real Kafka (Tansu) and PostgreSQL: killed
mid-batch, rebalanced, or resumed past a lost log, every record is applied exactly once."""

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

from floorstream.services.runtime.embedded.stack import Endpoints
from tests.support.kafka import topic_holding, wait_for

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
    await asyncio.sleep(0.5)  # nothing more may come
    assert await _applied(stack.database_url, group) == (RECORDS, RECORDS)


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
    await asyncio.sleep(0.5)
    assert await _applied(stack.database_url, group) == (RECORDS, RECORDS)


async def test_a_stored_offset_beyond_the_log_end_resumes_at_the_end_and_says_so(
    stack: Endpoints, members: list[Members], tmp_path: Path
) -> None:
    topic = await _topic_with_records(stack.kafka_bootstrap, 100, partitions=1)
    group = f"g-{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(stack.database_url)
    await connection.execute(
        "INSERT INTO consumer_offset (grp, topic, partition, next_offset) VALUES ($1, $2, 0, 5000)",
        group,
        topic,
    )  # as if the broker had held 5,000 records before a restart
    await connection.close()
    team = Members(stack, group, topic, tmp_path / "consumer.log")
    members.append(team)
    team.start()
    await wait_for(
        lambda: "beyond the log's end" in (tmp_path / "consumer.log").read_text(), 60, "the warning"
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    await producer.send_and_wait(topic, b"after", partition=0)
    await producer.stop()
    await _wait_applied(stack.database_url, group, 1)
    assert await _applied(stack.database_url, group) == (1, 1)  # only what came after
    assert (tmp_path / "consumer.log").read_text().count("beyond the log's end") == 1


async def _wait_applied(url: str, group: str, at_least: int, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (await _applied(url, group))[0] < at_least:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"fewer than {at_least} records applied in {timeout}s")
        await asyncio.sleep(0.05)
