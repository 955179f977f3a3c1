"""Write the student copies of the notebooks: every solution cell becomes a stub to fill in.

A solution cell carries the cell tag ``solution``. Its lines above the ``# Solution`` line are
given code (the exercise's data) and stay; from that line on it is the answer, and the copy gets
a stub instead: ``name = None`` for each value, and for each function its ``def`` line with a
body that only raises ``NotImplementedError``. Which names: those the next cell, the self-check,
passes to ``require_answers("Exercise N", name=name, ...)`` as its first statement after its
imports; so the check then stops with ``ExerciseNotDone: Exercise N not done yet`` instead of
crashing on ``None``. The instructor notebooks in ``notebooks/`` keep their solutions.

A copy whose stub cells already hold a student's answers is not overwritten without ``--force``.

Usage: python tools/make_student.py [OUT_DIR] [NOTEBOOK ...] [--force]
       (default: student/, every notebook)
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import nbformat

from gan_l2_lib.checks import SOLUTION_TAG

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
STUB_TAG = "answer"  # the stub cell in the student copy: where the student writes the answer
SOLUTION_HEADER = "# Solution"
CHECK_CALL = "require_answers"


def _bindings(tree: ast.Module) -> dict[str, ast.stmt]:
    """Top-level names a cell binds, each with the statement that binds it last."""
    bound = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            bound[stmt.name] = stmt
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        bound[node.id] = stmt
    return bound


def checked_answers(check: str) -> tuple[str, list[str]]:
    """The exercise label and answer names of a self-check's ``require_answers`` call.

    Args:
        check: the self-check cell's source; its first statement after the imports must be
            ``require_answers("Exercise N", a=a, b=b)``.

    Returns:
        ``("Exercise N", ["a", "b"])``.

    Raises:
        ValueError: no such call, or an answer passed under another name.
    """
    body = [s for s in ast.parse(check).body if not isinstance(s, (ast.Import, ast.ImportFrom))]
    call = body[0].value if body and isinstance(body[0], ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == CHECK_CALL
            and len(call.args) == 1 and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str) and call.keywords):
        raise ValueError(f"the self-check after a solution cell must start (after its imports) with "
                         f"{CHECK_CALL}(\"Exercise N\", answer=answer, ...); it starts: "
                         f"{check.strip().splitlines()[:3]}")
    names = []
    for kw in call.keywords:
        if kw.arg is None or not (isinstance(kw.value, ast.Name) and kw.value.id == kw.arg):
            raise ValueError(f"{CHECK_CALL} must pass each answer under its own name (x=x), got "
                             f"{ast.unparse(kw)}")
        names.append(kw.arg)
    return call.args[0].value, names


def solution_stub(solution: str, check: str) -> str:
    """The student copy of one solution cell: its given lines, then a stub for each answer.

    Args:
        solution: the solution cell's source: given lines, a line starting ``# Solution``, the
            answer.
        check: the self-check cell right after it (see ``checked_answers``).

    Returns:
        The stub cell's source.

    Raises:
        ValueError: no ``# Solution`` line, or the check reads an answer the solution does not
            define.
    """
    lines = solution.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith(SOLUTION_HEADER)), None)
    if header is None:
        raise ValueError(f"a solution cell needs a line starting {SOLUTION_HEADER!r} above its answer "
                         f"(lines above it are given code and stay); it starts: {lines[:3]}")
    exercise, names = checked_answers(check)
    bound = _bindings(ast.parse("\n".join(lines[header:])))
    stub = lines[:header] + [f"# {exercise}: your answer here. Replace the stub below, run this cell, then",
                             "# the self-check after it (which shows what each name must hold)."]
    for name in names:
        if name not in bound:
            raise ValueError(f"{exercise}: the self-check reads {name!r}, which the solution cell "
                             f"below {SOLUTION_HEADER!r} does not define")
        stmt = bound[name]
        if isinstance(stmt, ast.FunctionDef):
            stub += [f"def {name}({ast.unparse(stmt.args)}):",
                     f"    raise NotImplementedError(\"{exercise}: write {name} here\")"]
        else:
            stub.append(f"{name} = None")
    return "\n".join(stub)


def student_notebook(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` with every solution cell replaced by its stub (tag ``answer``).

    Returns:
        The student notebook and its number of solution cells.

    Raises:
        ValueError: a solution cell that is not code or not followed by a code self-check, a code
            cell with a ``# Solution`` line but no ``solution`` tag, or what ``solution_stub``
            refuses.
    """
    student = nbformat.from_dict(nb)
    cells, n_solutions = student.cells, 0
    for i, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG not in tags:
            if cell.cell_type == "code" and any(line.startswith(SOLUTION_HEADER)
                                                for line in cell.source.splitlines()):
                raise ValueError(f"cell {i} has a {SOLUTION_HEADER!r} line but no {SOLUTION_TAG!r} tag: "
                                 "tag it, or the student copy shows its answer")
            continue
        check = cells[i + 1] if i + 1 < len(cells) else None
        if cell.cell_type != "code" or check is None or check.cell_type != "code":
            raise ValueError(f"solution cell {i} must be a code cell followed by its code self-check")
        cell.source = solution_stub(cell.source, check.source)
        cell.metadata.tags = [STUB_TAG if tag == SOLUTION_TAG else tag for tag in tags]
        cell.outputs, cell.execution_count = [], None
        n_solutions += 1
    return student, n_solutions


