"""How ``floorstream dead-letters`` shows one dead letter, and reads its options (no server)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from schemas import DeadLetter
from schemas.types import DeadLetterReason
from services.cli import build_parser
from services.gateway.dead_letters import PAYLOAD_CHARS, render

AT = datetime(2026, 11, 2, 6, 0, 1, 250_000, tzinfo=timezone(timedelta(hours=8)))


def letter(payload: bytes, *, size: int | None = None, detail: str = "what") -> DeadLetter:
    return DeadLetter(
        topic="floor/v1/f1/l1/press-1/machine",
        payload_b64=base64.b64encode(payload).decode(),
        reason=DeadLetterReason.NOT_JSON,
        detail=detail,
        received_at=AT,
        payload_size=len(payload) if size is None else size,
    )


def test_a_block_is_when_in_utc_reason_topic_then_detail_then_payload() -> None:
    assert render(letter(b"{not json", detail="payload is not valid JSON")).splitlines() == [
        "2026-11-01T22:00:01.250Z  not_json  floor/v1/f1/l1/press-1/machine",
        "  payload is not valid JSON",
        "  payload (9 bytes): {not json",
    ]


def test_a_text_payload_stays_on_one_line_and_is_cut() -> None:
    shown = render(letter('{"a":\n\t"é\x00"}'.encode()))
    assert shown.splitlines()[2] == '  payload (13 bytes): {"a":\\n\\t"é\\x00"}'
    long = render(letter(b"x" * 1000)).splitlines()[2]
    assert long == f"  payload (1000 bytes): {'x' * PAYLOAD_CHARS}…"


def test_a_payload_that_is_not_utf8_is_base64() -> None:
    assert render(letter(b"\xff\xfe")).splitlines()[2] == "  payload (2 bytes): base64 //4="


def test_a_payload_cut_by_the_gateway_says_how_much_was_kept() -> None:
    shown = render(letter(b"{}", size=70_000)).splitlines()[2]
    assert shown == "  payload (70000 bytes, the first 2 kept): {}"


def test_since_takes_a_time_with_its_offset_or_a_duration() -> None:
    parse = build_parser().parse_args
    assert parse(["dead-letters", "--since", "2h"]).since == timedelta(hours=2)
    since = parse(["dead-letters", "--since", "2026-11-02T06:00:00Z"]).since
    assert since == datetime(2026, 11, 2, 6, tzinfo=UTC)
    for bad in ["2026-11-02T06:00:00", "yesterday", "-1h"]:
        with pytest.raises(SystemExit):
            parse(["dead-letters", "--since", bad])
    with pytest.raises(SystemExit):
        parse(["dead-letters", "--limit", "0"])
