"""The package's layering: each module imports only modules before it in DEVELOPERS.md's order."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gan_l2_lib"
# DEVELOPERS.md, "One concern per module": nothing imports a module later in this list
ORDER = ["checks", "files", "data", "models", "regularizers", "losses", "train", "batched", "classifier",
         "metrics", "evaluate", "engine", "sweep", "reproduce", "tables", "claims", "cli", "dirac", "plotting",
         "live_figures", "widgets",
         "__main__", "__init__"]


def _package_imports(path: Path) -> set[str]:
    """Modules of the package that ``path`` imports (``from .x import ...`` / ``from . import x``)."""
    deps = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            deps.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
    return deps


def test_every_module_has_a_place_in_the_order():
    assert sorted(p.stem for p in PACKAGE.glob("*.py")) == sorted(ORDER)


@pytest.mark.parametrize("module", ORDER)
def test_no_import_points_back_up(module):
    path = PACKAGE / f"{module}.py"
    later = {d for d in _package_imports(path) if ORDER.index(d) >= ORDER.index(module)}
    assert not later, f"{module} imports {sorted(later)}, which come after it in the layering"
