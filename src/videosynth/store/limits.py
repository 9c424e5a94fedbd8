"""Per-key request rate limiting shared by every API replica: fixed windows counted in the database."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from videosynth.store.schema import rate_windows


class SqlRateLimiter:
    def __init__(self, engine: Engine, window_s: int = 60) -> None:
        self._engine = engine
        self._window_s = window_s

    def hit(self, key_id: str, now_ms: int) -> int:
        """Count one request for key_id in the current window; return the window's count including it."""
        window = now_ms // 1000 // self._window_s * self._window_s
        where = (rate_windows.c.key_id == key_id, rate_windows.c.window_start_s == window)
        with self._engine.begin() as conn:
            # Increment first: on PostgreSQL the row lock serialises concurrent hits of one key, and an
            # increment that matched nothing means this is the window's first request.
            bumped = conn.execute(update(rate_windows).where(*where).values(hits=rate_windows.c.hits + 1))
            if bumped.rowcount == 0:
                inserted = self._insert_first(conn, key_id, window)
                if inserted:
                    return 1
                conn.execute(update(rate_windows).where(*where).values(hits=rate_windows.c.hits + 1))
            hits = conn.execute(select(rate_windows.c.hits).where(*where)).scalar_one()
        return int(hits)

    @staticmethod
    def _insert_first(conn: Connection, key_id: str, window: int) -> bool:
        try:
            with conn.begin_nested():
                conn.execute(insert(rate_windows).values(key_id=key_id, window_start_s=window, hits=1))
        except IntegrityError:  # another replica opened the window first
            return False
        # Old windows of this key are useless now; dropping them here keeps the table at ~one row per key.
        conn.execute(
            delete(rate_windows).where(rate_windows.c.key_id == key_id, rate_windows.c.window_start_s < window)
        )
        return True
