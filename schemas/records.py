"""The processors' reading of ``floor.events.v1``: each record decoded once, in C, into a typed
struct (`MachineRecord`, …, together `Record`), with what the processors read of an event.

The gateway validated every event with the pydantic models of `schemas.events` before writing
it, so the processors need not build a pydantic model per event (about 4 µs each, the largest
cost of reading a batch). `parse_record` decodes with msgspec against the same constraints
(types, enums, counts, id lengths, the NUL character, floor time 2000–2099, an order start's
product and target), about five times cheaper. A record that fails them is read again by
`schemas.events.parse_kafka_value`, so a record that is not an event is refused with the
same reason and detail as ever; one that msgspec refuses and pydantic accepts (none is known)
is taken as pydantic reads it.

Fields the contract does not name are not read: no processor interprets them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, ClassVar, Final, Literal, TypeAlias

import msgspec
from msgspec import Meta

from schemas.events import Event, parse_kafka_value
from schemas.types import (
    EARLIEST_TS,
    LATEST_TS,
    MAX_COUNT,
    MAX_ID_LENGTH,
    SEGMENT_PATTERN,
    Kind,
    MachineState,
    MaterialAction,
    OrderAction,
    PeopleAction,
)

__all__ = [
    "MachineRecord",
    "MaterialRecord",
    "OrderRecord",
    "PeopleRecord",
    "ProductionRecord",
    "Record",
    "parse_record",
]

# Patterns cost as much as the rest of a decode, so the names' characters are checked once per
# station (`_checked`), and U+0000 once per record, on its bytes (`parse_record`).
Segment = Annotated[str, Meta(min_length=1, max_length=64)]
Identifier = Annotated[str, Meta(min_length=1, max_length=MAX_ID_LENGTH)]
Text = str
Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]
PositiveCount = Annotated[int, Meta(gt=0, le=MAX_COUNT)]


class _Record(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    factory: Segment
    line: Segment
    station: Segment
    event_id: Identifier
    ts: datetime


class MachineRecord(_Record, frozen=True, tag=Kind.MACHINE.value):
    """A machine event as the processors read it."""

    kind: ClassVar[Literal[Kind.MACHINE]] = Kind.MACHINE
    state: MachineState
    reason: Text | None = None


class ProductionRecord(_Record, frozen=True, tag=Kind.PRODUCTION.value):
    """A production report as the processors read it."""

    kind: ClassVar[Literal[Kind.PRODUCTION]] = Kind.PRODUCTION
    good: Count
    scrap: Count = 0


class PeopleRecord(_Record, frozen=True, tag=Kind.PEOPLE.value):
    """A people event as the processors read it."""

    kind: ClassVar[Literal[Kind.PEOPLE]] = Kind.PEOPLE
    action: PeopleAction
    operator_id: Identifier
    role: Text | None = None


class MaterialRecord(_Record, frozen=True, tag=Kind.MATERIAL.value):
    """A material event as the processors read it."""

    kind: ClassVar[Literal[Kind.MATERIAL]] = Kind.MATERIAL
    action: MaterialAction
    material_id: Identifier
    quantity: Annotated[float, Meta(ge=0)] | None = None
    unit: Text | None = None


class OrderRecord(_Record, frozen=True, tag=Kind.ORDER.value):
    """An order event as the processors read it."""

    kind: ClassVar[Literal[Kind.ORDER]] = Kind.ORDER
    action: OrderAction
    order_id: Identifier
    product_id: Identifier | None = None
    target_quantity: PositiveCount | None = None
    ideal_cycle_time_s: Annotated[float, Meta(gt=0)] | None = None

    def __post_init__(self) -> None:
        if self.action is OrderAction.START and (
            self.product_id is None or self.target_quantity is None
        ):
            raise ValueError("a start needs product_id and target_quantity")


Record: TypeAlias = MachineRecord | ProductionRecord | PeopleRecord | MaterialRecord | OrderRecord
"""An event of ``floor.events.v1`` as the processors read it; tell them apart by ``kind``."""

_RECORD_BY_KIND: Final[dict[Kind, type[Record]]] = {
    Kind.MACHINE: MachineRecord,
    Kind.PRODUCTION: ProductionRecord,
    Kind.PEOPLE: PeopleRecord,
    Kind.MATERIAL: MaterialRecord,
    Kind.ORDER: OrderRecord,
}

_DECODER: Final = msgspec.json.Decoder(Record)
_SEGMENT: Final = re.compile(SEGMENT_PATTERN)
_NUL: Final = b"\\u0000"  # JSON's only spelling of U+0000 in a string; raw, it is not JSON
_STATIONS_CHECKED: Final[set[tuple[str, str, str]]] = set()
_STATIONS_REMEMBERED: Final = 100_000


def parse_record(data: bytes) -> Record:
    """Read a value of ``floor.events.v1`` as the processors need it.

    Raises:
        InvalidMessage: the record is not an event of this contract; the reason and detail
            are those of `parse_kafka_value`.
    """
    try:
        record = _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return from_event(parse_kafka_value(data))  # raises the reason; else as pydantic reads
    year = record.ts.year  # an aware comparison costs 1 µs; only the edge years need one
    if (
        not _written_by_the_gateway(data)
        or _NUL in data
        or (year <= EARLIEST_TS.year or year >= LATEST_TS.year - 1)
        and not EARLIEST_TS <= record.ts < LATEST_TS
        or not _checked((record.factory, record.line, record.station))
    ):
        return from_event(parse_kafka_value(data))  # raises the reason
    return record


_TS: Final = b'"ts":"'


def _written_by_the_gateway(data: bytes) -> bool:
    """Whether ``ts`` has the one form the gateway writes: RFC 3339 to the second, with no
    fraction or 6 digits of one, ``Z`` or ``±HH:MM``. msgspec and pydantic read that form
    alike; another (a ninth digit, ``+0800``), they may not, and pydantic's reading counts."""
    at = data.find(_TS)
    if at < 0 or data.find(b'"ts":', at + 5) >= 0:
        return False
    start = at + len(_TS)
    end = data.find(b'"', start)
    n = end - start
    if n in (20, 27):
        zone = data[end - 1] == 0x5A  # Z
    elif n in (25, 32):
        zone = data[end - 3] == 0x3A and data[end - 6] in b"+-"  # ±HH:MM
    else:
        return False
    return zone and data[start + 10] == 0x54 and (n in (20, 25) or data[start + 19] == 0x2E)


def _checked(station: tuple[str, str, str]) -> bool:
    """Whether the station's names are segments of the contract; remembered once true."""
    if station in _STATIONS_CHECKED:
        return True
    if not all(_SEGMENT.fullmatch(name) for name in station):
        return False
    if len(_STATIONS_CHECKED) >= _STATIONS_REMEMBERED:
        _STATIONS_CHECKED.clear()  # memory stays bounded
    _STATIONS_CHECKED.add(station)
    return True


def from_event(event: Event) -> Record:
    """The record of a validated event (its fields the contract names)."""
    kind = _RECORD_BY_KIND[event.kind]
    return kind(**{name: getattr(event, name) for name in kind.__struct_fields__})
