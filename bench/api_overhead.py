"""What the API adds over the apiserver: latency, cold start, memory, list scaling.

Starts a local cluster, serves the root function over real HTTP with
func-python (as Knative runs it), and measures:

- cold start: process spawn until ``/health/readiness`` answers 200;
- ``GET /models/{ns}/{name}`` and ``POST /deploy`` latency, next to the same
  apiserver call made directly with the official client (median, p90);
- ``GET /models`` for N models (streamed page by page) and the server's peak
  RSS before and after, to show memory stays flat as N grows.

    .venv/bin/python bench/api_overhead.py [--requests 200] [--models 1000] [--with-kserve]

By default the cluster is etcd + kube-apiserver only, so the numbers are the
API's own overhead over the apiserver. ``--with-kserve`` runs the whole KServe
cluster: every write then also passes KServe's admission webhooks (as in a
real cluster) and KServe reconciles every listed model, so keep ``--models``
small there (each model asks its node for 1 CPU).

Numbers from a shared 2-core machine are noisy: compare medians of runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import phases
import served_api
from controlplane.cluster import ControlPlane, Settings
from kserve_functions.core.resources import INFERENCE_SERVICE
from kubernetes import client


def _timed(call: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _report(label: str, samples: list[float]) -> None:
    median, p90 = statistics.median(samples), phases.percentile(samples, 0.9)
    print(f"{label}: median {median:.2f} ms, p90 {p90:.2f} ms")


def _http(method: str, url: str, body: Mapping[str, object] | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    if data is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
        return bytes(answer.read())


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--with-kserve", action="store_true")
    args = parser.parse_args()

    settings = dataclasses.replace(Settings.from_environment(), kserve_cluster=args.with_kserve)
    with ControlPlane(settings) as plane, tempfile.TemporaryDirectory() as tmp:
        admin = plane.admin_client()
        core = client.CoreV1Api(admin)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="bench")))
        # The admin client's connections are closed on the way out, after the server stopped.
        with admin, served_api.serve_root(plane.kubeconfig_path, Path(tmp)) as server:
            print(f"cold start (spawn to ready): {server.cold_start_seconds * 1000:.0f} ms")
            base = server.url
            body = {"name": "iris", "image": "r/iris:1", "namespace": "bench"}
            _http("POST", f"{base}/deploy", body)
            custom = client.CustomObjectsApi(admin)
            g, v, p = INFERENCE_SERVICE.group, INFERENCE_SERVICE.version, INFERENCE_SERVICE.plural
            _report(
                "apiserver GET (direct, python client)",
                _timed(
                    lambda: custom.get_namespaced_custom_object(g, v, "bench", p, "iris"),
                    args.requests,
                ),
            )
            _report(
                "API GET /models/bench/iris",
                _timed(lambda: _http("GET", f"{base}/models/bench/iris"), args.requests),
            )
            _report(
                "API POST /deploy (update, server-side apply)",
                _timed(lambda: _http("POST", f"{base}/deploy", body), max(args.requests // 4, 10)),
            )
            rss_before = _rss_kib(server.process.pid)
            for index in range(args.models):
                manifest = {
                    "apiVersion": INFERENCE_SERVICE.api_version,
                    "kind": INFERENCE_SERVICE.kind,
                    "metadata": {"name": f"m{index:05d}"},
                    "spec": {
                        "predictor": {
                            "containers": [{"name": "kserve-container", "image": "r/m:1"}]
                        }
                    },
                }
                custom.create_namespaced_custom_object(g, v, "bench", p, manifest)
            listed = _timed(lambda: _http("GET", f"{base}/models?namespace=bench"), 5)
            count = json.loads(_http("GET", f"{base}/models?namespace=bench"))["count"]
            _report(f"API GET /models ({count} models, streamed)", listed)
            rss_after = _rss_kib(server.process.pid)
            print(f"server peak RSS: {rss_before} KiB before the list, {rss_after} KiB after")


if __name__ == "__main__":
    main()
