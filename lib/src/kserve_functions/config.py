"""The functions' configuration, read from the environment in ``start(cfg)``.

func-python hands ``start`` a copy of the environment; nothing reads
``os.environ`` at import time, so importing a function stays cheap and a test
can start one with any configuration it likes. Every setting has a default
that works for ``make dev``; a value that cannot be used stops the start with
a message naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from kserve_functions.status import DEFAULT_URL_TEMPLATE


class AuthMode(StrEnum):
    """How callers are authenticated (DESIGN §6)."""

    NONE = "none"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything a function needs to know about its environment."""

    kubeconfig: str | None = None
    model_domain: str = "example.com"
    model_url_template: str = DEFAULT_URL_TEMPLATE
    max_body_bytes: int = 1024 * 1024
    kube_timeout_seconds: float = 10.0
    wait_timeout_default_seconds: float = 60.0
    wait_timeout_max_seconds: float = 600.0
    list_page_size: int = 250
    auth_mode: AuthMode = AuthMode.NONE

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from ``environ`` (func-python's ``cfg``); unset variables keep defaults.

        Raises:
            ConfigError: a variable is set to a value that cannot be used.
        """
        defaults = cls()
        template = environ.get("MODEL_URL_TEMPLATE", defaults.model_url_template)
        try:
            template.format(name="n", namespace="ns", domain="d")
        except (KeyError, IndexError, ValueError) as e:
            raise ConfigError(
                f"MODEL_URL_TEMPLATE={template!r} may use only {{name}}, {{namespace}} "
                "and {domain}"
            ) from e
        wait_default = _positive_float(
            environ, "WAIT_TIMEOUT_DEFAULT_SECONDS", defaults.wait_timeout_default_seconds
        )
        wait_max = _positive_float(
            environ, "WAIT_TIMEOUT_MAX_SECONDS", defaults.wait_timeout_max_seconds
        )
        if wait_default > wait_max:
            raise ConfigError(
                f"WAIT_TIMEOUT_DEFAULT_SECONDS={wait_default:g} exceeds "
                f"WAIT_TIMEOUT_MAX_SECONDS={wait_max:g}"
            )
        auth = environ.get("AUTH_MODE", defaults.auth_mode.value)
        if auth not in AuthMode.__members__.values():
            choices = ", ".join(mode.value for mode in AuthMode)
            raise ConfigError(f"AUTH_MODE={auth!r} is not one of: {choices}")
        return cls(
            kubeconfig=environ.get("KUBECONFIG") or None,
            model_domain=environ.get("MODEL_DOMAIN", defaults.model_domain),
            model_url_template=template,
            max_body_bytes=_positive_int(environ, "MAX_BODY_BYTES", defaults.max_body_bytes),
            kube_timeout_seconds=_positive_float(
                environ, "KUBE_TIMEOUT_SECONDS", defaults.kube_timeout_seconds
            ),
            wait_timeout_default_seconds=wait_default,
            wait_timeout_max_seconds=wait_max,
            list_page_size=_positive_int(environ, "LIST_PAGE_SIZE", defaults.list_page_size),
            auth_mode=AuthMode(auth),
        )


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from e
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than 0")
    return value


def _positive_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from e
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} must be greater than 0")
    return value
