"""Nested fields of Kubernetes objects as JSON: the one way the library reads them.

An object comes from the apiserver, a watch, or a CloudEvent as decoded JSON,
and anyone with access may have written it (``kubectl``, GitOps tools, older
KServe versions), so any field may be missing, ``null``, or of another type.
Every reader here takes the object and a path of keys,
``fields.text(isvc, "metadata", "annotations", KEY)``, and never raises on such
input: what is not there, or not of the type asked for, comes back as ``None``
(or an empty mapping or list).

A path is a sequence of mapping keys, not a dotted string: annotation and label
keys hold dots and slashes (``serving.kserve.io/deploymentMode``). Lists are not
indexed: a list on the way ends the path as missing; ``items`` reads the list
at the end of a path. With no keys, each reader reads the value itself
(``fields.text(value)`` is ``value`` if it is a string).

Pure: no I/O, nothing changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})
# The walks below tell the mappings they meet most by their exact type: JSON
# objects decode to dicts, and the readers hand back ``_EMPTY`` (a
# MappingProxyType); a missing field is None. These skip ``isinstance(value,
# Mapping)``, an ABC check in Python (~0.5 µs for a MappingProxyType, against
# ~30 ns), which only other mappings reach. A walk runs dozens of times per
# model read, for every model of a list.


def get(value: object, *path: str) -> object:
    """``value[path[0]][path[1]]...``; None when a key is missing or a step on
    the way is None or not a mapping (a list included)."""
    return _at(value, path)


def mapping(value: object, *path: str) -> Mapping[str, Any]:
    """The mapping at ``path``; an empty one (read-only) when there is none."""
    found = _at(value, path)
    if (
        type(found) is dict
        or type(found) is MappingProxyType
        or (found is not None and isinstance(found, Mapping))
    ):
        return found
    return _EMPTY


def text(value: object, *path: str) -> str | None:
    """The string at ``path``; None when there is none or it is not a string."""
    # ``_at``'s walk, inlined: the most read type, dozens of times per model read
    # (a list of 10,000 models reads it for each); one call less keeps a model's
    # read as fast as before this module.
    for key in path:
        if (
            type(value) is not dict
            and type(value) is not MappingProxyType
            and (value is None or not isinstance(value, Mapping))
        ):
            return None
        value = value.get(key)
    return value if isinstance(value, str) else None


def integer(value: object, *path: str) -> int | None:
    """The integer at ``path``; None when there is none or it is not an integer.

    ``true`` is no integer here, although Python's ``bool`` is one: never a
    generation, a replica count or a percent.
    """
    found = _at(value, path)
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def boolean(value: object, *path: str) -> bool | None:
    """The boolean at ``path``; None when there is none or it is not a boolean."""
    found = _at(value, path)
    return found if isinstance(found, bool) else None


def items(value: object, *path: str) -> list[Mapping[str, Any]]:
    """The mapping items of the list at ``path``, in order; anything else in it is
    dropped, and a missing or non-list field gives an empty list."""
    found = _at(value, path)
    # JSON decodes to lists: the exact test skips building ``list | tuple`` anew.
    if type(found) is not list and not isinstance(found, list | tuple):
        return []
    return [item for item in found if type(item) is dict or isinstance(item, Mapping)]


# -- the metadata every object has -------------------------------------------------


def namespaced_name(obj: object) -> tuple[str, str]:
    """``(metadata.namespace, metadata.name)`` of ``obj``; "" for one it lacks.

    The apiserver names every object it returns (and namespaces every namespaced
    one), so "" appears only for an object that did not come from it.
    """
    return text(obj, "metadata", "namespace") or "", text(obj, "metadata", "name") or ""


def resource_version(obj: object) -> str:
    """``metadata.resourceVersion`` of ``obj``; "" when it has none (a list's
    re-sync marker, an object not from the apiserver)."""
    return text(obj, "metadata", "resourceVersion") or ""


def _at(value: object, path: tuple[str, ...]) -> object:
    # The readers pass their path on as it came (no second unpacking of it).
    for key in path:
        # Exact types first: see the note on ``_EMPTY``.
        if (
            type(value) is not dict
            and type(value) is not MappingProxyType
            and (value is None or not isinstance(value, Mapping))
        ):
            return None
        value = value.get(key)
    return value
