"""HMAC-signed, expiring result links: what OSS's presigned URLs are for DashScope, for the local folder."""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: bytes, key: str, expires: int) -> str:
    message = f"GET\n{key}\n{expires}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify(secret: bytes, key: str, expires: int, given: str, now_s: float) -> bool:
    """True only for an untampered, unexpired link. Both failures look the same to the caller."""
    if expires < now_s:
        return False
    return hmac.compare_digest(signature(secret, key, expires), given)
