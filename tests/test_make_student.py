"""tools/make_student.py: student copies whose solution cells are stubs and whose checks fail cleanly."""

import importlib.util
import json
import os
from pathlib import Path

import nbformat
import pytest

from gan_l2_lib.checks import ExerciseNotDone

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools" / "make_student.py")
make_student = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_student)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    counts = make_student.make_student_copies(out)
    return out, counts


def _tagged(cell, tag):
    return tag in cell.get("metadata", {}).get("tags", [])


def _answer_lines(instructor: dict) -> set[str]:
    """Lines of the solution cells' answers that occur nowhere else in the instructor notebook.

    Leaves out ``def`` lines: a function's signature is part of the question, and its stub keeps it.
    """
    answers, elsewhere = set(), set()
    for cell in instructor["cells"]:
        lines = {line.strip() for line in "".join(cell["source"]).splitlines() if len(line.strip()) >= 8}
        if _tagged(cell, "solution"):
            source = "".join(cell["source"])
            answer = source[source.index(make_student.SOLUTION_HEADER):]
            answers |= {line.strip() for line in answer.splitlines()
                        if len(line.strip()) >= 8 and not line.startswith("def ")}
        else:
            elsewhere |= lines
    return answers - elsewhere


def test_every_notebook_with_exercises_gets_a_copy_with_its_solution_cells_stubbed(student_dir):
    out, counts = student_dir
    assert sorted(counts) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        instructor = json.loads(path.read_text())
        has_exercises = any(c["cell_type"] == "markdown" and "## Exercises" in "".join(c["source"])
                            for c in instructor["cells"])
        n_tagged = sum(_tagged(c, "solution") for c in instructor["cells"])
        assert counts[path.name] == n_tagged
        if has_exercises:
            assert n_tagged >= 1, f"{path.name} has exercises but no cell tagged 'solution'"
        student = nbformat.read(out / path.name, as_version=4)
        assert len(student.cells) == len(instructor["cells"])
        for mine, theirs in zip(student.cells, instructor["cells"], strict=True):
            if _tagged(theirs, "solution"):
                assert _tagged(mine, make_student.STUB_TAG) and not _tagged(mine, "solution")
                assert mine.source != "".join(theirs["source"]) and not mine.outputs
            else:  # everything else is the instructor's cell, unchanged
                assert mine.source == "".join(theirs["source"]) and mine.cell_type == theirs["cell_type"]


def test_no_solution_code_is_left_in_a_student_copy(student_dir):
    out, _ = student_dir
    for path in NOTEBOOKS:
        secret = _answer_lines(json.loads(path.read_text()))
        text = (out / path.name).read_text()
        copy = json.loads(text)
        copy_lines = {line.strip() for cell in copy["cells"] for line in "".join(cell["source"]).splitlines()}
        assert secret, f"{path.name}: no solution lines found"
        assert not secret & copy_lines, f"{path.name}: solution lines left: {sorted(secret & copy_lines)}"
        assert "# Solution" not in text


def test_every_stub_makes_its_self_check_fail_with_the_exercise_named(student_dir):
    """Runs each stub (without its given lines) and the start of its check, in-process."""
    out, _ = student_dir
    n_checked = 0
    for path in NOTEBOOKS:
        cells = nbformat.read(out / path.name, as_version=4).cells
        for i, cell in enumerate(cells):
            if not _tagged(cell, make_student.STUB_TAG):
                continue
            exercise, names = make_student.checked_answers(cells[i + 1].source)
            lines = cell.source.splitlines()
            stub = "\n".join(lines[next(k for k, line in enumerate(lines) if line.startswith(f"# {exercise}:")):])
            namespace = {}
            exec(compile(stub, f"{path.name} stub {i}", "exec"), namespace)
            with pytest.raises(ExerciseNotDone, match=rf"^{exercise} not done yet: `{names[0]}`"):
                exec(compile(cells[i + 1].source, f"{path.name} check {i + 1}", "exec"), namespace)
            n_checked += 1
    assert n_checked == sum(_tagged(c, "solution") for p in NOTEBOOKS for c in json.loads(p.read_text())["cells"])


