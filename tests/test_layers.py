"""The library (``nodestudy``, ``nodestudy.core``) imports nothing from the study
(``nodestudy.study``): imports run one way, and ``import nodestudy`` stays light."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "nodestudy"


def imported_modules(path: Path) -> set[str]:
    """Modules a file imports, relative imports resolved against the package."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                if node.module:
                    names.add(".".join([*base, node.module]))
                else:  # from .. import data: the sub-packages themselves
                    names |= {".".join([*base, alias.name]) for alias in node.names}
            else:
                names.add(node.module)
    return names


def test_the_core_imports_only_itself_and_third_party_packages():
    core = sorted((PACKAGE / "core").rglob("*.py"))
    assert len(core) >= 8
    for path in core:
        ours = {name for name in imported_modules(path) if name.split(".")[0] == "nodestudy"}
        outside = {name for name in ours if not name.startswith("nodestudy.core")}
        assert not outside, f"{path.name} imports the study layer: {sorted(outside)}"


def test_the_library_face_imports_only_the_core():
    ours = {n for n in imported_modules(PACKAGE / "__init__.py") if n.startswith("nodestudy")}
    assert ours and all(name.startswith("nodestudy.core") for name in ours), sorted(ours)


#: Packages of the study's and the notebooks' extras, which the library must not need.
STUDY_ONLY_PACKAGES = ["seaborn", "sklearn", "mlxtend", "shapely", "papermill", "jupyter"]


def test_importing_nodestudy_imports_neither_the_study_nor_its_packages():
    probe = (
        "import sys, nodestudy; "
        "print(len(nodestudy.__all__)); "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{STUDY_ONLY_PACKAGES!r} or m.startswith('nodestudy.study'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    names, loaded = result.stdout.split("\n")[:2]
    assert int(names) <= 12
    assert loaded == "", f"import nodestudy loaded {loaded}"


#: The study's sub-packages and top-level modules, bottom up, as the README's module map
#: lists them: each imports only the core, third-party packages and those before it.
STUDY_LAYERS = [
    "runtime",
    "config",
    "profiles",
    "models",
    "budget",
    "data",
    "store",
    "session",
    "analysis",
    "training",
    "figures",
    "experiments",
    "cli",
]


def study_unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if parts[:2] == ["nodestudy", "study"] and len(parts) > 2 else None


def test_the_study_s_layers_import_only_those_below_them():
    study = PACKAGE / "study"
    units = {path.stem if path.suffix == ".py" else path.name for path in study.iterdir()}
    assert units - {"__init__", "__main__", "__pycache__"} == set(STUDY_LAYERS)
    upward = []
    for path in sorted(study.rglob("*.py")):
        unit = study_unit(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if unit not in STUDY_LAYERS:  # nodestudy.study's own face imports every layer
            continue
        for name in imported_modules(path):
            target = study_unit(name or "")
            if name == "nodestudy.study" or (
                target in STUDY_LAYERS and STUDY_LAYERS.index(target) > STUDY_LAYERS.index(unit)
            ):  # the face imports every layer, so importing it is importing upward
                upward.append(f"{path.relative_to(study)} imports {name}")
    assert not upward, upward


def test_the_study_s_sizes_are_data_that_imports_only_what_a_run_is():
    for path in sorted((PACKAGE / "study" / "profiles").glob("*.py")):
        ours = {study_unit(n or "") for n in imported_modules(path)} - {None}
        assert ours <= {"config", "profiles"}, f"{path.name} imports {sorted(ours)}"


def test_the_resolver_sees_relative_imports():
    names = imported_modules(PACKAGE / "core" / "check" / "procedure.py")
    assert "nodestudy.core.solvers" in names and "torch" in names


#: Short functions, docstrings aside; plotting functions lay out panels and are exempt.
#: Modules are as long as their concept needs: that is a review rule (docs/design.md),
#: not a count (a cap split modules where no concept splits, issue 36).
MAX_FUNCTION_LINES = 60


def test_no_function_has_outgrown_one_job():
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        if path.parent.name == "figures":
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body
                if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:] or body
                length = (
                    body[-1].end_lineno
                    - node.lineno
                    + 1
                    - (
                        node.body[0].end_lineno - node.body[0].lineno + 1
                        if body is not node.body
                        else 0
                    )
                )
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.name}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, too_long


#: The library's tests: they exercise ``import nodestudy`` on models written without the
#: study, as a user's would be.
CORE_TESTS = [
    "test_adapters.py",
    "test_check.py",
    "test_check_hard.py",
    "test_crossings.py",
    "test_solvers.py",
    "test_stats.py",
]


def test_the_library_s_tests_use_no_study_code():
    tests = Path(__file__).parent
    for name in CORE_TESTS:
        imported = imported_modules(tests / name)
        helpers = {n for n in imported if (tests / f"{n}.py").exists()}  # e.g. study_helpers
        for helper in helpers:
            imported |= imported_modules(tests / f"{helper}.py")
        ours = {n for n in imported if n.startswith("nodestudy")}
        assert ours, f"{name} imports nothing of nodestudy"
        study = sorted(n for n in ours if n.startswith("nodestudy.study"))
        assert not study, f"{name} imports {study}"
