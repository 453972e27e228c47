"""Keys and certificates for a throw-away local kube-apiserver.

A fresh CA signs the apiserver's serving certificate (for 127.0.0.1 and
localhost), so clients verify TLS against the CA in the kubeconfig instead of
turning verification off. A separate RSA key signs ServiceAccount tokens, which
is what makes TokenRequest and TokenReview work.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

_VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Credentials:
    """Paths of the files a control plane's processes and clients need."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    service_account_key: Path
    token_auth_file: Path
    admin_token: str


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600)
    path.write_bytes(data)


def write_credentials(directory: Path, *, admin_user: str, admin_group: str) -> Credentials:
    """Create a CA, a serving certificate, a token-signing key and an admin token.

    The admin is authenticated by a static bearer token (``--token-auth-file``)
    and is a member of ``admin_group`` (``system:masters`` bypasses RBAC).
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kserve-functions-local-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    serving_key = ec.generate_private_key(ec.SECP256R1())
    serving_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(serving_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    # kube-apiserver signs ServiceAccount tokens with RS256 by default.
    service_account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    admin_token = secrets.token_urlsafe(32)

    credentials = Credentials(
        ca_cert=directory / "ca.crt",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        service_account_key=directory / "service-account.key",
        token_auth_file=directory / "tokens.csv",
        admin_token=admin_token,
    )
    credentials.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    credentials.serving_cert.write_bytes(serving_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(credentials.serving_key, _pem_key(serving_key))
    _write_private(credentials.service_account_key, _pem_key(service_account_key))
    # Format: token,user,uid,"group1,group2"
    _write_private(
        credentials.token_auth_file,
        f'{admin_token},{admin_user},{admin_user},"{admin_group}"\n'.encode(),
    )
    return credentials
