"""The upload registry's statements: record an upload's blob key and expiry; take a batch of expired ones.

Records first, then blobs, as for tasks (worker/retention.py): the receiver records an upload before it stores the
file, and the sweep deletes the rows before the files, so a crash leaves at worst a row without a file (its delete
later is a no-op) or a file whose row is gone (an S3 lifecycle rule on the prefix is the backstop), never a file
that no sweep would ever find.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Insert, delete, insert, literal, select
from sqlalchemy.sql.dml import ReturningDelete

from videosynth.store.schema import uploads


def record_statement(blob_key: str, expires_ms: int) -> Insert:
    return insert(uploads).values(blob_key=blob_key, expires_ms=literal(expires_ms, BigInteger))


def purge_statement(before_ms: int, limit: int) -> ReturningDelete[str]:
    """Up to ``limit`` uploads that expired before ``before_ms``, oldest first, deleted; their blob keys (as
    purge.purge_statement: one bounded DELETE … RETURNING, disjoint batches for concurrent sweepers)."""
    expired = uploads.c.expires_ms < literal(before_ms, BigInteger)
    batch = (
        select(uploads.c.blob_key)
        .where(expired)
        .order_by(uploads.c.expires_ms, uploads.c.blob_key)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("upload_batch")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        delete(uploads).where(uploads.c.blob_key.in_(select(batch.c.blob_key)), expired).returning(uploads.c.blob_key)
    )
