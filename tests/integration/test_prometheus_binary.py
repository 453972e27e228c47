"""The Prometheus built from Go modules: it scrapes, answers PromQL, and promtool lints.

No control plane here: Prometheus scrapes itself on loopback, which is what
the functions' metrics tests build on (tests/support/prometheus.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from controlplane import binaries
from support import prometheus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A rule file as `promtool check rules` takes it: groups of named rules.
_GOOD_RULES = """\
groups:
  - name: example
    rules:
      - alert: TargetDown
        expr: up == 0
        for: 1m
        labels: {severity: warning}
        annotations: {summary: "a scrape target is down"}
"""

# An exposition as promtool's lint wants it: help, type, a counter's _total.
_GOOD_METRICS = """\
# HELP demo_requests_total Requests served.
# TYPE demo_requests_total counter
demo_requests_total{code="200"} 3
"""


@pytest.mark.parametrize(
    "component", [binaries.PROMETHEUS, binaries.PROMTOOL], ids=["prometheus", "promtool"]
)
def test_binary_reports_the_pinned_release(component: binaries.Component) -> None:
    release = binaries.prometheus_release(component.version())
    done = subprocess.run(
        [str(prometheus.executable(component)), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert (done.stdout + done.stderr).startswith(f"{component.name}, version {release} ")


def test_prometheus_scrapes_itself_and_answers_promql(tmp_path: Path) -> None:
    with prometheus.running(tmp_path, {}, scrape_self=True) as server:
        result = server.query_until(f'up{{job="{prometheus.SELF_JOB}"}}')
        exposition = httpx.get(f"{server.url}/metrics", timeout=30).text

        assert prometheus.sample_values(result) == {
            frozenset(
                {("__name__", "up"), ("job", prometheus.SELF_JOB), ("instance", server.address)}
            ): 1.0
        }
        with pytest.raises(prometheus.QueryError, match="bad_data: invalid parameter"):
            server.query("up{")

    # Prometheus 3.16's own exposition parses; promtool's lint (exit status 3, not the
    # parse failure's 1) flags four of its names, each ending in _histogram_seconds.
    ok, output = prometheus.check_metrics(exposition)
    assert not ok
    findings = output.splitlines()
    assert len(findings) == 4, output
    assert all(
        line.endswith("_histogram_seconds metric name should not include type 'histogram'")
        for line in findings
    ), output


def test_promtool_check_metrics_passes_good_names_and_names_the_bad() -> None:
    ok, output = prometheus.check_metrics(_GOOD_METRICS)
    assert (ok, output) == (True, "")

    ok, output = prometheus.check_metrics(_GOOD_METRICS.replace("requests_total", "requests"))
    assert not ok
    assert output == 'demo_requests counter metrics should have "_total" suffix'


def test_prometheus_stops_and_leaves_its_log(tmp_path: Path) -> None:
    with prometheus.running(tmp_path, {"nothing": []}) as server:
        process = server.process

    assert process.exit_code() == 0  # SIGTERM: a clean shutdown, no SIGKILL needed
    assert "See you next time!" in (tmp_path / "prometheus.log").read_text()


def test_promtool_check_rules_passes_good_rules_and_names_the_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(_GOOD_RULES)
    bad = tmp_path / "bad.yaml"
    bad.write_text(_GOOD_RULES.replace("up == 0", "up = = 0"))

    ok, output = prometheus.check_rules(good)
    assert ok, output
    assert "SUCCESS: 1 rules found" in output

    ok, output = prometheus.check_rules(bad)
    assert not ok
    assert "FAILED" in output
