"""The memory-mode gate: an event's MQTT acknowledgement waits until every processor group has
committed past its record, and a lost log releases nothing more."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from ingest.processed_gate import KafkaLogLost, ProcessedGate
from tests.support.waiting import wait_for

GROUPS = ("efficiency", "floor")
WAIT_S = 30  # a deadline only: each wait ends as soon as its condition holds


class Offsets:
    """The groups' committed offsets, as the processors would leave them; counts the gate's
    reads of each."""

    def __init__(self) -> None:
        self._at: dict[tuple[str, int], int | None] = {}
        self.reads: dict[tuple[str, int], int] = {}
        self._since: dict[tuple[str, int], int] = {}

    @property
    def at(self) -> dict[tuple[str, int], int | None]:
        return self._at

    @at.setter
    def at(self, offsets: dict[tuple[str, int], int | None]) -> None:
        self._at = offsets
        self._since = dict(self.reads)  # reads from here on see these offsets

    async def read(self, group: str, tp: TopicPartition) -> int | None:
        key = (group, tp.partition)
        self.reads[key] = self.reads.get(key, 0) + 1
        return self._at.get(key)

    def most_reads_since_set(self) -> int:
        """The most times one offset was read since they were last set."""
        return max((n - self._since.get(key, 0) for key, n in self.reads.items()), default=0)


def _gate(offsets: Offsets) -> ProcessedGate:
    return ProcessedGate("unused:9092", "t", GROUPS, poll_s=0.001, committed=offsets.read)


async def _acted_on(offsets: Offsets, gate: ProcessedGate) -> None:
    """Until the gate has acted on the offsets as last set, or holds nothing any more (it reads
    nothing then). A poll reads each offset it needs once, then acts, and only then does the
    next poll read: an offset read a third time since they were set is read by a poll after
    one that read only offsets as set (the second read's) and acted on them."""

    def acted() -> bool:
        return gate.held == 0 or offsets.most_reads_since_set() >= 3

    await wait_for(acted, WAIT_S, "the gate to poll the offsets as set")


async def test_released_only_once_every_group_has_committed_past_the_record() -> None:
    offsets, released = Offsets(), []
    gate = _gate(offsets)
    running = asyncio.create_task(gate.run())
    gate.hold(0, 0, 9, lambda: released.append("a"))  # offsets 0..9
    gate.hold(0, 10, 19, lambda: released.append("b"))
    gate.hold(1, 0, 4, lambda: released.append("c"))
    offsets.at = {("efficiency", 0): 20, ("floor", 0): 10, ("efficiency", 1): 5}
    await _acted_on(offsets, gate)
    assert released == ["a"]  # floor is at 10: past a's 9, not b's 19; partition 1 has no floor
    offsets.at |= {("floor", 0): 20, ("floor", 1): 5}
    await wait_for(lambda: gate.held == 0, WAIT_S, "every record released")
    assert sorted(released) == ["a", "b", "c"]
    running.cancel()


@pytest.mark.parametrize("loss", ["produced offset goes back", "committed offset goes back"])
async def test_a_lost_log_releases_nothing_more_and_says_so(loss: str) -> None:
    offsets, released = Offsets(), []
    gate = _gate(offsets)
    running = asyncio.create_task(gate.run())
    gate.hold(0, 100, 199, lambda: released.append("old"))
    offsets.at = {("efficiency", 0): 150, ("floor", 0): 150}
    await _acted_on(offsets, gate)
    if loss == "produced offset goes back":
        gate.hold(0, 0, 9, lambda: released.append("new"))  # a new log's offsets
        # and the processors, on the new log, are past the old record's offset already
        offsets.at = {("efficiency", 0): 500, ("floor", 0): 500}
    else:
        offsets.at = {("efficiency", 0): None, ("floor", 0): 150}  # a new broker has none
    with pytest.raises(KafkaLogLost):
        await asyncio.wait_for(running, WAIT_S)
    assert released == []
