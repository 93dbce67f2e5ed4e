"""Small builders of events and instants for the OEE core's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import count

from schemas import (
    LineSettings,
    MachinePayload,
    OrderPayload,
    ProductionPayload,
)

_ids = count()
SHANGHAI = timezone(timedelta(hours=8))


def at(text: str, tz: timezone = UTC) -> datetime:
    """``"2026-11-02 06:00"`` or ``"... 06:00:30"`` as an aware datetime in `tz`."""
    fmt = "%Y-%m-%d %H:%M:%S" if text.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(text, fmt).replace(tzinfo=tz)


def machine(ts: datetime, state: str, reason: str | None = None) -> MachinePayload:
    return MachinePayload(event_id=f"m-{next(_ids)}", ts=ts, state=state, reason=reason)


def produced(ts: datetime, good: int, scrap: int = 0) -> ProductionPayload:
    return ProductionPayload(event_id=f"p-{next(_ids)}", ts=ts, good=good, scrap=scrap)


def order(ts: datetime, action: str, order_id: str, cycle: float | None = None) -> OrderPayload:
    return OrderPayload(
        event_id=f"o-{next(_ids)}",
        ts=ts,
        action=action,
        order_id=order_id,
        product_id="bracket-a",
        target_quantity=5000,
        ideal_cycle_time_s=cycle,
    )


def line(
    timezone_name: str = "UTC",
    shifts: list[dict[str, object]] | None = None,
    ideal: float | None = 1.0,
) -> LineSettings:
    return LineSettings.model_validate(
        {
            "name": "l1",
            "timezone": timezone_name,
            "shifts": shifts or [],
            "ideal_cycle_time_s": ideal,
        }
    )


SHIFT_A: dict[str, object] = {
    "name": "A",
    "start": "06:00",
    "end": "14:00",
    "breaks": [{"start": "09:00", "end": "09:15"}, {"start": "11:30", "end": "12:00"}],
}
"""The contract's example shift (docs/contract.md §5)."""


def contract_shift() -> tuple[list[MachinePayload], list[ProductionPayload]]:
    """The events of the contract's example answer, on 2026-11-02 in +08:00, under `SHIFT_A`.

    A planned stop 10:00–10:15 and a breakdown 07:12–07:59; 18,848 good and 423 scrap. With
    an ideal cycle time of 1 s: A .8881, P .8611, Q .9780, OEE .7479 (worked out where used).
    """
    day = "2026-11-02 {}"
    changes = [
        machine(at(day.format(t), SHANGHAI), state, reason)
        for t, state, reason in [
            ("06:00", "running", None),
            ("07:12", "down", "jam"),
            ("07:59", "running", None),
            ("10:00", "planned_stop", None),
            ("10:15", "running", None),
            ("14:00", "idle", None),
        ]
    ]
    return changes, [produced(at(day.format("13:00"), SHANGHAI), 18_848, 423)]
