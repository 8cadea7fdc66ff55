"""Packaging: environment.yml (for conda users) and pyproject.toml list the same
packages; ``pip install nodestudy`` alone is the light library, the extras bring the
reproduction, the notebooks and the tools; the wheel and sdist say so in their metadata."""

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).parent.parent
CONDA_NAMES = {"pytorch": "torch"}


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower()


#: What only the study's and the notebooks' extras bring; the library must not need them.
STUDY_ONLY = {"seaborn", "scikit-learn", "mlxtend", "shapely", "papermill", "jupyter"}
EXTRAS = {"plot", "study", "notebooks", "dev"}


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pyproject_packages() -> set[str]:
    requirements = list(project()["dependencies"])
    for extra in project()["optional-dependencies"].values():
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


def test_make_env_installs_every_extra():
    installed = re.search(
        r"pip install --quiet -e '\.\[([\w,]+)\]'", (ROOT / "Makefile").read_text()
    )
    extras = project()["optional-dependencies"]
    assert installed, "the Makefile's env no longer installs nodestudy with its extras"
    chosen = set(installed.group(1).split(","))
    everything = {requirement_name(r) for extra in extras.values() for r in extra}
    brought = {requirement_name(r) for extra in chosen for r in extras[extra]}
    assert brought == everything, f"make env leaves out {sorted(everything - brought)}"


def built_distributions(tmp_path: Path) -> tuple[Path, Path]:
    """Build the wheel and the sdist (setuptools, offline) from a copy of the sources."""
    source, out = tmp_path / "source", tmp_path / "dist"
    shutil.copytree(
        ROOT / "nodestudy", source / "nodestudy", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = "from setuptools import build_meta as b; b.build_wheel({0!r}); b.build_sdist({0!r})"
    subprocess.run(
        [sys.executable, "-c", build.format(str(out))], cwd=source, check=True, capture_output=True
    )
    return next(out.glob("*.whl")), next(out.glob("*.tar.gz"))


def split_requirements(metadata) -> tuple[set[str], dict[str, set[str]]]:
    """Base requirement names, and each extra's."""
    base, extras = set(), {}
    for requirement in metadata.get_all("Requires-Dist"):
        extra = re.search(r"extra\s*==\s*[\"'](\w+)[\"']", requirement)
        name = requirement_name(requirement)
        if extra:
            extras.setdefault(extra.group(1), set()).add(name)
        else:
            base.add(name)
    return base, extras


def test_the_wheel_and_sdist_install_a_light_library_and_the_study_as_extras(tmp_path):
    wheel_path, sdist_path = built_distributions(tmp_path)
    with zipfile.ZipFile(wheel_path) as wheel:
        files = set(wheel.namelist())
        info = {
            Path(name).name: wheel.read(name).decode() for name in files if ".dist-info/" in name
        }
    base, extras = split_requirements(Parser().parsestr(info["METADATA"]))
    assert base == {"torch", "torchdiffeq", "numpy", "pandas"}
    assert not base & STUDY_ONLY
    assert set(extras) == EXTRAS
    assert {"seaborn", "scikit-learn", "mlxtend", "shapely"} <= extras["study"]
    assert {"jupyter", "papermill"} <= extras["notebooks"]
    assert extras["plot"] == {"matplotlib"}
    assert {"nodestudy/__init__.py", "nodestudy/core/check/procedure.py"} <= files
    assert {"nodestudy/study/cli/main.py", "nodestudy/study/profiles/study.py"} <= files
    assert "nodestudy = nodestudy.study.cli.main:main" in info["entry_points.txt"]

    with tarfile.open(sdist_path) as sdist:
        names = sdist.getnames()
        pkg_info = next(n for n in names if n.count("/") == 1 and n.endswith("PKG-INFO"))
        sdist_metadata = Parser().parsestr(sdist.extractfile(pkg_info).read().decode())
    members = {Path(*Path(name).parts[1:]).as_posix() for name in names}
    assert {
        "pyproject.toml",
        "nodestudy/study/__init__.py",
        "nodestudy/core/check/procedure.py",
    } <= members
    assert split_requirements(sdist_metadata) == (base, extras)


def test_ci_installs_the_library_alone_in_a_fresh_environment():
    assert "make test-base" in (ROOT / ".ci" / "run").read_text()
    target = re.search(r"^test-base:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.M | re.S)
    assert target and "pip install --quiet ." in target.group(0)
    assert "$(TORCH_SPEC)" in target.group(0), "the fresh environment's torch must be pinned"
