"""The launcher starts and stops clusters without leaving anything behind.

Each test here starts its own cluster besides the session's: most only etcd
and kube-apiserver with a small CRD folder (``kserve_cluster=False``,
``--without-kserve``), so that they start in seconds; the CLI tests of Ctrl-C,
of a killed launcher and of a repository standing alone (no ``shared`` folder
beside it: the CRDs and KServe's configuration come from the pinned Go modules)
run the whole KServe cluster, as ``make dev`` does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from controlplane import binaries, crds, kserve
from controlplane.cli import CTRL_C_GRACE_SECONDS
from controlplane.cluster import REPO_ROOT, STOP_BOUND_SECONDS, ControlPlane, Settings
from controlplane.errors import ControlPlaneError
from controlplane.processes import STOP_BOUND_SECONDS as PROCESS_STOP_BOUND_SECONDS
from controlplane.processes import free_port
from kubernetes import client, config
from support.objects import as_dict
from support.sockets import get_closed_by_server, time_wait_on

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# One small CRD from each upstream folder: enough to exercise install and wait.
_SMALL_CRDS = {
    "kserve": "serving.kserve.io_clusterservingruntimes.yaml",
    "knative-serving": "domain-mapping.yaml",
    "knative-eventing": "broker.yaml",
    "gateway-api": "gateway.networking.k8s.io_referencegrants.yaml",
}


@pytest.fixture
def small_crd_dir(tmp_path: Path) -> Path:
    source = Settings.from_environment().crd_dir
    target = tmp_path / "crds"
    for folder, name in _SMALL_CRDS.items():
        (target / folder).mkdir(parents=True)
        shutil.copy(crds.crd_file(folder, name, source), target / folder / name)
    return target


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent has not collected it yet.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def _wait_gone(pids: list[int], *, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


# What the launcher may take beyond its processes' stops (``cluster.STOP_BOUND_SECONDS``):
# removing its folder and the interpreter's exit, on a loaded 2-core machine.
_EXIT_SLACK_SECONDS = 5.0


def _work_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("kserve-functions-controlplane-*"))


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder of this test's own for the launcher's work dirs.

    Other control planes on the machine (the session's, another run's) make and
    remove work dirs of their own meanwhile; comparing the shared /tmp would
    count theirs.
    """
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    return private


