"""The memory-mode gate: an event's MQTT acknowledgement waits until every processor group has
committed past its record, and a lost log releases nothing more."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from ingest.processed_gate import KafkaLogLost, ProcessedGate

GROUPS = ("efficiency", "floor")


class Offsets:
    """The groups' committed offsets, as the processors would leave them."""

    def __init__(self) -> None:
        self.at: dict[tuple[str, int], int | None] = {}

    async def read(self, group: str, tp: TopicPartition) -> int | None:
        return self.at.get((group, tp.partition))


def _gate(offsets: Offsets) -> ProcessedGate:
    return ProcessedGate("unused:9092", "t", GROUPS, poll_s=0.001, committed=offsets.read)


async def _settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0.001)


async def test_released_only_once_every_group_has_committed_past_the_record() -> None:
    offsets, released = Offsets(), []
    gate = _gate(offsets)
    running = asyncio.create_task(gate.run())
    gate.hold(0, 0, 9, lambda: released.append("a"))  # offsets 0..9
    gate.hold(0, 10, 19, lambda: released.append("b"))
    gate.hold(1, 0, 4, lambda: released.append("c"))
    offsets.at = {("efficiency", 0): 20, ("floor", 0): 10, ("efficiency", 1): 5}
    await _settle()
    assert released == ["a"]  # floor is at 10: past a's 9, not b's 19; partition 1 has no floor
    offsets.at |= {("floor", 0): 20, ("floor", 1): 5}
    await _settle()
    assert sorted(released) == ["a", "b", "c"] and gate.held == 0
    running.cancel()


@pytest.mark.parametrize("loss", ["produced offset goes back", "committed offset goes back"])
async def test_a_lost_log_releases_nothing_more_and_says_so(loss: str) -> None:
    offsets, released = Offsets(), []
    gate = _gate(offsets)
    running = asyncio.create_task(gate.run())
    gate.hold(0, 100, 199, lambda: released.append("old"))
    offsets.at = {("efficiency", 0): 150, ("floor", 0): 150}
    await _settle()
    if loss == "produced offset goes back":
        gate.hold(0, 0, 9, lambda: released.append("new"))  # a new log's offsets
        # and the processors, on the new log, are past the old record's offset already
        offsets.at = {("efficiency", 0): 500, ("floor", 0): 500}
    else:
        offsets.at = {("efficiency", 0): None, ("floor", 0): 150}  # a new broker has none
    with pytest.raises(KafkaLogLost):
        await asyncio.wait_for(running, 5)
    assert released == []
