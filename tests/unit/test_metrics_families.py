"""The metric families: the README's table is the module's, and outcomes map from statuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from kserve_functions.telemetry import metrics

README = Path(__file__).resolve().parents[2] / "README.md"


def _families() -> dict[str, tuple[str, tuple[str, ...]]]:
    return {name: (f.type, f.labels) for name, f in metrics.FAMILIES.items()}


def test_every_family_is_registered_as_described() -> None:
    # As a function doing all the work registers them (the root function).
    metrics.start_at_zero(tuple(metrics.Work))
    exposed = {
        family.name: family.type
        for registry in metrics.registries()
        for family in registry.collect()
    }
    for name, family in metrics.FAMILIES.items():
        # The registry names a counter without its _total suffix.
        assert exposed[name.removesuffix("_total")] == family.type, name


def test_the_readme_lists_every_family_with_its_type_and_labels() -> None:
    rows = re.findall(
        r"^\| `([a-z_]+)` \| (counter|gauge|histogram) \| ([^|]*) \|", README.read_text(), re.M
    )
    listed = {
        name: (kind, tuple(re.findall(r"`([a-z_]+)`", labels))) for name, kind, labels in rows
    }
    assert listed == _families()


def test_no_family_is_labelled_by_what_a_caller_names() -> None:
    forbidden = {"name", "model", "namespace", "user", "path", "pod"}
    for name, (_, labels) in _families().items():
        assert not forbidden & set(labels), name


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, "invalid"),
        (401, "forbidden"),
        (403, "forbidden"),
        (404, "not_found"),
        (409, "conflict"),
        (422, "invalid"),
        (503, "unavailable"),
        (500, "error"),
        (502, "error"),
    ],
)
def test_outcomes_come_from_the_problems_status(status: int, outcome: str) -> None:
    assert metrics.outcome(status) == outcome
