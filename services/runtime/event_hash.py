"""An ``event_id`` as the processors' per-minute production tables hold it: a fixed-width hash.

Both processors store production reports one row per station and UTC minute, with a hash of
every ``event_id`` counted there (``production_minute``, migration 0013, the efficiency
processor's; ``floor_production_minute``, migration 0014, the floor-state processor's). The
hash is computed here in Python and in those migrations in SQL, which must agree bit for bit:
a report stored before a migration is then still known when it is delivered again after it.
"""

from __future__ import annotations

from hashlib import md5


def event_hash(event_id: str) -> int:
    """The first 8 bytes of the MD5 of ``event_id`` (UTF-8) as a signed big-endian integer,
    as the migrations compute it in SQL: ``('x' || left(md5(event_id), 16))::bit(64)::bigint``."""
    digest = md5(event_id.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big", signed=True)
