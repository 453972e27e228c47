"""Each function starts at zero the series of the work it does, and only those (a
family without labels, one series, is exposed only by a function doing its work).

Each function is created in a process of its own (the registry is the
process's), as func-python creates it, and its exposition read there.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.functions import FUNCTION_ROOTS

_EXPOSITION = """
import function
from kserve_functions.telemetry import metrics
function.new()
print(metrics.exposition("")[0].decode())
"""

# A family's series at zero, by the work that counts it.
DEPLOYS = "kserve_functions_deploys_total"
WAITS = "kserve_functions_waits_total"
STREAMS = "kserve_functions_streams_open"
REFUSALS = "kserve_functions_stream_refusals_total"
PUSHES = "kserve_functions_registry_pushes_total"
ROLLED = "kserve_functions_models_rolled_total"
PUSH_TO_ROLLED = "kserve_functions_push_to_rolled_seconds_count"
REVIEWS = "kserve_functions_auth_reviews_total"
RECORDS = "kserve_functions_records_failed_total"
EVENTS = "kserve_functions_cloudevents_total"
STREAMING = {STREAMS, REFUSALS}
PUSHING = {PUSHES, ROLLED, PUSH_TO_ROLLED}
EVERY = frozenset({DEPLOYS, WAITS, *STREAMING, *PUSHING, REVIEWS, RECORDS, EVENTS})

AT_ZERO = {
    "root": EVERY,
    "deploy": EVERY,
    "models": {*STREAMING, REVIEWS},
    "delete": {WAITS, REVIEWS, RECORDS, EVENTS},
    "notify": {REVIEWS, EVENTS},
    "mcp": {DEPLOYS, WAITS, *STREAMING, REVIEWS, RECORDS},
    "health": set(),
    "ui": set(),
}


def _series(name: str) -> set[str]:
    """The families with a sample line in function ``name``'s exposition at start."""
    probe = subprocess.run(
        [sys.executable, "-c", _EXPOSITION],
        cwd=FUNCTION_ROOTS[name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    return {
        line.split("{")[0].split(" ")[0]
        for line in probe.stdout.splitlines()
        if line and not line.startswith("#")
    }


@pytest.mark.parametrize("name", sorted(AT_ZERO))
def test_a_function_starts_at_zero_only_the_series_of_its_work(name: str) -> None:
    assert _series(name) & EVERY == AT_ZERO[name]
