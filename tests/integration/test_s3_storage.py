"""S3BlobStore against a real S3 server (SeaweedFS started by the tests), and its configuration errors.

Links are fetched with plain httpx and no credentials, as a client of the API would. SeaweedFS that cannot be
started skips these tests locally but fails them when ``CI=true``: CI must never pass without S3.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from tests.support.seaweed import SeaweedS3, SeaweedUnavailable, running_seaweed
from tests.support.tcp_proxy import tcp_proxy

from videosynth import compose
from videosynth.settings import Settings
from videosynth.storage.s3 import MAX_PRESIGN_TTL_S, S3BlobStore, parse_storage_url

MP4 = "video/mp4"


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    try:
        context = running_seaweed(tmp_path_factory.mktemp("seaweed"))
        server = context.__enter__()
    except (SeaweedUnavailable, ImportError) as exc:
        reason = f"SeaweedFS could not be started: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


def settings_for(server: SeaweedS3, storage: str) -> Settings:
    return Settings(
        storage=storage,
        s3_endpoint_url=server.endpoint_url,
        s3_access_key_id=server.access_key_id,
        s3_secret_access_key=server.secret_access_key,
    )


@pytest.fixture(scope="session")
def prefix() -> str:
    # A prefix of this run's own (keys are random too), so reruns against one bucket never see old objects.
    return f"test-{uuid.uuid4().hex[:8]}/results"


@pytest.fixture(scope="session")
def store(seaweed: SeaweedS3, prefix: str) -> S3BlobStore:
    # Built the way the service builds it: VIDEOSYNTH_STORAGE=s3://bucket/prefix through compose.blob_store.
    # Session-scoped: a boto3 client takes 0.2-1 s to build.
    built = compose.blob_store(settings_for(seaweed, f"s3://{seaweed.bucket}/{prefix}/"))
    assert isinstance(built, S3BlobStore)
    return built


@pytest.fixture(scope="session")
def offline_store() -> S3BlobStore:
    """For checks made before any request: nothing listens at this endpoint."""
    return S3BlobStore("videos", "p", endpoint_url="http://127.0.0.1:9", access_key_id="id", secret_access_key="s")


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "upload.mp4"
    path.write_bytes(b"\x00\x00\x00\x20ftypisom" + os.urandom(90_000))
    return path


def put(store: S3BlobStore, video: Path) -> str:
    key = f"{uuid.uuid4()}.mp4"
    store.put_file(key, video, MP4)
    return key


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- links --------------------------------------------------------------------------------------------------


def test_presigned_link_downloads_the_same_bytes_without_credentials(
    store: S3BlobStore, seaweed: SeaweedS3, video: Path
) -> None:
    key = put(store, video)

    url = store.url(key, "http://api.example.invalid", 60)
    response = httpx.get(url)

    assert response.status_code == 200
    assert response.content == video.read_bytes()
    assert response.headers["content-type"] == MP4
    # The link is the bucket's own (base_url is not used), path style, SigV4.
    assert url.startswith(f"{seaweed.endpoint_url}/{seaweed.bucket}/{store.prefix}/{key}?")
    assert dict(parse_qsl(urlsplit(url).query))["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"


def test_links_can_point_at_a_public_endpoint(seaweed: SeaweedS3, prefix: str, video: Path) -> None:
    """Workers upload to the bucket's internal address; clients download through another (a proxy here)."""
    upstream_port = urlsplit(seaweed.endpoint_url).port
    assert upstream_port is not None
    with tcp_proxy(upstream_port) as public_port:
        public = f"http://127.0.0.1:{public_port}"
        settings = settings_for(seaweed, f"s3://{seaweed.bucket}/{prefix}/").model_copy(
            update={"s3_public_endpoint_url": public}
        )
        store = S3BlobStore.from_settings(settings)
        key = put(store, video)  # through the internal endpoint
        url = store.url(key, "http://api.example.invalid", 60)
        assert url.startswith(f"{public}/{seaweed.bucket}/")
        response = httpx.get(url)
        assert response.status_code == 200 and response.content == video.read_bytes()
        # Signed for the public host: the same link sent straight to the internal address is refused.
        internal = urlunsplit(urlsplit(url)._replace(netloc=urlsplit(seaweed.endpoint_url).netloc))
        assert httpx.get(internal).status_code == 403


