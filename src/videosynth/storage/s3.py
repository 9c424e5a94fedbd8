"""Results in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, Ceph …), handed out as presigned GET links.

boto3 is imported only when an S3BlobStore is built, so an API node configured for local storage never pays
for it (and the package stays an optional extra: ``pip install videosynth[s3]``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from videosynth.settings import Settings

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client

# SigV4 presigned URLs are valid for at most 7 days; S3 refuses longer ones when they are used, not when they
# are made, so the limit is checked here, where the mistake can still be named.
MAX_PRESIGN_TTL_S = 7 * 24 * 3600

# Files above this go up in parts (in parallel); S3 shows a multipart object only once it is completed, so a
# reader never sees a partial video either way. 8 MiB is boto3's own default, kept explicit.
MULTIPART_THRESHOLD_BYTES = 8 * 1024 * 1024

# S3's bucket naming rules (3-63 characters, lowercase letters, digits, dots, hyphens).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BlobStore:
    """BlobStore on one bucket, with every key under an optional prefix."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        region: str = "us-east-1",
        public_endpoint_url: str | None = None,
    ) -> None:
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"invalid S3 bucket name {bucket!r} (3-63 of a-z, 0-9, '.', '-')")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client = _make_client(endpoint_url, access_key_id, secret_access_key, region)
        # Links are signed for the host clients will use, which may not be the one workers upload to (an internal
        # address behind a proxy or CDN): SigV4 covers the Host, so a link cannot be rewritten afterwards.
        self._signer = self._client
        if public_endpoint_url and public_endpoint_url != endpoint_url:
            self._signer = _make_client(public_endpoint_url, access_key_id, secret_access_key, region)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        """Build from VIDEOSYNTH_STORAGE=s3://bucket[/prefix] and the VIDEOSYNTH_S3_* settings."""
        bucket, prefix = parse_storage_url(settings.storage)
        endpoint_url, access_key_id, secret_access_key = _required_settings(settings)
        if settings.url_ttl_s > MAX_PRESIGN_TTL_S:
            raise ValueError(
                f"VIDEOSYNTH_URL_TTL_S={settings.url_ttl_s} is too long for S3 storage: presigned links are valid "
                f"for at most {MAX_PRESIGN_TTL_S} s (7 days)."
            )
        return cls(
            bucket,
            prefix,
            endpoint_url=endpoint_url,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            region=settings.s3_region,
            public_endpoint_url=_http_url("VIDEOSYNTH_S3_PUBLIC_ENDPOINT_URL", settings.s3_public_endpoint_url),
        )

    def object_key(self, key: str) -> str:
        """The object's name in the bucket: the prefix, then our key."""
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise ValueError(f"invalid blob key {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        # One PutObject (or one completed multipart upload) makes the object appear whole or not at all, so no
        # staging name is needed; s3transfer aborts a failed multipart upload, leaving nothing visible.
        from boto3.s3.transfer import TransferConfig

        self._client.upload_file(
            str(source),
            self.bucket,
            self.object_key(key),
            ExtraArgs={"ContentType": content_type},
            Config=TransferConfig(multipart_threshold=MULTIPART_THRESHOLD_BYTES),
        )

    def url(self, key: str, base_url: str, ttl_s: int) -> str:
        # base_url is unused: the link points at the bucket's endpoint, not at this API, and the signature covers
        # the host it was made for, so it cannot be rewritten onto another base afterwards.
        del base_url
        if not 1 <= ttl_s <= MAX_PRESIGN_TTL_S:
            raise ValueError(f"presigned link lifetime must be 1..{MAX_PRESIGN_TTL_S} s, got {ttl_s}")
        return self._signer.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.object_key(key)},
            ExpiresIn=ttl_s,
        )

    def open(self, key: str) -> StreamingBody:
        """The object's body, streamed from the bucket as it is read (a video is not held in memory)."""
        from botocore.exceptions import ClientError

        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_FOUND_CODES:
                raise FileNotFoundError(f"no blob under {key!r}") from exc
            raise
        return response["Body"]

    def delete(self, key: str) -> None:
        # S3 answers 204 for a key that is not there, so deleting twice (a re-run sweep) is fine.
        self._client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NOT_FOUND_CODES:
                return False
            raise
        return True


def parse_storage_url(storage: str) -> tuple[str, str]:
    """``s3://bucket[/prefix]`` → (bucket, prefix without surrounding slashes)."""
    parts = urlsplit(storage)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"VIDEOSYNTH_STORAGE must look like 's3://bucket[/prefix]', got {storage!r}")
    if not _BUCKET.fullmatch(parts.netloc):
        raise ValueError(f"VIDEOSYNTH_STORAGE names an invalid S3 bucket {parts.netloc!r} (3-63 of a-z, 0-9, '.', '-')")
    return parts.netloc, parts.path.strip("/")


def _required_settings(settings: Settings) -> tuple[str, str | None, str | None]:
    """(endpoint URL, access key id, secret key); names every problem at once, so one restart fixes it. With
    neither key given, boto3's own chain finds credentials (AWS_* variables, a profile, an instance role)."""
    endpoint = settings.s3_endpoint_url or ""
    key_id = settings.s3_access_key_id or None
    secret = settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
    missing = [] if endpoint else ["VIDEOSYNTH_S3_ENDPOINT_URL"]
    if (key_id is None) != (secret is None):  # one without the other is a mistake, not a request for the chain
        missing.append("VIDEOSYNTH_S3_SECRET_ACCESS_KEY" if secret is None else "VIDEOSYNTH_S3_ACCESS_KEY_ID")
    if missing:
        raise ValueError(f"S3 storage ({settings.storage}) needs {', '.join(missing)}.")
    return _http_url("VIDEOSYNTH_S3_ENDPOINT_URL", endpoint) or "", key_id, secret


def _http_url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL such as http://127.0.0.1:8333, got {value!r}")
    return value


def _make_client(endpoint_url: str, access_key_id: str | None, secret_access_key: str | None, region: str) -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        # Path style (endpoint/bucket/key) works on every S3-compatible server without wildcard DNS.
        s3={"addressing_style": "path"},
        region_name=region,
        # Checksums only where the API requires them: botocore ≥ 1.36 otherwise adds CRC trailers that several
        # S3-compatible servers reject or store wrongly.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    # A session of its own: the default session is shared process state, and not thread-safe to create on.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )
