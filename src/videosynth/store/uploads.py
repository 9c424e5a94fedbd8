"""The upload registry's statements: record an upload's blob key and expiry; take a batch of expired ones.

Records first, then blobs, as for tasks (worker/retention.py): the receiver records an upload before it stores the
file, and the sweep deletes the rows before the files, so a crash leaves at worst a row without a file (its delete
later is a no-op) or a file whose row is gone (an S3 lifecycle rule on the prefix is the backstop), never a file
that no sweep would ever find.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Insert, insert, literal
from sqlalchemy.sql.dml import ReturningDelete

from videosynth.store.purge import bounded_delete
from videosynth.store.schema import uploads


def record_statement(blob_key: str, expires_ms: int) -> Insert:
    return insert(uploads).values(blob_key=blob_key, expires_ms=expires_ms)


def purge_statement(before_ms: int, limit: int) -> ReturningDelete[str]:
    """Up to ``limit`` uploads that expired before ``before_ms``, soonest expired first, deleted; their blob keys."""
    # Typed bind: epoch ms do not fit PostgreSQL's INTEGER.
    expired = (uploads.c.expires_ms < literal(before_ms, BigInteger),)
    order = (uploads.c.expires_ms, uploads.c.blob_key)
    return bounded_delete(uploads.c.blob_key, expired, order, limit).returning(uploads.c.blob_key)
