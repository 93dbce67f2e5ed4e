"""The bisection around poison records, over a fake "apply a part in a savepoint"."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import pytest
from aiokafka.structs import ConsumerRecord

from services.runtime.consumer import retryable
from services.runtime.handler import BatchResult, merged
from services.runtime.poison import (
    RUN_LIMIT,
    EveryRecordFails,
    Isolated,
    Record,
    isolate,
)


def _record(offset: int, value: bytes) -> Record:
    return ConsumerRecord("t", offset % 2, offset, 0, 0, b"k", value, None, 1, len(value), ())


def _batch(size: int, poison_at: Sequence[int] = ()) -> list[Record]:
    return [_record(i, b"poison" if i in poison_at else b"good") for i in range(size)]


class Savepoints:
    """Applies a part or none of it, like a savepoint; fails on a part holding b"poison"."""

    def __init__(self, error: Exception | None = None, fail_all: bool = False) -> None:
        self.applied: list[int] = []
        self.attempts: list[list[int]] = []
        self.error = error
        self.fail_all = fail_all

    async def __call__(self, records: Sequence[Record]) -> BatchResult | None:
        self.attempts.append([r.offset for r in records])
        if self.fail_all or any(r.value == b"poison" for r in records):
            raise self.error or ValueError("cannot apply poison")
        self.applied.extend(r.offset for r in records)
        return BatchResult(applied=len(records), skipped={"not_an_event": 0})


async def _isolate(records: Sequence[Record], apply: Savepoints, run: int = 0) -> Isolated:
    return await isolate(records, apply, retryable=retryable, run=run)


async def test_a_batch_that_applies_is_applied_once_and_its_result_kept() -> None:
    apply = Savepoints()
    isolated = await _isolate(_batch(100), apply)
    assert apply.attempts == [list(range(100))]
    assert isolated == Isolated(BatchResult(applied=100, skipped={"not_an_event": 0}), [], 0)


async def test_poison_records_are_set_aside_and_every_other_record_applied_once() -> None:
    poison_at = [0, 17, 18, 63, 99]
    apply = Savepoints()
    isolated = await _isolate(_batch(100, poison_at), apply)
    assert sorted(apply.applied) == [i for i in range(100) if i not in poison_at]
    assert len(apply.applied) == len(set(apply.applied))  # once each
    assert apply.applied == sorted(apply.applied)  # in order
    assert [p.record.offset for p in isolated.poison] == poison_at
    assert all(isinstance(p.error, ValueError) for p in isolated.poison)
    assert isolated.result == BatchResult(applied=95, skipped={"not_an_event": 0, "poison": 5})
    assert isolated.run == 1  # the last record failed alone


async def test_records_that_fail_only_together_are_all_applied() -> None:
    applied: list[int] = []

    async def apply(records: Sequence[Record]) -> BatchResult | None:
        if {1, 2} <= {r.offset for r in records}:
            raise asyncpg.CardinalityViolationError("a row touched twice")
        applied.extend(r.offset for r in records)
        return None

    isolated = await isolate(_batch(4), apply, retryable=retryable)
    assert applied == [0, 1, 2, 3]
    assert isolated.poison == []
    assert isolated.result == BatchResult()


@pytest.mark.parametrize(
    "error",
    [
        ConnectionResetError("reset"),
        asyncpg.ConnectionDoesNotExistError("closed"),
        asyncpg.DeadlockDetectedError("deadlock"),
        asyncpg.SerializationError("serialization"),
        asyncpg.QueryCanceledError("statement timeout"),
        asyncpg.DiskFullError("disk full"),
    ],
)
async def test_an_error_that_is_not_the_records_is_raised_from_any_depth(error: Exception) -> None:
    calls = 0

    async def apply(records: Sequence[Record]) -> BatchResult | None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("a poison record somewhere")
        raise error  # while bisecting

    with pytest.raises(type(error)):
        await isolate(_batch(8), apply, retryable=retryable)


async def test_a_batch_of_more_than_the_limit_that_all_fails_is_a_bug() -> None:
    apply = Savepoints(fail_all=True)
    with pytest.raises(EveryRecordFails, match="11 records in a row failed alone") as raised:
        await _isolate(_batch(500), apply)
    assert isinstance(raised.value.__cause__, ValueError)
    assert len(apply.attempts) < 40  # stops at the limit, without trying the 500 alone


async def test_a_small_batch_that_all_fails_is_poison_and_the_run_carries_over() -> None:
    apply = Savepoints(fail_all=True)
    isolated = await _isolate(_batch(RUN_LIMIT), apply)
    assert len(isolated.poison) == RUN_LIMIT
    assert isolated.run == RUN_LIMIT
    with pytest.raises(EveryRecordFails):  # the next batch's first record fails too
        await _isolate(_batch(1), apply, run=isolated.run)


async def test_a_record_applied_ends_the_run() -> None:
    poison_at = list(range(RUN_LIMIT))  # ten in a row, then good ones
    isolated = await _isolate(_batch(RUN_LIMIT + 5, poison_at), Savepoints())
    assert len(isolated.poison) == RUN_LIMIT
    assert isolated.run == 0
    with pytest.raises(EveryRecordFails):  # one more, and the run is over the limit
        await _isolate(_batch(RUN_LIMIT + 5, poison_at), Savepoints(), run=1)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("a bug on one odd event"),
        asyncpg.DataError("invalid input syntax"),  # the server's, SQLSTATE 22
        asyncpg.CheckViolationError("check"),
        asyncpg.exceptions._base.DataError("value out of int32 range"),  # the client's codec
    ],
)
def test_an_error_of_the_records_is_not_retried(error: Exception) -> None:
    assert not retryable(error)


def test_parts_results_are_summed() -> None:
    parts = [
        BatchResult(applied=2, duplicates=1, late=1, skipped={"not_an_event": 1}),
        None,
        BatchResult(applied=3, skipped={"not_an_event": 2, "poison": 1}),
    ]
    assert merged(parts) == BatchResult(
        applied=5, duplicates=1, late=1, skipped={"not_an_event": 3, "poison": 1}
    )
