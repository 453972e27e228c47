"""The functions' configuration, read from the environment in ``start(cfg)``.

func-python hands ``start`` a copy of the environment; nothing reads
``os.environ`` at import time, so importing a function stays cheap and a test
can start one with any configuration it likes. Every setting has a default
that works for ``make dev``; a value that cannot be used stops the start with
a message naming the variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from kserve_functions.core import grammar
from kserve_functions.telemetry.logs import LogFormat


class AuthMode(StrEnum):
    """How callers are authenticated (DESIGN §6)."""

    NONE = "none"
    KUBERNETES = "kubernetes"


class EventAuth(StrEnum):
    """How events are authenticated when ``AUTH_MODE=kubernetes`` (DESIGN §6)."""

    OIDC = "oidc"
    TRUST_BROKER = "trust-broker"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class ModelUrls:
    """How a model's URL is predicted until KServe reports ``status.url``.

    ``domain`` is KServe's ingress domain (``ingress.ingressDomain`` of the
    ``inferenceservice-config`` ConfigMap; Knative's ``config-domain`` for Knative
    mode, usually the same). Each template is a ``str.format``
    pattern over ``name``, ``namespace`` and ``domain``; the defaults are KServe's
    Standard-mode ingress ``domainTemplate`` and Knative's route domain template.
    Templates are validated where they are configured (``config.Settings``).
    """

    domain: str = "example.com"
    standard_template: str = "http://{name}-{namespace}.{domain}"
    knative_template: str = "http://{name}.{namespace}.{domain}"


@dataclass(frozen=True)
class Settings:
    """Everything a function needs to know about its environment."""

    kubeconfig: str | None = None
    model_urls: ModelUrls = field(default_factory=ModelUrls)
    max_body_bytes: int = 1024 * 1024
    kube_timeout_seconds: float = 10.0
    wait_timeout_default_seconds: float = 60.0
    wait_timeout_max_seconds: float = 600.0
    list_page_size: int = 250
    auth_mode: AuthMode = AuthMode.KUBERNETES
    auth_cache_ttl_seconds: float = 10.0
    auth_cache_size: int = 1024
    event_auth: EventAuth = EventAuth.OIDC
    # None: the function's own name (set by the function at start).
    event_audience: str | None = None
    registry_secret_header: str = "X-Registry-Secret"  # noqa: S105 - a header name
    # Never printed: kept out of repr.
    registry_secret: str | None = field(default=None, repr=False)
    # None: every namespace is allowed.
    allowed_namespaces: frozenset[str] | None = None
    # Empty: every image is allowed.
    allowed_images: tuple[str, ...] = ()
    # Where GET /health dry-runs a create through KServe's webhooks (every cluster has it).
    health_probe_namespace: str = "default"
    # Watch streams (watch=true): at most this many open at once per function
    # instance (each holds one apiserver watch), each ended after
    # stream_max_seconds (below Knative's default request timeout of 300 s; the
    # client reconnects with Last-Event-ID and loses nothing), with a comment
    # line every stream_heartbeat_seconds so proxies keep a quiet stream open.
    max_streams: int = 500
    stream_max_seconds: float = 270.0
    stream_heartbeat_seconds: float = 15.0
    # Where status-change events go (the notify function): K_SINK, which Knative's
    # SinkBinding injects with the sink's CA certificates (K_CA_CERTS, https
    # sinks) and, with Eventing's OIDC on, a token for the sink at /oidc/token.
    event_sink: str | None = None
    event_sink_ca_certs: str | None = field(default=None, repr=False)
    event_sink_token_file: str = "/oidc/token"  # noqa: S105 - a path, no secret
    # A model's history (ControllerRevisions, ``history``): ``GET …/revisions`` and
    # rollback see the newest this many (``history.shown``). The store holds up to
    # twice as many: the change whose revision makes more deletes every one beyond
    # the newest this many, in one deletecollection by their number label
    # (``history.to_prune``, ``operations.changes``; revisions written before the
    # label, one by one by name), so pruning is one request per this many + 1 changes.
    revision_history_limit: int = 10
    # LOG_FORMAT: today's text lines, or one JSON object per line (telemetry.logs).
    log_format: LogFormat = LogFormat.TEXT

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from ``environ`` (func-python's ``cfg``); unset variables keep defaults.

        Raises:
            ConfigError: a variable is set to a value that cannot be used.
        """
        defaults = cls()
        model_urls = ModelUrls(
            domain=environ.get("MODEL_DOMAIN", defaults.model_urls.domain),
            standard_template=_url_template(
                environ, "MODEL_URL_TEMPLATE_STANDARD", defaults.model_urls.standard_template
            ),
            knative_template=_url_template(
                environ, "MODEL_URL_TEMPLATE_KNATIVE", defaults.model_urls.knative_template
            ),
        )
        wait_default = _positive(
            environ, "WAIT_TIMEOUT_DEFAULT_SECONDS", defaults.wait_timeout_default_seconds, float
        )
        wait_max = _positive(
            environ, "WAIT_TIMEOUT_MAX_SECONDS", defaults.wait_timeout_max_seconds, float
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
        event_auth = environ.get("EVENT_AUTH", defaults.event_auth.value)
        if event_auth not in EventAuth.__members__.values():
            choices = ", ".join(mode.value for mode in EventAuth)
            raise ConfigError(f"EVENT_AUTH={event_auth!r} is not one of: {choices}")
        header = environ.get("REGISTRY_SECRET_HEADER", defaults.registry_secret_header).strip()
        if not header or not header.isascii() or any(c in header for c in " :\t"):
            raise ConfigError(f"REGISTRY_SECRET_HEADER={header[:100]!r} is not a header name")
        return cls(
            kubeconfig=environ.get("KUBECONFIG") or None,
            model_urls=model_urls,
            max_body_bytes=_positive(environ, "MAX_BODY_BYTES", defaults.max_body_bytes, int),
            kube_timeout_seconds=_positive(
                environ, "KUBE_TIMEOUT_SECONDS", defaults.kube_timeout_seconds, float
            ),
            wait_timeout_default_seconds=wait_default,
            wait_timeout_max_seconds=wait_max,
            list_page_size=_positive(environ, "LIST_PAGE_SIZE", defaults.list_page_size, int),
            auth_mode=AuthMode(auth),
            auth_cache_ttl_seconds=_positive(
                environ, "AUTH_CACHE_TTL_SECONDS", defaults.auth_cache_ttl_seconds, float
            ),
            auth_cache_size=_positive(environ, "AUTH_CACHE_SIZE", defaults.auth_cache_size, int),
            event_auth=EventAuth(event_auth),
            event_audience=environ.get("EVENT_AUDIENCE") or None,
            registry_secret_header=header,
            registry_secret=_registry_secret(environ),
            allowed_namespaces=_allowed_namespaces(environ),
            allowed_images=_allowed_images(environ),
            health_probe_namespace=_namespace(
                environ, "HEALTH_PROBE_NAMESPACE", defaults.health_probe_namespace
            ),
            max_streams=_positive(environ, "MAX_STREAMS", defaults.max_streams, int),
            stream_max_seconds=_positive(
                environ, "STREAM_MAX_SECONDS", defaults.stream_max_seconds, float
            ),
            stream_heartbeat_seconds=_positive(
                environ, "STREAM_HEARTBEAT_SECONDS", defaults.stream_heartbeat_seconds, float
            ),
            event_sink=_sink_url(environ),
            event_sink_ca_certs=environ.get("K_CA_CERTS") or None,
            event_sink_token_file=environ.get("K_SINK_TOKEN_FILE", defaults.event_sink_token_file),
            revision_history_limit=_positive(
                environ, "REVISION_HISTORY_LIMIT", defaults.revision_history_limit, int
            ),
            log_format=log_format(environ),
        )


def log_format(environ: Mapping[str, str]) -> LogFormat:
    """``LOG_FORMAT`` (text, the default, or json).

    Read on its own too (``app``), so that a start failing on another setting
    already logs in the format asked for.

    Raises:
        ConfigError: it is neither.
    """
    raw = environ.get("LOG_FORMAT", LogFormat.TEXT.value)
    if raw not in LogFormat.__members__.values():
        choices = ", ".join(kind.value for kind in LogFormat)
        raise ConfigError(f"LOG_FORMAT={raw[:100]!r} is not one of: {choices}")
    return LogFormat(raw)


def _url_template(environ: Mapping[str, str], name: str, default: str) -> str:
    """A model URL template: ``str.format`` over ``{name}``, ``{namespace}``, ``{domain}`` only."""
    template = environ.get(name, default)
    try:
        template.format(name="n", namespace="ns", domain="d")
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(
            f"{name}={template!r} may use only {{name}}, {{namespace}} and {{domain}}"
        ) from e
    return template


def _sink_url(environ: Mapping[str, str]) -> str | None:
    """``K_SINK``: an absolute http(s) URL, or None when unset."""
    raw = environ.get("K_SINK", "").strip()
    if not raw:
        return None
    try:
        parsed = urlsplit(raw)
        usable = parsed.scheme in {"http", "https"} and bool(parsed.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        usable = False
    if not usable:
        raise ConfigError(f"K_SINK={raw[:200]!r} is not an absolute http(s) URL")
    return raw


def _names(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _allowed_namespaces(environ: Mapping[str, str]) -> frozenset[str] | None:
    raw = environ.get("ALLOWED_NAMESPACES", "")
    names = _names(raw)
    if not names:
        return None
    for name in names:
        if not grammar.is_dns1123_label(name):
            raise ConfigError(f"ALLOWED_NAMESPACES: {name[:100]!r} is not a namespace name")
    return frozenset(names)


def _namespace(environ: Mapping[str, str], name: str, default: str) -> str:
    value = environ.get(name, default)
    if not grammar.is_dns1123_label(value):
        raise ConfigError(f"{name}={value[:100]!r} is not a namespace name")
    return value


def _allowed_images(environ: Mapping[str, str]) -> tuple[str, ...]:
    patterns = _names(environ.get("ALLOWED_IMAGES", ""))
    for pattern in patterns:
        if any(c.isspace() for c in pattern):
            raise ConfigError(f"ALLOWED_IMAGES: {pattern[:100]!r} is not an image prefix")
    return tuple(patterns)


def _registry_secret(environ: Mapping[str, str]) -> str | None:
    """The registry webhooks' shared secret: ``REGISTRY_SECRET_FILE``, else ``REGISTRY_SECRET``."""
    path = environ.get("REGISTRY_SECRET_FILE")
    if path:
        try:
            secret = Path(path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"REGISTRY_SECRET_FILE={path!r} cannot be read ({type(e).__name__})"
            ) from e
        if not secret:
            raise ConfigError(f"REGISTRY_SECRET_FILE={path!r} is empty")
        return secret
    return environ.get("REGISTRY_SECRET") or None


# The kinds of number a setting may be (``_positive``).
_Number = TypeVar("_Number", int, float)


def _positive(
    environ: Mapping[str, str], name: str, default: _Number, parse: Callable[[str], _Number]
) -> _Number:
    """``environ[name]`` read by ``parse`` (``int`` or ``float``), or ``default`` when unset.

    Raises:
        ConfigError: it is not a number of that kind, or not greater than 0 (NaN included).
    """
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError as e:
        kind = "a whole number" if parse is int else "a number of seconds"
        raise ConfigError(f"{name}={raw!r} is not {kind}") from e
    if not value > 0:
        raise ConfigError(f"{name}={raw!r} must be greater than 0")
    return value
