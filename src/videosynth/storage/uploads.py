"""Client uploads (the dashscope SDK's local files): their ``oss://`` names, owners, expiry and blob keys.

The SDK asks ``GET /uploads?action=getPolicy`` for an upload policy, POSTs the file to the policy's host under
``<upload_dir>/<file name>`` and then sends ``oss://<upload_dir>/<file name>`` in its request. Our upload_dir is
``dashscope-instant/<owner>/<expires>-<nonce>``: the owner is a digest of the uploading key's id (only that key may
use the file) and ``expires`` the Unix second after which the file is gone for every purpose. The receiver writes
a file only under a directory it signed, so a name that exists in storage carries a true owner and expiry.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

OSS_SCHEME = "oss://"
BUCKET = "dashscope-instant"  # the OSS bucket name upstream uses for these temporary files
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")  # a file's base name, as the SDK sends it


def owner_of(key_id: str) -> str:
    return hashlib.sha256(f"upload-owner:{key_id}".encode()).hexdigest()[:24]


def new_upload_dir(key_id: str, expires_s: int) -> str:
    return f"{BUCKET}/{owner_of(key_id)}/{expires_s}-{secrets.token_hex(8)}"


@dataclass(frozen=True)
class UploadName:
    """One uploaded file's name, ``<upload_dir>/<file name>`` (what follows ``oss://``)."""

    path: str
    owner: str
    expires_s: int

    @property
    def upload_dir(self) -> str:
        return self.path.rsplit("/", 1)[0]

    @property
    def blob_key(self) -> str:
        # Flat (the local store takes one path segment) and not guessable from the owner alone.
        return "upload-" + hashlib.sha256(self.path.encode()).hexdigest()[:48]


def parse_upload_name(path: str) -> UploadName | None:
    """The name ``path`` (``oss://`` dropped) stands for; None for anything not of our form."""
    path = path.removeprefix(OSS_SCHEME)
    parts = path.split("/")
    if len(parts) != 4 or parts[0] != BUCKET or not _NAME.fullmatch(parts[3]):
        return None
    owner, folder = parts[1], parts[2]
    expires, dash, nonce = folder.partition("-")
    if not (re.fullmatch(r"[0-9a-f]{24}", owner) and expires.isdigit() and dash and re.fullmatch(r"[0-9a-f]+", nonce)):
        return None
    return UploadName(path, owner, int(expires))


def usable_by(name: UploadName, key_id: str, now_s: float) -> bool:
    return hmac.compare_digest(name.owner, owner_of(key_id)) and now_s <= name.expires_s


# ---- the policy the SDK carries from getPolicy to the upload: what we signed, checked when the file arrives ----


@dataclass(frozen=True)
class Policy:
    upload_dir: str
    expires_s: int
    max_bytes: int


def encode_policy(policy: Policy) -> str:
    body = {"upload_dir": policy.upload_dir, "expires": policy.expires_s, "max_bytes": policy.max_bytes}
    return base64.b64encode(json.dumps(body, sort_keys=True).encode()).decode()


def sign_policy(secret: bytes, encoded: str) -> str:
    return hmac.new(secret, f"upload-policy\n{encoded}".encode(), hashlib.sha256).hexdigest()


def verified_policy(secret: bytes, encoded: str, signature: str, now_s: float) -> Policy | None:
    """The policy ``encoded`` holds if ``signature`` is ours and it has not expired; None otherwise."""
    if not hmac.compare_digest(sign_policy(secret, encoded), signature):
        return None
    try:
        body = json.loads(base64.b64decode(encoded, validate=True))
        policy = Policy(str(body["upload_dir"]), int(body["expires"]), int(body["max_bytes"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    return policy if now_s <= policy.expires_s else None