def test_without_keys_in_settings_boto3_finds_the_credentials(
    seaweed: SeaweedS3, prefix: str, video: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No VIDEOSYNTH_S3_* keys: boto3's chain (here the AWS_* variables; on a cloud host a role) supplies them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret_access_key)
    settings = Settings(storage=f"s3://{seaweed.bucket}/{prefix}/", s3_endpoint_url=seaweed.endpoint_url)
    store = S3BlobStore.from_settings(settings)
    key = put(store, video)
    assert httpx.get(store.url(key, "http://api.example.invalid", 60)).content == video.read_bytes()


def test_a_key_id_without_its_secret_is_refused() -> None:
    settings = Settings(storage="s3://videos", s3_endpoint_url="http://127.0.0.1:8333", s3_access_key_id="id")
    with pytest.raises(ValueError, match="needs VIDEOSYNTH_S3_SECRET_ACCESS_KEY"):
        S3BlobStore.from_settings(settings)


def test_public_endpoint_must_be_an_http_url() -> None:
    settings = configured("s3://videos").model_copy(update={"s3_public_endpoint_url": "cdn.example.com"})
    with pytest.raises(ValueError, match="VIDEOSYNTH_S3_PUBLIC_ENDPOINT_URL"):
        S3BlobStore.from_settings(settings)


def test_presigned_link_serves_byte_ranges(store: S3BlobStore, video: Path) -> None:
    # Browsers seek in a <video> with Range requests.
    key = put(store, video)

    response = httpx.get(store.url(key, "", 60), headers={"Range": "bytes=100-1099"})

    assert response.status_code == 206
    assert response.content == video.read_bytes()[100:1100]
    assert response.headers["content-range"] == f"bytes 100-1099/{video.stat().st_size}"


def test_links_that_are_expired_tampered_or_unsigned_are_refused(store: S3BlobStore, video: Path) -> None:
    key = put(store, video)
    short = store.url(key, "", 1)
    valid = store.url(key, "", 60)
    signature = dict(parse_qsl(urlsplit(valid).query))["X-Amz-Signature"]
    tampered = with_query(valid, **{"X-Amz-Signature": ("0" if signature[0] != "0" else "1") + signature[1:]})
    unsigned = urlunsplit(urlsplit(valid)._replace(query=""))
    other_key = valid.replace(key, f"{uuid.uuid4()}.mp4")

    assert httpx.get(tampered).status_code == 403
    assert httpx.get(unsigned).status_code == 403
    assert httpx.get(other_key).status_code == 403  # a signature covers one key only
    time.sleep(2.1)  # SigV4 counts from X-Amz-Date, in whole seconds
    assert httpx.get(short).status_code == 403
    assert httpx.get(valid).status_code == 200


def test_link_lifetime_must_fit_sigv4(offline_store: S3BlobStore) -> None:
    for ttl_s in (0, MAX_PRESIGN_TTL_S + 1):
        with pytest.raises(ValueError, match="lifetime"):
            offline_store.url("a.mp4", "", ttl_s)


# --- objects ------------------------------------------------------------------------------------------------


def test_exists_and_delete(store: S3BlobStore, video: Path) -> None:
    key = put(store, video)
    assert store.exists(key)
    assert not store.exists(f"{uuid.uuid4()}.mp4")

    store.delete(key)

    assert not store.exists(key)
    store.delete(key)  # already gone: not an error (a re-run retention sweep does this)


def test_open_streams_the_object_back(store: S3BlobStore, video: Path) -> None:
    key = put(store, video)

    with store.open(key) as body:
        assert body.read(12) == video.read_bytes()[:12]
        assert body.read() == video.read_bytes()[12:]

    store.delete(key)
    with pytest.raises(FileNotFoundError, match="no blob under"):
        store.open(key)


def test_keys_live_under_the_prefix(store: S3BlobStore, seaweed: SeaweedS3, prefix: str, video: Path) -> None:
    key = put(store, video)
    admin = seaweed.client()

    head = admin.head_object(Bucket=seaweed.bucket, Key=f"{prefix}/{key}")
    listed = admin.list_objects_v2(Bucket=seaweed.bucket, Prefix=f"{prefix}/")

    assert head["ContentType"] == MP4
    assert f"{prefix}/{key}" in [item["Key"] for item in listed.get("Contents", [])]
    assert not admin.list_objects_v2(Bucket=seaweed.bucket, Prefix=key).get("Contents")
    neighbour = compose.blob_store(settings_for(seaweed, f"s3://{seaweed.bucket}/other-{prefix}"))
    assert not neighbour.exists(key)


def test_large_results_go_up_in_parts_and_come_back_whole(store: S3BlobStore, tmp_path: Path) -> None:
    # Above the multipart threshold s3transfer uploads in parts; the object must still be one whole mp4.
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(9 * 1024 * 1024 + 123))
    key = put(store, big)

    response = httpx.get(store.url(key, "", 60))

    assert response.status_code == 200
    assert response.headers["content-type"] == MP4
    assert response.content == big.read_bytes()


