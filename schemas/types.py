"""The vocabulary of the contract: kinds, states, actions, reasons, limits and small value types.

Everything here is named once and imported everywhere else, so that the MQTT gateway, the
processors and the HTTP API agree on every word (docs/contract.md §3–§5).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, TypeAlias

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

__all__ = [
    "FUTURE_TOLERANCE_S",
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_SEGMENT_LENGTH",
    "RFC3339_PATTERN",
    "SEGMENT_PATTERN",
    "SEGMENT_REGEX",
    "DeadLetterReason",
    "Identifier",
    "JsonObject",
    "Kind",
    "MachineState",
    "MaterialAction",
    "OrderAction",
    "PeopleAction",
    "Segment",
    "Timestamp",
    "parse_timestamp",
]

MAX_PAYLOAD_BYTES: Final = 65_536
"""Largest MQTT payload accepted, in bytes (64 KiB)."""

MAX_SEGMENT_LENGTH: Final = 64
MAX_ID_LENGTH: Final = 128

MAX_COUNT: Final = 1_000_000_000
"""Upper bound of any part count in one event.

The contract names no limit; this one keeps a typo or a counter glitch from overflowing the
processors' integer columns, and is far above any real line's output between two events.
"""

SEGMENT_PATTERN: Final = r"^[a-z0-9_-]{1,64}$"
"""A factory, line or station name, as a JSON Schema / pydantic pattern."""

SEGMENT_REGEX: Final = re.compile(r"[a-z0-9_-]{1,64}")
"""The same rule for `re.fullmatch`; `$` would also match before a trailing newline."""


class Kind(StrEnum):
    """The last level of an MQTT topic: what an event is about."""

    MACHINE = "machine"
    PRODUCTION = "production"
    PEOPLE = "people"
    MATERIAL = "material"
    ORDER = "order"


class MachineState(StrEnum):
    """A station's state from an event's `ts` on, until its next machine event."""

    RUNNING = "running"
    IDLE = "idle"
    STARVED = "starved"
    BLOCKED = "blocked"
    DOWN = "down"
    SETUP = "setup"
    PLANNED_STOP = "planned_stop"
    OFFLINE = "offline"


class PeopleAction(StrEnum):
    """An operator arriving on or leaving the line."""

    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"


class MaterialAction(StrEnum):
    """What happened to a material that feeds the line."""

    LOADED = "loaded"
    CONSUMED = "consumed"
    LEVEL = "level"
    SHORTAGE = "shortage"
    REPLENISHED = "replenished"


class OrderAction(StrEnum):
    """A work order starting or ending on the line."""

    START = "start"
    END = "end"


class DeadLetterReason(StrEnum):
    """Why a message went to the dead-letter topic: one code per way of breaking the contract.

    The codes are stable (metrics are labelled with them, integrators filter on them); the
    human-readable ``detail`` next to them may change wording at any time.
    """

    PAYLOAD_TOO_LARGE = "payload_too_large"
    BAD_TOPIC_PREFIX = "bad_topic_prefix"
    TOPIC_TOO_SHORT = "topic_too_short"
    TOPIC_TOO_DEEP = "topic_too_deep"
    BAD_TOPIC_SEGMENT = "bad_topic_segment"
    UNKNOWN_KIND = "unknown_kind"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_TIMESTAMP = "bad_timestamp"
    UNKNOWN_VALUE = "unknown_value"
    NEGATIVE_COUNT = "negative_count"
    OUT_OF_RANGE = "out_of_range"
    CONFLICTING_FIELD = "conflicting_field"
    INVALID_FIELD = "invalid_field"
    FROM_THE_FUTURE = "from_the_future"


RFC3339_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
"""RFC 3339 §5.6 date-time: seconds and offset mandatory. For JSON Schema and `re.fullmatch`.

Parsers such as pydantic's also take "1730000000" or "06:00+0800", which the contract does
not allow, so a timestamp is matched against this before it is parsed.
"""

_RFC3339 = re.compile(RFC3339_PATTERN)


EARLIEST_TS: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TS: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""Event times outside ``[EARLIEST_TS, LATEST_TS)`` are refused (``out_of_range``)."""

FUTURE_TOLERANCE_S: Final = 300
"""Default of how far, in seconds, an event's ``ts`` may be ahead of the clock of the service
that receives it (the setting ``future_tolerance_s``). Further ahead, the gateway refuses it
(``from_the_future``) and the processors skip it: a line's clock set years ahead would
otherwise hold its station in that state until then, and make every fold "until the next
event" span the years between.
"""


def parse_timestamp(value: Any) -> Any:
    """Parse an RFC 3339 timestamp string with offset; leave a `datetime` to pydantic's check.

    Used as a before-validator, so it also decides what a wrongly typed ``ts`` is: anything but
    a string (or, from Python, a datetime) is a bad timestamp.
    """
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "rfc3339_type", "expected an RFC 3339 timestamp string with offset"
        )
    if _RFC3339.fullmatch(value) is None:
        raise PydanticCustomError(
            "rfc3339_format",
            "expected an RFC 3339 timestamp with offset, such as 2026-11-02T06:00:00+08:00",
        )
    try:
        # fromisoformat() of Python 3.11 reads a lowercase "z" only as a separator.
        parsed = datetime.fromisoformat(value[:-1] + "Z" if value[-1] == "z" else value)
    except ValueError as error:
        raise PydanticCustomError(
            "rfc3339_value", "not a valid date or time ({reason})", {"reason": str(error)[:80]}
        ) from None
    if not EARLIEST_TS <= parsed < LATEST_TS:
        # Floor time: a clock set to year 1 or 9999 is broken, and such instants would overflow
        # the time arithmetic of every processor (a poison event).
        raise PydanticCustomError(
            "rfc3339_range",
            "{value} is outside {earliest} to {latest}; is the sender's clock set?",
            {"value": value[:40], "earliest": EARLIEST_TS.year, "latest": LATEST_TS.year - 1},
        )
    return parsed


Timestamp: TypeAlias = Annotated[AwareDatetime, BeforeValidator(parse_timestamp)]
"""An RFC 3339 timestamp with offset; the offset is kept, a naive timestamp is rejected."""

Segment: TypeAlias = Annotated[str, StringConstraints(pattern=SEGMENT_PATTERN)]
"""A factory, line or station name: 1–64 of a-z 0-9 - _."""


def refuse_nul(value: str) -> str:
    """A string the database can store: PostgreSQL text cannot hold U+0000, so a value with it
    is refused here, at the edge, rather than stopping a processor on every retry."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain the NUL character (U+0000)")
    return value


Text: TypeAlias = Annotated[str, AfterValidator(refuse_nul)]
"""Free text from the floor (a reason, a role, a unit): any characters but U+0000."""

Identifier: TypeAlias = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(refuse_nul)
]
"""An id chosen by the sender (event, operator, material, order, product): 1–128 characters,
none of them U+0000."""

JsonObject: TypeAlias = dict[str, Any]

LineKey: TypeAlias = tuple[str, str]
"""``(factory, line)``: one line, as its topic names it."""
StationKey: TypeAlias = tuple[str, str, str]
"""``(factory, line, station)``: one station."""
EventKey: TypeAlias = tuple[str, str, str]
"""``(factory, line, event_id)``: one event; a repeat of its ``event_id`` on the line is the
same event."""
