from __future__ import annotations

import json
import logging

from services.runtime.logs import JsonFormatter


def test_json_lines_keep_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "floorstream.gateway",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "kafka is back after %ss",
            "args": (12,),
            "reason": "timeout",
        }
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "kafka is back after 12s"
    assert entry["level"] == "info"
    assert entry["reason"] == "timeout"
    assert entry["ts"].endswith("+00:00")
