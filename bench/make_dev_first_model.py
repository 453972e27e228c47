"""From ``make dev`` to the first model Ready, as a newcomer meets it (wall clock).

Starts ``make dev`` (binaries already cached: the warm case), waits until the
API answers, deploys a custom-container model with ``wait=true`` and records
when the API answers it Ready -- KServe reconciled it, the controller-manager
rolled its Deployment out, the scheduler placed the pod on a kwok node, kwok
ran it. Then stops ``make dev`` with Ctrl-C, as a person would.

    .venv/bin/python bench/make_dev_first_model.py [--runs 3]
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import phases
from controlplane.processes import free_port

REPO = Path(__file__).resolve().parents[1]
MODEL = {"name": "iris", "image": "kserve/sklearnserver:latest"}


def _measure_once() -> dict[str, float]:
    address = f"127.0.0.1:{free_port()}"
    started = time.perf_counter()
    make = subprocess.Popen(
        ["make", "dev", f"DEV_ADDRESS={address}"],  # noqa: S607 - make from PATH, as a person runs it
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with httpx.Client(base_url=f"http://{address}", timeout=120) as api:
            while True:
                try:
                    if api.get("/health").status_code == 200:  # noqa: PLR2004
                        break
                except httpx.TransportError:
                    pass
                if make.poll() is not None:
                    raise SystemExit(f"make dev ended with status {make.returncode}")
                time.sleep(0.2)
            serving = time.perf_counter()
            answer = api.post("/deploy", params={"wait": "true"}, json=MODEL)
            ready = time.perf_counter()
            if not answer.json().get("ready"):
                raise SystemExit(f"the model is not ready: {answer.text}")
    finally:
        os.killpg(make.pid, signal.SIGINT)
        make.wait(60)
    stopped = time.perf_counter()
    return {
        "make dev to the API answering /health": serving - started,
        "POST /deploy?wait=true to ready": ready - serving,
        "make dev to the first model Ready": ready - started,
        "Ctrl-C to stopped": stopped - ready,
    }


if __name__ == "__main__":
    phases.report(_measure_once, __doc__)
