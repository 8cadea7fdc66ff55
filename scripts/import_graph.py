"""The package's import graph in numbers: modules, the study's layers, imports that run
upward (from the core into the study, or from a study layer into one above it), import
cycles between modules, and the largest module.

    python scripts/import_graph.py

The layers and the import reader are the ones ``tests/test_layers.py`` checks with, so
this prints what that test enforces, counted.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_layers import PACKAGE, STUDY_LAYERS, imported_modules, study_unit  # noqa: E402


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def graph() -> dict[str, set[str]]:
    """Each module of the package and the package's modules it imports."""
    paths = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}
    edges = {}
    for name, path in paths.items():
        targets = set()
        for imported in imported_modules(path):
            # ``from .x import y`` names x.y, which is a module or a name in x
            while imported and imported not in paths:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        edges[name] = targets
    return edges


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Imports from the core into the study, and from a study layer into one above it
    (the study's face, which imports every layer, counts as the top)."""

    def runs_upward(source: str, target: str) -> bool:
        if source.startswith("nodestudy.core"):
            return target.startswith("nodestudy.study")
        unit, reached = study_unit(source), study_unit(target)
        if unit not in STUDY_LAYERS:
            return False
        if target == "nodestudy.study":
            return True
        return reached in STUDY_LAYERS and STUDY_LAYERS.index(reached) > STUDY_LAYERS.index(unit)

    return [
        f"{s} -> {t}" for s, targets in edges.items() for t in sorted(targets) if runs_upward(s, t)
    ]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm). A package's
    face (``__init__``) re-exports its modules, which may import their siblings through
    it; faces are left out, as Python resolves those imports by module."""
    faces = {n for n in edges if (PACKAGE.parent / n.replace(".", "/") / "__init__.py").exists()}
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node] - faces:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(set(edges) - faces):
        if node not in index:
            visit(node)
    return groups


def main() -> None:
    edges = graph()
    sizes = {
        name: len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
        for name in [module_name(path)]
    }
    largest = max(sizes, key=sizes.get)
    core = [n for n in edges if n.startswith("nodestudy.core")]
    study = [n for n in edges if n.startswith("nodestudy.study")]
    print(f"modules: {len(edges)} ({len(core)} in the core, {len(study)} in the study)")
    print(f"study layers, bottom up: {len(STUDY_LAYERS)} ({', '.join(STUDY_LAYERS)})")
    print(f"imports between the package's modules: {sum(map(len, edges.values()))}")
    found = upward(edges)
    print(f"upward imports: {len(found)}" + "".join(f"\n  {line}" for line in found))
    groups = cycles(edges)
    print(f"import cycles: {len(groups)}" + "".join(f"\n  {g}" for g in groups))
    print(f"largest module: {largest} ({sizes[largest]} lines)")


if __name__ == "__main__":
    main()
