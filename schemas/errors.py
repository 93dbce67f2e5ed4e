"""Errors of the schemas package.

Tree::

    SchemaError
    └── InvalidMessage    a message breaks the contract; carries a DeadLetterReason and a detail

Policy: the gateway never drops an invalid message and never stops on one. It catches
`InvalidMessage`, writes the message with ``reason`` and ``detail`` to the dead-letter topic
(see `DeadLetter`), counts it by ``reason``, and carries on. A processor that reads a record
it cannot parse from ``floor.events.v1`` gets the same exception and applies its own policy.
"""

from __future__ import annotations

from schemas.types import DeadLetterReason

__all__ = ["InvalidMessage", "SchemaError"]


class SchemaError(Exception):
    """Root of the schemas package's errors."""


class InvalidMessage(SchemaError):
    """A message breaks the contract.

    ``reason`` is a stable code for metrics and filtering; ``detail`` names the field and what was
    wrong with it, in words an integrator understands.
    """

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        # Both go to Exception.__init__ so that the error pickles and copies intact.
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"
