"""The events of docs/contract.md §3 as pydantic models, and their form on ``floor.events.v1``.

Two families:

- payload models (`MachinePayload`, …): what a line publishes over MQTT, one per kind;
  `MODEL_BY_KIND` picks one from a topic's kind.
- routed events (`MachineEvent`, …, together `Event`): a validated payload plus the
  ``factory``, ``line``, ``station`` and ``kind`` of its topic. This is what the gateway writes
  to Kafka (`to_kafka_value`) and what the processors read back (`parse_kafka_value`).

Typing is strict: ``"good": "58"`` is a wrongly typed field, not 58. Fields the contract does not
name are kept, carried to Kafka and back, and never interpreted.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal, Self, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from schemas.errors import InvalidMessage
from schemas.explain import explain_validation_error
from schemas.topics import TopicAddress
from schemas.types import (
    MAX_COUNT,
    RFC3339_PATTERN,
    DeadLetterReason,
    Identifier,
    Kind,
    MachineState,
    MaterialAction,
    OrderAction,
    PeopleAction,
    Segment,
    Text,
    Timestamp,
)

__all__ = [
    "EVENT_BY_KIND",
    "MODEL_BY_KIND",
    "ROUTING_FIELDS",
    "Event",
    "EventPayload",
    "MachineEvent",
    "MachinePayload",
    "MaterialEvent",
    "MaterialPayload",
    "OrderEvent",
    "OrderPayload",
    "PeopleEvent",
    "PeoplePayload",
    "ProductionEvent",
    "ProductionPayload",
    "parse_kafka_value",
    "route",
]

ROUTING_FIELDS: Final = ("factory", "line", "station", "kind")
"""Fields the gateway adds from the topic; in a payload they must agree with the topic."""

Count: TypeAlias = Annotated[int, Field(ge=0, le=MAX_COUNT)]
PositiveCount: TypeAlias = Annotated[int, Field(gt=0, le=MAX_COUNT)]
Quantity: TypeAlias = Annotated[float, Field(ge=0)]
Seconds: TypeAlias = Annotated[float, Field(gt=0)]


class EventPayload(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True, allow_inf_nan=False)

    event_id: Identifier = Field(
        description="Unique per event from this sender; a repeat on the same line counts once."
    )
    ts: Timestamp = Field(
        description="When it happened on the floor: RFC 3339 with offset, "
        "e.g. 2026-11-02T06:00:00+08:00.",
        json_schema_extra={"pattern": RFC3339_PATTERN},
    )


class MachinePayload(EventPayload):
    """A station's state from `ts` on, until its next machine event."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"event_id": "m-1", "ts": "2026-11-02T06:00:00+08:00", "state": "running"},
                {"event_id": "m-2", "ts": "2026-11-02T07:12:00+08:00", "state": "down",
                 "reason": "jam"},
            ]
        }
    )  # fmt: skip

    # Enums are lax so that Python callers may pass "running"; JSON input is a string anyway.
    state: MachineState = Field(strict=False)
    reason: Text | None = Field(default=None, description="Why, in the line's own words.")


class ProductionPayload(EventPayload):
    """Parts finished since the previous production event of the station."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"event_id": "p-1", "ts": "2026-11-02T06:01:00+08:00", "good": 58, "scrap": 2}
            ]
        }
    )

    good: Count = Field(description="Good parts.")
    scrap: Count = Field(default=0, description="Scrapped parts; 0 when not sent.")


class PeoplePayload(EventPayload):
    """An operator checking in to or out of the line."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"event_id": "h-1", "ts": "2026-11-02T06:00:00+08:00", "action": "check_in",
                 "operator_id": "op-17", "role": "operator"}
            ]
        }
    )  # fmt: skip

    action: PeopleAction = Field(strict=False)
    operator_id: Identifier
    role: Text | None = None


class MaterialPayload(EventPayload):
    """What feeds the line: loads, consumption, levels, shortages and replenishments."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"event_id": "x-1", "ts": "2026-11-02T06:00:00+08:00", "action": "level",
                 "material_id": "steel-coil-2mm", "quantity": 340.0, "unit": "kg"}
            ]
        }
    )  # fmt: skip

    action: MaterialAction = Field(strict=False)
    material_id: Identifier
    quantity: Quantity | None = Field(
        default=None, description="Amount in `unit`; never negative, whatever the action."
    )
    unit: Text | None = None


class OrderPayload(EventPayload):
    """The work order running on the line. A start needs product and target quantity."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"event_id": "o-1", "ts": "2026-11-02T06:00:00+08:00", "action": "start",
                 "order_id": "WO-881", "product_id": "bracket-a", "target_quantity": 5000,
                 "ideal_cycle_time_s": 1.0}
            ],
            "if": {"properties": {"action": {"const": "start"}}, "required": ["action"]},
            "then": {
                "required": ["product_id", "target_quantity"],
                "properties": {
                    "product_id": {"type": "string"},
                    "target_quantity": {"type": "integer"},
                },
            },
        }
    )  # fmt: skip

    action: OrderAction = Field(strict=False)
    order_id: Identifier
    product_id: Identifier | None = Field(default=None, description="Required on start.")
    target_quantity: PositiveCount | None = Field(default=None, description="Required on start.")
    ideal_cycle_time_s: Seconds | None = Field(
        default=None, description="Seconds per part at ideal speed; else the line's setting."
    )

    @model_validator(mode="after")
    def _start_names_what_and_how_many(self) -> Self:
        if self.action is OrderAction.START:
            for name in ("product_id", "target_quantity"):
                if getattr(self, name) is None:
                    raise PydanticCustomError(
                        "missing_for_action",
                        "field '{field}' is required when action is '{action}'",
                        {"field": name, "action": self.action.value},
                    )
        return self


