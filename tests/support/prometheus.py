"""A real Prometheus for the tests: scrape given targets on loopback, query it, lint with promtool.

The binaries are the ones ``controlplane.binaries`` builds from
``github.com/prometheus/prometheus`` and caches beside the cluster's (without the
web UI: the HTTP API is all a test uses). :func:`running` starts ``prometheus``
on a free port of 127.0.0.1 with a generated configuration
(:func:`config_text`: one ``static_configs`` job per name, scraped and rules
evaluated every second), storage in a folder of the caller's, and waits for
``/-/ready``; it stops the process as the launcher stops its own (SIGTERM, then
SIGKILL after a bound: ``controlplane.processes``). :func:`check_rules` and
:func:`check_metrics` run ``promtool``'s lints.
"""

from __future__ import annotations

import contextlib
import functools
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from controlplane import binaries
from controlplane.errors import ControlPlaneError
from controlplane.processes import ManagedProcess, free_port, raise_if_one_exited

# Prometheus is ready (TSDB opened, configuration loaded) in about a second here.
READY_TIMEOUT_SECONDS = 60.0
# promtool's checks read one file or one scrape: well under a second.
PROMTOOL_TIMEOUT_SECONDS = 60
# The job under which :func:`running` scrapes Prometheus itself, when asked to.
SELF_JOB = "prometheus"
_POLL_SECONDS = 0.2

Result = list[dict[str, Any]]
"""The ``data.result`` of an instant query: for a vector, ``{"metric": …, "value": [t, "v"]}``."""


class QueryError(AssertionError):
    """Prometheus refused or failed a query; the message carries its ``errorType`` and ``error``."""


@functools.cache
def executable(component: binaries.Component) -> Path:
    """The cached binary of ``component``; fails the test with the builder's message if none."""
    try:
        return binaries.ensure(component)
    except ControlPlaneError as e:
        pytest.fail(f"{component.name} could not be built: {e}", pytrace=False)


def config_text(
    jobs: Mapping[str, Sequence[str]],
    *,
    scrape_interval_seconds: float = 1.0,
    rule_files: Sequence[Path] = (),
    target_labels: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """A Prometheus configuration scraping each job's ``host:port`` targets at ``/metrics``.

    Scrapes and rule evaluation share ``scrape_interval_seconds`` (the scrape
    timeout is the same, Prometheus's upper bound); targets are plain http.
    ``target_labels`` gives a job's targets labels (as a PodMonitor's relabeling
    gives a pod's: ``namespace``, ``function``).
    """
    labelled = target_labels or {}
    interval = f"{round(scrape_interval_seconds * 1000)}ms"
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": interval,
            "scrape_timeout": interval,
            "evaluation_interval": interval,
        },
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [
                    {
                        "targets": list(targets),
                        **({"labels": dict(labelled[job])} if job in labelled else {}),
                    }
                ],
            }
            for job, targets in jobs.items()
        ],
    }
    if rule_files:
        config["rule_files"] = [str(path) for path in rule_files]
    return yaml.safe_dump(config, sort_keys=False)


def sample_values(result: Result) -> dict[frozenset[tuple[str, str]], float]:
    """An instant vector's samples by their label set (``__name__`` included when present)."""
    return {frozenset(sample["metric"].items()): float(sample["value"][1]) for sample in result}


@dataclass
class Prometheus:
    """A running Prometheus: its address and HTTP API."""

    process: ManagedProcess
    address: str

    @property
    def url(self) -> str:
        """The base URL of its HTTP API."""
        return f"http://{self.address}"

    def query(self, promql: str) -> Result:
        """The result of the instant query ``promql`` evaluated now.

        Raises:
            QueryError: Prometheus answered ``status: error`` (a parse or
                evaluation error) or not with JSON.
        """
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=30)
        try:
            body = answer.json()
        except ValueError as e:
            raise QueryError(f"{promql!r}: HTTP {answer.status_code}: {answer.text[:300]}") from e
        if body.get("status") != "success":
            raise QueryError(f"{promql!r}: {body.get('errorType')}: {body.get('error')}")
        result: Result = body["data"]["result"]
        return result

    def query_until(
        self,
        promql: str,
        accept: Callable[[Result], bool] = bool,
        *,
        timeout: float = 30.0,
    ) -> Result:
        """Query ``promql`` until ``accept`` takes its result (default: any sample); return it.

        Raises:
            AssertionError: not accepted within ``timeout`` seconds (naming the last result).
            QueryError: the query itself failed.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if accept(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{promql!r} still gave {result} after {timeout:g}s")
            time.sleep(_POLL_SECONDS)


@contextlib.contextmanager
def running(
    workdir: Path,
    jobs: Mapping[str, Sequence[str]],
    *,
    scrape_self: bool = False,
    rule_files: Sequence[Path] = (),
    scrape_interval_seconds: float = 1.0,
    target_labels: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[Prometheus]:
    """Run Prometheus scraping ``jobs`` (``job -> [host:port]``) until the block ends.

    ``workdir`` (made if missing) receives the configuration, the TSDB (``data/``)
    and the log (``prometheus.log``); ``scrape_self`` adds the job :data:`SELF_JOB` for its
    own ``/metrics``. Fails the test (with the log's tail) if Prometheus exits
    or is not ready within :data:`READY_TIMEOUT_SECONDS`.
    """
    address = f"127.0.0.1:{free_port()}"
    all_jobs = {**jobs, SELF_JOB: [address]} if scrape_self else dict(jobs)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        config_text(
            all_jobs,
            scrape_interval_seconds=scrape_interval_seconds,
            rule_files=rule_files,
            target_labels=target_labels,
        )
    )
    argv = [
        str(executable(binaries.PROMETHEUS)),
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address={address}",
    ]
    process = ManagedProcess("prometheus", argv, workdir / "prometheus.log")
    try:
        _wait_ready(process, f"http://{address}/-/ready")
        yield Prometheus(process, address)
    finally:
        process.stop()


def _wait_ready(process: ManagedProcess, ready_url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    seen = "no answer"
    while True:
        try:
            raise_if_one_exited([process], when="while starting")
        except ControlPlaneError as e:
            pytest.fail(str(e), pytrace=False)
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.get(ready_url, timeout=2)
            if answer.status_code == httpx.codes.OK:
                return
            seen = f"HTTP {answer.status_code}"
        if time.monotonic() > deadline:
            pytest.fail(
                f"prometheus not ready within {READY_TIMEOUT_SECONDS:g}s ({seen}):\n"
                f"{process.log_tail()}",
                pytrace=False,
            )
        time.sleep(_POLL_SECONDS)


def check_rules(path: Path) -> tuple[bool, str]:
    """``promtool check rules PATH``: whether it passed, and what it printed."""
    return _promtool(["check", "rules", str(path)])


def check_metrics(exposition: str) -> tuple[bool, str]:
    """``promtool check metrics`` of a text-format ``exposition``: whether it passed, its output."""
    return _promtool(["check", "metrics"], stdin=exposition)


def _promtool(args: Sequence[str], *, stdin: str | None = None) -> tuple[bool, str]:
    done = subprocess.run(
        [str(executable(binaries.PROMTOOL)), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_SECONDS,
        check=False,
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip()
