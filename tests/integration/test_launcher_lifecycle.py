"""The launcher starts and stops control planes without leaving anything behind.

Each test here starts its own control plane (besides the session's), with a
small CRD folder so that it starts in seconds.
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
from collections.abc import Iterator
from pathlib import Path

import pytest
from controlplane import crds
from controlplane.cluster import REPO_ROOT, ControlPlane, Settings
from controlplane.errors import ControlPlaneError

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
    source = Path(os.environ.get("CRD_DIR") or crds.default_crd_dir(REPO_ROOT))
    target = tmp_path / "crds"
    for folder, name in _SMALL_CRDS.items():
        (target / folder).mkdir(parents=True)
        shutil.copy(source / folder / name, target / folder / name)
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


def _work_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("kserve-functions-controlplane-*"))


def test_stop_ends_both_processes_and_removes_all_files(
    small_crd_dir: Path, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    plane = ControlPlane(Settings(crd_dir=small_crd_dir, kubeconfig_path=kubeconfig))
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

    def __init__(self, crd_dir: Path, kubeconfig: Path) -> None:
        env = {**os.environ, "CRD_DIR": str(crd_dir)}
        self.kubeconfig = kubeconfig
        self.process = subprocess.Popen(
            [sys.executable, "-m", "controlplane", "up", "--kubeconfig", str(kubeconfig)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        self.output: list[str] = []
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("press Ctrl-C"):
                break
        else:
            pytest.fail("launcher ended before it was ready:\n" + "".join(self.output))

    def children(self) -> list[int]:
        pid = self.process.pid
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]

    def work_dir(self) -> Path:
        """The temporary folder, read from etcd's ``--data-dir=<work dir>/etcd``."""
        for child in self.children():
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                for argument in cmdline.read().decode().split("\0"):
                    if argument.startswith("--data-dir="):
                        return Path(argument.removeprefix("--data-dir=")).parent
        raise AssertionError("no etcd child with --data-dir")


@pytest.fixture
def launcher(small_crd_dir: Path, tmp_path: Path) -> Iterator[_Launcher]:
    started = _Launcher(small_crd_dir, tmp_path / "kubeconfig")
    yield started
    if started.process.poll() is None:
        started.process.kill()
    started.process.communicate()


def test_cli_prints_the_kubeconfig_and_stops_cleanly_on_ctrl_c(launcher: _Launcher) -> None:
    assert f"kubeconfig: {launcher.kubeconfig}\n" in launcher.output
    assert launcher.kubeconfig.exists()
    children = launcher.children()
    assert len(children) == 2

    launcher.process.send_signal(signal.SIGINT)
    rest, _ = launcher.process.communicate(timeout=30)

    assert launcher.process.returncode == 0, rest
    assert "control plane stopped" in rest
    assert _wait_gone(children, timeout=0) == []
    assert not launcher.kubeconfig.exists()


def test_cli_stops_cleanly_on_sigterm(launcher: _Launcher) -> None:
    children = launcher.children()

    launcher.process.terminate()
    launcher.process.communicate(timeout=30)

    assert launcher.process.returncode == 0
    assert _wait_gone(children, timeout=0) == []


def test_children_die_with_a_killed_launcher(launcher: _Launcher) -> None:
    children = launcher.children()
    work_dir = launcher.work_dir()

    launcher.process.kill()
    launcher.process.wait()

    # No cleanup code ran; the kernel's parent-death signal stops the children.
    assert _wait_gone(children) == []
    # What a killed launcher cannot remove: its temporary folder.
    shutil.rmtree(work_dir)


def test_port_in_use_is_refused_before_anything_starts(small_crd_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        plane = ControlPlane(Settings(crd_dir=small_crd_dir, apiserver_port=port))
        before = _work_dirs()

        with pytest.raises(ControlPlaneError) as refused:
            plane.start()

    assert refused.value.message.startswith(f"port {port} on 127.0.0.1 is already in use")
    assert "--apiserver-port" in refused.value.message
    assert plane.pids == []
    assert _work_dirs() == before


def test_not_ready_within_the_bound_shows_logs_and_stops_everything(small_crd_dir: Path) -> None:
    plane = ControlPlane(Settings(crd_dir=small_crd_dir, ready_timeout=0.2))
    before = _work_dirs()

    with pytest.raises(ControlPlaneError) as late:
        plane.start()

    assert "not ready within 0.2s" in late.value.message
    assert "kube-apiserver| " in late.value.details
    assert "etcd| " in late.value.details
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
        f"error: CRD folder {missing} does not exist: set CRD_DIR to the folder holding "
        "kserve, knative-serving, knative-eventing, gateway-api (the project's ../shared/crds)"
    ]
    assert result.stdout == ""
