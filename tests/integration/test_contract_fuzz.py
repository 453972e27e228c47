"""The contract, fuzzed: schemathesis runs against the root function's ``/openapi.json``.

The CLI a user would run (``schemathesis run <url>/openapi.json``), with every
check but one, every phase (examples, coverage, fuzzing, stateful), a fixed
seed and a bounded number of examples, against the root function served over
real HTTP on the session's control plane. Any failure (a 5xx, a status or
header the document does not list, an answer that breaks its schema, a valid
request refused, an invalid one accepted) fails the test with schemathesis'
report.

- A 503 passes ``not_a_server_error`` only when it says the cluster did not
  answer in time (KServe's webhook can take its 10 s on a loaded 2-core
  machine): the hooks add a check that fails any other 503.
- Left out: ``use_after_free``. Kubernetes deletes gracefully: after
  ``DELETE`` a model stays readable, in state ``deleting``, until KServe's
  finalizer ran, and the API shows it so by design.
- The function has its own settings: waits (``wait=true``) and streams
  (``watch``, ``follow``) of at most 2 s and 1 s, so no request holds the run
  for minutes; the document states those bounds, since it is built for the
  function's settings.
- Its deploys go to this test's namespace, under a ResourceQuota of a few pods
  (the fuzzer asks for any number of replicas), and the rules OpenAPI cannot
  state are kept by the hooks in ``support/contract_fuzz_hooks.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from support.functions import REPO_ROOT, ServedFunction

pytestmark = [pytest.mark.integration]

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
SEED = 20261129
MAX_EXAMPLES = 25
# The run's bound (the issue's: at most 2 minutes on the 2-core CI machine).
RUN_SECONDS = 120
PHASES = "examples,coverage,fuzzing,stateful"
# A fuzzed deploy may ask for any number of replicas; the quota keeps the cluster's work small.
POD_QUOTA = "4"
FUZZ_SETTINGS = {
    "WAIT_TIMEOUT_MAX_SECONDS": "2",
    "WAIT_TIMEOUT_DEFAULT_SECONDS": "1",
    "STREAM_MAX_SECONDS": "1",
    "STREAM_HEARTBEAT_SECONDS": "1",
}


@pytest.fixture
def fuzzed(
    function_env: dict[str, str],
    namespace: str,
    admin_api: client.ApiClient,
    tmp_path: Path,
) -> Iterator[ServedFunction]:
    """The root function, served for the fuzzer, its deploys bounded by a quota in ``namespace``."""
    client.CoreV1Api(admin_api).create_namespaced_resource_quota(
        namespace,
        client.V1ResourceQuota(
            metadata=client.V1ObjectMeta(name="contract-fuzz"),
            spec=client.V1ResourceQuotaSpec(hard={"pods": POD_QUOTA}),
        ),
    )
    function = ServedFunction("root", {**function_env, **FUZZ_SETTINGS}, tmp_path / "root.log")
    try:
        function.wait_ready()
        yield function
    finally:
        function.stop()


def _config(path: Path, namespace: str) -> Path:
    path.write_text(
        "\n".join(
            [
                'hooks = "contract_fuzz_hooks"',
                "[generation]",
                # The wire is UTF-8: a lone surrogate exists only as a JSON escape.
                'codec = "utf-8"',
                'database = "none"',
                # A 503 (with Retry-After) is the cluster not answering in time on
                # a loaded machine; the hooks' cluster_did_not_answer check fails
                # any other 503.
                "[checks.not_a_server_error]",
                'expected-statuses = ["2xx", "3xx", "4xx", "503"]',
                "[parameters]",
                # Every model path names this test's namespace.
                f'"path.namespace" = "{namespace}"',
                "",
            ]
        )
    )
    return path


def test_the_served_document_holds_under_schemathesis(
    fuzzed: ServedFunction, namespace: str, tmp_path: Path
) -> None:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(_config(tmp_path / "schemathesis.toml", namespace)),
        "run",
        f"{fuzzed.url}/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        "use_after_free",
        "--phases",
        PHASES,
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--continue-on-failure",
        "--request-timeout",
        "30",
        "--no-color",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT / "tests" / "support"),
        "CONTRACT_FUZZ_NAMESPACE": namespace,
    }
    started = time.monotonic()
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=RUN_SECONDS * 2,
        check=False,
    )
    elapsed = time.monotonic() - started

    report = f"{' '.join(command)}\n{done.stdout[-30000:]}\n{done.stderr[-5000:]}"
    # Shown with pytest -rP: the run's summary and time.
    print(f"schemathesis ran {elapsed:.1f} s:\n{done.stdout[-1500:]}")
    assert done.returncode == 0, report
    assert elapsed <= RUN_SECONDS, f"the run took {elapsed:.0f} s\n{report}"
    # The phases ran and requests were made (a run that tested nothing also exits 0).
    assert "Stateful" in done.stdout, report
    assert " generated" in done.stdout, report
