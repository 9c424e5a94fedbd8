"""Task ids: UUIDs (the form DashScope clients expect) whose leading bits are the creation time (UUIDv7,
RFC 9562), so new tasks land next to each other in the primary-key index instead of on a random page each.

With random UUIDs every create dirtied its own leaf page of that index: a batch of 40 wrote ~40 index pages
to SQLite's WAL (PostgreSQL's too), on top of the row pages. The 74 random bits left keep ids unguessable;
they never were a secret (every query checks the caller's key), and the time they reveal is the task's
submit_time, which its owner reads anyway.
"""

from __future__ import annotations

import uuid

RANDOM_BITS = 74  # rand_a (12) + rand_b (62)
_TIME_MASK = (1 << 48) - 1


def time_ordered_uuid(now_ms: int, random: int) -> str:
    """A version-7 UUID for ``now_ms`` (epoch ms) from ``random`` (RANDOM_BITS random bits)."""
    if not 0 <= random < 1 << RANDOM_BITS:
        raise ValueError(f"random must hold {RANDOM_BITS} bits, got {random}.")
    rand_a, rand_b = random >> 62, random & ((1 << 62) - 1)
    value = (now_ms & _TIME_MASK) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))