def test_stop_ends_both_processes_and_removes_all_files(
    small_crd_dir: Path, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    plane = ControlPlane(
        Settings(crd_dir=small_crd_dir, kubeconfig_path=kubeconfig, kserve_cluster=False)
    )
    plane.start()
    pids, work_dir = plane.pids, plane.work_dir
    assert len(pids) == 2
    assert all(_alive(pid) for pid in pids)
    assert kubeconfig.stat().st_mode & 0o077 == 0, "the kubeconfig holds a token: owner only"

    plane.stop()

    assert _wait_gone(pids, timeout=0) == []
    assert not work_dir.exists()
    assert not kubeconfig.exists()
    plane.stop()  # idempotent


class _Launcher:
    """``python -m controlplane up`` as a user runs it, in its own process."""

    def __init__(
        self,
        kubeconfig: Path,
        *,
        bare_crd_dir: Path | None = None,
        sigint_ignored: bool = False,
        beside: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """Start the KServe cluster, or etcd and kube-apiserver only with ``bare_crd_dir``.

        ``sigint_ignored`` starts it as a background job of a shell does (or a
        CI runner that ignores SIGINT): with SIGINT ignored, inherited across
        exec. ``beside`` is the command after ``--``; ``env`` adds to the
        environment; ``cwd`` is where it runs. In a process group of its own,
        as a terminal's job.
        """
        bare_env = {"CRD_DIR": str(bare_crd_dir)} if bare_crd_dir else {}
        bare = ["--without-kserve"] if bare_crd_dir else []
        ignoring = ["sh", "-c", 'trap \'\' INT; exec "$0" "$@"'] if sigint_ignored else []
        self.kubeconfig = kubeconfig
        command = [sys.executable, "-m", "controlplane", "up", "--kubeconfig", str(kubeconfig)]
        self.process = subprocess.Popen(
            [*ignoring, *command, *bare, *(["--", *beside] if beside else [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **bare_env, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        self.output: list[str] = []
        self.read_until("press Ctrl-C")

    def read_until(self, prefix: str) -> None:
        """Read the launcher's output up to a line starting with ``prefix``."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith(prefix):
                return
        pytest.fail(f"launcher ended before {prefix!r}:\n" + "".join(self.output))

    def ctrl_c(self) -> None:
        """What a terminal does on Ctrl-C: SIGINT to the job's whole process group."""
        os.killpg(self.process.pid, signal.SIGINT)

    def children(self) -> list[int]:
        pid = self.process.pid
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]

    def stopped_within(self, seconds: float, *, after: str) -> str:
        """The launcher's further output once it ended; fails if it ran over ``seconds``."""
        try:
            rest, _ = self.process.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            pytest.fail(f"controlplane up still ran {seconds:g}s after {after}")
        return rest

    def work_dir(self) -> Path:
        """The temporary folder, read from etcd's ``--data-dir=<work dir>/etcd``."""
        for child in self.children():
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                for argument in cmdline.read().decode().split("\0"):
                    if argument.startswith("--data-dir="):
                        return Path(argument.removeprefix("--data-dir=")).parent
        raise AssertionError("no etcd child with --data-dir")


def _end(launcher: _Launcher) -> None:
    if launcher.process.poll() is None:
        # The group: the command beside has no parent-death signal. (Checked first: a
        # launcher not yet reaped keeps its group id from being reused.)
        os.killpg(launcher.process.pid, signal.SIGKILL)
    launcher.process.communicate()


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[_Launcher]:
    """``controlplane up`` of the whole KServe cluster, as ``make dev`` runs it."""
    started = _Launcher(tmp_path / "kubeconfig")
    yield started
    _end(started)


@pytest.fixture
def bare_launcher(small_crd_dir: Path, tmp_path: Path) -> Iterator[_Launcher]:
    """``controlplane up --without-kserve``: etcd and kube-apiserver only."""
    started = _Launcher(tmp_path / "kubeconfig", bare_crd_dir=small_crd_dir)
    yield started
    _end(started)


def test_cli_prints_the_kubeconfig_and_stops_cleanly_on_ctrl_c(launcher: _Launcher) -> None:
    assert f"kubeconfig: {launcher.kubeconfig}\n" in launcher.output
    assert (
        "running: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok, "
        "kserve-controller\n"
    ) in launcher.output
    assert launcher.kubeconfig.exists()
    children = launcher.children()
    assert len(children) == 6

    launcher.process.send_signal(signal.SIGINT)
    rest = launcher.stopped_within(STOP_BOUND_SECONDS + _EXIT_SLACK_SECONDS, after="SIGINT")

    assert launcher.process.returncode == 0, rest
    # Exactly this line: every component ended on SIGTERM within the grace, none was killed.
    assert "control plane stopped" in rest.splitlines(), rest
    assert _wait_gone(children, timeout=0) == []
    assert not launcher.kubeconfig.exists()


def test_cli_stops_on_ctrl_c_when_started_with_sigint_ignored(
    small_crd_dir: Path, tmp_path: Path
) -> None:
    # Python raises KeyboardInterrupt for SIGINT only if SIGINT was not ignored at its
    # start; a launcher that inherited SIG_IGN ran on after Ctrl-C until killed.
    launcher = _Launcher(tmp_path / "kubeconfig", bare_crd_dir=small_crd_dir, sigint_ignored=True)
    try:
        children = launcher.children()

        launcher.process.send_signal(signal.SIGINT)
        rest = launcher.stopped_within(STOP_BOUND_SECONDS + _EXIT_SLACK_SECONDS, after="SIGINT")

        assert launcher.process.returncode == 0, rest
        assert "control plane stopped" in rest.splitlines(), rest
        assert _wait_gone(children, timeout=0) == []
    finally:
        _end(launcher)


def test_make_dev_restarts_right_after_ctrl_c(small_crd_dir: Path, tmp_path: Path) -> None:
    # `make dev`: the launcher with the API server beside it, on a fixed address.
    address = f"127.0.0.1:{free_port()}"
    port = int(address.rpartition(":")[2])

    def make_dev() -> _Launcher:
        started = _Launcher(
            tmp_path / "kubeconfig",
            bare_crd_dir=small_crd_dir,
            beside=[sys.executable, str(REPO_ROOT / "tools" / "dev" / "serve_root.py")],
            env={"LISTEN_ADDRESS": address, "AUTH_MODE": "none"},
        )
        started.read_until("serving the API")
        return started

    def readiness() -> bytes:
        deadline = time.monotonic() + 30
        while True:
            try:
                return get_closed_by_server(port, "/health/readiness")
            except ConnectionRefusedError:  # announced, not yet bound
                assert time.monotonic() < deadline, "the API server did not listen"
                time.sleep(0.1)

    first = make_dev()
    try:
        answer = readiness()
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        first.ctrl_c()
        rest = first.stopped_within(
            CTRL_C_GRACE_SECONDS
            + PROCESS_STOP_BOUND_SECONDS
            + STOP_BOUND_SECONDS
            + _EXIT_SLACK_SECONDS,
            after="Ctrl-C",
        )
        assert first.process.returncode == 0, rest
        assert "control plane stopped" in rest.splitlines(), rest
        # The API server ends on the Ctrl-C it got too, not on a SIGTERM landing as its
        # event loop closes (CPython then prints a traceback: the wakeup fd is gone).
        assert "Traceback" not in rest, rest
    finally:
        _end(first)
    # What refused the restart: the first server's connection, in TIME_WAIT for a minute.
    assert time_wait_on(port)

    second = make_dev()
    try:
        answer = readiness()
        assert answer.startswith(b"HTTP/1.1 200 "), answer
    finally:
        _end(second)


# A command beside that takes a moment to end on Ctrl-C, as a server closing its
# event loop does, and says which signal ended it.
_ENDS_ON_SIGINT = """
import signal, sys, time
def ending(signum, frame):
    time.sleep(0.5)
    print("ended on", signal.Signals(signum).name, flush=True)
    sys.exit(0)
signal.signal(signal.SIGINT, ending)
signal.signal(signal.SIGTERM, ending)
print("serving", flush=True)
while True:
    time.sleep(1)
"""


def test_ctrl_c_lets_the_command_beside_end_on_its_own_sigint(
    small_crd_dir: Path, tmp_path: Path
) -> None:
    started = _Launcher(
        tmp_path / "kubeconfig",
        bare_crd_dir=small_crd_dir,
        beside=[sys.executable, "-c", _ENDS_ON_SIGINT],
    )
    try:
        started.read_until("serving")
        started.ctrl_c()
        rest = started.stopped_within(
            CTRL_C_GRACE_SECONDS
            + PROCESS_STOP_BOUND_SECONDS
            + STOP_BOUND_SECONDS
            + _EXIT_SLACK_SECONDS,
            after="Ctrl-C",
        )
    finally:
        _end(started)
    # Not sent SIGTERM while it was ending: its SIGINT handler ran to the end.
    assert "ended on SIGINT" in rest.splitlines(), rest
    assert "SIGTERM" not in rest, rest
    assert "control plane stopped" in rest.splitlines(), rest


def test_cli_stops_cleanly_on_sigterm(bare_launcher: _Launcher) -> None:
    children = bare_launcher.children()
    assert len(children) == 2

    bare_launcher.process.terminate()
    bare_launcher.stopped_within(STOP_BOUND_SECONDS + _EXIT_SLACK_SECONDS, after="SIGTERM")

    assert bare_launcher.process.returncode == 0
    assert _wait_gone(children, timeout=0) == []


def test_a_component_that_dies_stops_the_cluster_naming_it(bare_launcher: _Launcher) -> None:
    children = bare_launcher.children()
    etcd = next(pid for pid in children if "--data-dir=" in _cmdline(pid))

    os.kill(etcd, signal.SIGKILL)
    rest, _ = bare_launcher.process.communicate(timeout=30)

    assert bare_launcher.process.returncode == 1
    assert (
        "error: etcd exited with status -9 while the cluster ran (everything is stopped); its log ("
    ) in rest
    assert _wait_gone(children, timeout=0) == []
    assert not bare_launcher.kubeconfig.exists()


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().decode().replace("\0", " ")


def test_children_die_with_a_killed_launcher(launcher: _Launcher) -> None:
    children = launcher.children()
    work_dir = launcher.work_dir()

    launcher.process.kill()
    launcher.process.wait()

    # No cleanup code ran; the kernel's parent-death signal stops the children.
    assert _wait_gone(children) == []
    # What a killed launcher cannot remove: its temporary folder.
    shutil.rmtree(work_dir)


@pytest.mark.usefixtures("private_tmp")
def test_port_in_use_is_refused_before_anything_starts(small_crd_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        plane = ControlPlane(
            Settings(crd_dir=small_crd_dir, apiserver_port=port, kserve_cluster=False)
        )
        before = _work_dirs()

        with pytest.raises(ControlPlaneError) as refused:
            plane.start()

    assert refused.value.message.startswith(f"port {port} on 127.0.0.1 is already in use")
    assert "--apiserver-port" in refused.value.message
    assert plane.pids == []
    assert _work_dirs() == before


@pytest.mark.usefixtures("private_tmp")
def test_not_ready_within_the_bound_shows_logs_and_stops_everything(small_crd_dir: Path) -> None:
    plane = ControlPlane(Settings(crd_dir=small_crd_dir, ready_timeout=0.2, kserve_cluster=False))
    before = _work_dirs()

    with pytest.raises(ControlPlaneError) as late:
        plane.start()

    assert late.value.message.startswith(
        "not ready within 0.2s: kube-apiserver: https://127.0.0.1:"
    )
    assert late.value.message.endswith("; everything was stopped")
    assert "kube-apiserver| " in late.value.details
    assert len(plane.pids) == 2
    assert _wait_gone(plane.pids, timeout=0) == []
    assert _work_dirs() == before


def test_cli_names_a_missing_crd_folder_in_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-crds"
    result = subprocess.run(
        [sys.executable, "-m", "controlplane", "up", "--kubeconfig", str(tmp_path / "kc")],
        capture_output=True,
        text=True,
        env={**os.environ, "CRD_DIR": str(missing)},
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: CRD folder {missing} does not exist: set CRD_DIR to a folder holding "
        "kserve, knative-serving, knative-eventing, gateway-api, or unset it to use the "
        "pinned Go modules' CRDs"
    ]
    assert result.stdout == ""


def _standing_alone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the launcher's part of the repository, with no ``shared`` folder beside it.

    Returns the copy's root and the variables that run the copy's
    ``controlplane`` (first on ``PYTHONPATH``).
    """
    root = tmp_path / "elsewhere" / "kserve-functions"
    shutil.copytree(
        REPO_ROOT / "tools" / "controlplane",
        root / "tools" / "controlplane",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    # Nothing beside the copy: no folder of upstream files for anything to read.
    assert [path.name for path in root.parent.iterdir()] == [root.name]
    python_path = [str(root / "tools" / "controlplane" / "src"), os.environ.get("PYTHONPATH")]
    added = {"PYTHONPATH": os.pathsep.join(filter(None, python_path))}
    found = subprocess.run(
        [sys.executable, "-c", "from controlplane import cluster; print(cluster.REPO_ROOT)"],
        capture_output=True,
        text=True,
        env={**os.environ, **added},
        cwd=root,
        timeout=60,
        check=True,
    )
    assert Path(found.stdout.strip()) == root, "the copy's launcher must be the one that runs"
    return root, added


def test_a_repository_without_shared_beside_it_runs_the_kserve_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a fresh clone has: no folder overrides, the defaults (the pinned Go modules).
    monkeypatch.delenv("CRD_DIR", raising=False)
    monkeypatch.delenv("KSERVE_DIR", raising=False)
    root, added = _standing_alone(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"

    launcher = _Launcher(kubeconfig, env=added, cwd=root)
    try:
        with config.new_client_from_config(str(kubeconfig)) as api_client:
            listed = client.ApiextensionsV1Api(api_client).list_custom_resource_definition()
            crds_served = {crd.metadata.name for crd in listed.items if crd.metadata}
            runtimes = as_dict(
                client.CustomObjectsApi(api_client).list_cluster_custom_object(
                    "serving.kserve.io", "v1alpha1", "clusterservingruntimes"
                )
            )["items"]
            config_map = client.CoreV1Api(api_client).read_namespaced_config_map(
                kserve.CONFIG_MAP, kserve.NAMESPACE
            )
    finally:
        _end(launcher)

    upstream_crds = {crd["metadata"]["name"] for crd in crds.load_crds()}
    assert len(upstream_crds) == 25
    assert upstream_crds <= crds_served
    assert len(runtimes) == 14
    [sklearn] = [r for r in runtimes if r["metadata"]["name"] == "kserve-sklearnserver"]
    assert sklearn["spec"]["containers"][0]["image"] == "kserve/sklearnserver:latest"
    assert '"defaultDeploymentMode": "Standard"' in (config_map.data or {})["deploy"]


def _cache_with_stand_in(tmp_path: Path, component: binaries.Component, script: str) -> Path:
    """A binary cache holding the real binaries, except ``component``: a script."""
    real = binaries.default_cache_dir()
    cache = tmp_path / "cache"
    cache.mkdir()
    for other in binaries.COMPONENTS.values():
        target = binaries.cached_path(other, cache)
        if other == component:
            target.write_text(f"#!/bin/sh\n{script}\n")
            target.chmod(0o755)
        else:
            target.symlink_to(binaries.ensure(other, cache_dir=real))
    return cache


@pytest.mark.usefixtures("private_tmp")
def test_a_component_that_exits_is_named_with_its_log(tmp_path: Path) -> None:
    cache = _cache_with_stand_in(
        tmp_path, binaries.KWOK, 'echo "kwok: cannot reach the nodes" >&2; exit 3'
    )
    plane = ControlPlane(Settings(cache_dir=cache))
    before = _work_dirs()

    with pytest.raises(ControlPlaneError) as failed:
        plane.start()

    assert failed.value.message.startswith(
        "kwok exited with status 3 while the cluster was starting; its log ("
    )
    assert failed.value.details == "  kwok| kwok: cannot reach the nodes"
    assert _wait_gone(plane.pids) == []
    assert _work_dirs() == before


def test_a_component_that_never_answers_is_named_after_the_bound(tmp_path: Path) -> None:
    # Alive but never serving: the webhook server of a hung KServe manager.
    cache = _cache_with_stand_in(tmp_path, binaries.KSERVE_CONTROLLER, "exec sleep 600")
    plane = ControlPlane(Settings(cache_dir=cache, ready_timeout=15))

    with pytest.raises(ControlPlaneError) as late:
        plane.start()

    assert late.value.message.startswith(
        "not healthy within 15s: kserve-controller: http://127.0.0.1:"
    )
    assert "/readyz: [Errno 111] Connection refused; everything was stopped" in (late.value.message)
    assert _wait_gone(plane.pids) == []
