"""Build the local cluster's binaries from Go modules, once, and find them again.

No Docker engine, no envtest download: etcd, the Kubernetes components
(kube-apiserver, kube-controller-manager, kube-scheduler, kubectl), kwok, the
KServe controller manager, the Knative ``func`` CLI, Prometheus (``prometheus``
and ``promtool``, which check the functions' metrics and alert rules in the
integration tier) and Knative Eventing (``EVENTING``) are compiled from their Go
modules through the Go module proxy. Each is built from a wrapper module under
``tools/controlplane/gomod/<wrapper>/`` whose committed ``go.mod``/``go.sum`` pin
the exact version, so the version is read from there (one source of truth)
and the binary is cached outside the repository as ``<cache>/<name>-<version>``:
built when missing, reused afterwards. The four Kubernetes components share one
wrapper (one release, one lock), so Go's build cache compiles their common
packages once; so do ``prometheus`` and ``promtool``, and Knative Eventing's seven.

A wrapper may hold Go code of the project's own (``own_code``): a main, or a
file a ``Patch`` adds to an upstream package at build time. Then the cache
entry also carries a digest of the wrapper's Go files, so editing that code
rebuilds the binary.

``KUBEBUILDER_ASSETS`` (the envtest convention: a folder holding
``kube-apiserver`` and ``etcd``) replaces the build for those two when set.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from controlplane.errors import ControlPlaneError

GOMOD_ROOT = Path(__file__).resolve().parents[2] / "gomod"
MINIMUM_GO = (1, 26)

# Lines of `go` output that mean the module proxy could not be reached (as
# opposed to a compile error): DNS, TCP, TLS and HTTP failures of a download.
_DOWNLOAD_FAILURE = re.compile(
    r"dial tcp|no such host|connection refused|i/o timeout|proxyconnect|"
    r"TLS handshake|server response|unexpected EOF|network is unreachable|"
    r"reading https?://|\b40[34] (Forbidden|Not Found)\b",
)


@dataclass(frozen=True)
class Patch:
    """A build-time change to one upstream package, the smallest that makes it run here.

    In ``module``'s folder ``directory``, the lines ``remove`` are deleted
    from ``file`` (the build fails if upstream's file no longer holds them
    exactly) and the wrapper's file ``add`` joins the package. The module
    cache is left alone (Go refuses to overlay files in it): the build copies
    the module into its own folder, changes the copy, and builds with a
    ``-modfile`` that replaces the module with that copy.
    """

    module: str
    directory: str
    file: str
    remove: str
    add: str


@dataclass(frozen=True)
class Component:
    """One binary built from a wrapper module.

    ``wrapper`` names the folder of its wrapper module under ``gomod/``;
    ``main_module`` is the module whose required version names the binary's
    version; ``package`` is the main package to build; ``ldflags`` turns that
    version into the linker flags that make ``--version`` print it.
    """

    name: str
    wrapper: str
    main_module: str
    package: str
    ldflags: Callable[[str], list[str]]
    kubebuilder_asset: bool
    own_code: bool = False
    patches: tuple[Patch, ...] = ()

    @property
    def module_dir(self) -> Path:
        """The committed wrapper module this component is built from."""
        return GOMOD_ROOT / self.wrapper

    def version(self) -> str:
        """The version pinned in the wrapper's ``go.mod``.

        Raises:
            ControlPlaneError: the wrapper module is missing or does not require
                ``main_module``.
        """
        return required_version(self.module_dir, self.main_module)


def required_version(wrapper_dir: Path, module: str) -> str:
    """The version of ``module`` that the ``go.mod`` in ``wrapper_dir`` requires.

    Raises:
        ControlPlaneError: the ``go.mod`` is missing or does not require ``module``.
    """
    go_mod = wrapper_dir / "go.mod"
    try:
        text = go_mod.read_text()
    except OSError as e:
        raise ControlPlaneError(
            f"cannot read {go_mod} ({e.strerror}): restore it from the repository"
        ) from e
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", text, re.M)
    if match is None:
        raise ControlPlaneError(f"{go_mod} does not require {module}")
    return match.group(1)


def _kubernetes_ldflags(version: str) -> list[str]:
    major, minor = version.removeprefix("v").split(".")[:2]
    pkg = "k8s.io/component-base/version"
    return [
        f"-X {pkg}.gitVersion={version}",
        f"-X {pkg}.gitMajor={major}",
        f"-X {pkg}.gitMinor={minor}",
        f"-X {pkg}.gitTreeState=clean",
    ]


def _etcd_ldflags(version: str) -> list[str]:
    # etcd compiles its version number in; only the git hash is left to fill.
    return [f"-X go.etcd.io/etcd/api/v3/version.GitSHA={version}"]


def _func_ldflags(version: str) -> list[str]:
    return [f"-X knative.dev/func/pkg/version.Vers={version}"]


# The first module minor version of Prometheus 3 (v0.300.0 is 3.0.0).
_PROMETHEUS_3_MINOR = 300


def prometheus_release(module_version: str) -> str:
    """The Prometheus release of a ``github.com/prometheus/prometheus`` module version.

    Prometheus tags its 3.Y.Z releases for Go as ``v0.3YY.Z`` (its module path
    has no ``/v3``), so ``v0.316.0`` is ``3.16.0``; 2.Y.Z was ``v0.Y.Z``.

    Raises:
        ControlPlaneError: ``module_version`` is not a ``v0.Y.Z`` module version.
    """
    match = re.fullmatch(r"v0\.(\d+)\.(\d+)", module_version)
    if match is None:
        raise ControlPlaneError(
            f"{module_version} is not a github.com/prometheus/prometheus release (expected v0.Y.Z)"
        )
    minor, patch = int(match.group(1)), int(match.group(2))
    major, minor = divmod(minor, 100) if minor >= _PROMETHEUS_3_MINOR else (2, minor)
    return f"{major}.{minor}.{patch}"


def _prometheus_ldflags(version: str) -> list[str]:
    # What Prometheus's own release build (.promu.yml) sets: `--version` prints it.
    return [f"-X github.com/prometheus/common/version.Version={prometheus_release(version)}"]


def _no_ldflags(version: str) -> list[str]:
    # kwok compiles its version in; KServe's manager prints none (the cache path
    # carries it).
    return []


def _command(
    name: str,
    wrapper: str,
    main_module: str,
    ldflags: Callable[[str], list[str]],
    *,
    kubebuilder_asset: bool = False,
) -> Component:
    # One of several binaries of one wrapper (one release, one lock), built from
    # `<main_module>/cmd/<name>`: their common packages compile once.
    return Component(
        name=name,
        wrapper=wrapper,
        main_module=main_module,
        package=f"{main_module}/cmd/{name}",
        ldflags=ldflags,
        kubebuilder_asset=kubebuilder_asset,
    )


def _kubernetes(name: str, *, kubebuilder_asset: bool = False) -> Component:
    return _command(
        name,
        "kubernetes",
        "k8s.io/kubernetes",
        _kubernetes_ldflags,
        kubebuilder_asset=kubebuilder_asset,
    )


KUBE_APISERVER = _kubernetes("kube-apiserver", kubebuilder_asset=True)
KUBE_CONTROLLER_MANAGER = _kubernetes("kube-controller-manager")
KUBE_SCHEDULER = _kubernetes("kube-scheduler")
KUBECTL = _kubernetes("kubectl")
ETCD = Component(
    name="etcd",
    wrapper="etcd",
    main_module="go.etcd.io/etcd/server/v3",
    package="go.etcd.io/etcd/server/v3",
    ldflags=_etcd_ldflags,
    kubebuilder_asset=True,
)
KWOK = Component(
    name="kwok",
    wrapper="kwok",
    main_module="sigs.k8s.io/kwok",
    package="sigs.k8s.io/kwok/cmd/kwok",
    ldflags=_no_ldflags,
    kubebuilder_asset=False,
)
KSERVE_CONTROLLER = Component(
    name="kserve-controller",
    wrapper="kserve-controller",
    main_module="github.com/kserve/kserve",
    package="github.com/kserve/kserve/cmd/manager",
    ldflags=_no_ldflags,
    kubebuilder_asset=False,
)
FUNC = Component(
    name="func",
    wrapper="func",
    main_module="knative.dev/func",
    package="knative.dev/func/cmd/func",
    ldflags=_func_ldflags,
    kubebuilder_asset=False,
)
# The tests' Prometheus: scrapes served functions; promtool lints rules and metrics.
PROMETHEUS = _command(
    "prometheus", "prometheus", "github.com/prometheus/prometheus", _prometheus_ldflags
)
PROMTOOL = _command(
    "promtool", "prometheus", "github.com/prometheus/prometheus", _prometheus_ldflags
)

# Knative Eventing: the data plane's upstream mains (the broker's ingress and
# filter, the InMemoryChannel dispatcher) and mains of the project's own for the
# control plane and the ApiServerSource adapter (upstream's bind health probes on
# a hard-coded :8080); see gomod/knative-eventing.
_EVENTING = "knative.dev/eventing"


def _eventing(
    name: str, package: str, *, own_code: bool = False, patches: tuple[Patch, ...] = ()
) -> Component:
    return Component(
        name=name,
        wrapper="knative-eventing",
        main_module=_EVENTING,
        package=package,
        ldflags=_no_ldflags,
        kubebuilder_asset=False,
        own_code=own_code or bool(patches),
        patches=patches,
    )


EVENTING_CONTROLLER = _eventing(
    "eventing-controller",
    "kserve-functions.local/knative-eventing/cmd/eventing-controller",
    own_code=True,
)
IMC_CONTROLLER = _eventing(
    "eventing-imc-controller",
    "kserve-functions.local/knative-eventing/cmd/imc-controller",
    own_code=True,
)
EVENTING_WEBHOOK = _eventing(
    "eventing-webhook",
    "kserve-functions.local/knative-eventing/cmd/eventing-webhook",
    own_code=True,
)
EVENTING_INGRESS = _eventing("eventing-broker-ingress", f"{_EVENTING}/cmd/broker/ingress")
EVENTING_FILTER = _eventing("eventing-broker-filter", f"{_EVENTING}/cmd/broker/filter")
# The InMemoryChannel dispatcher's listening ports are constants of its package
# (8080, 8443): the one patch makes them variables read from the environment
# (gomod/knative-eventing/_patch/imc-dispatcher/local_ports.go).
IMC_DISPATCHER_PORTS = Patch(
    module=_EVENTING,
    directory="pkg/reconciler/inmemorychannel/dispatcher",
    file="controller.go",
    remove="\thttpPort      = 8080\n\thttpsPort     = 8443\n",
    add="_patch/imc-dispatcher/local_ports.go",
)
EVENTING_DISPATCHER = _eventing(
    "eventing-imc-dispatcher",
    f"{_EVENTING}/cmd/in_memory/channel_dispatcher",
    patches=(IMC_DISPATCHER_PORTS,),
)
# Upstream's ApiServerSource adapter main with its health probes (a hard-coded
# :8080) off: gomod/knative-eventing/cmd/apiserver-adapter.
EVENTING_ADAPTER = _eventing(
    "eventing-apiserver-adapter",
    "kserve-functions.local/knative-eventing/cmd/apiserver-adapter",
    own_code=True,
)
EVENTING = (
    EVENTING_CONTROLLER,
    IMC_CONTROLLER,
    EVENTING_WEBHOOK,
    EVENTING_INGRESS,
    EVENTING_FILTER,
    EVENTING_DISPATCHER,
    EVENTING_ADAPTER,
)
COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        ETCD,
        KUBE_APISERVER,
        KUBE_CONTROLLER_MANAGER,
        KUBE_SCHEDULER,
        KUBECTL,
        KWOK,
        KSERVE_CONTROLLER,
        FUNC,
        PROMETHEUS,
        PROMTOOL,
        *EVENTING,
    )
}


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where built binaries live: ``$KSERVE_FUNCTIONS_CACHE/bin``, else the XDG cache."""
    env = os.environ if environ is None else environ
    if env.get("KSERVE_FUNCTIONS_CACHE"):
        return Path(env["KSERVE_FUNCTIONS_CACHE"]) / "bin"
    xdg = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "kserve-functions" / "bin"


