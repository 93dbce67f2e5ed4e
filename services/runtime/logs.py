"""Logging: readable text by default, one JSON object per line with ``--log-format json``.

Quiet by default: floorstream's own notable events at INFO, libraries at WARNING. A URL's
password never reaches a line: both formats write ``user:***@`` (`redact`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from services.runtime.redact import redact
from services.runtime.settings import LogFormat, LogLevel

_NOISY = ("asyncio", "uvicorn.access", "amqtt", "transitions", "httpx")
# These log every failed retry; the services log an outage once and a summary when it ends.
_RETRY_LOGGERS = ("aiokafka", "paho")


class JsonFormatter(logging.Formatter):
    """One JSON object per record; ``extra={...}`` fields are kept."""

    _RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {k: v for k, v in vars(record).items() if k not in self._RESERVED}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str))


class TextFormatter(logging.Formatter):
    """Readable lines, URL passwords masked."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: LogLevel = "info", fmt: LogFormat = "text", *, name: str = "") -> None:
    """Configure the root logger once, at a service's entry point."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        prefix = f"{name} " if name else ""
        handler.setFormatter(
            TextFormatter(f"%(asctime)s {prefix}%(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("floorstream").setLevel(level.upper())
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for retrying in _RETRY_LOGGERS:
        logging.getLogger(retrying).setLevel(
            logging.DEBUG if level == "debug" else logging.CRITICAL
        )
