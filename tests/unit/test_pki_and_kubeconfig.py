"""The local apiserver's certificates verify, and the kubeconfig points at them."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

from controlplane import kubeconfig, pki
from cryptography import x509

_USERS = {"admin": ["system:masters"], "system:kube-scheduler": []}


def _assert_loopback_certificate_of(ca_path: Path, cert_path: Path) -> None:
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    serving = x509.load_pem_x509_certificate(cert_path.read_bytes())
    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.IPv4Address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_serving_certificate_is_signed_by_the_ca_for_loopback(tmp_path: Path) -> None:
    credentials = pki.write_credentials(tmp_path, users=_USERS)
    _assert_loopback_certificate_of(credentials.ca_cert, credentials.apiserver.cert)


def test_further_serving_certificates_are_signed_by_the_same_ca(tmp_path: Path) -> None:
    credentials = pki.write_credentials(tmp_path, users=_USERS)
    webhook = credentials.issue_serving_certificate(tmp_path / "webhook", "kserve-webhook")

    assert webhook.cert == tmp_path / "webhook" / "kserve-webhook.crt"
    _assert_loopback_certificate_of(credentials.ca_cert, webhook.cert)
    assert webhook.key.stat().st_mode & 0o077 == 0


def test_secrets_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    credentials = pki.write_credentials(tmp_path, users=_USERS)
    for secret in (
        credentials.ca_key,
        credentials.apiserver.key,
        credentials.service_account_key,
        credentials.token_auth_file,
    ):
        assert secret.stat().st_mode & 0o077 == 0, secret


def test_token_file_gives_each_user_its_token_and_groups(tmp_path: Path) -> None:
    credentials = pki.write_credentials(tmp_path, users=_USERS)
    admin, scheduler = credentials.tokens["admin"], credentials.tokens["system:kube-scheduler"]

    assert credentials.token_auth_file.read_text() == (
        f'{admin},admin,admin,"system:masters"\n'
        f"{scheduler},system:kube-scheduler,system:kube-scheduler\n"
    )
    assert admin != scheduler


def test_kubeconfig_names_server_ca_and_token() -> None:
    document = kubeconfig.render(
        server="https://127.0.0.1:6443", ca_pem=b"PEM", user="admin", token="secret"
    )
    cluster = document["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"PEM"
    assert document["users"] == [{"name": "admin", "user": {"token": "secret"}}]
    assert document["current-context"] == document["contexts"][0]["name"]
