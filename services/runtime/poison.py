"""Poison records: a record the handler cannot apply is set aside, and its partition moves on.

The rule (step 3 of the consumer protocol, `runtime.consumer`):

a. the batch is applied in a savepoint. If the handler raises an error that is not
   ``retryable`` (the consumer's: a lost connection, or a database that cannot apply anything
   now, such as a deadlock), the savepoint is rolled back and each half of the batch is applied
   the same way, in its own savepoint, in order, recursively down to single records. A part's
   savepoint is either released, and commits with the batch, or rolled back: every record
   applied is applied once;
b. a record that fails alone is poison: it is skipped, stored in ``poison_record`` with its
   error in the batch's transaction (`PoisonStore`), logged once at error level after the
   commit (`log_poison`), and counted as skipped for `POISON`. The offsets are stored past it
   as usual;
c. a bug in the code or the schema fails every record, and would skip them all: so more than
   `RUN_LIMIT` records failing alone in a row, with no record applied between them (within one
   batch or across consecutive batches of the member), is not poison: `EveryRecordFails` is
   raised, the batch rolls back and the processor stops, and the supervisor's back-off shows it.
   A batch of more than `RUN_LIMIT` records that all fail is always such a run.

The bisection (`isolate`) takes the "apply a part in its own savepoint" step as a coroutine,
so it runs without a database in the unit tests.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from aiokafka.structs import ConsumerRecord

from services.runtime.consumer_metrics import POISON
from services.runtime.errors import RuntimeFailure
from services.runtime.handler import BatchResult, merged

log = logging.getLogger(f"floorstream.{__name__}")

Record: TypeAlias = ConsumerRecord[bytes, bytes]
ApplyPart = Callable[[Sequence[Record]], Awaitable[BatchResult | None]]
"""Applies a part of the batch in a savepoint of its own: on an error, the savepoint is rolled
back and the error raised."""

RUN_LIMIT: Final = 10
"""More records than this failing alone in a row is a bug, not poison (rule c)."""

_VALUE_LOGGED: Final = 200  # bytes of a poison record's value in its log line
_ERROR_STORED: Final = 4_000  # characters of the error stored


class EveryRecordFails(RuntimeFailure):
    """More than `RUN_LIMIT` records failed alone in a row: a bug, not poison (rule c)."""


@dataclass(frozen=True)
class Poison:
    """A record that failed alone, and its error."""

    record: Record
    error: Exception


@dataclass(frozen=True)
class Isolated:
    """What `isolate` did with a batch."""

    result: BatchResult | None
    """The handler's, or, where the batch was bisected, its parts' merged with the poison."""
    poison: list[Poison]
    run: int
    """Records failing alone in a row at the batch's end: the next batch's ``run``."""


async def isolate(
    records: Sequence[Record],
    apply_part: ApplyPart,
    *,
    retryable: Callable[[Exception], bool],
    run: int = 0,
    limit: int = RUN_LIMIT,
) -> Isolated:
    """Apply ``records`` with ``apply_part``, bisecting around the records that fail alone.

    ``run`` is the number of records that failed alone in a row before this batch. An error
    for which ``retryable`` holds is raised as it is, from any depth; so is `EveryRecordFails`.
    """
    bisection = _Bisection(apply_part, retryable, run, limit)
    try:
        result = await apply_part(records)
    except Exception as error:
        if retryable(error):
            raise
        await bisection.failed(records, error)
    else:
        return Isolated(result, [], 0 if records else run)
    poison = bisection.poison
    parts = [*bisection.results, BatchResult(skipped={POISON: len(poison)} if poison else {})]
    return Isolated(merged(parts), poison, bisection.run)


class _Bisection:
    def __init__(
        self,
        apply_part: ApplyPart,
        retryable: Callable[[Exception], bool],
        run: int,
        limit: int,
    ) -> None:
        self._apply_part = apply_part
        self._retryable = retryable
        self._limit = limit
        self.run = run
        self.results: list[BatchResult | None] = []
        self.poison: list[Poison] = []

    async def apply(self, records: Sequence[Record]) -> None:
        try:
            result = await self._apply_part(records)
        except Exception as error:
            if self._retryable(error):
                raise
            await self.failed(records, error)
            return
        self.results.append(result)
        self.run = 0

    async def failed(self, records: Sequence[Record], error: Exception) -> None:
        """``records`` failed together: apply each half on its own; a single record is poison."""
        if len(records) > 1:
            middle = len(records) // 2
            await self.apply(records[:middle])
            await self.apply(records[middle:])
            return
        record = records[0]
        self.run += 1
        if self.run > self._limit:
            raise EveryRecordFails(
                f"{self.run} records in a row failed alone, the last "
                f"{record.topic}[{record.partition}]@{record.offset} with "
                f"{_error_text(error)}: a bug in the code or the schema, not a poison record"
            ) from error
        self.poison.append(Poison(record, error))


class PoisonStore:
    """The ``poison_record`` table: the records a group skipped, with their errors."""

    def __init__(self, group: str) -> None:
        self.group = group

    async def save(self, connection: Any, poison: Sequence[Poison]) -> None:
        """Store ``poison`` in the open transaction (a record seen again, as after a broker
        lost its log and reused the offset, replaces the row)."""
        if not poison:
            return
        await connection.executemany(
            'INSERT INTO poison_record (grp, topic, partition, "offset", key, value, error)'
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ' ON CONFLICT (grp, topic, partition, "offset") DO UPDATE SET key = excluded.key,'
            " value = excluded.value, error = excluded.error, at = excluded.at",
            [
                (
                    self.group,
                    p.record.topic,
                    p.record.partition,
                    p.record.offset,
                    p.record.key,
                    p.record.value,
                    _storable(_error_text(p.error))[:_ERROR_STORED],
                )
                for p in poison
            ],
        )


def log_poison(group: str, poison: Sequence[Poison]) -> None:
    """One error line per poison record, with its traceback (called once the batch committed)."""
    for p in poison:
        record = p.record
        value = record.value
        log.error(
            "poison record skipped by %s: %s[%d]@%d key %r value %r%s: %s",
            group,
            record.topic,
            record.partition,
            record.offset,
            record.key,
            value[:_VALUE_LOGGED] if value is not None else None,
            f" ({len(value)} bytes)" if value is not None and len(value) > _VALUE_LOGGED else "",
            _error_text(p.error),
            exc_info=p.error,
        )


def _error_text(error: Exception) -> str:
    try:
        text = str(error)
    except Exception:  # a broken __str__ must not fail the batch that sets the record aside
        text = ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _storable(text: str) -> str:
    """``text`` as PostgreSQL stores it: no U+0000, no lone surrogate."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
