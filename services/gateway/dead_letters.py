"""``floorstream dead-letters``: print the messages the gateway refused, readably.

Reads ``floor.events.dlq.v1`` (`DLQ_TOPIC`) without a consumer group: its partitions are
assigned and read from their start (or from their last ``--limit`` records), so the command
moves no one's offsets and may run beside the gateway at any time. Each record, a `DeadLetter`,
is printed as a short block::

    2026-11-02T06:00:01.250Z  not_json  floor/v1/f1/l1/press-1/machine
      payload is not valid JSON: expected value at line 1 column 2
      payload (9 bytes): {not json

The payload is shown as text where it is UTF-8 (control characters escaped, so that a block
stays three lines), else as base64; either is cut at `PAYLOAD_CHARS`. ``--json`` prints each
record as stored instead, one JSON object per line, payload whole.

Policy for a record that is not a `DeadLetter` (written there by something else): one line on
stderr naming its partition and offset, then on to the next.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TextIO, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from pydantic import ValidationError

from schemas.topics import DLQ_TOPIC
from schemas.validation import DeadLetter
from services.runtime.settings import DeadLetterSettings

__all__ = ["DeadLetterReader", "KafkaUnreachable", "register", "render", "run", "show"]

T = TypeVar("T")

PAYLOAD_CHARS: Final = 200
"""Characters of a payload (as text or base64) shown in a block; the rest is cut."""

CONNECT_TIMEOUT_S: Final = 10.0
STALL_TIMEOUT_S: Final = 30.0
"""How long the records up to the end may take to come without any of them arriving."""
TOPIC_POLL_S: Final = 1.0
"""With ``--follow``, how often to look for the topic again while it does not exist."""

_DURATION = re.compile(r"(\d+)([smhd])")
_UNITS: Final = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
# C0 and C1 controls, DEL and the Unicode line separators: escaped so a payload stays one line.
_ESCAPES: Final = {
    **{c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]},
    0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x2028: "\\u2028", 0x2029: "\\u2029",
}  # fmt: skip


class KafkaUnreachable(Exception):
    """Kafka did not answer: the one-line message says where it was looked for."""


def render(letter: DeadLetter) -> str:
    """The block printed for one dead letter (three lines, no trailing newline)."""
    when = letter.received_at.astimezone(UTC).isoformat(timespec="milliseconds")
    size = f"{letter.payload_size} bytes"
    payload = letter.payload
    if len(payload) < letter.payload_size:
        size += f", the first {len(payload)} kept"
    return (
        f"{when.replace('+00:00', 'Z')}  {letter.reason.value}  {_one_line(letter.topic)}\n"
        f"  {_one_line(letter.detail)}\n"
        f"  payload ({size}): {_payload(payload)}"
    )


def _payload(payload: bytes) -> str:
    try:
        return _cut(_one_line(payload.decode()))
    except UnicodeDecodeError:
        return "base64 " + _cut(base64.b64encode(payload).decode("ascii"))


def _one_line(text: str) -> str:
    return text.translate(_ESCAPES)


def _cut(text: str) -> str:
    return text if len(text) <= PAYLOAD_CHARS else text[:PAYLOAD_CHARS] + "…"


def parse(record: Any) -> DeadLetter | None:
    """The dead letter a record holds; None (said on stderr) for one that holds none."""
    try:
        return DeadLetter.model_validate_json(record.value or b"")
    except ValidationError as error:
        sys.stderr.write(
            f"skipped {record.topic}[{record.partition}] offset {record.offset}: not a "
            f"dead-letter record ({error.error_count()} problems)\n"
        )
        return None


def show(letter: DeadLetter, *, out: TextIO, as_json: bool) -> None:
    """Print one dead letter: its block, or its record as stored (``as_json``)."""
    out.write((letter.model_dump_json() if as_json else render(letter)) + "\n")


class DeadLetterReader:
    """The dead-letter topic's records, read without a consumer group (see the module)."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._partitions: list[TopicPartition] = []

    async def assign(self, *, limit: int | None, wait: bool) -> bool:
        """Assign every partition of the topic, at its start or ``limit`` records before its
        end; False where the topic does not exist (with ``wait``: wait until it does)."""
        while not (partitions := self._consumer.partitions_for_topic(DLQ_TOPIC)):
            if DLQ_TOPIC not in await self._consumer.topics():  # refreshes the metadata
                if not wait:
                    return False
                await asyncio.sleep(TOPIC_POLL_S)
        self._partitions = [TopicPartition(DLQ_TOPIC, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        starts = await self._consumer.beginning_offsets(self._partitions)
        ends = await self._consumer.end_offsets(self._partitions)
        for tp in self._partitions:
            back = starts[tp] if limit is None else max(starts[tp], ends[tp] - limit)
            self._consumer.seek(tp, back)
        return True

    async def backlog(self) -> AsyncIterator[Any]:
        """The records there now, up to the end offsets read when this starts."""
        ends = await self._consumer.end_offsets(self._partitions)
        waiting = {tp for tp in self._partitions if await self._consumer.position(tp) < ends[tp]}
        progress = time.monotonic()
        while waiting:
            batches = await self._consumer.getmany(*waiting, timeout_ms=500)
            for tp, records in batches.items():
                progress = time.monotonic()
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
            waiting = {tp for tp in waiting if await self._consumer.position(tp) < ends[tp]}
            if waiting and time.monotonic() - progress > STALL_TIMEOUT_S:
                raise KafkaUnreachable(f"Kafka stopped answering for {STALL_TIMEOUT_S:.0f} s")

    async def follow(self) -> AsyncIterator[list[Any]]:
        """Each batch of new records, as it comes, forever."""
        while True:
            batches = await self._consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                yield records


@asynccontextmanager
async def open_reader(bootstrap: str) -> AsyncIterator[DeadLetterReader]:
    """A `DeadLetterReader` on Kafka at ``bootstrap``, closed at the end of the block."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="floorstream-dead-letters",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",  # a log Kafka lost and began again: read it from its start
        request_timeout_ms=int(CONNECT_TIMEOUT_S * 1000),
    )
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            await consumer.start()
    except TimeoutError:
        await consumer.stop()
        raise KafkaUnreachable(f"no answer within {CONNECT_TIMEOUT_S:.0f} s") from None
    except KafkaConnectionError:
        await consumer.stop()
        raise KafkaUnreachable("nothing answers there") from None
    except (KafkaError, OSError) as error:
        await consumer.stop()
        raise KafkaUnreachable(str(error) or type(error).__name__) from None
    try:
        yield DeadLetterReader(consumer)
    finally:
        await consumer.stop()


DESCRIPTION: Final = f"""\
Print the dead letters: the MQTT messages the gateway refused, from {DLQ_TOPIC}, oldest
first, each with when it came, its reason, what was wrong and its payload. Reads without a
consumer group, so it changes nothing for the gateway or the processors. Needs
FLOORSTREAM_KAFKA_BOOTSTRAP (`floorstream up` prints the address of its Kafka)."""


def _since(text: str) -> datetime | timedelta:
    if match := _DURATION.fullmatch(text):
        return timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a time with its offset (2026-11-02T06:00:00Z) nor a duration "
            "(90s, 15m, 2h, 7d)"
        )
    return when


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``dead-letters`` to the ``floorstream`` command."""
    parser = subparsers.add_parser(
        "dead-letters",
        help="print the messages the gateway refused, with their reasons",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="after those there now, keep printing new ones as they come, until Ctrl-C; "
        "waits for the topic where it does not exist yet",
    )
    parser.add_argument(
        "--since",
        type=_since,
        metavar="WHEN",
        help="only those received at or after WHEN: a time with its offset "
        "(2026-11-02T06:00:00Z) or a duration ago (90s, 15m, 2h, 7d)",
    )
    parser.add_argument(
        "-n",
        "--limit",
        type=_count,
        metavar="N",
        help="only the last N of those there now (with --follow, then every new one)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print each record as stored, one JSON object per line (payload whole, in "
        "base64 as payload_b64), for jq or a script",
    )
    parser.set_defaults(run=run)


def run(
    args: argparse.Namespace,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    out: TextIO | None = None,
) -> int:
    """The command: 0 when printed (or stopped with Ctrl-C), 1 where Kafka did not answer."""
    bootstrap = ",".join(DeadLetterSettings().kafka_bootstrap)
    since = clock() - args.since if isinstance(args.since, timedelta) else args.since
    options = Options(follow=args.follow, limit=args.limit, since=since, as_json=args.json)
    try:
        with _quiet("aiokafka"):
            asyncio.run(read(bootstrap, options, out if out is not None else sys.stdout))
    except KafkaUnreachable as error:
        sys.stderr.write(
            f"floorstream dead-letters: cannot read Kafka at {bootstrap} ({error}); start it "
            "(`floorstream up`) or set FLOORSTREAM_KAFKA_BOOTSTRAP to where it answers\n"
        )
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `| head`: the reader has seen enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


@dataclass(frozen=True, slots=True)
class Options:
    """What to print: see the command's options."""

    follow: bool = False
    limit: int | None = None
    since: datetime | None = None
    as_json: bool = False


async def read(bootstrap: str, options: Options, out: TextIO) -> None:
    """Print the dead letters there now (the last ``limit``), then, with ``follow``, every new
    one until cancelled."""
    async with open_reader(bootstrap) as reader:
        if not await reader.assign(limit=options.limit, wait=options.follow):
            sys.stderr.write(f"no dead letters: {DLQ_TOPIC} does not exist yet\n")
            return
        letters = _letters(reader.backlog(), options.since)
        if options.limit is not None:  # at most limit per partition: in order, the last
            kept = sorted([letter async for letter in letters], key=lambda x: x.received_at)
            letters = _each(kept[-options.limit :])
        shown = await _show_all(letters, out, options.as_json)
        if not options.follow:
            if not shown:
                since = "" if options.since is None else f" since {options.since.isoformat()}"
                sys.stderr.write(f"no dead letters on {DLQ_TOPIC}{since}\n")
            return
        sys.stderr.write(f"waiting for new dead letters on {DLQ_TOPIC}; Ctrl-C stops\n")
        async for records in reader.follow():
            await _show_all(_letters(_each(records), options.since), out, options.as_json)


async def _letters(
    records: AsyncIterator[Any], since: datetime | None
) -> AsyncIterator[DeadLetter]:
    async for record in records:
        letter = parse(record)
        if letter is not None and (since is None or letter.received_at >= since):
            yield letter


async def _each(items: list[T]) -> AsyncIterator[T]:
    for item in items:
        yield item


async def _show_all(letters: AsyncIterator[DeadLetter], out: TextIO, as_json: bool) -> int:
    shown = 0
    async for letter in letters:
        show(letter, out=out, as_json=as_json)
        shown += 1
    out.flush()  # a reader on a pipe sees each batch as it comes
    return shown


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Keep a library's log off stderr (its retries would bury the one-line error)."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)
