"""Payloads of docs/contract.md §3, shared by the schema tests."""

from __future__ import annotations

from typing import Any, Final

from schemas import Kind

TOPIC: Final = "floor/v1/f1/l1/s1/{kind}"

CONTRACT_EXAMPLES: Final[dict[Kind, list[dict[str, Any]]]] = {
    Kind.MACHINE: [
        {"event_id": "m-1", "ts": "2026-11-02T06:00:00+08:00", "state": "running"},
        {"event_id": "m-2", "ts": "2026-11-02T07:12:00+08:00", "state": "down", "reason": "jam"},
    ],
    Kind.PRODUCTION: [
        {"event_id": "p-1", "ts": "2026-11-02T06:01:00+08:00", "good": 58, "scrap": 2},
    ],
    Kind.PEOPLE: [
        {
            "event_id": "h-1",
            "ts": "2026-11-02T06:00:00+08:00",
            "action": "check_in",
            "operator_id": "op-17",
            "role": "operator",
        },
    ],
    Kind.MATERIAL: [
        {
            "event_id": "x-1",
            "ts": "2026-11-02T06:00:00+08:00",
            "action": "level",
            "material_id": "steel-coil-2mm",
            "quantity": 340.0,
            "unit": "kg",
        },
    ],
    Kind.ORDER: [
        {
            "event_id": "o-1",
            "ts": "2026-11-02T06:00:00+08:00",
            "action": "start",
            "order_id": "WO-881",
            "product_id": "bracket-a",
            "target_quantity": 5000,
            "ideal_cycle_time_s": 1.0,
        },
    ],
}


def topic(kind: Kind | str) -> str:
    """The test topic of `kind`."""
    return TOPIC.format(kind=kind)
