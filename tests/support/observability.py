"""k8s/observability/ as files: its alert rules, its dashboard, their PromQL, the metric names.

For the tests that hold the component to the functions' metrics: the unit tests
check every expression's metric names against :data:`CONTRACT`, and a test with
a real Prometheus can evaluate :func:`rule_expressions` and
:func:`dashboard_expressions` (the dashboard's Grafana variables substituted
with :func:`grafana_substituted`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Final

import yaml
from kserve_functions.telemetry import metrics

from support.functions import REPO_ROOT

K8S = REPO_ROOT / "k8s"
OBSERVABILITY = K8S / "observability"
RULES_FILE = OBSERVABILITY / "prometheusrule.yaml"
DASHBOARD_FILE = OBSERVABILITY / "dashboard.json"
RUNBOOK_FILE = K8S / "README.md"

# The metric families every function exposes at GET /metrics (name as exposed →
# type): its own, as kserve_functions.telemetry.metrics defines them, and the
# client library's default process and platform collectors, as far as they are
# reliably there (Linux).
CONTRACT: Final[dict[str, str]] = {
    **{name: family.type for name, family in metrics.FAMILIES.items()},
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_start_time_seconds": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "python_info": "gauge",
}
# The families the functions define themselves (the rest are the client library's).
OWN_FAMILIES: Final = frozenset(n for n in CONTRACT if not n.startswith(("process_", "python_")))

_SUFFIXES: Final = {
    "counter": ("",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}


def samples_of(family: str, kind: str) -> set[str]:
    """The series names a family of ``kind`` is queried by (counters: named with ``_total``)."""
    return {family + suffix for suffix in _SUFFIXES[kind]}


def contract_samples() -> dict[str, str]:
    """Every series name of :data:`CONTRACT` → the family it belongs to."""
    return {
        sample: family for family, kind in CONTRACT.items() for sample in samples_of(family, kind)
    }


# -- PromQL ------------------------------------------------------------------------

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
_NUMBER = re.compile(r"(?<![\w:])\d[\w.]*")
_IDENTIFIER = re.compile(r"[A-Za-z_:][\w:]*")
_KEYWORDS: Final = frozenset(
    {"and", "or", "unless", "bool", "atan2", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "offset", "inf", "nan", "Inf", "NaN"}
)
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<series>.*),)?\s*(?P<label>\w+)\s*\)\s*$")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (not its functions, labels or keywords).

    A small reader for the PromQL the component writes, not a parser: string
    literals, Grafana variables, label matchers, ranges, grouping clauses, offsets
    and numbers are cut out; what remains is function calls (a name before
    ``(``), keywords, and metric names. Grafana's ``label_values(series, label)``
    yields the names in ``series``.
    """
    query = _LABEL_VALUES.match(expr)
    if query is not None:
        return metric_names(query["series"] or "")
    text = _VARIABLE.sub(" ", _STRING.sub('""', expr))
    for cut in (_MATCHERS, _RANGE, _GROUPING, _OFFSET, _NUMBER):
        text = cut.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        if re.match(r"\s*\(", text[match.end() :]) or match[0] in _KEYWORDS:
            continue
        names.add(match[0])
    return names


# -- the files ---------------------------------------------------------------------


def prometheus_rule() -> dict[str, Any]:
    """The PrometheusRule object as written."""
    rule = yaml.safe_load(RULES_FILE.read_text())
    assert isinstance(rule, dict)
    return rule


def alerting_rules() -> list[dict[str, Any]]:
    """Every rule of every group of the PrometheusRule."""
    return [rule for group in prometheus_rule()["spec"]["groups"] for rule in group["rules"]]


def rule_expressions() -> dict[str, str]:
    """Alert name → its PromQL expression."""
    return {rule["alert"]: rule["expr"] for rule in alerting_rules()}


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard as written."""
    board = json.loads(DASHBOARD_FILE.read_text())
    assert isinstance(board, dict)
    return board


def panels() -> Iterator[dict[str, Any]]:
    """Every panel of the dashboard, those inside rows too (rows themselves excluded)."""
    for panel in dashboard()["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def dashboard_expressions() -> dict[str, str]:
    """ "<panel title> <refId>" → its PromQL (Grafana variables left in)."""
    return {
        f"{panel['title']} {target['refId']}": target["expr"]
        for panel in panels()
        for target in panel["targets"]
    }


def variable_queries() -> dict[str, str]:
    """Template variable name → its query, for the variables that query the data source."""
    return {
        variable["name"]: variable["query"]
        for variable in dashboard()["templating"]["list"]
        if variable["type"] == "query"
    }


def grafana_substituted(expr: str, *, namespace: str, rate_interval: str = "1m") -> str:
    """``expr`` as Grafana sends it with every function selected in ``namespace``."""
    return (
        expr.replace("$__rate_interval", rate_interval)
        .replace("$namespace", namespace)
        .replace("$function", ".+")
    )


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def runbook_entries() -> list[str]:
    """The ``###`` headings of k8s/README.md's "Runbook" section, in order."""
    text = RUNBOOK_FILE.read_text()
    section = text.split("\n## Runbook\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^### (.+)$", section, flags=re.MULTILINE)
