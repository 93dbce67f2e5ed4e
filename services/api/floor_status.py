"""The status call's reads: the line's live floor state, in one consistent snapshot.

The floor-state processor's tables (`services.floor.read`) give the stations, operators,
materials, current order and open cards; the efficiency processor's minute buckets
(`services.efficiency.read.recent_runs`) the running stations' last minutes. All in one
read-only repeatable-read transaction, so that stations, operators, materials and the order
agree.
"""

from __future__ import annotations

from datetime import datetime

from asyncpg import Pool

from kanban.status import FloorState
from schemas.types import MachineState
from services.api.scope import Scope
from services.efficiency import read as efficiency_read
from services.floor import read as floor_read

__all__ = ["read_floor"]


async def read_floor(
    pool: Pool,
    *,
    scope: Scope,
    factory: str,
    line: str,
    window: tuple[datetime, datetime],
    now: datetime,
) -> FloorState:
    """The line's floor state; ``window`` (``[start, end)``) bounds the running stations' runs,
    ``now`` gives the open kanban cards' age."""
    scope.require(factory)
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        rows = await floor_read.station_states(connection, scope=scope, factory=factory, line=line)
        running = [row.station for row in rows if row.state is MachineState.RUNNING]
        return FloorState(
            stations=rows,
            runs=await efficiency_read.recent_runs(
                connection,
                scope=scope,
                factory=factory,
                line=line,
                stations=running,
                window=window,
            ),
            operators=await floor_read.checked_in(
                connection, scope=scope, factory=factory, line=line
            ),
            materials=await floor_read.material_stock(
                connection, scope=scope, factory=factory, line=line
            ),
            order=await floor_read.current_order(
                connection, scope=scope, factory=factory, line=line
            ),
            cards=await floor_read.line_cards(
                connection, scope=scope, factory=factory, line=line, now=now
            ),
        )
