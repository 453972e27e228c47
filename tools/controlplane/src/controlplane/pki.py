"""Keys, certificates and identities for a throw-away local cluster.

A fresh CA signs every serving certificate on loopback: the apiserver's, and
those of the servers the apiserver or the launcher calls (KServe's webhooks,
kwok's kubelet endpoint, the health endpoints of the controller-manager and
the scheduler). So clients verify TLS against the CA in the kubeconfig instead
of turning verification off. The same CA signs the client certificate the
apiserver presents to kubelets (kwok's kubelet endpoint), as in a kubeadm
cluster. A separate RSA key signs ServiceAccount tokens,
which is what makes TokenRequest and TokenReview work.

Each component authenticates as a user of its own, by a static bearer token
(``--token-auth-file``): RBAC then sees ``system:kube-controller-manager`` and
``system:kube-scheduler`` as in a real cluster, bound by the apiserver's own
bootstrap roles.
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

_VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class ServingCertificate:
    """A certificate for 127.0.0.1 and localhost, and its key, as files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class ClientCertificate:
    """A TLS client certificate and its key, as files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Credentials:
    """Paths of the files a cluster's processes and clients need, and their tokens.

    ``tokens`` maps each user of the token file to its bearer token.
    """

    ca_cert: Path
    ca_key: Path
    apiserver: ServingCertificate
    service_account_key: Path
    token_auth_file: Path
    tokens: Mapping[str, str]

    def issue_serving_certificate(self, directory: Path, name: str) -> ServingCertificate:
        """Sign a loopback serving certificate ``name`` with this CA, into ``directory``."""
        ca_key, ca_name = self._load_ca()
        return _write_serving_certificate(directory, name, ca_key, ca_name)

    def issue_client_certificate(self, directory: Path, name: str) -> ClientCertificate:
        """Sign a client certificate for user ``name`` (its common name) with this CA.

        Written as ``directory/<name>.crt`` and ``.key`` (the key readable by the
        owner only); valid for TLS client authentication only.
        """
        ca_key, ca_name = self._load_ca()
        return _write_client_certificate(directory, name, ca_key, ca_name)

    def _load_ca(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), password=None)
        if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
            raise TypeError(f"{self.ca_key} is not the EC key this module writes")
        return ca_key, x509.load_pem_x509_certificate(self.ca_cert.read_bytes()).subject


def _pem_key(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600)
    path.write_bytes(data)


def _sign(
    directory: Path,
    name: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    extensions: Sequence[x509.ExtensionType],
) -> tuple[Path, Path]:
    """Write ``directory/name.crt`` (signed by the CA, with ``extensions``) and its key."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_path, _pem_key(key))
    return cert_path, key_path


def _write_serving_certificate(
    directory: Path, name: str, ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name
) -> ServingCertificate:
    cert, key = _sign(
        directory,
        name,
        ca_key,
        ca_name,
        [
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]),
        ],
    )
    return ServingCertificate(cert=cert, key=key)


def _write_client_certificate(
    directory: Path, name: str, ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name
) -> ClientCertificate:
    cert, key = _sign(
        directory, name, ca_key, ca_name, [x509.ExtendedKeyUsage([x509.OID_CLIENT_AUTH])]
    )
    return ClientCertificate(cert=cert, key=key)


def _ca(now: datetime.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
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
    return ca_key, ca_cert


def token_file_line(token: str, user: str, groups: Sequence[str]) -> str:
    """One line of ``--token-auth-file``: ``token,user,uid[,"group1,group2"]``."""
    line = f"{token},{user},{user}"
    return f'{line},"{",".join(groups)}"\n' if groups else f"{line}\n"


def write_credentials(directory: Path, *, users: Mapping[str, Sequence[str]]) -> Credentials:
    """Create a CA, the apiserver's serving certificate, a token-signing key and tokens.

    ``users`` maps each user name to its groups; each gets a random bearer
    token in the token file (a member of ``system:masters`` bypasses RBAC).
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key, ca_cert = _ca(now)
    ca_cert_path = directory / "ca.crt"
    ca_cert_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    ca_key_path = directory / "ca.key"
    _write_private(ca_key_path, _pem_key(ca_key))
    apiserver = _write_serving_certificate(directory, "apiserver", ca_key, ca_cert.subject)
    # kube-apiserver signs ServiceAccount tokens with RS256 by default.
    service_account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    service_account_key_path = directory / "service-account.key"
    _write_private(service_account_key_path, _pem_key(service_account_key))

    tokens = {user: secrets.token_urlsafe(32) for user in users}
    token_auth_file = directory / "tokens.csv"
    _write_private(
        token_auth_file,
        "".join(
            token_file_line(tokens[user], user, groups) for user, groups in users.items()
        ).encode(),
    )
    return Credentials(
        ca_cert=ca_cert_path,
        ca_key=ca_key_path,
        apiserver=apiserver,
        service_account_key=service_account_key_path,
        token_auth_file=token_auth_file,
        tokens=tokens,
    )
