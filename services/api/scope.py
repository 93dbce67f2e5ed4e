"""Which factories a caller may touch: the scope every data-access function of the API takes.

Isolation lives in the data layer, not only in the routes: each data-access function of the
API (`store`, `floor_status`, `intervals`, `figures`, and the processors' modules
`services.efficiency.read`, `services.floor.read` and `services.floor.card_advance`) takes a
keyword-only ``scope``. A function of one factory refuses a factory outside it with
`OutOfScope` before any statement runs; a function over many factories (the list of lines)
filters in SQL with `Scope.sql` (``$n::text[] IS NULL OR factory = ANY($n)``). So a route that
forgot its own check still could not read or write another tenant's rows. The API answers
`OutOfScope` as 404, the same answer as for a factory that does not exist: a token learns
nothing of the factories it may not see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ALL_FACTORIES", "OutOfScope", "Scope"]


class OutOfScope(LookupError):
    """A factory outside the caller's scope was asked for (answered as 404)."""

    def __init__(self, factory: str) -> None:
        super().__init__(factory)
        self.factory = factory


@dataclass(frozen=True, slots=True)
class Scope:
    """The factories a caller may touch; ``factories=None`` is every factory (admin)."""

    factories: frozenset[str] | None

    @classmethod
    def of(cls, factories: Iterable[str]) -> Scope:
        return cls(frozenset(factories))

    def allows(self, factory: str) -> bool:
        return self.factories is None or factory in self.factories

    def require(self, factory: str) -> str:
        """``factory``, or `OutOfScope` where the caller may not touch it."""
        if not self.allows(factory):
            raise OutOfScope(factory)
        return factory

    def sql(self) -> list[str] | None:
        """The scope as a query parameter: ``None`` (all) or the factories, for
        ``$n::text[] IS NULL OR factory = ANY($n)``."""
        return None if self.factories is None else sorted(self.factories)


ALL_FACTORIES = Scope(None)
"""Every factory: the scope of an admin token."""
