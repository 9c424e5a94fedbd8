"""C2PA provenance: sign an mp4 with a manifest that declares it AI-generated, and verify one.

The manifest holds one ``c2pa.actions.v2`` assertion: ``c2pa.created`` with the IPTC digital source type
``trainedAlgorithmicMedia``, the model and the time, plus the hard binding (a BMFF hash over the file) that the
C2PA library adds. A verifier then tells whether the claim signature holds, whether the file's bytes still match
the binding, and (given trust anchors) whether the signing certificate chains to one of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

MP4 = "video/mp4"
AI_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")

# Validation codes (C2PA spec §15) that say the claim signature or the hard binding failed.
_SIGNATURE_FAILURES = ("claimSignature.", "signingCredential.invalid", "signingCredential.revoked", "timeStamp.")
_BINDING_FAILURES = ("assertion.bmffHash.", "assertion.dataHash.", "assertion.hashedURI.")
_BINDING_MATCHES = ("assertion.bmffHash.match", "assertion.dataHash.match")


class ProvenanceError(Exception):
    """The signing identity is unusable, or a file could not be signed."""


@dataclass(frozen=True)
class SigningIdentity:
    """The operator's certificate chain (leaf first, PEM) and its private key (PEM)."""

    cert_chain_pem: bytes
    private_key_pem: bytes = field(repr=False)
    alg: str = "es256"
    timestamp_url: str | None = None

    @classmethod
    def from_files(
        cls, cert_file: Path, key_file: Path, alg: str = "es256", timestamp_url: str | None = None
    ) -> SigningIdentity:
        """Read and check the identity at start-up, so a bad certificate stops the worker, not its first task."""
        try:
            identity = cls(cert_file.read_bytes(), key_file.read_bytes(), alg, timestamp_url)
        except OSError as exc:
            raise ProvenanceError(f"cannot read the C2PA certificate or key: {exc.strerror}: {exc.filename}") from None
        identity.check()
        return identity

    def check(self) -> None:
        """The key must be the signer certificate's (the library would sign anyway, and every signature fail)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        try:
            leaf = x509.load_pem_x509_certificates(self.cert_chain_pem)[0]
            key = serialization.load_pem_private_key(self.private_key_pem, password=None)
        except ValueError as exc:
            raise ProvenanceError(f"the C2PA certificate or key is not valid PEM: {exc}") from None
        public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(*public) != leaf.public_key().public_bytes(*public):
            raise ProvenanceError("the C2PA key cannot sign for the certificate: it is not the first certificate's key")
        self.signer().close()

    def signer(self) -> Any:
        import c2pa

        if self.alg not in ALGORITHMS:
            raise ProvenanceError(f"C2PA signing algorithm must be one of {', '.join(ALGORITHMS)}, got {self.alg!r}")
        info = c2pa.C2paSignerInfo(self.alg, self.cert_chain_pem, self.private_key_pem, self.timestamp_url)
        try:
            return c2pa.Signer.from_info(info)
        except c2pa.C2paError as exc:
            raise ProvenanceError(f"the C2PA certificate and key cannot sign: {exc}") from None


@dataclass(frozen=True)
class Claim:
    """What the manifest says about one video."""

    model: str
    created: datetime
    generator: str
    generator_version: str
    title: str = "video.mp4"


def manifest(claim: Claim) -> dict[str, Any]:
    action = {
        "action": "c2pa.created",
        "digitalSourceType": AI_SOURCE_TYPE,
        "softwareAgent": {"name": claim.generator, "version": claim.generator_version},
        "when": claim.created.isoformat(),
        "parameters": {"model": claim.model},
    }
    return {
        "claim_generator_info": [{"name": claim.generator, "version": claim.generator_version}],
        "title": claim.title,
        "format": MP4,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [action]}}],
    }


def sign_mp4(source: Path, dest: Path, identity: SigningIdentity, claim: Claim) -> None:
    """Write ``source`` with the claim's manifest embedded to ``dest`` (a new file; ``source`` is left as it is)."""
    import c2pa

    signer = identity.signer()
    try:
        with c2pa.Builder(json.dumps(manifest(claim))) as builder, source.open("rb") as src, dest.open("w+b") as dst:
            builder.sign(signer, MP4, src, dst)
    except c2pa.C2paError as exc:
        raise ProvenanceError(f"C2PA signing failed: {exc}") from None
    finally:
        signer.close()


@dataclass(frozen=True)
class Finding:
    code: str
    explanation: str


@dataclass(frozen=True)
class Verification:
    """What a verifier found. ``manifest`` is None when the file carries none (or cannot be parsed)."""

    manifest: Mapping[str, Any] | None
    state: str  # the library's: Valid, Trusted, Invalid; or NoManifest / Unreadable
    signature_ok: bool
    binding_ok: bool
    trusted: bool | None  # None: no trust anchors were given, so the chain was not judged
    failures: Sequence[Finding] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.signature_ok and self.binding_ok and self.trusted is not False

    @property
    def actions(self) -> list[Mapping[str, Any]]:
        for assertion in (self.manifest or {}).get("assertions", []):
            if str(assertion.get("label", "")).startswith("c2pa.actions"):
                return list(assertion.get("data", {}).get("actions", []))
        return []


def verify_mp4(path: Path, trust_anchors_pem: bytes | None = None) -> Verification:
    import c2pa

    try:
        with path.open("rb") as stream, c2pa.Reader(MP4, stream, context=_context(trust_anchors_pem)) as reader:
            active = reader.get_active_manifest()
            results = reader.get_validation_results() or {}
            state = reader.get_validation_state() or "Invalid"
    except c2pa.C2paError as exc:
        missing = "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc)
        return Verification(None, "NoManifest" if missing else "Unreadable", False, False, None, error=str(exc))
    return judge(active, results, state, trust_anchors_pem is not None)


def judge(active: Mapping[str, Any] | None, results: Mapping[str, Any], state: str, anchored: bool) -> Verification:
    """The verdict from the library's validation results of the active manifest."""
    outcome = results.get("activeManifest", {})
    failures = [Finding(f["code"], f.get("explanation", "")) for f in outcome.get("failure", [])]
    successes = {s["code"] for s in outcome.get("success", [])}
    codes = [f.code for f in failures]
    signature_ok = "claimSignature.validated" in successes and not _any_prefix(codes, _SIGNATURE_FAILURES)
    binding_ok = bool(successes & set(_BINDING_MATCHES)) and not _any_prefix(codes, _BINDING_FAILURES)
    trusted = ("signingCredential.untrusted" not in codes) if anchored else None
    return Verification(active, state, signature_ok, binding_ok, trusted, tuple(failures))


def _any_prefix(codes: Sequence[str], prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(prefixes) for code in codes)


def _context(trust_anchors_pem: bytes | None) -> Any:
    import c2pa

    verify: dict[str, Any] = {"verify": {"verify_trust": trust_anchors_pem is not None, "ocsp_fetch": False}}
    if trust_anchors_pem is not None:
        verify["trust"] = {"trust_anchors": trust_anchors_pem.decode()}
    return c2pa.Context(c2pa.Settings.from_json(json.dumps(verify)))
