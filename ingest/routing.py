"""Step 1 of the delivery protocol: which Kafka record a message becomes.

A message that breaks the contract is dead-lettered with its reason (`validate_kafka_record`).
So is a valid one whose ``ts`` is more than ``future_tolerance`` ahead of the gateway's own
clock (``from_the_future``): the contract takes any ts from 2000 to 2099, but a line whose
clock runs years ahead would hold its station in that state until then, and make every fold
"until the next event" span the years between. Time behind the clock is the processors'
business: they skip what is older than their retention period.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final

from ingest.types import Record
from schemas import (
    DLQ_TOPIC,
    EVENTS_TOPIC,
    DeadLetter,
    InvalidMessage,
    validate_kafka_record,
)
from schemas.types import FUTURE_TOLERANCE_S, DeadLetterReason

log = logging.getLogger(f"floorstream.{__name__}")

FUTURE_TOLERANCE: Final = timedelta(seconds=FUTURE_TOLERANCE_S)


def route(
    topic: str,
    payload: bytes,
    now: Callable[[], datetime],
    future_tolerance: timedelta = FUTURE_TOLERANCE,
) -> tuple[Record, str | None]:
    """The record for a message, and the dead-letter reason where it breaks the contract or
    its ``ts`` is more than ``future_tolerance`` after ``now()``."""
    try:
        key, value, ts = validate_kafka_record(topic, payload)
    except InvalidMessage as error:
        return _dead_letter(topic, payload, error, now())
    except Exception as error:  # a validator bug must not stop the gateway (guarantee 4)
        log.exception("could not validate a message on %s; dead-lettering it", topic[:200])
        reason = InvalidMessage(
            DeadLetterReason.INVALID_FIELD,
            f"the gateway could not validate it ({type(error).__name__})",
        )
        return _dead_letter(topic, payload, reason, now())
    received_at = now()
    if ts - received_at > future_tolerance:
        ahead = _from_the_future(ts, received_at, future_tolerance)
        return _dead_letter(topic, payload, ahead, received_at)
    return Record(EVENTS_TOPIC, key, value), None


def _dead_letter(
    topic: str, payload: bytes, error: InvalidMessage, received_at: datetime
) -> tuple[Record, str]:
    dead = DeadLetter.from_invalid(topic, payload, error, received_at=received_at)
    return Record(DLQ_TOPIC, dead.kafka_key, dead.to_kafka_value()), error.reason.value


def _from_the_future(ts: datetime, now: datetime, tolerance: timedelta) -> InvalidMessage:
    shown = ts.isoformat()
    if ts.utcoffset() == timedelta(0):
        shown = shown.removesuffix("+00:00") + "Z"
    return InvalidMessage(
        DeadLetterReason.FROM_THE_FUTURE,
        f"ts {shown} is {how_long(ts - now)} ahead of the gateway's clock "
        f"(tolerance {tolerance.total_seconds():g} s); check the line's clock",
    )


_UNITS: Final = (
    ("year", timedelta(days=365.2425), 1),
    ("day", timedelta(days=1), 2),
    ("hour", timedelta(hours=1), 2),
)


def how_long(span: timedelta) -> str:
    """A positive span in words: whole years from one, days or hours from two, else seconds
    rounded up, so that a span beyond a tolerance in seconds never reads as equal to it: "64
    years", "8 hours", "301 s"."""
    for name, unit, least in _UNITS:
        count = span // unit
        if count >= least:
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{math.ceil(span.total_seconds())} s"