def cached_path(component: Component, cache_dir: Path) -> Path:
    """The cache entry of ``component`` at its pinned version (may not exist yet).

    A component built with Go code of the project's own is also keyed by a
    digest of its wrapper's Go files (``<name>-<version>-<digest>``).
    """
    name = f"{component.name}-{component.version()}"
    if component.own_code:
        name += f"-{wrapper_digest(component.module_dir)}"
    return cache_dir / name


def wrapper_digest(wrapper_dir: Path) -> str:
    """A short digest of a wrapper module's ``go.mod``, ``go.sum`` and Go sources."""
    digest = hashlib.sha256()
    files = [wrapper_dir / "go.mod", wrapper_dir / "go.sum", *sorted(wrapper_dir.rglob("*.go"))]
    for path in files:
        digest.update(str(path.relative_to(wrapper_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def kubebuilder_asset(component: Component, environ: Mapping[str, str]) -> Path | None:
    """The binary from ``KUBEBUILDER_ASSETS`` for ``component``, or None when unset.

    Raises:
        ControlPlaneError: the variable is set but the folder lacks the binary.
    """
    assets = environ.get("KUBEBUILDER_ASSETS")
    if not assets or not component.kubebuilder_asset:
        return None
    path = Path(assets) / component.name
    if not os.access(path, os.X_OK):
        raise ControlPlaneError(
            f"KUBEBUILDER_ASSETS={assets} has no executable {component.name}: "
            "put it there, or unset KUBEBUILDER_ASSETS to build it from Go modules"
        )
    return path


def ensure(
    component: Component,
    *,
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Return the path of ``component``'s binary, building it first if needed.

    Raises:
        ControlPlaneError: no usable Go toolchain, the module proxy cannot be
            reached, or the build failed (the message names the build log).
    """
    env = dict(os.environ if environ is None else environ)
    asset = kubebuilder_asset(component, env)
    if asset is not None:
        return asset
    cache = default_cache_dir(env) if cache_dir is None else cache_dir
    target = cached_path(component, cache)
    if os.access(target, os.X_OK):
        return target
    _build(component, target, env, log or _stderr)
    return target


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def go_toolchain(env: Mapping[str, str]) -> str:
    """The path of a ``go`` new enough to build the wrapper modules.

    Raises:
        ControlPlaneError: no ``go`` on PATH, or one older than ``MINIMUM_GO``.
    """
    go = shutil.which("go", path=env.get("PATH"))
    if go is None:
        raise ControlPlaneError(
            "the Go toolchain (go) is not on PATH: install Go "
            f"{MINIMUM_GO[0]}.{MINIMUM_GO[1]} or newer, or set KUBEBUILDER_ASSETS "
            "to a folder holding kube-apiserver and etcd"
        )
    result = subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, env=dict(env), check=False
    )
    found = re.match(r"go(\d+)\.(\d+)", result.stdout.strip())
    if result.returncode != 0 or found is None:
        raise ControlPlaneError(f"{go} does not work ({result.stderr.strip()[:200]})")
    if (int(found.group(1)), int(found.group(2))) < MINIMUM_GO:
        raise ControlPlaneError(
            f"{go} is {result.stdout.strip()}; the control plane needs Go "
            f"{MINIMUM_GO[0]}.{MINIMUM_GO[1]} or newer: upgrade Go"
        )
    return go


def _build(
    component: Component, target: Path, env: dict[str, str], log: Callable[[str], None]
) -> None:
    go = go_toolchain(env)
    version = component.version()
    target.parent.mkdir(parents=True, exist_ok=True)
    build_log = target.with_name(target.name + ".build.log")
    partial = target.with_name(target.name + ".partial")
    log(
        f"building {component.name} {version} from Go modules into {target} "
        "(happens once; a cold build takes several minutes)"
    )
    # The committed go.sum is the lock: never let the build edit go.mod, and
    # never let Go fetch a different toolchain than the one on this machine.
    env["GOFLAGS"] = f"{env.get('GOFLAGS', '')} -mod=readonly -buildvcs=false".strip()
    env["GOTOOLCHAIN"] = "local"
    ldflags = " ".join(["-s", "-w", *component.ldflags(version)])
    argv = [go, "build", "-trimpath", "-ldflags", ldflags, "-o", str(partial), component.package]
    patched = target.with_name(target.name + ".patched")
    if component.patches:
        argv[2:2] = [f"-modfile={_patched_modules(component, go, env, patched)}"]
    with build_log.open("w") as out:
        result = subprocess.run(
            argv,
            cwd=component.module_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    shutil.rmtree(patched, ignore_errors=True)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        output = build_log.read_text(errors="replace")
        raise _build_error(component, version, env, output, build_log)
    partial.replace(target)
    build_log.unlink()
    log(f"built {component.name} {version}")


def _patched_modules(component: Component, go: str, env: dict[str, str], folder: Path) -> Path:
    """Copy and patch the modules ``component.patches`` change; return the ``-modfile``.

    The returned ``go.mod`` is the wrapper's plus a ``replace`` of each patched
    module by its copy under ``folder``; ``go.sum`` beside it is the wrapper's.

    Raises:
        ControlPlaneError: a module cannot be found, or its file no longer
            holds the lines to remove (upstream changed: revisit the patch).
    """
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    replaces: list[str] = []
    for index, patch in enumerate(component.patches):
        found = subprocess.run(
            [go, "list", "-m", "-f", "{{.Dir}}", patch.module],
            cwd=component.module_dir,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        source = Path(found.stdout.strip())
        if found.returncode != 0 or not source.is_dir():
            raise ControlPlaneError(
                f"cannot build {component.name}: Go module {patch.module} not found "
                f"({found.stderr.strip()[:200]})"
            )
        copy = folder / f"module-{index}"
        shutil.copytree(source, copy, copy_function=shutil.copyfile)
        for directory, _, _ in os.walk(copy):
            os.chmod(directory, 0o755)  # noqa: S103 - the module cache's folders are read-only
        original = copy / patch.directory / patch.file
        text = original.read_text() if original.is_file() else ""
        if text.count(patch.remove) != 1:
            raise ControlPlaneError(
                f"cannot build {component.name}: {patch.module}'s {patch.directory}/{patch.file} "
                f"no longer holds the lines the patch removes ({patch.remove.strip()!r}): "
                f"revisit {component.module_dir / patch.add}"
            )
        original.write_text(text.replace(patch.remove, ""))
        added = component.module_dir / patch.add
        shutil.copyfile(added, copy / patch.directory / f"zz_kserve_functions_{added.name}")
        replaces.append(f"replace {patch.module} => {copy}\n")
    go_mod = folder / "go.mod"
    go_mod.write_text((component.module_dir / "go.mod").read_text() + "\n" + "".join(replaces))
    shutil.copyfile(component.module_dir / "go.sum", folder / "go.sum")
    return go_mod


def _build_error(
    component: Component, version: str, env: Mapping[str, str], output: str, build_log: Path
) -> ControlPlaneError:
    lines = [line for line in output.splitlines() if line.strip()]
    download = [line.strip() for line in lines if _DOWNLOAD_FAILURE.search(line)]
    if download:
        proxy = env.get("GOPROXY") or "the default GOPROXY"
        return ControlPlaneError(
            f"cannot build {component.name} {version}: downloading Go modules through "
            f"{proxy} failed ({download[-1][:240]}): check the network or GOPROXY",
            details=f"full build output: {build_log}",
        )
    last = lines[-1].strip()[:240] if lines else "no output"
    return ControlPlaneError(
        f"cannot build {component.name} {version}: go build failed ({last})",
        details=f"full build output: {build_log}",
    )
