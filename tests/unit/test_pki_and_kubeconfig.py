"""The local apiserver's certificates verify, and the kubeconfig points at them."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

from controlplane import kubeconfig, pki
from cryptography import x509


def test_serving_certificate_is_signed_by_the_ca_for_loopback(tmp_path: Path) -> None:
    credentials = pki.write_credentials(tmp_path, admin_user="admin", admin_group="system:masters")
    ca = x509.load_pem_x509_certificate(credentials.ca_cert.read_bytes())
    serving = x509.load_pem_x509_certificate(credentials.serving_cert.read_bytes())

    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.IPv4Address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "localhost" in names.get_values_for_type(x509.DNSName)


def test_secrets_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    credentials = pki.write_credentials(tmp_path, admin_user="admin", admin_group="system:masters")
    for secret in (
        credentials.serving_key,
        credentials.service_account_key,
        credentials.token_auth_file,
    ):
        assert secret.stat().st_mode & 0o077 == 0, secret


def test_token_file_makes_the_admin_a_member_of_the_group(tmp_path: Path) -> None:
    credentials = pki.write_credentials(tmp_path, admin_user="admin", admin_group="system:masters")
    assert credentials.token_auth_file.read_text() == (
        f'{credentials.admin_token},admin,admin,"system:masters"\n'
    )


def test_kubeconfig_names_server_ca_and_token() -> None:
    document = kubeconfig.render(
        server="https://127.0.0.1:6443", ca_pem=b"PEM", user="admin", token="secret"
    )
    cluster = document["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"PEM"
    assert document["users"] == [{"name": "admin", "user": {"token": "secret"}}]
    assert document["current-context"] == document["contexts"][0]["name"]
