"""Andon levels: how a station, and a line, looks on a board now.

A station's level, the first rule that applies:

1. ``stale`` when nothing was heard from it for more than ``stale_after_s`` (whatever its
   state: a silent station is never shown as running);
2. ``unknown`` before its first machine event (no state);
3. ``running`` state: ``running_slow`` when its performance over the last 10 minutes is known
   and below ``slow_below``, else ``running``;
4. ``planned_stop``: ``stopped``, never escalated (the stop was planned);
5. ``down``, ``setup``, ``idle``, ``starved``, ``blocked``, ``offline``: ``stopped_too_long``
   once in that state for ``stop_alert_after_s`` or more, else ``stopped``.

A line's level is the worst of its stations', in the order `SEVERITY` (``unknown`` for a line
with no station).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from schemas.floor_state import AndonLevel
from schemas.line_settings import LineSettings
from schemas.types import MachineState

__all__ = ["SEVERITY", "AndonLevel", "is_stale", "line_andon", "station_andon"]

SEVERITY: Final[tuple[AndonLevel, ...]] = (
    AndonLevel.UNKNOWN,
    AndonLevel.RUNNING,
    AndonLevel.RUNNING_SLOW,
    AndonLevel.STALE,
    AndonLevel.STOPPED,
    AndonLevel.STOPPED_TOO_LONG,
)
"""Andon levels from the least to the most severe."""

_RANK: Final = {level: rank for rank, level in enumerate(SEVERITY)}


def is_stale(last_seen: datetime | None, *, settings: LineSettings, now: datetime) -> bool:
    """Whether nothing was heard for more than ``stale_after_s`` (or ever) before ``now``."""
    return last_seen is None or (now - last_seen).total_seconds() > settings.stale_after_s


def station_andon(
    state: MachineState | None,
    *,
    since: datetime | None,
    last_seen: datetime,
    performance_10min: float | None,
    settings: LineSettings,
    now: datetime,
) -> AndonLevel:
    """The station's level by the rules of this module; ``since`` is when ``state`` began."""
    if is_stale(last_seen, settings=settings, now=now):
        return AndonLevel.STALE
    if state is None:
        return AndonLevel.UNKNOWN
    if state is MachineState.RUNNING:
        slow = performance_10min is not None and performance_10min < settings.slow_below
        return AndonLevel.RUNNING_SLOW if slow else AndonLevel.RUNNING
    if state is MachineState.PLANNED_STOP:
        return AndonLevel.STOPPED
    stopped_s = (now - since).total_seconds() if since is not None else 0.0
    too_long = stopped_s >= settings.stop_alert_after_s
    return AndonLevel.STOPPED_TOO_LONG if too_long else AndonLevel.STOPPED


def line_andon(levels: Iterable[AndonLevel]) -> AndonLevel:
    """The worst of the stations' levels by `SEVERITY`; ``unknown`` where there are none."""
    return max(levels, key=_RANK.__getitem__, default=AndonLevel.UNKNOWN)
