"""Command line: ``python -m controlplane build|up|versions``.

``build`` compiles whatever binaries are missing from the cache; ``up`` starts
a control plane, writes its kubeconfig and keeps it running until Ctrl-C or
SIGTERM; ``versions`` prints the pinned version and path of each binary;
``pin-kubernetes`` regenerates the kube-apiserver wrapper for another release.
Errors end the command with status 1 and one ``error:`` line (plus details,
such as a log tail, on the lines after it).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from controlplane import binaries, pinning
from controlplane.cluster import ControlPlane, Settings
from controlplane.errors import ControlPlaneError

# How long a command run beside the control plane gets to stop before it is killed.
_GRACE_SECONDS = 10.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m controlplane", description=__doc__)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where built binaries are cached (default: ~/.cache/kserve-functions/bin)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the missing binaries")
    build.add_argument(
        "components",
        nargs="*",
        metavar="NAME",
        help=f"which to build, of {', '.join(binaries.COMPONENTS)} (default: all)",
    )
    commands.add_parser("versions", help="print each binary's pinned version and cache path")
    pin = commands.add_parser(
        "pin-kubernetes", help="re-pin the kube-apiserver wrapper module to a release"
    )
    pin.add_argument("version", help="a k8s.io/kubernetes release, e.g. v1.37.2")
    up = commands.add_parser("up", help="run a control plane until Ctrl-C")
    up.add_argument("--kubeconfig", type=Path, default=Path(".dev/kubeconfig"))
    up.add_argument("--apiserver-port", type=int, default=None)
    up.add_argument("--ready-timeout", type=float, default=90.0)
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
        print(f"{name}: {path}")


def _versions(cache_dir: Path | None) -> None:
    cache = cache_dir or binaries.default_cache_dir()
    for component in binaries.COMPONENTS.values():
        path = binaries.cached_path(component, cache)
        state = "built" if path.exists() else "not built"
        print(f"{component.name} {component.version()} {path} ({state})")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _up(args: argparse.Namespace) -> int:
    # SIGTERM takes the same path as Ctrl-C, so `with` stops everything in order.
    signal.signal(signal.SIGTERM, _interrupt)
    settings = dataclasses.replace(
        Settings.from_environment(),
        apiserver_port=args.apiserver_port,
        kubeconfig_path=args.kubeconfig.resolve(),
        ready_timeout=args.ready_timeout,
        cache_dir=args.cache_dir,
    )
    try:
        with ControlPlane(settings) as control_plane:
            print(
                f"control plane ready at {control_plane.server}\n"
                f"kubeconfig: {control_plane.kubeconfig_path}\n"
                f"  export KUBECONFIG={control_plane.kubeconfig_path}\n"
                "press Ctrl-C to stop it",
                flush=True,
            )
            command = args.beside[1:] if args.beside[:1] == ["--"] else args.beside
            if command:
                return _run_beside(command, control_plane.kubeconfig_path)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        print("control plane stopped", flush=True)
    return 0


def _run_beside(command: list[str], kubeconfig: Path) -> int:
    """Run ``command`` against the control plane; return its exit status.

    Ctrl-C reaches the command too (same process group); SIGTERM is passed on.
    """
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    try:
        child = subprocess.Popen(command, env=env)
    except OSError as e:
        raise ControlPlaneError(f"cannot run {command[0]}: {e.strerror}") from e
    try:
        return child.wait()
    except KeyboardInterrupt:
        if child.poll() is None:
            child.terminate()
        try:
            child.wait(_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


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
            print(f"pinned kube-apiserver to {args.version}; commit go.mod and go.sum")
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
