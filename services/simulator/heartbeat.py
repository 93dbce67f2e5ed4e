"""Heartbeats: a station that has nothing to report still says, now and then, that it is there.

A station reports production only when it made parts (`production`), so a stopped one (at
night, in a setup, in a breakdown) would fall silent, and the boards and the figures take a
station silent for longer than its line's ``stale_after_s`` (300 s by default) for a station
whose signal was lost. Rule, per station, over one line's drafts in time order:

1. a station is *heard* by its own ``machine`` and ``production`` events (the machine's own
   messages; people and material events come from elsewhere and do not count);
2. once it has been silent for ``every`` seconds, it repeats its latest machine event: the
   same state and reason, at that instant (the finisher gives it its own ``event_id``);
3. before its first machine event a station has nothing to repeat and sends nothing.

The repeat is the state in force, not a change: the floor state keeps the instant the state
began, the figures continue the same interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from services.simulator.types import Draft, JsonScalar

HEARD_BY = frozenset({"machine", "production"})
"""The kinds of event that count as hearing from a station (rule 1)."""


def with_heartbeats(drafts: Iterable[Draft], every: float) -> Iterator[Draft]:
    """``drafts`` (one line's, in non-decreasing time) with the heartbeats of rule 2 among them,
    in time order; of several due at one instant, the station first heard of goes first."""
    if every <= 0.0:
        raise ValueError("the heartbeat interval must be positive")
    heard: dict[str, float] = {}  # station: when it was last heard
    state: dict[str, dict[str, JsonScalar]] = {}  # station: its latest machine body
    for draft in drafts:
        yield from _due_before(draft.t, heard, state, every)
        if draft.kind in HEARD_BY:
            heard[draft.station] = draft.t
        if draft.kind == "machine":
            state[draft.station] = draft.body
        yield draft


def _due_before(
    t: float,
    heard: dict[str, float],
    state: dict[str, dict[str, JsonScalar]],
    every: float,
) -> Iterator[Draft]:
    """The heartbeats due before ``t``, in time order; ``heard`` moves on with each."""
    while True:
        due = [(heard[s] + every, n, s) for n, s in enumerate(heard) if s in state]
        if not due:
            return
        at, _, station = min(due)
        if at >= t:
            return
        heard[station] = at
        yield Draft(at, station, "machine", dict(state[station]))
