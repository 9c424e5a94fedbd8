"""C2PA provenance on real mp4s: signed, verified, trusted or not, tampered, unsigned; and the verdict rules."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from videosynth.cli import app
from videosynth.media.dev_certs import DevChain, make_dev_chain
from videosynth.media.encode import encode_mp4
from videosynth.media.probe import probe
from videosynth.media.provenance import (
    AI_SOURCE_TYPE,
    Claim,
    ProvenanceError,
    SigningIdentity,
    judge,
    sign_mp4,
    verify_mp4,
)
from videosynth.settings import Settings

WHEN = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> DevChain:
    return make_dev_chain(tmp_path_factory.mktemp("chain"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = np.stack([np.full((64, 96, 3), 8 * i, np.uint8) for i in range(17)])
    path = tmp_path_factory.mktemp("plain") / "plain.mp4"
    encode_mp4(frames, path, 16)
    return path


@pytest.fixture(scope="module")
def signed(chain: DevChain, plain: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("signed") / "signed.mp4"
    identity = SigningIdentity.from_files(chain.cert_file, chain.key_file)
    sign_mp4(plain, dest, identity, Claim("wan2.7-t2v", WHEN, "videosynth", "0.1.0"))
    return dest


def _tampered(signed: Path, dest: Path) -> Path:
    """Flip one byte in the middle of the media data, leaving the boxes (and the manifest) intact."""
    data = bytearray(signed.read_bytes())
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if kind == b"mdat":
            data[offset + 8 + (size - 8) // 2] ^= 0x55
        offset += size
    dest.write_bytes(bytes(data))
    return dest


def test_a_signed_video_declares_ai_generation_by_its_model_and_still_plays(signed: Path, plain: Path) -> None:
    result = verify_mp4(signed)
    assert result.ok and result.signature_ok and result.binding_ok
    assert result.trusted is None  # no anchors given: the chain was not judged
    [action] = result.actions
    assert action["action"] == "c2pa.created"
    assert action["digitalSourceType"] == AI_SOURCE_TYPE
    assert action["parameters"]["model"] == "wan2.7-t2v"
    assert action["when"] == WHEN.isoformat()
    assert probe(signed) == probe(plain)  # same stream: width, height, frames, fps, codec


def test_trust_is_judged_against_the_given_anchors(signed: Path, chain: DevChain, tmp_path: Path) -> None:
    assert verify_mp4(signed, chain.root_file.read_bytes()).trusted is True
    stranger = make_dev_chain(tmp_path / "stranger")
    result = verify_mp4(signed, stranger.root_file.read_bytes())
    assert result.trusted is False and not result.ok
    assert [f.code for f in result.failures] == ["signingCredential.untrusted"]


def test_a_tampered_copy_fails_its_hard_binding(signed: Path, tmp_path: Path) -> None:
    result = verify_mp4(_tampered(signed, tmp_path / "tampered.mp4"))
    assert not result.ok and not result.binding_ok
    assert result.signature_ok  # the claim itself is intact; the bytes it binds are not
    assert any(f.code == "assertion.bmffHash.mismatch" for f in result.failures)


def test_an_unsigned_video_has_no_manifest(plain: Path) -> None:
    result = verify_mp4(plain)
    assert (result.state, result.ok, result.manifest) == ("NoManifest", False, None)


def test_a_bad_identity_is_refused_when_read_not_at_the_first_task(chain: DevChain, tmp_path: Path) -> None:
    with pytest.raises(ProvenanceError, match="cannot read"):
        SigningIdentity.from_files(tmp_path / "missing.pem", chain.key_file)
    other = make_dev_chain(tmp_path / "other")
    with pytest.raises(ProvenanceError, match="not the first certificate"):
        SigningIdentity.from_files(chain.cert_file, other.key_file)  # a key that is not the certificate's
    with pytest.raises(ProvenanceError, match="one of"):
        SigningIdentity.from_files(chain.cert_file, chain.key_file, alg="md5")


def test_the_verdict_needs_both_a_validated_signature_and_a_matching_binding() -> None:
    ok = {"success": [{"code": "claimSignature.validated"}, {"code": "assertion.bmffHash.match"}]}
    assert judge({}, {"activeManifest": ok}, "Valid", anchored=False).ok
    no_binding = {"success": [{"code": "claimSignature.validated"}]}
    assert not judge({}, {"activeManifest": no_binding}, "Valid", anchored=False).binding_ok
    bad_signature = {**ok, "failure": [{"code": "claimSignature.mismatch", "explanation": "x"}]}
    verdict = judge({}, {"activeManifest": bad_signature}, "Invalid", anchored=True)
    assert not verdict.signature_ok and verdict.trusted is True and not verdict.ok


def test_verify_command_reports_and_exits_by_the_verdict(signed: Path, chain: DevChain, tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["verify", str(signed), "--trust-anchors", str(chain.root_file)])
    assert done.exit_code == 0, done.output
    assert "AI-generated (trainedAlgorithmicMedia), model wan2.7-t2v" in done.output
    assert "signature: valid" in done.output and "trust: chains to a trust anchor" in done.output
    assert done.output.strip().endswith("result: OK")
    tampered = runner.invoke(app, ["verify", str(_tampered(signed, tmp_path / "t.mp4"))])
    assert tampered.exit_code == 1
    assert "hard binding: DOES NOT MATCH the file" in tampered.output
    assert "result: FAILED: assertion.bmffHash.mismatch" in tampered.output


def test_dev_cert_command_writes_a_chain_that_signs(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["provenance", "dev-cert", str(tmp_path / "dev")])
    assert done.exit_code == 0, done.output
    assert f"VIDEOSYNTH_C2PA_KEY={tmp_path / 'dev' / 'signer.key'}" in done.output
    assert (tmp_path / "dev" / "signer.key").stat().st_mode & 0o077 == 0
    SigningIdentity.from_files(tmp_path / "dev" / "chain.pem", tmp_path / "dev" / "signer.key")


def test_settings_take_the_certificate_and_key_together(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="or neither"):
        Settings(c2pa_cert=tmp_path / "chain.pem")
    both = Settings(c2pa_cert=Path("chain.pem"), c2pa_key=Path("signer.key"))
    assert both.c2pa_cert is not None and both.c2pa_cert.is_absolute()
