"""The grammar of Kubernetes names and OCI image references, defined once.

Kubernetes names follow ``k8s.io/apimachinery/pkg/util/validation``; image
references follow distribution/reference (``reference/regexp.go``), which the
kubelet's container runtimes parse with. ``models`` validates requests with
these patterns, ``config`` settings, ``operations`` path parameters and
``registry`` push notifications, so all of them agree on what a name is.

The name patterns are strings anchored with ``^…$`` because ``models`` also
publishes them as JSON Schema ``pattern`` values in the OpenAPI document, where a
pattern is otherwise a search; the image-reference patterns are compiled. Match
either with ``re.fullmatch`` (or a predicate here): with ``re.match``, ``$`` would
also accept a trailing newline. The maxima are checked apart from the patterns,
as Kubernetes does, and before them, which also bounds the regex's work on
hostile input.

Pure: it imports nothing from the project, so every layer may use it.
"""

from __future__ import annotations

import re

# -- Kubernetes names ----------------------------------------------------------

# DNS1123LabelMaxLength, DNS1035LabelMaxLength, qualifiedNameMaxLength (the name
# after a key's prefix) and LabelValueMaxLength: all 63, a DNS label's limit.
LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*"

# Namespaces and most object names.
DNS1123_LABEL = rf"^{_DNS1123_LABEL}$"
# Names that must start with a letter: an InferenceService's (KServe's webhook says so).
DNS1035_LABEL = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
# Names that may be dotted (a ServingRuntime, a ServiceAccount).
DNS1123_SUBDOMAIN = rf"^{_DNS1123_SUBDOMAIN}$"
# Environment variable names, as this API accepts them.
C_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"

# A label or annotation key: an optional DNS-1123 subdomain prefix and "/" (the
# prefix's length, at most QUALIFIED_NAME_PREFIX_MAX, is checked apart), then a
# name of at most LABEL_MAX characters, which the pattern itself bounds.
QUALIFIED_NAME = (
    rf"^({_DNS1123_SUBDOMAIN}/)?"
    rf"[A-Za-z0-9]([-A-Za-z0-9_.]{{0,{LABEL_MAX - 2}}}[A-Za-z0-9])?$"
)
QUALIFIED_NAME_PREFIX_MAX = DNS1123_SUBDOMAIN_MAX
QUALIFIED_NAME_MAX = QUALIFIED_NAME_PREFIX_MAX + len("/") + LABEL_MAX
# A label value: empty, or a name like a key's (at most LABEL_MAX characters, checked apart).
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"


def is_dns1123_label(value: str) -> bool:
    """Whether ``value`` is a DNS-1123 label (a namespace name): at most 63 characters."""
    return len(value) <= LABEL_MAX and re.fullmatch(DNS1123_LABEL, value) is not None


def is_dns1035_label(value: str) -> bool:
    """Whether ``value`` is a DNS-1035 label (a model name): at most 63, a letter first."""
    return len(value) <= LABEL_MAX and re.fullmatch(DNS1035_LABEL, value) is not None


# -- OCI image references (distribution/reference) -------------------------------

# NameTotalLengthMax: "host/repository" is at most 255 characters.
NAME_TOTAL_LENGTH_MAX = 255
# A whole reference, tag and digest included, is held to the same bound: stricter
# than distribution/reference, which bounds the name only.
IMAGE_REFERENCE_MAX = NAME_TOTAL_LENGTH_MAX

# A repository: lowercase path components joined by "/".
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
# A registry's domain: DNS-like labels (any case) or a bracketed IPv6 address.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])"

REPOSITORY = re.compile(_REPOSITORY)
# The tag grammar is distribution/reference's ``[\w][\w.-]{0,127}``, whose ``\w``
# (Go's) is ASCII; Python's ``\w`` is not, hence the classes spelled out.
_TAG = r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"
TAG = re.compile(_TAG)
# The digests of the OCI image spec's registered algorithms, which the distribution
# spec defers to: sha256 (what every registry computes) and sha512 (registered,
# optional for implementations). Both encode lowercase hex of a fixed length.
REGISTERED_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")
# A registry host as a push notification names it: the domain, then an optional
# port of at most five digits (range-checked by ``is_registry_host``).
PORT_MAX = 65535
REGISTRY_HOST_MAX = DNS1123_SUBDOMAIN_MAX + len(f":{PORT_MAX}")
REGISTRY_HOST = re.compile(rf"{_DOMAIN_NAME}(?::(?P<port>[0-9]{{1,5}}))?")

# A reference a model may name: [host[:port]/]repository[:tag][@digest]. It keeps
# distribution/reference's general forms where a pull decides: any port digits and
# any digest algorithm with at least 32 hex digits; the tag is TAG (ASCII only, so a
# tag no runtime could pull is refused here rather than failing the pod later).
IMAGE_REFERENCE = re.compile(
    rf"^(?:{_DOMAIN_NAME}(?::[0-9]+)?/)?{_REPOSITORY}(?::{_TAG})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)


def is_image_reference(value: str) -> bool:
    """Whether ``value`` is an image reference a model may name (``IMAGE_REFERENCE``).

    At most ``IMAGE_REFERENCE_MAX`` characters, checked before the pattern.
    """
    return len(value) <= IMAGE_REFERENCE_MAX and IMAGE_REFERENCE.fullmatch(value) is not None


def is_repository(value: str) -> bool:
    """Whether ``value`` is an OCI repository name (without host, tag or digest)."""
    return REPOSITORY.fullmatch(value) is not None


def is_tag(value: str) -> bool:
    """Whether ``value`` is an OCI tag: 1-128 ASCII characters, not starting with '.' or '-'."""
    return TAG.fullmatch(value) is not None


def is_registered_digest(value: str) -> bool:
    """Whether ``value`` is a sha256 or sha512 digest in lowercase hex."""
    return REGISTERED_DIGEST.fullmatch(value) is not None


def is_registry_host(value: str) -> bool:
    """Whether ``value`` is a registry ``host[:port]`` with a port from 1 to ``PORT_MAX``."""
    # The length check first keeps the regex's work bounded on hostile input.
    if len(value) > REGISTRY_HOST_MAX:
        return False
    match = REGISTRY_HOST.fullmatch(value)
    if match is None:
        return False
    port = match.group("port")
    return port is None or 0 < int(port) <= PORT_MAX