def test_overwriting_a_key_replaces_the_whole_object(store: S3BlobStore, video: Path, tmp_path: Path) -> None:
    key = put(store, video)
    smaller = tmp_path / "smaller.mp4"
    smaller.write_bytes(b"\x00\x00\x00\x20ftypisom" + b"x" * 100)

    store.put_file(key, smaller, MP4)

    assert httpx.get(store.url(key, "", 60)).content == smaller.read_bytes()


@pytest.mark.parametrize("key", ["", "/abs.mp4", "../up.mp4", "a/../../b.mp4"])
def test_keys_cannot_escape_the_prefix(offline_store: S3BlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        offline_store.object_key(key)


# --- configuration (no server needed) ------------------------------------------------------------------------


def configured(storage: str, endpoint: str = "http://127.0.0.1:8333", url_ttl_s: int = 3600) -> Settings:
    """Settings with everything S3 needs; nothing is contacted until a blob is read or written."""
    return Settings(
        storage=storage,
        s3_endpoint_url=endpoint,
        s3_access_key_id="id",
        s3_secret_access_key="secret",
        url_ttl_s=url_ttl_s,
    )


@pytest.mark.parametrize(
    ("storage", "bucket", "prefix"),
    [
        ("s3://videos", "videos", ""),
        ("s3://videos/", "videos", ""),
        ("s3://my-bucket.v2/results/2026/", "my-bucket.v2", "results/2026"),
    ],
)
def test_storage_url_gives_bucket_and_prefix(storage: str, bucket: str, prefix: str) -> None:
    assert parse_storage_url(storage) == (bucket, prefix)


def test_complete_settings_build_a_store() -> None:
    built = S3BlobStore.from_settings(configured("s3://videos/a/b/"))
    assert (built.bucket, built.prefix) == ("videos", "a/b")
    assert built.object_key("t.mp4") == "a/b/t.mp4"


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("s3://", "s3://bucket"),
        ("s3:///prefix", "s3://bucket"),
        ("s3://videos?region=x", "s3://bucket"),
        ("https://videos", "s3://bucket"),
        ("s3://Videos", "invalid S3 bucket"),
        ("s3://my_bucket", "invalid S3 bucket"),
        ("s3://ab", "invalid S3 bucket"),
    ],
)
def test_malformed_storage_urls_are_refused(storage: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        S3BlobStore.from_settings(configured(storage))
    assert "VIDEOSYNTH_STORAGE" in str(caught.value)


def test_missing_settings_are_all_named() -> None:
    with pytest.raises(ValueError) as caught:
        S3BlobStore.from_settings(Settings(storage="s3://videos", s3_access_key_id="id"))
    message = str(caught.value)
    assert "VIDEOSYNTH_S3_ENDPOINT_URL" in message
    assert "VIDEOSYNTH_S3_SECRET_ACCESS_KEY" in message
    assert "VIDEOSYNTH_S3_ACCESS_KEY_ID" not in message


def test_endpoint_must_be_an_http_url() -> None:
    settings = configured("s3://videos", endpoint="127.0.0.1:8333")
    with pytest.raises(ValueError, match="VIDEOSYNTH_S3_ENDPOINT_URL"):
        S3BlobStore.from_settings(settings)


def test_link_lifetime_over_seven_days_is_refused_at_startup() -> None:
    settings = configured("s3://videos", url_ttl_s=MAX_PRESIGN_TTL_S + 1)
    with pytest.raises(ValueError, match="VIDEOSYNTH_URL_TTL_S"):
        S3BlobStore.from_settings(settings)


def test_importing_the_module_does_not_import_boto3() -> None:
    # An API node with local storage imports compose (and may import this module) but must not load boto3.
    code = "import sys, videosynth.compose, videosynth.storage.s3; sys.exit('boto3' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0
