"""The kubeconfig a local control plane hands to its users.

It is a standard file, so ``kubectl``, the Python client and the functions'
own config loading all read it the same way.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

CONTEXT = "kserve-functions-local"


def render(*, server: str, ca_pem: bytes, user: str, token: str) -> dict[str, Any]:
    """A kubeconfig document for ``user`` authenticating with a bearer ``token``."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user, "namespace": "default"}}
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` readable by the owner only (it holds a token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
