"""``floorstream dead-letters`` against the session's real Kafka, run as a user runs it: a child
process reading ``floor.events.dlq.v1`` (shared with other tests, so each test looks for the
records of a factory of its own)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas import DLQ_TOPIC, DeadLetter, InvalidMessage, validate_message
from services.runtime.kafka_topics import ensure_topics
from services.stack.embedded.process import free_port
from services.stack.embedded.stack import Endpoints

pytestmark = pytest.mark.integration

DEADLINE_S = 60


def a_factory() -> str:
    return f"dl{uuid.uuid4().hex[:10]}"


def refused(topic: str, payload: bytes, received_at: datetime | None = None) -> DeadLetter:
    """The dead letter the gateway writes for a message it refuses."""
    try:
        validate_message(topic, payload)
    except InvalidMessage as error:
        at = received_at or datetime.now(UTC)
        return DeadLetter.from_invalid(topic, payload, error, at)
    raise AssertionError(f"{payload!r} on {topic} is valid")


async def publish(bootstrap: str, *letters: DeadLetter) -> None:
    await ensure_topics(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(DLQ_TOPIC, letter.to_kafka_value(), key=letter.kafka_key)
    finally:
        await producer.stop()


async def start(bootstrap: str, *options: str) -> asyncio.subprocess.Process:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOORSTREAM_")}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "floorstream", "dead-letters", *options,
        env=environment | {"FLOORSTREAM_KAFKA_BOOTSTRAP": bootstrap},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def run(bootstrap: str, *options: str) -> tuple[int, str, str]:
    process = await start(bootstrap, *options)
    out, err = await asyncio.wait_for(process.communicate(), DEADLINE_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def read_until(stream: asyncio.StreamReader, text: str) -> list[str]:
    """Lines of ``stream`` up to the first that holds ``text``, within the deadline."""
    lines: list[str] = []
    deadline = time.monotonic() + DEADLINE_S
    while not lines or text not in lines[-1]:
        remaining = deadline - time.monotonic()
        line = await asyncio.wait_for(stream.readline(), max(remaining, 0.001))
        assert line, f"the stream ended before {text!r}: {lines}"
        lines.append(line.decode())
    return lines


async def test_it_prints_each_dead_letter_with_its_reason_and_payload(stack: Endpoints) -> None:
    f, now = a_factory(), datetime.now(UTC)
    letters = [
        refused(f"floor/v1/{f}/l1/s1/machine", b"{not json", now - timedelta(seconds=2)),
        refused(f"floor/v1/{f}/l1/s1/production", b'{"ts": "x"}', now - timedelta(seconds=1)),
        refused(f"floor/v1/{f}/l1/s1/machine", b"\xff\xfe binary", now),
    ]
    offsets = await _end_offset(stack.kafka_bootstrap)
    await publish(stack.kafka_bootstrap, *letters)

    code, out, err = await run(stack.kafka_bootstrap)
    assert (code, err) == (0, "")
    mine = [line for line in out.splitlines() if f"/{f}/" in line]
    assert [line.split()[1] for line in mine] == ["not_json", "missing_field", "not_utf8"]
    block = out.splitlines()[out.splitlines().index(mine[0]) :][:3]
    assert block[1].startswith("  payload is not valid JSON")
    assert block[2] == "  payload (9 bytes): {not json"
    assert f"  payload (9 bytes): base64 {letters[2].payload_b64}" in out

    code, out, err = await run(stack.kafka_bootstrap, "--json", "--limit", "2")
    assert (code, err) == (0, "")
    assert [DeadLetter.model_validate_json(line) for line in out.splitlines()] == letters[1:]

    since = letters[1].received_at.isoformat()
    code, out, _ = await run(stack.kafka_bootstrap, "--since", since, "--json")
    assert [DeadLetter.model_validate_json(line) for line in out.splitlines()] == letters[1:]
    assert await _end_offset(stack.kafka_bootstrap) == offsets + len(letters)  # nothing else


async def test_follow_prints_a_dead_letter_written_after_it_started_and_ctrl_c_ends_it(
    stack: Endpoints,
) -> None:
    f = a_factory()
    await publish(stack.kafka_bootstrap, refused(f"floor/v1/{f}/l1/s1/machine", b"[1]"))
    process = await start(stack.kafka_bootstrap, "--follow")
    assert process.stdout is not None and process.stderr is not None
    try:
        await read_until(process.stdout, f"floor/v1/{f}/l1/s1/machine")  # what was there
        await read_until(process.stderr, "waiting for new dead letters")
        later = refused(f"floor/v1/{f}/l2/s1/kettle", b"{}")
        await publish(stack.kafka_bootstrap, later)
        lines = await read_until(process.stdout, f"floor/v1/{f}/l2/s1/kettle")
        assert lines[-1].split()[1] == "unknown_kind"
    finally:
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), DEADLINE_S)
    rest = await process.stderr.read()
    assert (code, rest) == (0, b"")  # quietly: no traceback


async def test_an_unreachable_kafka_is_one_line_that_says_what_to_do() -> None:
    code, out, err = await run(f"127.0.0.1:{free_port()}")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1, err
    assert "cannot read Kafka at 127.0.0.1:" in err
    assert "FLOORSTREAM_KAFKA_BOOTSTRAP" in err


async def _end_offset(bootstrap: str) -> int:
    """The dead-letter topic's end offset (created first where missing); one partition."""
    await ensure_topics(bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(DLQ_TOPIC, 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()
