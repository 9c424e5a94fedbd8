"""A throwaway C2PA certificate chain (a root CA and a signer it issued), for trying provenance out and for tests.

Real deployments sign with a certificate from a CA on the C2PA trust list; this one is trusted only by whoever is
given its root (``videosynth verify --trust-anchors root.pem``). ``cryptography`` comes with the C2PA library.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_NO_USAGE = dict.fromkeys(
    (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    ),
    False,
)


@dataclass(frozen=True)
class DevChain:
    cert_file: Path  # signer then root, PEM
    key_file: Path  # signer's private key, PEM (PKCS#8)
    root_file: Path  # the trust anchor, PEM


def _name(common_name: str) -> x509.Name:
    attributes = [(NameOID.COMMON_NAME, common_name), (NameOID.ORGANIZATION_NAME, "videosynth")]
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_dev_chain(folder: Path, name: str = "videosynth dev") -> DevChain:
    """Write chain.pem (signer, then root), signer.key and root.pem into ``folder``."""
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} root"))
        .issuer_name(_name(f"{name} root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**{**_NO_USAGE, "key_cert_sign": True, "crl_sign": True}), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} signer"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**{**_NO_USAGE, "digital_signature": True}), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    chain = DevChain(folder / "chain.pem", folder / "signer.key", folder / "root.pem")
    chain.cert_file.write_bytes(_pem(leaf) + _pem(root))
    chain.key_file.touch(mode=0o600)  # a private key: readable by its owner only, from the first byte on
    chain.key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    chain.root_file.write_bytes(_pem(root))
    return chain
