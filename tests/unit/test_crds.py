"""Finding and checking the CRDs, before any process starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from controlplane import crds, upstream
from controlplane.cluster import Settings
from controlplane.errors import ControlPlaneError

CRD_DIR = Settings.from_environment().crd_dir


def test_the_crds_hold_every_crd_the_project_uses() -> None:
    names = {crd["metadata"]["name"] for crd in crds.load_crds(CRD_DIR)}
    assert {
        "inferenceservices.serving.kserve.io",
        "servingruntimes.serving.kserve.io",
        "clusterservingruntimes.serving.kserve.io",
        "services.serving.knative.dev",
        "brokers.eventing.knative.dev",
        "triggers.eventing.knative.dev",
        "eventtypes.eventing.knative.dev",
        "httproutes.gateway.networking.k8s.io",
    } <= names


def test_by_default_each_project_s_crds_come_from_its_pinned_go_module() -> None:
    files = crds.crd_files()

    assert list(files) == list(crds.CRD_FOLDERS)
    for project in crds.UPSTREAM_CRDS:
        root = upstream.module_dir(project.module)
        # The Go module cache's folder of exactly the pinned version.
        assert root.name == f"{project.module.path.rpartition('/')[2]}@{project.module.version()}"
        assert files[project.folder] == [root / name for name in project.files]
    assert {project.module for project in crds.UPSTREAM_CRDS} == set(upstream.MODULES)


def test_each_listed_file_is_one_crd_and_each_crd_is_installed_once() -> None:
    names = [crd["metadata"]["name"] for crd in crds.load_crds()]

    assert len(names) == sum(len(project.files) for project in crds.UPSTREAM_CRDS) == 25
    assert len(set(names)) == len(names)


def test_a_crd_file_is_found_by_folder_and_name() -> None:
    path = crds.crd_file("gateway-api", "gateway.networking.k8s.io_referencegrants.yaml")

    assert path.parent.parts[-3:] == ("config", "crd", "standard")
    with pytest.raises(ControlPlaneError, match=r"no CRD file nope\.yaml among the kserve CRDs"):
        crds.crd_file("kserve", "nope.yaml")


def test_a_crd_dir_replaces_the_modules_with_its_folders_yaml_files(tmp_path: Path) -> None:
    for folder in crds.CRD_FOLDERS:
        (tmp_path / folder).mkdir()
    (tmp_path / "kserve" / "b.yaml").write_text("")
    (tmp_path / "kserve" / "a.yaml").write_text("")
    (tmp_path / "kserve" / "notes.md").write_text("")

    files = crds.crd_files(tmp_path)

    assert files["kserve"] == [tmp_path / "kserve" / "a.yaml", tmp_path / "kserve" / "b.yaml"]
    assert files["gateway-api"] == []


def test_missing_folder_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ControlPlaneError) as missing:
        crds.check_crd_dir(tmp_path / "nope")
    assert missing.value.message == (
        f"CRD folder {tmp_path / 'nope'} does not exist: set CRD_DIR to a folder holding "
        "kserve, knative-serving, knative-eventing, gateway-api, or unset it to use the "
        "pinned Go modules' CRDs"
    )


def test_folder_lacking_an_upstream_project_is_named(tmp_path: Path) -> None:
    (tmp_path / "kserve").mkdir()
    (tmp_path / "gateway-api").mkdir()
    with pytest.raises(ControlPlaneError) as incomplete:
        crds.check_crd_dir(tmp_path)
    assert "lacks knative-serving, knative-eventing:" in incomplete.value.message
