"""Boards and cards of the shop floor: andon, target vs actual, performance of the moment.

Pure: imports only the standard library and `schemas`; "now" comes in as a
parameter. `andon` grades stations and lines, `performance` reads the last minutes' run,
`orders` sets an order's target against its parts, `status` assembles a line's status,
`replenishment` raises and moves material kanban cards, `order_cards` shows work orders as cards.
"""
