"""Work-order cards: queued, running, done, and whose parts count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kanban.order_cards import order_card, order_status
from kanban.orders import WorkOrder
from schemas.line_settings import LineSettings

NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("started", "ended", "status"),
    [
        (NOW + HOUR, None, "queued"),
        (NOW + HOUR, NOW + 2 * HOUR, "queued"),
        (NOW, None, "running"),
        (NOW - HOUR, NOW + HOUR, "running"),
        (NOW - HOUR, NOW, "done"),
    ],
)
def test_order_status(started: datetime, ended: datetime | None, status: str) -> None:
    order = WorkOrder("WO-1", "p", 10, started_at=started, ended_at=ended)
    assert order_status(order, NOW) == status


def test_the_card_counts_the_constraint_station_else_the_busiest() -> None:
    order = WorkOrder("WO-1", "p", 100, NOW - HOUR, good_by_station={"a": 5, "b": 9})
    card = order_card(order, settings=LineSettings(name="L"), now=NOW)
    assert (card.station, card.good_count, card.status) == ("b", 9, "running")
    constrained = LineSettings(name="L", constraint_station="c")
    assert order_card(order, settings=constrained, now=NOW).good_count == 0
