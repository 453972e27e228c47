"""Nested fields of Kubernetes objects (``kserve_functions.core.fields``)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from kserve_functions.core import fields

KEY = "serving.kserve.io/deploymentMode"
ISVC: dict[str, Any] = {
    "metadata": {"name": "iris", "generation": 3, "annotations": {KEY: "Standard"}},
    "spec": {"predictor": {"containers": [{"name": "a"}, "junk", {"name": "b"}]}},
    "status": {"url": None, "ready": True},
}


def test_a_path_of_keys_reads_the_nested_field() -> None:
    assert fields.get(ISVC, "metadata", "name") == "iris"
    # A key may hold dots and slashes: it is one key, not a dotted path.
    assert fields.get(ISVC, "metadata", "annotations", KEY) == "Standard"
    assert fields.get(ISVC, "spec", "predictor") is ISVC["spec"]["predictor"]


def test_no_keys_is_the_value_itself() -> None:
    assert fields.get(ISVC) is ISVC
    assert fields.text("x") == "x"
    assert fields.integer(7) == 7


@pytest.mark.parametrize(
    "path",
    [
        ("nope",),  # a missing key
        ("metadata", "nope", "deeper"),  # a missing key on the way
        ("status", "url", "host"),  # None on the way
        ("metadata", "name", "x"),  # a string on the way
        ("spec", "predictor", "containers", "0"),  # lists are not indexed
    ],
)
def test_what_is_not_there_is_none(path: tuple[str, ...]) -> None:
    assert fields.get(ISVC, *path) is None
    assert fields.text(ISVC, *path) is None
    assert fields.mapping(ISVC, *path) == {}
    assert fields.items(ISVC, *path) == []


@pytest.mark.parametrize("value", [None, "text", 3, ["a"], ("a",)])
def test_a_value_that_is_no_mapping_has_no_fields(value: object) -> None:
    assert fields.get(value, "metadata") is None
    assert fields.mapping(value, "metadata") == {}


def test_any_mapping_is_read_not_only_a_dict() -> None:
    proxy = MappingProxyType({"metadata": MappingProxyType({"name": "iris"})})
    assert fields.text(proxy, "metadata", "name") == "iris"
    assert fields.mapping(proxy, "metadata") == {"name": "iris"}


def test_a_field_of_another_type_is_none_for_the_typed_readers() -> None:
    assert fields.text(ISVC, "metadata", "generation") is None
    assert fields.integer(ISVC, "metadata", "name") is None
    assert fields.boolean(ISVC, "metadata", "generation") is None
    assert fields.mapping(ISVC, "metadata", "name") == {}
    assert fields.items(ISVC, "metadata") == []


def test_the_typed_readers_read_their_type() -> None:
    assert fields.text(ISVC, "metadata", "name") == "iris"
    assert fields.integer(ISVC, "metadata", "generation") == 3
    assert fields.boolean(ISVC, "status", "ready") is True
    assert fields.mapping(ISVC, "metadata", "annotations") == {KEY: "Standard"}


def test_a_boolean_is_no_integer() -> None:
    # Python's True is the int 1; a generation or a percent never is.
    assert fields.integer(ISVC, "status", "ready") is None
    assert fields.integer({"n": False}, "n") is None


def test_items_keeps_the_mappings_of_a_list_in_order() -> None:
    assert fields.items(ISVC, "spec", "predictor", "containers") == [{"name": "a"}, {"name": "b"}]
    assert fields.items({"list": ({"a": 1}, 2)}, "list") == [{"a": 1}]


def test_the_empty_mapping_cannot_be_written_through() -> None:
    # The one empty mapping is shared: writing to it would change every reader's.
    empty = fields.mapping(ISVC, "nope")
    assert isinstance(empty, Mapping)
    with pytest.raises(TypeError):
        empty["key"] = "value"  # type: ignore[index]


def test_an_objects_namespaced_name_and_resource_version() -> None:
    pod = {"metadata": {"namespace": "ns", "name": "p", "resourceVersion": "42"}}
    assert fields.namespaced_name(pod) == ("ns", "p")
    assert fields.resource_version(pod) == "42"


@pytest.mark.parametrize("obj", [{}, {"metadata": None}, {"metadata": {"name": 5}}, None])
def test_metadata_an_object_lacks_is_empty(obj: object) -> None:
    assert fields.namespaced_name(obj) == ("", "")
    assert fields.resource_version(obj) == ""
