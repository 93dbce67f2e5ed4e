"""The pure part of the floor state: which events count, which win, and a material's row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import Event, MachineEvent, validate_message
from services.floor.fold import (
    Stock,
    StockFound,
    additions,
    latest_per,
    mark,
    merge_stock,
    stations_seen,
)
from services.runtime.batch_input import unique

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def _event(kind: str, event_id: str, minute: float, station: str = "s1", **fields: Any) -> Event:
    payload = {"event_id": event_id, "ts": (T0 + timedelta(minutes=minute)).isoformat(), **fields}
    return validate_message(f"floor/v1/f1/l1/{station}/{kind}", json.dumps(payload).encode())


def _material(event_id: str, minute: float, action: str, quantity: float | None) -> Event:
    fields: dict[str, Any] = {"action": action, "material_id": "m1"}
    if quantity is not None:
        fields["quantity"] = quantity
    return _event("material", event_id, minute, **fields)


def test_ties_of_ts_are_broken_by_event_id_in_code_point_order() -> None:
    a, b = _event("machine", "a-10", 0, state="running"), _event("machine", "a-2", 0, state="down")
    assert mark(a) < mark(b)  # "1" < "2", whatever a locale would say
    assert latest_per([b, a], lambda e: e.station)["s1"] is b
    assert latest_per([a, b], lambda e: e.station)["s1"] is b


def test_an_event_with_a_later_ts_but_another_offset_is_later() -> None:
    early = _event("machine", "z", 0, state="running")
    payload = {"event_id": "a", "ts": "2026-11-02T14:01:00+08:00", "state": "down"}
    late = validate_message("floor/v1/f1/l1/s1/machine", json.dumps(payload).encode())
    assert latest_per([late, early], lambda e: e.station)["s1"] is late


def test_unique_keeps_the_first_of_each_event_id_on_a_line() -> None:
    first = _event("machine", "e1", 0, state="running")
    again = _event("machine", "e1", 5, state="down")
    other_line = validate_message(
        "floor/v1/f1/l2/s1/machine",
        json.dumps({"event_id": "e1", "ts": T0.isoformat(), "state": "idle"}).encode(),
    )
    assert unique([first, again, other_line]) == [first, other_line]


def test_stations_seen_has_the_last_ts_of_any_kind_and_the_latest_machine_event() -> None:
    down = _event("machine", "m2", 3, state="down")
    events = [
        _event("machine", "m1", 1, state="running"),
        down,
        _event("production", "p1", 9, good=1),
        _event("production", "p2", 2, station="s2", good=1),
    ]
    seen = {s.station: s for s in stations_seen(events)}
    assert seen["s1"].last_seen == T0 + timedelta(minutes=9)
    assert seen["s1"].machine is down
    assert seen["s2"].machine is None
    assert isinstance(down, MachineEvent)


def test_additions_are_the_loaded_and_replenished_quantities() -> None:
    events = [
        _material("x1", 1, "loaded", 5),
        _material("x2", 2, "replenished", 7),
        _material("x3", 3, "consumed", 100),
        _material("x4", 4, "level", 50),
        _material("x5", 5, "loaded", None),
    ]
    assert additions(events) == {
        ("f1", "l1", "m1"): [
            ((T0 + timedelta(minutes=1), "x1"), 5),
            ((T0 + timedelta(minutes=2), "x2"), 7),
        ]
    }


def _at(minute: float, event_id: str) -> tuple[datetime, str]:
    return (T0 + timedelta(minutes=minute), event_id)


def _found(**fields: Any) -> StockFound:
    base: dict[str, Any] = {
        "station": "s1",
        "last_ts": T0 + timedelta(minutes=10),
        "unit": "kg",
        "level": None,
        "level_quantity": None,
        "added_after_level": 0.0,
        "consumed": None,
        "status": None,
        "shortage": False,
    }
    return StockFound(**(base | fields))


def _stock(**fields: Any) -> Stock:
    base: dict[str, Any] = {
        "station": "s0",
        "unit": "pcs",
        "quantity": None,
        "level": None,
        "last_ts": T0,
        "consumed": None,
        "shortage": False,
        "status": None,
    }
    return Stock(**(base | fields))


def test_a_first_stock_is_the_latest_level_plus_what_came_after() -> None:
    found = _found(level=_at(1, "x1"), level_quantity=100.0, added_after_level=20.0, consumed=3.0)
    assert merge_stock(found, None, []) == _stock(
        station="s1",
        unit="kg",
        quantity=120.0,
        level=_at(1, "x1"),
        last_ts=T0 + timedelta(minutes=10),
        consumed=3.0,
    )


def test_without_any_level_the_quantity_is_unknown() -> None:
    assert merge_stock(_found(added_after_level=20.0), None, []).quantity is None


def test_a_level_in_floor_event_as_late_as_the_stored_one_is_the_base() -> None:
    stored = _stock(quantity=999.0, level=_at(1, "x1"))
    found = _found(level=_at(1, "x1"), level_quantity=100.0, added_after_level=5.0)
    assert merge_stock(found, stored, [(_at(2, "x2"), 5.0)]).quantity == 105.0


@pytest.mark.parametrize("found_level", [None, _at(0, "x0")])
def test_where_retention_deleted_the_stored_level_the_stored_quantity_is_the_base(
    found_level: tuple[datetime, str] | None,
) -> None:
    stored = _stock(quantity=120.0, level=_at(1, "x1"), unit="kg", consumed=4.0)
    found = _found(level=found_level, level_quantity=1.0, unit=None)
    added = [(_at(0.5, "y0"), 1000.0), (_at(2, "y1"), 5.0), (_at(3, "y2"), 2.5)]
    merged = merge_stock(found, stored, added)
    assert (merged.quantity, merged.level) == (127.5, _at(1, "x1"))
    assert (merged.unit, merged.consumed) == ("kg", 4.0)  # deleted with their events


def test_the_later_of_the_stored_and_found_status_wins() -> None:
    stored = _stock(shortage=True, status=_at(5, "s5"))
    assert merge_stock(_found(status=_at(6, "r6"), shortage=False), stored, []).shortage is False
    assert merge_stock(_found(status=_at(4, "r4"), shortage=False), stored, []).shortage is True
    assert merge_stock(_found(), stored, []).status == _at(5, "s5")


def test_last_ts_never_goes_back() -> None:
    stored = _stock(last_ts=T0 + timedelta(hours=1))
    assert merge_stock(_found(), stored, []).last_ts == T0 + timedelta(hours=1)
