"""How long the local cluster takes to start and stop (wall clock).

Every integration test session and every ``make dev`` pays the start once, so
this is the fixed cost the test tiers are built around. Measures the whole
KServe cluster and, for comparison, etcd + kube-apiserver alone (what the
launcher's own tests start). Prints one line per phase and run; run it on a
quiet machine and compare medians, not single runs.

    .venv/bin/python bench/controlplane_startup.py [--runs 3]
"""

from __future__ import annotations

import dataclasses
import time

import phases
from controlplane import crds
from controlplane.cluster import ControlPlane, Settings


def _measure_once() -> dict[str, float]:
    bare = ControlPlane(dataclasses.replace(Settings.from_environment(), kserve_cluster=False))
    started = time.perf_counter()
    bare.start()
    bare_ready = time.perf_counter()
    with bare.admin_client() as api_client:
        installed = crds.install(api_client, bare.settings.crd_dir)  # re-apply: the no-op cost
    reapplied = time.perf_counter()
    bare.stop()

    plane = ControlPlane(Settings.from_environment())
    full_started = time.perf_counter()
    plane.start()
    full_ready = time.perf_counter()
    plane.stop()
    stopped = time.perf_counter()
    return {
        "start etcd + apiserver + CRDs served": bare_ready - started,
        f"re-apply {len(installed)} CRDs": reapplied - bare_ready,
        "start the whole KServe cluster (ready as the launcher defines it)": full_ready
        - full_started,
        "stop the whole KServe cluster": stopped - full_ready,
    }


if __name__ == "__main__":
    phases.report(_measure_once, __doc__)
