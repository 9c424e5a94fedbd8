"""KeyStore on SQLAlchemy Core: API keys, of which only sha256(secret) is ever written."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import Engine, RowMapping, insert, select, update

from videosynth.store.admission import new_usage_row
from videosynth.store.protocols import ApiKey
from videosynth.store.schema import api_keys, key_usage

SECRET_PREFIX = "sk-"
_SHOWN_PREFIX_CHARS = 8


def hash_secret(secret: str) -> str:
    # The secrets are 256-bit random, so a fast unsalted hash cannot be brute-forced and keeps lookup indexed.
    return hashlib.sha256(secret.encode()).hexdigest()


def _row_to_key(row: RowMapping) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        prefix=row["prefix"],
        created_ms=row["created_ms"],
        revoked_ms=row["revoked_ms"],
    )


class SqlKeyStore:
    """KeyStore over a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, name: str, now_ms: int, webhook_url: str | None = None) -> tuple[ApiKey, str]:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            key_id=uuid.uuid4().hex[:16],
            name=name,
            prefix=secret[len(SECRET_PREFIX) : len(SECRET_PREFIX) + _SHOWN_PREFIX_CHARS],
            created_ms=now_ms,
        )
        row = {
            "key_id": key.key_id,
            "name": key.name,
            "prefix": key.prefix,
            "secret_hash": hash_secret(secret),
            "created_ms": key.created_ms,
            "revoked_ms": None,
            "webhook_url": webhook_url,
        }
        with self._engine.begin() as conn:
            conn.execute(insert(api_keys).values(row))
            conn.execute(insert(key_usage).values(new_usage_row(key.key_id)))
        return key, secret

    def list(self) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_ms, api_keys.c.key_id)
        with self._engine.connect() as conn:
            return [_row_to_key(row) for row in conn.execute(query).mappings()]

    def revoke(self, key_id_or_name: str, now_ms: int) -> int:
        statement = (
            update(api_keys)
            .where(
                (api_keys.c.key_id == key_id_or_name) | (api_keys.c.name == key_id_or_name),
                api_keys.c.revoked_ms.is_(None),
            )
            .values(revoked_ms=now_ms)
        )
        with self._engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    def authenticate(self, secret: str) -> ApiKey | None:
        if not secret:
            return None
        # Looked up by hash, so no secret-dependent string comparison happens in Python.
        query = select(api_keys).where(api_keys.c.secret_hash == hash_secret(secret), api_keys.c.revoked_ms.is_(None))
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _row_to_key(row)
