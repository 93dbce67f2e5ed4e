"""Production counts: the parts a line made, and the periodic reports of its stations.

Parts flow through a line at the pace of its constraint station: while the line runs, it makes
one part per actual cycle (the order's ideal cycle time stretched by the speed loss). The
:class:`Ledger` holds that flow as running pieces; every station reads its counter at a fixed
period (see :func:`report_period`) and reports the parts finished since its previous report,
with its own scrap drawn from the flow.

A reading with nothing made since the previous report sends nothing, as a real counter does:
no ``good: 0, scrap: 0`` reports while a station stands still (at night, in a setup, in a
breakdown). A station that is stopped is still heard from: see `heartbeat`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from services.simulator import params
from services.simulator.types import Draft

_EXACT_BINOMIAL_BELOW = 40


@dataclass(frozen=True, slots=True)
class RunPiece:
    """The line ran from ``start`` to ``end`` at ``cycle`` seconds a part; ``w0`` parts before."""

    start: float
    end: float
    w0: float
    cycle: float
    scrap_rate: float


def binomial(rng: random.Random, n: int, p: float) -> int:
    """A Binomial(n, p) draw: exact for small n, a rounded normal approximation above."""
    if n <= 0 or p <= 0.0:
        return 0
    if n < _EXACT_BINOMIAL_BELOW:
        return sum(1 for _ in range(n) if rng.random() < p)
    draw = round(rng.gauss(n * p, math.sqrt(n * p * (1.0 - p))))
    return min(n, max(0, draw))


def report_period(total_stations: int, rate: float) -> float:
    """Seconds between two reports of one station so that all stations make ``rate`` a second."""
    return total_stations / rate


class Ledger:
    """Cumulative parts made by a line, ``W(t)``, read at non-decreasing instants."""

    def __init__(self) -> None:
        self._pieces: Sequence[RunPiece] = ()
        self._index = 0
        self._w_end = 0.0
        self._scrap_rate = params.SCRAP_RATE

    def add_window(self, pieces: Sequence[RunPiece], w_end: float) -> None:
        """The running pieces of the next window, in time order, and the parts made by its end."""
        self._pieces = pieces
        self._index = 0
        self._w_end = w_end

    def _seek(self, t: float) -> RunPiece | None:
        while self._index < len(self._pieces) and self._pieces[self._index].end <= t:
            self._scrap_rate = self._pieces[self._index].scrap_rate
            self._index += 1
        return self._pieces[self._index] if self._index < len(self._pieces) else None

    def parts_at(self, t: float) -> float:
        piece = self._seek(t)
        if piece is None:
            return self._w_end
        if piece.start < t:
            return piece.w0 + (t - piece.start) / piece.cycle
        return piece.w0

    def settled(self, t: float) -> bool:
        """Whether no piece runs after ``t`` in this window: the parts stay as they are."""
        return self._seek(t) is None

    def scrap_rate_at(self, t: float) -> float:
        piece = self._seek(t)
        return piece.scrap_rate if piece is not None and piece.start < t else self._scrap_rate


class Reporter:
    """The production reports of one line's stations: station ``i`` reads its counter at
    ``origin + offset_i + kP`` and reports only when it made parts since its previous report.

    ``offsets`` are in ``[0, period)`` and increasing, so the reports come in time order.
    """

    def __init__(
        self,
        ledger: Ledger,
        rng: random.Random,
        slots: Sequence[tuple[float, str, float]],
        origin: float,
        period: float,
    ) -> None:
        self._ledger = ledger
        self._rng = rng
        self._slots = slots  # (offset, station, share of the line's scrap rate)
        self._origin = origin
        self._period = period
        self._round = 0
        self._slot = 0
        self._counted = dict.fromkeys((station for _, station, _ in slots), 0)

    def _next_t(self) -> float:
        return self._origin + self._slots[self._slot][0] + self._round * self._period

    def reports(self, until: float) -> Iterator[Draft]:
        """The reports before ``until``; a later call continues where this one stopped."""
        while (t := self._next_t()) < until:
            _, station, share = self._slots[self._slot]
            made = math.floor(self._ledger.parts_at(t))
            count = made - self._counted[station]
            self._counted[station] = made
            if count > 0:
                scrap = binomial(self._rng, count, self._ledger.scrap_rate_at(t) * share)
                yield Draft(t, station, "production", {"good": count - scrap, "scrap": scrap})
            self._slot += 1
            if self._slot == len(self._slots):
                self._slot = 0
                self._round += 1
            if count == 0:
                self._skip_idle(t, until)

    def _skip_idle(self, t: float, until: float) -> None:
        """Once the window's line has stopped for good and every station has reported its
        parts, every reading before ``until`` is empty: go on from the last round before it.

        Only work is saved (a night is hundreds of thousands of readings); no report is lost
        and the generator draws the same numbers (an empty reading draws none).
        """
        if not self._ledger.settled(t):
            return
        made = math.floor(self._ledger.parts_at(t))
        if any(counted != made for counted in self._counted.values()):
            return
        last_round = math.floor((until - self._origin) / self._period) - 1
        if last_round > self._round:
            self._round, self._slot = last_round, 0