def test_a_student_copy_runs_in_a_kernel_until_its_first_check_stops_it(student_dir, monkeypatch):
    """00 in quick mode (about 10 s): every cell before the exercise runs, the check names it."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    out, _ = student_dir
    monkeypatch.setenv("GAN_L2_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(out / "00_start_here.ipynb", as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with pytest.raises(CellExecutionError) as err:
        client.execute()
    assert "ExerciseNotDone" in str(err.value) and "not done yet: `counts`, `grid_covered`" in str(err.value)
    failed = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
              and any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    first_stub = next(i for i, c in enumerate(nb.cells) if _tagged(c, make_student.STUB_TAG))
    assert failed == [first_stub + 1]


# --- bad input ---------------------------------------------------------------------------------

CHECK = 'from gan_l2_lib.checks import require_answers\n\nrequire_answers("Exercise 1", x=x)\nassert x == 2'


def test_stub_keeps_given_lines_and_stubs_values_and_functions():
    solution = "a = 1  # given\n# Solution\nx = a + 1\ndef f(w, lam=0.5):\n    return lam * w"
    check = 'require_answers("Exercise 4", x=x, f=f)'
    assert make_student.solution_stub(solution, check).splitlines() == [
        "a = 1  # given",
        "# Exercise 4: your answer here. Replace the stub below, run this cell, then",
        "# the self-check after it (which shows what each name must hold).",
        "x = None",
        "def f(w, lam=0.5):",
        '    raise NotImplementedError("Exercise 4: write f here")',
    ]


def test_a_copy_with_written_answers_is_kept_unless_forced(tmp_path):
    one = [ROOT / "notebooks" / "01_l2_penalty_basics.ipynb"]
    make_student.make_student_copies(tmp_path, one)
    make_student.make_student_copies(tmp_path, one)  # untouched stubs: rebuilt without asking
    copy = nbformat.read(tmp_path / one[0].name, as_version=4)
    stub = next(c for c in copy.cells if _tagged(c, make_student.STUB_TAG))
    stub.source = stub.source.replace("shrink_factor = None", "shrink_factor = 0.99999")
    nbformat.write(copy, tmp_path / one[0].name)
    with pytest.raises(ValueError, match=r"holds answers written into \['01_l2_penalty_basics.ipynb'\]"):
        make_student.make_student_copies(tmp_path, one)
    assert "0.99999" in (tmp_path / one[0].name).read_text()
    make_student.make_student_copies(tmp_path, one, overwrite_answers=True)
    assert "0.99999" not in (tmp_path / one[0].name).read_text()


def test_unknown_notebook_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"unknown notebook 'notebooks/99_nope.ipynb': choose from"):
        make_student.make_student_copies(tmp_path, [Path("notebooks/99_nope.ipynb")])


@pytest.mark.parametrize(
    "solution, check, match",
    [("x = 2", CHECK, "needs a line starting '# Solution'"),
     ("# Solution\ny = 2", CHECK, "the self-check reads 'x', which the solution cell"),
     ("# Solution\nx = 2", "assert x == 2", r"must start \(after its imports\) with require_answers"),
     ("# Solution\nx = 2", 'require_answers("Exercise 1", x=y)', r"under its own name \(x=x\), got x=y")],
)
def test_malformed_exercise_cells_are_refused(solution, check, match):
    with pytest.raises(ValueError, match=match):
        make_student.solution_stub(solution, check)


def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_untagged_solution_and_solution_without_check_are_refused():
    untagged = _notebook(nbformat.v4.new_code_cell("# Solution\nx = 2"), nbformat.v4.new_code_cell(CHECK))
    with pytest.raises(ValueError, match="has a '# Solution' line but no 'solution' tag"):
        make_student.student_notebook(untagged)
    last = _notebook(nbformat.v4.new_code_cell("# Solution\nx = 2", metadata={"tags": ["solution"]}))
    with pytest.raises(ValueError, match="must be a code cell followed by its code self-check"):
        make_student.student_notebook(last)


def test_student_notebook_leaves_the_instructor_notebook_unchanged():
    nb = _notebook(nbformat.v4.new_code_cell("# Solution\nx = 2", metadata={"tags": ["solution"]}),
                   nbformat.v4.new_code_cell(CHECK))
    student, n = make_student.student_notebook(nb)
    assert n == 1 and nb.cells[0].source == "# Solution\nx = 2" and nb.cells[0].metadata.tags == ["solution"]
    assert student.cells[0].source.endswith("x = None") and student.cells[0].metadata.tags == ["answer"]