class _Routing(BaseModel):
    """Where an event comes from, added by the gateway from the MQTT topic."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)

    factory: Segment
    line: Segment
    station: Segment
    kind: Kind

    @property
    def address(self) -> TopicAddress:
        """The event's factory, line, station and kind."""
        return TopicAddress(self.factory, self.line, self.station, self.kind)

    @property
    def kafka_key(self) -> bytes:
        """``{factory}/{line}`` as bytes: the key on ``floor.events.v1``."""
        return f"{self.factory}/{self.line}".encode()

    def to_kafka_value(self) -> bytes:
        """The event as JSON: every field, ``ts`` in RFC 3339 with its offset, extras kept."""
        return self.__pydantic_serializer__.to_json(self)


class MachineEvent(MachinePayload, _Routing):
    """A machine payload from one station."""

    kind: Literal[Kind.MACHINE] = Kind.MACHINE


class ProductionEvent(ProductionPayload, _Routing):
    """A production payload from one station."""

    kind: Literal[Kind.PRODUCTION] = Kind.PRODUCTION


class PeopleEvent(PeoplePayload, _Routing):
    """A people payload from one station."""

    kind: Literal[Kind.PEOPLE] = Kind.PEOPLE


class MaterialEvent(MaterialPayload, _Routing):
    """A material payload from one station."""

    kind: Literal[Kind.MATERIAL] = Kind.MATERIAL


class OrderEvent(OrderPayload, _Routing):
    """An order payload from one station."""

    kind: Literal[Kind.ORDER] = Kind.ORDER


Event: TypeAlias = MachineEvent | ProductionEvent | PeopleEvent | MaterialEvent | OrderEvent
"""A validated event with its routing; narrow it with ``isinstance`` or ``match``."""

MODEL_BY_KIND: Final[Mapping[Kind, type[EventPayload]]] = MappingProxyType(
    {
        Kind.MACHINE: MachinePayload,
        Kind.PRODUCTION: ProductionPayload,
        Kind.PEOPLE: PeoplePayload,
        Kind.MATERIAL: MaterialPayload,
        Kind.ORDER: OrderPayload,
    }
)
"""The payload model of each kind."""

EVENT_BY_KIND: Final[Mapping[Kind, type[Event]]] = MappingProxyType(
    {
        Kind.MACHINE: MachineEvent,
        Kind.PRODUCTION: ProductionEvent,
        Kind.PEOPLE: PeopleEvent,
        Kind.MATERIAL: MaterialEvent,
        Kind.ORDER: OrderEvent,
    }
)
"""The routed event model of each kind."""

_EVENT_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(
    Annotated[Event, Field(discriminator="kind")]
)


def route(payload: EventPayload, address: TopicAddress) -> Event:
    """Add the routing of `address` to a payload validated for ``address.kind``.

    A payload may repeat ``factory``, ``line``, ``station`` or ``kind`` as long as it agrees
    with its topic; the topic's value is kept.

    Raises:
        InvalidMessage: ``conflicting_field`` when the payload disagrees with its topic.
    """
    extra = payload.__pydantic_extra__ or {}
    routing: dict[str, Any] = {
        "factory": address.factory,
        "line": address.line,
        "station": address.station,
        "kind": address.kind,
    }
    if not extra.keys().isdisjoint(ROUTING_FIELDS):
        extra = _drop_routing_fields(extra, routing)
    # model_construct skips a second validation: every value was checked above or by the topic.
    return EVENT_BY_KIND[address.kind].model_construct(
        payload.model_fields_set.union(routing), **payload.__dict__, **extra, **routing
    )


def _drop_routing_fields(extra: dict[str, Any], routing: dict[str, Any]) -> dict[str, Any]:
    for name in ROUTING_FIELDS:
        if name in extra and extra[name] != routing[name]:
            raise InvalidMessage(
                DeadLetterReason.CONFLICTING_FIELD,
                f"field '{name}' is {extra[name]!r:.80} but the topic says {routing[name]!s}; "
                "leave it out, the topic names it",
            )
    return {key: value for key, value in extra.items() if key not in routing}


def parse_kafka_value(data: bytes) -> Event:
    """Read a value of ``floor.events.v1`` back into its typed event.

    Raises:
        InvalidMessage: the record is not an event of this contract (a producer bug, or a
            record from another version); the reason codes are those of `validate_message`.
    """
    try:
        return _EVENT_ADAPTER.validate_json(data)
    except ValidationError as error:
        raise explain_validation_error(error, tagged=True) from None
