"""storage/uploads.py: upload names, owners and expiry, and the signed upload policy."""

from __future__ import annotations

import pytest

from videosynth.storage.uploads import (
    Policy,
    encode_policy,
    new_upload_dir,
    owner_of,
    parse_upload_name,
    sign_policy,
    usable_by,
    verified_policy,
)

SECRET = b"s3cret"


def test_a_name_in_a_new_dir_parses_back_with_owner_and_expiry() -> None:
    folder = new_upload_dir("key-a", 2_000_000_000)
    name = parse_upload_name(f"oss://{folder}/cat.png")
    assert name is not None
    assert (name.owner, name.expires_s, name.upload_dir) == (owner_of("key-a"), 2_000_000_000, folder)
    assert name.blob_key.startswith("upload-") and "/" not in name.blob_key
    assert new_upload_dir("key-a", 2_000_000_000) != folder  # a fresh nonce each time


def test_only_the_owner_may_use_it_and_only_until_it_expires() -> None:
    name = parse_upload_name(f"{new_upload_dir('key-a', 1_000)}/cat.png")
    assert name is not None
    assert usable_by(name, "key-a", 999.0)
    assert not usable_by(name, "key-b", 999.0)
    assert not usable_by(name, "key-a", 1_001.0)


@pytest.mark.parametrize(
    "path",
    [
        "oss://other-bucket/0123456789abcdef01234567/1000-ab/cat.png",
        "oss://dashscope-instant/short/1000-ab/cat.png",
        "oss://dashscope-instant/0123456789abcdef01234567/soon-ab/cat.png",
        "oss://dashscope-instant/0123456789abcdef01234567/1000-xyz/cat.png",
        "oss://dashscope-instant/0123456789abcdef01234567/1000-ab/../../etc",
        "oss://dashscope-instant/0123456789abcdef01234567/1000-ab/sub/cat.png",
        "oss://dashscope-instant/0123456789abcdef01234567/1000/cat.png",
    ],
)
def test_names_not_of_our_form_are_none(path: str) -> None:
    assert parse_upload_name(path) is None


def test_a_signed_policy_verifies_until_it_expires() -> None:
    encoded = encode_policy(Policy("dashscope-instant/x/1-a", 1_000, 5))
    signature = sign_policy(SECRET, encoded)
    assert verified_policy(SECRET, encoded, signature, 1_000.0) == Policy("dashscope-instant/x/1-a", 1_000, 5)
    assert verified_policy(SECRET, encoded, signature, 1_000.5) is None
    assert verified_policy(b"other", encoded, signature, 0.0) is None
    assert verified_policy(SECRET, encoded, "0" * 64, 0.0) is None


@pytest.mark.parametrize("encoded", ["not base64!", "bnVsbA==", "e30="])  # garbage, JSON null, {}
def test_a_signed_but_malformed_policy_is_none(encoded: str) -> None:
    assert verified_policy(SECRET, encoded, sign_policy(SECRET, encoded), 0.0) is None
