"""A dependency that goes away is logged once, then summarised, never once per retry.

``Outage(log, "kafka")`` tracks one dependency's outages:

1. the first failure logs a warning with its error;
2. later failures are counted; at most one summary line per ``summary_every`` says how long
   it has been away, how many retries failed, and the last error;
3. `recovered` logs how long the outage lasted (nothing, if there was none).

Time comes from an injected monotonic clock, so tests need no sleeps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

Clock = Callable[[], float]

SUMMARY_EVERY_S = 60.0


def _error_text(error: BaseException | str) -> str:
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return error


def duration(seconds: float) -> str:
    """``41s``, ``3m12s``, ``2h05m``: short and readable."""
    whole = int(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Outage:
    """The outage state of one dependency, and what is logged about it."""

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        *,
        clock: Clock = time.monotonic,
        summary_every_s: float = SUMMARY_EVERY_S,
        detail: str = "",
    ) -> None:
        self._log = log
        self._what = what
        self._clock = clock
        self._summary_every_s = summary_every_s
        self._detail = detail
        self._since: float | None = None
        self._last_summary = 0.0
        self._retries = 0

    @property
    def away(self) -> bool:
        """True from the first failure until `recovered`."""
        return self._since is not None

    @property
    def since(self) -> float | None:
        """When the current outage began (the clock's time), or None."""
        return self._since

    def failed(self, error: BaseException | str) -> None:
        """One more failed attempt: the first is logged; later ones are summarised."""
        now = self._clock()
        if self._since is None:
            self._since = self._last_summary = now
            self._retries = 0
            detail = f"; {self._detail}" if self._detail else ""
            self._log.warning("%s unavailable (%s)%s", self._what, _error_text(error), detail)
            return
        self._retries += 1
        if now - self._last_summary >= self._summary_every_s:
            self._last_summary = now
            self._log.warning(
                "%s still unavailable after %s (%d retries): %s",
                self._what,
                duration(now - self._since),
                self._retries,
                _error_text(error),
            )

    def recovered(self, note: str = "") -> None:
        """The dependency answers again; logs the outage's length (and ``note``) if there
        was one."""
        if self._since is None:
            return
        away = self._clock() - self._since
        self._log.warning(
            "%s back after %s (%d retries)%s",
            self._what,
            duration(away),
            self._retries,
            f"; {note}" if note else "",
        )
        self._since = None
        self._retries = 0
