"""Reading a function's ``GET /metrics`` as the Prometheus client library parses it."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

Series = tuple[str, frozenset[tuple[str, str]]]
"""A sample's name (``_total``, ``_count``, ``_bucket`` … included) and its labels."""


def scrape(base_url: str) -> dict[Series, float]:
    """Every sample of ``base_url``'s ``/metrics`` by series."""
    answer = httpx.get(f"{base_url}/metrics", timeout=30)
    answer.raise_for_status()
    samples: dict[Series, float] = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Mapping[Series, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


def delta(
    before: Mapping[Series, float], after: Mapping[Series, float], name: str, **labels: str
) -> float:
    """How much ``name`` (with ``labels``) grew between two scrapes."""
    return value(after, name, **labels) - value(before, name, **labels)
