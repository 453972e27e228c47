"""The functions' metrics as a real Prometheus sees them.

Prometheus (built from Go modules, ``tests/support/prometheus.py``) scrapes a
root function of this module's own every second, with the target labels the
observability component's PodMonitor gives a function's pods (``namespace``,
``function``). After a known sequence of requests and events, PromQL returns
the expected counts; every query of the shipped dashboard and every alert
expression is evaluated by it without error and returns data where the
sequence produced some; ``promtool`` lints the rules and the exposition.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from support import observability, prometheus
from support.functions import ServedFunction

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAMESPACE = "kserve-functions"
FUNCTION = "kserve-api"
# The dashboard's panels that the sequence below gives data (the others are of
# what it does not do: pushes, status events, auth under AUTH_MODE=none, 5xx).
PANELS_WITH_DATA = (
    "Requests per second A",
    "Requests by status code A",
    "Duration by route (p50, p95, p99) A",
    "In-flight requests A",
    "Pods serving A",
    "CPU A",
    "Resident memory (largest pod) A",
    "Deploys by action and outcome A",
    "wait=true waits by result A",
    "CloudEvents by type and outcome A",
    "Apiserver calls by verb and resource A",
    "Apiserver answers other than 2xx A",
    "Apiserver latency (p95, p99) A",
    "Watches open A",
    "List bytes streamed A",
)
ALERTS_WITH_DATA = ("KServeFunctionsEventsRefused",)


@pytest.fixture(scope="module")
def root(function_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    function = ServedFunction("root", function_env, tmp_path_factory.mktemp("scraped") / "root.log")
    function.wait_ready()
    yield function.url
    function.stop()


def _sequence(url: str, namespace: str) -> None:
    """Three models created, one updated and waited for, a refused body, a missing
    model, a list, and a CloudEvent of a type the function does not take."""
    for name in ("a", "b", "c"):
        made = httpx.post(
            f"{url}/deploy",
            json={"name": name, "namespace": namespace, "image": "r/m:1"},
            timeout=60,
        )
        assert made.status_code == 201, made.text
    waited = httpx.post(
        f"{url}/deploy",
        params={"wait": "true", "timeout": "60"},
        json={"name": "a", "namespace": namespace, "image": "r/m:2"},
        timeout=90,
    )
    assert waited.status_code == 200, waited.text
    assert httpx.post(f"{url}/deploy", json={"name": "Bad"}, timeout=30).status_code == 422
    assert httpx.get(f"{url}/models/{namespace}/missing", timeout=30).status_code == 404
    assert httpx.get(f"{url}/models", params={"namespace": namespace}, timeout=30).is_success
    refused = httpx.post(
        url,
        headers={
            "ce-specversion": "1.0",
            "ce-id": "e-1",
            "ce-source": "tests",
            "ce-type": "com.example.not.ours",
            "content-type": "application/json",
        },
        json={},
        timeout=30,
    )
    assert refused.status_code == 400, refused.text


def test_prometheus_counts_the_sequence_and_evaluates_the_dashboard_and_alerts(
    root: str, namespace: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(observability.prometheus_rule()["spec"], sort_keys=False))
    checked, said = prometheus.check_rules(rules)
    assert checked, said
    target = root.removeprefix("http://")
    labels = {"namespace": NAMESPACE, "function": FUNCTION}
    with prometheus.running(
        tmp_path,
        {FUNCTION: [target]},
        rule_files=[rules],
        target_labels={FUNCTION: labels},
    ) as server:
        server.query_until(f'up{{job="{FUNCTION}"}} == 1')
        _sequence(root, namespace)

        def total(promql: str, expected: float) -> None:
            server.query_until(
                promql,
                lambda result: [float(s["value"][1]) for s in result] == [expected],
            )

        total('sum(kserve_functions_deploys_total{action="created", outcome="ok"})', 3)
        total('sum(kserve_functions_deploys_total{action="updated", outcome="ok"})', 1)
        total('sum(kserve_functions_waits_total{result="ready"})', 1)
        total(
            'sum(http_server_request_duration_seconds_count{http_route="/deploy",'
            ' http_response_status_code="422"})',
            1,
        )
        total('sum(kserve_functions_cloudevents_total{type="other", outcome="refused"})', 1)

        # A panel's rate() needs two scrapes of a series inside its window, and a
        # series the sequence created (a route's first request) has its first
        # sample only at the scrape after it: wait for each panel that must show
        # data; every other panel is evaluated once (it must not be an error).
        def panel(name: str, expr: str) -> prometheus.Result:
            promql = observability.grafana_substituted(expr, namespace=NAMESPACE)
            if name not in PANELS_WITH_DATA:
                return server.query(promql)
            try:
                return server.query_until(promql)
            except AssertionError:
                return []  # named below with the other panels left without data

        evaluated = {
            name: panel(name, expr) for name, expr in observability.dashboard_expressions().items()
        }
        # The variables are Grafana's label_values(<selector>, <label>): the selector
        # must find the scraped function, with the label the variable lists.
        for query in observability.variable_queries().values():
            selector, label = query.removeprefix("label_values(").removesuffix(")").rsplit(", ", 1)
            found = server.query(selector.replace("$namespace", NAMESPACE))
            assert {s["metric"].get(label) for s in found} >= {labels[label]}, query
        alerts = {
            name: server.query(expr) for name, expr in observability.rule_expressions().items()
        }

    empty = [name for name in PANELS_WITH_DATA if not evaluated[name]]
    assert empty == [], f"panels without data: {empty}"
    firing = [name for name, result in alerts.items() if result]
    assert sorted(firing) == sorted(ALERTS_WITH_DATA)


def test_promtool_lints_the_functions_exposition(root: str) -> None:
    exposition = httpx.get(f"{root}/metrics", timeout=30).text
    checked, said = prometheus.check_metrics(exposition)
    assert checked, said
