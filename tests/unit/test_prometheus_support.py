"""The pure parts of tests/support/prometheus.py: the generated configuration, reading a vector."""

from __future__ import annotations

from pathlib import Path

import yaml
from support import prometheus


def test_config_scrapes_each_job_at_the_interval_and_names_the_rule_files() -> None:
    text = prometheus.config_text(
        {"functions": ["127.0.0.1:8081", "127.0.0.1:8082"], "prometheus": ["127.0.0.1:9090"]},
        scrape_interval_seconds=0.5,
        rule_files=[Path("/rules/alerts.yaml")],
    )

    assert yaml.safe_load(text) == {
        "global": {
            "scrape_interval": "500ms",
            "scrape_timeout": "500ms",
            "evaluation_interval": "500ms",
        },
        "scrape_configs": [
            {
                "job_name": "functions",
                "static_configs": [{"targets": ["127.0.0.1:8081", "127.0.0.1:8082"]}],
            },
            {"job_name": "prometheus", "static_configs": [{"targets": ["127.0.0.1:9090"]}]},
        ],
        "rule_files": ["/rules/alerts.yaml"],
    }


def test_config_without_rules_has_no_rule_files_and_scrapes_every_second() -> None:
    config = yaml.safe_load(prometheus.config_text({"job": ["127.0.0.1:1"]}))

    assert "rule_files" not in config
    assert config["global"]["scrape_interval"] == "1000ms"


def test_sample_values_are_keyed_by_label_set() -> None:
    result = [
        {"metric": {"__name__": "up", "job": "a"}, "value": [1700000000.0, "1"]},
        {"metric": {"__name__": "up", "job": "b"}, "value": [1700000000.0, "0"]},
        {"metric": {}, "value": [1700000000.0, "2.5"]},
    ]

    assert prometheus.sample_values(result) == {
        frozenset({("__name__", "up"), ("job", "a")}): 1.0,
        frozenset({("__name__", "up"), ("job", "b")}): 0.0,
        frozenset(): 2.5,
    }


def test_target_labels_go_to_their_job_only() -> None:
    config = yaml.safe_load(
        prometheus.config_text(
            {"kserve-api": ["127.0.0.1:8080"], "other": ["127.0.0.1:8081"]},
            target_labels={"kserve-api": {"namespace": "kserve-functions"}},
        )
    )

    assert [job["static_configs"] for job in config["scrape_configs"]] == [
        [{"targets": ["127.0.0.1:8080"], "labels": {"namespace": "kserve-functions"}}],
        [{"targets": ["127.0.0.1:8081"]}],
    ]
