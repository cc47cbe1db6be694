"""The package's shape stays as it was built: one way down, and a repository that
speaks only of itself.

* The import graph of ``cifarnets/`` has no cycle, function-local imports counted.
* ``nets.py`` (the modules) imports torch and the standard library only.
* Function-local imports of cifarnets' own modules exist only where a heavy dependency
  (torch, timm) is deferred on purpose; each such place is listed here.
* No module reaches into another module's private names.
* No tracked file but ``.ci/run`` names a path outside the repository.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

PACKAGE = REPO / "cifarnets"

# (importing module, imported module) pairs allowed inside functions: the commands that
# need torch import it when they run, so that `cifarnets list`/`info`/`--help` do not;
# the timm hook imports cifarnets._timm (timm, torch) only once timm is imported.
DEFERRED_ON_PURPOSE = {
    ("cifarnets.cli", "cifarnets.data"),
    ("cifarnets.cli", "cifarnets.evaluate"),
    ("cifarnets.cli", "cifarnets.loading"),
    ("cifarnets.cli", "cifarnets.models"),
    ("cifarnets.cli", "cifarnets.training.spec"),
    ("cifarnets.cli", "cifarnets._safetensors"),
    ("cifarnets.cli", "cifarnets.convert"),
    ("cifarnets.cli", "cifarnets.reproduce"),
    ("cifarnets.cli", "cifarnets.publish"),
    ("cifarnets._timm_hook", "cifarnets._timm"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(name: str) -> bool:
    return (REPO / name.replace(".", "/") / "__init__.py").is_file()


def resolve(importer: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The cifarnets modules an import statement loads (submodules for `from . import x`)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "cifarnets"]
    if node.level == 0:
        base = node.module or ""
        if base.split(".")[0] != "cifarnets":
            return []
    else:
        package = importer if is_package(importer) else importer.rsplit(".", 1)[0]
        for _ in range(node.level - 1):
            package = package.rsplit(".", 1)[0]
        base = f"{package}.{node.module}" if node.module else package
    found = []
    for alias in node.names:
        candidate = f"{base}.{alias.name}"
        is_module = (REPO / (candidate.replace(".", "/") + ".py")).is_file() or is_package(
            candidate
        )
        found.append(candidate if is_module else base)
    return found


def imports_of(path: Path) -> list[tuple[str, bool, ast.AST]]:
    """(imported cifarnets module, inside a function?, node) for every import in a file."""
    tree = ast.parse(path.read_text())
    importer = module_name(path)
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.extend((m, in_function, child) for m in resolve(importer, child))
            elif isinstance(child, ast.If) and _is_type_checking(child):
                continue  # `if TYPE_CHECKING:` imports never run
            visit(child, inside)

    visit(tree, False)
    return found


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


FILES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {module_name(f): imports_of(f) for f in FILES}


def test_the_import_graph_has_no_cycle():
    # A package's __init__ importing its submodules is how packages work; a module that
    # imports the package (`from .. import x` of a name, not a module) is an edge to it.
    edges = {m: {t for t, _, _ in imps if t != m} for m, imps in GRAPH.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                cycle = path[path.index(t) :] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


def test_nets_imports_only_torch_and_the_standard_library():
    tree = ast.parse((PACKAGE / "nets.py").read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "nets.py imports nothing of cifarnets"
            roots.add((node.module or "").split(".")[0])
    assert roots - set(sys.stdlib_module_names) == {"torch"}


def test_own_modules_are_imported_inside_functions_only_when_deferred_on_purpose():
    local = {(m, t) for m, imps in GRAPH.items() for t, inside, _ in imps if inside}
    assert local <= DEFERRED_ON_PURPOSE, f"not deferred on purpose: {local - DEFERRED_ON_PURPOSE}"


def test_no_module_reaches_into_another_modules_private_names():
    for m, imps in GRAPH.items():
        for target, _, node in imps:
            if isinstance(node, ast.ImportFrom) and target != m:
                private = [
                    a.name
                    for a in node.names
                    if a.name.startswith("_")
                    and not a.name.startswith("__")
                    and not (PACKAGE / f"{a.name}.py").is_file()
                ]
                assert not private, f"{m} imports private {private} from {target}"


def test_no_tracked_file_names_a_path_outside_the_repository():
    # A user's clone has only the repository; .ci/run alone may say where the CI
    # machine keeps its copy of CIFAR-10.
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    # The development machines' folder beside the checkout, and what it holds; joined at
    # run time so that this file does not name them itself.
    shared = "shared"
    outside = (
        f"../{shared}",
        f"{shared}/data/",
        f"{shared}/device",
        f"{shared}/peer-weights",
        "REFERENCE" + ".md",
        "/" + "work/",
    )
    offenders = []
    for name in tracked:
        path = REPO / name
        if name == ".ci/run" or not path.is_file() or path.suffix in (".safetensors", ".png"):
            continue
        text = path.read_text(errors="ignore")
        offenders += [f"{name}: {word}" for word in outside if word in text]
    assert not offenders, offenders
