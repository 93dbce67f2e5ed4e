"""`split_lanes`: a batch's partitions dealt into lanes of about as many records."""

from __future__ import annotations

from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.consumer import split_lanes

sizes = st.dictionaries(st.integers(0, 63), st.integers(1, 500), max_size=24)


@given(sizes, st.integers(1, 8))
def test_every_partition_is_in_exactly_one_lane_whole_and_in_order(
    batch_sizes: dict[int, int], lanes: int
) -> None:
    batch = {TopicPartition("t", p): list(range(n)) for p, n in batch_sizes.items()}
    parts = split_lanes(batch, lanes)
    assert len(parts) <= lanes
    assert all(parts)  # no empty lane
    seen = [tp for part in parts for tp in part]
    assert sorted(seen) == sorted(batch)  # each partition once
    for part in parts:
        for tp, records in part.items():
            assert records is batch[tp]  # whole, the same list in the same order


@given(sizes, st.integers(1, 8))
def test_the_lanes_differ_by_at_most_the_largest_partition(
    batch_sizes: dict[int, int], lanes: int
) -> None:
    batch = {TopicPartition("t", p): list(range(n)) for p, n in batch_sizes.items()}
    totals = [sum(map(len, part.values())) for part in split_lanes(batch, lanes)]
    if len(totals) > 1:
        assert max(totals) - min(totals) <= max(batch_sizes.values())


def test_one_lane_is_the_whole_batch() -> None:
    batch = {TopicPartition("t", p): [p] for p in range(5)}
    assert split_lanes(batch, 1) == [batch]
    assert split_lanes({}, 3) == []
