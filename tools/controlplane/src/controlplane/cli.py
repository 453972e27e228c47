"""Command line: ``python -m controlplane build|up|versions``.

``build`` compiles whatever binaries are missing from the cache (and, when
building them all, downloads the upstream Go modules whose manifests the
cluster installs, ``upstream``); ``up`` starts
the local KServe cluster (or, ``--without-kserve``, etcd and kube-apiserver
only; ``--with-eventing``, Knative Eventing too, with ``--event-subscriber``
the project's ``k8s/eventing/`` delivering to the API), writes its kubeconfig
and keeps it running until Ctrl-C, SIGTERM or SIGHUP, then stops within a bound (``_up``);
``versions`` prints the pinned version and path of each binary and the
pinned version of each upstream module;
``pin-kubernetes`` regenerates the Kubernetes wrapper for another release.
Errors end the command with status 1 and one ``error:`` line (plus details,
such as a log tail, on the lines after it).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from controlplane import binaries, pinning, processes, project_eventing, upstream
from controlplane.cluster import ControlPlane, Settings
from controlplane.errors import ControlPlaneError
from controlplane.eventing_launch import Eventing

# How often `up` looks at the cluster's processes.
_WATCH_SECONDS = 1.0
# After Ctrl-C, how long the command beside has to end on the SIGINT it got too
# before it is sent SIGTERM (the root function ends in well under a second).
CTRL_C_GRACE_SECONDS = 2.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m controlplane", description=__doc__)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where built binaries are cached (default: ~/.cache/kserve-functions/bin)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser(
        "build", help="build the missing binaries (all: download the upstream modules too)"
    )
    build.add_argument(
        "components",
        nargs="*",
        metavar="NAME",
        help=f"which to build, of {', '.join(binaries.COMPONENTS)} (default: all)",
    )
    commands.add_parser("versions", help="print each binary's pinned version and cache path")
    pin = commands.add_parser(
        "pin-kubernetes", help="re-pin the Kubernetes wrapper module to a release"
    )
    pin.add_argument("version", help="a k8s.io/kubernetes release, e.g. v1.37.2")
    up = commands.add_parser("up", help="run a control plane until Ctrl-C")
    up.add_argument("--kubeconfig", type=Path, default=Path(".dev/kubeconfig"))
    up.add_argument("--apiserver-port", type=int, default=None)
    up.add_argument("--ready-timeout", type=float, default=90.0)
    up.add_argument(
        "--without-kserve",
        action="store_true",
        help="start etcd and kube-apiserver only (no controllers, nodes or KServe)",
    )
    up.add_argument(
        "--with-eventing",
        action="store_true",
        help="start Knative Eventing (Broker, Triggers, webhook, data plane) on the cluster too "
        "(about 6 s more)",
    )
    up.add_argument(
        "--event-subscriber",
        metavar="URI",
        default=None,
        help="with --with-eventing: apply k8s/eventing/ to namespace default with every "
        "Trigger's subscriber this URI (the API served beside the cluster)",
    )
    up.add_argument(
        "beside",
        metavar="-- COMMAND",
        nargs=argparse.REMAINDER,
        help="after --: a command to run once the control plane is ready (KUBECONFIG set "
        "for it); the control plane stops when it ends",
    )
    return parser


def _build(names: Sequence[str], cache_dir: Path | None) -> None:
    for name in names or binaries.COMPONENTS:
        path = binaries.ensure(binaries.COMPONENTS[name], cache_dir=cache_dir)
        print(f"{name}: {path}", flush=True)
    if not names:
        # The manifests `up` installs: fetched here too, so that `make binaries` is
        # the one step that needs the network.
        for module in upstream.MODULES:
            print(f"{module.path} {module.version()}: {upstream.module_dir(module)}", flush=True)


def _versions(cache_dir: Path | None) -> None:
    cache = cache_dir or binaries.default_cache_dir()
    for component in binaries.COMPONENTS.values():
        path = binaries.cached_path(component, cache)
        state = "built" if path.exists() else "not built"
        print(f"{component.name} {component.version()} {path} ({state})")
    for module in upstream.MODULES:
        go_mod = module.wrapper_dir / "go.mod"
        print(f"{module.path} {module.version()} (manifests; pinned in {go_mod})")


def _ready_message(control_plane: ControlPlane, cache_dir: Path | None) -> str:
    lines = [
        f"control plane ready at {control_plane.server}",
        f"running: {', '.join(control_plane.components)}",
        f"kubeconfig: {control_plane.kubeconfig_path}",
    ]
    if control_plane.settings.kserve_cluster:
        # Where a pod's container log is written to be read by `kubectl logs` (README).
        lines.append(f"pod logs: {control_plane.pod_log_dir}")
    if control_plane.eventing is not None:
        lines.append(
            "knative eventing: every Broker's ingress at "
            f"{control_plane.eventing.ingress_url('<namespace>', '<broker>')}"
        )
    kubectl = binaries.cached_path(binaries.KUBECTL, cache_dir or binaries.default_cache_dir())
    if kubectl.exists():
        lines += [
            "use it with the project's kubectl:",
            f"  export KUBECONFIG={control_plane.kubeconfig_path}",
            f"  {kubectl} get nodes,pods,deploy,isvc -A",
        ]
    else:
        lines.append(f"  export KUBECONFIG={control_plane.kubeconfig_path}")
    return "\n".join([*lines, "press Ctrl-C to stop it"])


# Where `make dev` applies k8s/eventing/ (its models go there too, by default).
_DEV_NAMESPACE = "default"


def _apply_project_eventing(control_plane: ControlPlane, subscriber: str) -> None:
    project_eventing.apply(
        kubectl=binaries.ensure(binaries.KUBECTL, cache_dir=control_plane.settings.cache_dir),
        kubeconfig=control_plane.kubeconfig_path,
        folder=control_plane.work_dir / "project-eventing",
        namespace=_DEV_NAMESPACE,
        subscriber_uri=subscriber,
    )


def _event_message(running: Eventing, subscriber: str) -> str:
    ingress = running.ingress_url(_DEV_NAMESPACE, project_eventing.BROKER)
    return "\n".join(
        [
            f"the project's Broker (k8s/eventing/, every Trigger to {subscriber}) takes "
            f"CloudEvents at {ingress}",
            "send a deploy event through it (the reply goes back through the Broker):",
            f"  {project_eventing.curl_example(ingress, _DEV_NAMESPACE)}",
        ]
    )


class _Told(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the launcher was told to stop (Ctrl-C is the plain
    KeyboardInterrupt), taking the same path out."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise _Told


def _up(args: argparse.Namespace) -> int:
    """Run the cluster (and the command beside it) until a signal; stop both within a bound.

    Ctrl-C (SIGINT), SIGTERM and SIGHUP (the terminal closed) all stop it:
    the command beside first (``processes.STOP_BOUND_SECONDS``, 7 s at most;
    after Ctrl-C up to ``CTRL_C_GRACE_SECONDS`` more, see ``_run_beside``),
    then the cluster (``cluster.STOP_BOUND_SECONDS``, 21 s at most); about 3 s
    when every process ends on SIGTERM, as they do.
    """
    # Python turns SIGINT into KeyboardInterrupt only if SIGINT was not ignored
    # when it started; a launcher started from a background job or a runner
    # that ignores SIGINT would otherwise ignore Ctrl-C and run on. The other
    # two take the same path, so `with` stops everything in order.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    settings = dataclasses.replace(
        Settings.from_environment(),
        apiserver_port=args.apiserver_port,
        kubeconfig_path=args.kubeconfig.resolve(),
        ready_timeout=args.ready_timeout,
        cache_dir=args.cache_dir,
        kserve_cluster=not args.without_kserve,
    )
    control_plane = ControlPlane(settings)
    try:
        with control_plane:
            if settings.kserve_cluster and args.with_eventing:
                control_plane.start_eventing()
                if args.event_subscriber:
                    _apply_project_eventing(control_plane, args.event_subscriber)
            print(_ready_message(control_plane, args.cache_dir), flush=True)
            if control_plane.eventing is not None and args.event_subscriber:
                print(_event_message(control_plane.eventing, args.event_subscriber), flush=True)
            command = args.beside[1:] if args.beside[:1] == ["--"] else args.beside
            if command:
                return _run_beside(command, control_plane)
            while True:
                _check_components(control_plane)
                time.sleep(_WATCH_SECONDS)
    except KeyboardInterrupt:
        print(_stopped_message(control_plane), flush=True)
    return 0


def _stopped_message(control_plane: ControlPlane) -> str:
    """``control plane stopped``, naming the components that had to be killed, if any."""
    killed = [
        name
        for name, process in control_plane.components.items()
        if process.exit_code() == -signal.SIGKILL
    ]
    if not killed:
        return "control plane stopped"
    return (
        f"control plane stopped; killed, as they had not ended {processes.STOP_GRACE_SECONDS:g}s "
        f"after SIGTERM: {', '.join(killed)}"
    )


def _check_components(control_plane: ControlPlane) -> None:
    """Stop with the component's name and log tail if one of the cluster's processes ended.

    Raises:
        ControlPlaneError: a component exited while the cluster was running.
    """
    processes.raise_if_one_exited(
        list(control_plane.components.values()),
        when="while the cluster ran (everything is stopped)",
    )


def _run_beside(command: list[str], control_plane: ControlPlane) -> int:
    """Run ``command`` against the cluster; return its exit status.

    Ctrl-C reaches the command too (same process group), so then it is given
    ``CTRL_C_GRACE_SECONDS`` to end on that alone: a SIGTERM landing while the
    API server's event loop closes makes CPython print a traceback (the signal's
    wakeup fd is already closed). Then, as on any other signal that stops the
    launcher, the command gets SIGTERM and, if it has not ended within
    ``processes.STOP_GRACE_SECONDS``, SIGKILL.
    Should a component of the cluster end meanwhile, the command is stopped and
    the component named (``_check_components``), rather than leaving the
    command to fail against a broken cluster.
    """
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig_path)}
    try:
        child = subprocess.Popen(command, env=env)
    except OSError as e:
        raise ControlPlaneError(f"cannot run {command[0]}: {e.strerror}") from e
    try:
        while (code := child.poll()) is None:
            _check_components(control_plane)
            time.sleep(_WATCH_SECONDS)
    except BaseException as stopping:
        if type(stopping) is KeyboardInterrupt:  # Ctrl-C, not _Told
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(CTRL_C_GRACE_SECONDS)
        if processes.stop_popens([child]):
            print(
                f"killed {command[0]}: it had not ended {processes.STOP_GRACE_SECONDS:g}s after "
                "SIGTERM",
                file=sys.stderr,
                flush=True,
            )
        raise
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = set(getattr(args, "components", [])) - set(binaries.COMPONENTS)
    if unknown:
        parser.error(f"unknown binaries: {', '.join(sorted(unknown))}")
    try:
        if args.command == "build":
            _build(args.components, args.cache_dir)
        elif args.command == "versions":
            _versions(args.cache_dir)
        elif args.command == "pin-kubernetes":
            pinning.pin_kubernetes(binaries.KUBE_APISERVER.module_dir, args.version)
            print(f"pinned the Kubernetes components to {args.version}; commit go.mod and go.sum")
        else:
            return _up(args)
    except ControlPlaneError as e:
        print(f"error: {e.message}", file=sys.stderr)
        if e.details:
            print(e.details, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130  # the shell's status for "ended by Ctrl-C"
    return 0