def _written_answers(path: Path, student: nbformat.NotebookNode) -> list[str]:
    """Answer cells of an existing copy at ``path`` that are no longer the stubs of ``student``."""
    if not path.is_file():
        return []
    stubs = {c.source for c in student.cells if STUB_TAG in c.metadata.get("tags", [])}
    existing = nbformat.read(path, as_version=4)
    return [c.source for c in existing.cells
            if STUB_TAG in c.metadata.get("tags", []) and c.source not in stubs]


def make_student_copies(out_dir: Path, notebooks: list[Path] | None = None,
                        overwrite_answers: bool = False) -> dict[str, int]:
    """Write the student copy of each notebook into ``out_dir`` (created if missing).

    Args:
        out_dir: where the copies go, under the notebooks' own file names.
        notebooks: paths of notebooks in ``notebooks/``; default every numbered one.
        overwrite_answers: replace an existing copy even where a student has written answers
            into its stub cells (otherwise such a copy is refused, before anything is written).

    Returns:
        ``{file name: number of solution cells stubbed}``.

    Raises:
        ValueError: a path that is not one of the numbered notebooks, a notebook that
            ``student_notebook`` refuses, or a copy with written answers in the way.
    """
    known = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if notebooks is None:
        notebooks = known
    for path in notebooks:
        if Path(path).resolve() not in known:
            raise ValueError(f"unknown notebook {str(path)!r}: choose from "
                             f"{[str(p.relative_to(ROOT)) for p in known]}")
    out_dir = Path(out_dir)
    copies, counts = {}, {}
    for path in notebooks:
        path = Path(path).resolve()
        try:
            copies[path.name], counts[path.name] = student_notebook(nbformat.read(path, as_version=4))
        except ValueError as err:
            raise ValueError(f"{path.name}: {err}") from err
        nbformat.validate(copies[path.name])
    written = [name for name, student in copies.items() if _written_answers(out_dir / name, student)]
    if written and not overwrite_answers:
        raise ValueError(f"{out_dir} holds answers written into {written}: move them away, or overwrite "
                         "them with --force (make student FORCE=1)")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, student in copies.items():
        nbformat.write(student, out_dir / name)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=ROOT / "student")
    parser.add_argument("notebooks", type=Path, nargs="*")
    parser.add_argument("--force", action="store_true",
                        help="overwrite copies even where answers were written into them")
    args = parser.parse_args(argv)
    counts = make_student_copies(args.out_dir, args.notebooks or None, overwrite_answers=args.force)
    for name, n in counts.items():
        print(f"{args.out_dir / name}: {n} solution cell(s) replaced by stubs")


if __name__ == "__main__":
    main()
