"""book/prepare.py: the Sphinx source folder the HTML book is built from (no Sphinx run here)."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("book_prepare", ROOT / "book" / "prepare.py")
prepare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(prepare)


def _fake_mathjax(tmp_path: Path) -> Path:
    es5 = tmp_path / "mathjax" / "es5"
    for part in prepare.MATHJAX_PARTS:
        target = es5 / part
        if part.endswith(".js"):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("// MathJax")
        else:
            target.mkdir(parents=True)
            (target / "part.js").write_text("// part")
    return tmp_path / "mathjax"


def test_prepare_copies_pages_notebooks_and_mathjax_and_labels_quick_mode(tmp_path):
    src = tmp_path / "src"
    prepare.prepare(src, _fake_mathjax(tmp_path), quick=True)
    assert (src / "conf.py").is_file() and (src / "index.md").is_file() and (src / "explorer.md").is_file()
    assert (src / "_static" / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (src / "_static" / "mathjax" / "output" / "chtml" / "part.js").is_file()
    originals = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    n_hidden = 0
    assert sorted(p.name for p in (src / "notebooks").glob("*.ipynb")) == [p.name for p in originals]
    for path in originals:
        copy = json.loads((src / "notebooks" / path.name).read_text())
        original = json.loads(path.read_text())
        assert copy["cells"][0] == original["cells"][0]  # the title stays the page title
        assert "quick mode" in copy["cells"][1]["source"] and len(copy["cells"]) == len(original["cells"]) + 1
        # solutions fold behind a toggle; every other cell is copied as it is
        for mine, theirs in zip(copy["cells"][2:], original["cells"][1:], strict=True):
            tags = theirs.get("metadata", {}).get("tags", [])
            if "solution" in tags:
                n_hidden += 1
                assert mine["metadata"]["tags"] == [*tags, prepare.HIDE_TAG] and mine["source"] == theirs["source"]
            else:
                assert mine == theirs
    assert n_hidden >= 20  # every notebook from 01 on has exercises with solutions


def test_prepare_without_quick_adds_no_note_and_only_folds_solutions(tmp_path):
    src = tmp_path / "src"
    prepare.prepare(src, _fake_mathjax(tmp_path), quick=False)
    path = ROOT / "notebooks" / "00_start_here.ipynb"
    copy, original = json.loads((src / "notebooks" / path.name).read_text()), json.loads(path.read_text())
    for cell in copy["cells"]:
        tags = cell["metadata"].get("tags", [])
        if prepare.HIDE_TAG in tags:
            tags.remove(prepare.HIDE_TAG)
    assert copy == original


def test_prepare_rejects_a_folder_without_mathjax(tmp_path):
    with pytest.raises(ValueError, match="no MathJax 3 at"):
        prepare.prepare(tmp_path / "src", tmp_path, quick=True)
