"""environment.yml (for conda users) and pyproject.toml list the same packages."""

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).parent.parent
CONDA_NAMES = {"pytorch": "torch"}


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


def pyproject_packages() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {requirement_name(r) for r in requirements}


def conda_packages() -> set[str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for entry in environment["dependencies"]:
        if isinstance(entry, str):  # the pip: sub-list installs nodestudy itself
            name = requirement_name(entry)
            if name not in {"python", "pip"}:
                names.add(CONDA_NAMES.get(name, name))
    return names


def test_environment_yml_matches_pyproject():
    assert conda_packages() == pyproject_packages()


def test_torch_pin_is_the_same_in_makefile_and_environment_yml():
    makefile_pin = re.search(r"TORCH_SPEC\s*\?=\s*torch==([\d.]+)", (ROOT / "Makefile").read_text())
    conda_pin = re.search(r"pytorch=([\d.]+)", (ROOT / "environment.yml").read_text())
    assert makefile_pin and conda_pin and makefile_pin.group(1) == conda_pin.group(1)


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
