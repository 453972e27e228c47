"""Load and run the project's Knative functions the way Knative would.

Every function package is named ``function`` (the func scaffolding requires
it), so one interpreter cannot import two of them by name: ``load_function``
imports a function's package from its folder under a unique module name.
``ServedFunction`` runs a function as its own process with func-python's
``serve`` — the same entry point the func scaffolding's ``service/main.py``
uses — listening on a loopback port.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
from controlplane.processes import free_port, stop_popens

REPO_ROOT = Path(__file__).resolve().parents[2]

# Small pages and a small body limit, so tests reach the streaming and 413 paths cheaply.
LIST_PAGE_SIZE = 2
MAX_BODY_BYTES = 64 * 1024
FUNCTION_ROOTS: dict[str, Path] = {
    "deploy": REPO_ROOT / "functions" / "deploy",
    "models": REPO_ROOT / "functions" / "models",
    "delete": REPO_ROOT / "functions" / "delete",
    "health": REPO_ROOT / "functions" / "health",
    "notify": REPO_ROOT / "functions" / "notify",
    "ui": REPO_ROOT / "functions" / "ui",
    "mcp": REPO_ROOT / "functions" / "mcp",
    "root": REPO_ROOT,
}


def load_function(name: str) -> ModuleType:
    """The ``function`` package of function ``name``, imported from its folder."""
    package_dir = FUNCTION_ROOTS[name] / "function"
    module_name = f"kserve_function_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(
        module_name, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def new_function(name: str) -> Any:  # the function object func-python serves
    """A fresh instance of function ``name`` (``new()`` of its package)."""
    return load_function(name).new()


_UNREACHABLE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def unreachable_kubeconfig(directory: Path) -> Path:
    """A kubeconfig file in ``directory`` whose server nothing listens on.

    Enough for a function to start (``start`` makes no request) and answer what
    needs no cluster: its OpenAPI document, the console's files, a 401.
    """
    path = directory / "kubeconfig"
    path.write_text(_UNREACHABLE_KUBECONFIG)
    return path


# Started in the function's own folder, so `import function` finds that function.
_SERVE = "from func_python.http import serve; from function import new; serve(new)"


class ServedFunction:
    """A function served by func-python in its own process, on 127.0.0.1."""

    def __init__(self, name: str, env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVE],
            cwd=FUNCTION_ROOTS[name],
            env={**os.environ, **env, "LISTEN_ADDRESS": f"127.0.0.1:{self.port}"},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, *, timeout: float = 60.0) -> None:
        """Return once func-python's readiness endpoint answers 200.

        Raises:
            RuntimeError: the process ended or never became ready (its log included).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited while starting:\n{self.log()}")
            try:
                readiness = f"{self.url}/health/readiness"  # always http://127.0.0.1
                with urllib.request.urlopen(readiness, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} was not ready within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the process as Knative scales a pod down: SIGTERM, SIGKILL after a grace.

        Returns within ``processes.STOP_BOUND_SECONDS`` (``stop_served``).
        """
        stop_served([self])


def stop_served(served: Sequence[ServedFunction]) -> None:
    """Stop ``served`` together within ``processes.STOP_BOUND_SECONDS``; close their logs.

    func-python ends on SIGTERM within hypercorn's 3 s graceful timeout, open
    streams included; one that has not ended after ``STOP_GRACE_SECONDS`` is
    killed (``returncode`` then ``-signal.SIGKILL``).
    """
    stop_popens([function.process for function in served])
    for function in served:
        function._log.close()


class FunctionLauncher:
    """Starts functions with a given environment, in-process (ASGI) or served over HTTP.

    For tests that need functions configured unlike the session's shared ones
    (another kubeconfig, auth on). ``aclose`` stops everything it started.
    """

    def __init__(self, transport: str, log_dir: Path) -> None:
        assert transport in {"asgi", "http"}, transport
        self.transport = transport
        self._log_dir = log_dir
        self._clients: list[httpx.AsyncClient] = []
        self._instances: list[Any] = []
        self._processes: list[ServedFunction] = []

    def start(
        self, name: str, env: Mapping[str, str]
    ) -> tuple[httpx.AsyncClient, ServedFunction | None]:
        """A client for function ``name`` started with ``env``, and its process (None for ASGI)."""
        served: ServedFunction | None = None
        if self.transport == "asgi":
            function = new_function(name)
            function.start(dict(env))
            self._instances.append(function)
            made = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=function.handle), base_url="http://function"
            )
        else:
            served = ServedFunction(name, env, self._log_dir / f"{name}-{len(self._processes)}.log")
            self._processes.append(served)
            served.wait_ready()
            made = httpx.AsyncClient(base_url=served.url, timeout=30)
        self._clients.append(made)
        return made, served

    async def aclose(self) -> None:
        """Close the clients, the in-process functions' sessions and the processes."""
        for made in self._clients:
            await made.aclose()
        for function in self._instances:
            await function.aclose()
        stop_served(self._processes)
