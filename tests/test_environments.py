"""The Binder and local conda environments: what repo2docker would build, and that they agree.

``repo2docker --no-build --debug`` prints the Dockerfile it would build without
building it; it needs no Docker daemon (the run below points DOCKER_HOST at a
socket that does not exist to prove it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.needs_notebook_deps  # PyYAML and repo2docker come with the test extra

REPO = Path(__file__).resolve().parent.parent
BINDER_ENV = REPO / "binder" / "environment.yml"
LOCAL_ENV = REPO / "environment.yml"
POSTBUILD = REPO / "binder" / "postBuild"
SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")


def load_env(path: Path) -> dict[str, Any]:
    import yaml

    env: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return env


def name_and_spec(requirement: str) -> tuple[str, str]:
    """'jupyterlab>=4,<5' -> ('jupyterlab', '>=4,<5')."""
    match = SPEC.match(requirement)
    assert match, f"cannot read requirement {requirement!r}"
    return match[1], match[2]


def conda_packages(path: Path) -> dict[str, str]:
    """{name: version spec} of the conda dependencies (the `pip:` section left out)."""
    return dict(name_and_spec(dep) for dep in load_env(path)["dependencies"]
                if isinstance(dep, str))


def pip_section(path: Path) -> list[str]:
    sections = [dep["pip"] for dep in load_env(path)["dependencies"] if isinstance(dep, dict)]
    return [line for section in sections for line in section]


@pytest.fixture(scope="module")
def repo2docker() -> str:
    """Everything `repo2docker --no-build --debug` prints for this repository."""
    env = dict(os.environ, DOCKER_HOST="unix:///nonexistent/docker.sock")
    result = subprocess.run([sys.executable, "-m", "repo2docker", "--no-build", "--debug",
                             str(REPO)], capture_output=True, text=True, timeout=120, env=env,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_binder_pins_python_3_12_exactly() -> None:
    assert conda_packages(BINDER_ENV)["python"] == "=3.12"


def test_local_environment_lists_the_same_packages_as_binder() -> None:
    local, binder = conda_packages(LOCAL_ENV), conda_packages(BINDER_ENV)
    assert {k: v for k, v in local.items() if k != "python"} == \
        {k: v for k, v in binder.items() if k != "python"}
    assert "python" in local


def test_environments_match_the_notebooks_and_dask_extras_of_pyproject() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    extras = pyproject["project"]["optional-dependencies"]
    extra = dict(map(name_and_spec, extras["notebooks"] + extras["dask"]))
    binder = {k: v for k, v in conda_packages(BINDER_ENV).items() if k not in ("python", "pip")}
    assert binder == extra


def test_local_environment_installs_the_pool_package_from_the_repository() -> None:
    assert pip_section(LOCAL_ENV) == ["-e ."]


def test_binder_postbuild_installs_the_pool_package_from_the_repository() -> None:
    assert os.access(POSTBUILD, os.X_OK), "binder/postBuild must be executable"
    assert "pip install --no-cache-dir --no-deps -e ." in POSTBUILD.read_text(encoding="utf-8")


def test_repo2docker_picks_the_conda_buildpack_with_the_binder_environment(
        repo2docker: str) -> None:
    assert 'env update -p ${NB_PYTHON_PREFIX} --file "binder/environment.yml"' in repo2docker


def test_repo2docker_builds_python_3_12(repo2docker: str) -> None:
    assert "Building conda environment for python=3.12" in repo2docker


def test_repo2docker_runs_postbuild_to_install_the_pool_package(repo2docker: str) -> None:
    assert "RUN ./binder/postBuild" in repo2docker
