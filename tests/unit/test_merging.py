"""The one deep merge (``merging.merged``): KServe's canary merge and fieldsV1 unions."""

from __future__ import annotations

from kserve_functions.core import merging


def test_objects_merge_key_by_key_and_everything_else_is_replaced() -> None:
    base = {"a": {"x": 1, "y": {"z": 2}}, "list": [1, 2], "keep": True}
    override = {"a": {"y": {"w": 3}}, "list": [3], "new": None}

    assert merging.merged(base, override) == {
        "a": {"x": 1, "y": {"z": 2, "w": 3}},
        "list": [3],
        "keep": True,
        "new": None,
    }
    assert base == {"a": {"x": 1, "y": {"z": 2}}, "list": [1, 2], "keep": True}


def test_an_object_over_a_scalar_replaces_it() -> None:
    assert merging.merged({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
