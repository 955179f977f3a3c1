"""Assemble the book's Sphinx source folder: ``book/`` + a copy of ``notebooks/`` + local MathJax.

The notebooks are copied (the repository's stay stripped); in quick mode each copy gets a
first markdown cell saying so. Exercise solutions (cells tagged ``checks.SOLUTION_TAG``) get
myst-nb's ``hide-cell`` tag: the page shows a "Show code cell" toggle instead of the answer. MathJax 3's ``es5`` folder (npm package ``mathjax``) is copied
into ``_static/mathjax`` so that math renders offline and from ``file://``.

Usage: python book/prepare.py SRC_DIR --mathjax PATH/TO/node_modules/mathjax [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from gan_l2_lib.checks import SOLUTION_TAG

ROOT = Path(__file__).resolve().parents[1]
# MathJax 3 parts the combined tex-mml-chtml component loads (fonts, lazy extensions, menu)
MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors", "sre")
#: myst-nb's cell tag that folds a cell's code and output behind a toggle.
HIDE_TAG = "hide-cell"
QUICK_NOTE = ("```{note}\nThis page was executed in **quick mode** (`GAN_L2_QUICK=1`) when the book "
              "was built: its live runs are shorter and its grids coarser than in full mode (the "
              "notebook's first cells say what changes). Numbers read from the shipped sweep results "
              "are the full ones.\n```")


def prepare(src: Path, mathjax: Path, quick: bool) -> None:
    """Fill ``src`` (emptied first) with the book's pages, notebooks and MathJax."""
    es5 = mathjax / "es5"
    if not (es5 / "tex-mml-chtml.js").is_file():
        raise ValueError(f"no MathJax 3 at {mathjax} (expected es5/tex-mml-chtml.js; "
                         "npm install mathjax@3 puts it in node_modules/mathjax)")
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(ROOT / "book", src, ignore=shutil.ignore_patterns("__pycache__", "*.py", ".mathjax"))
    shutil.copy(ROOT / "book" / "conf.py", src / "conf.py")
    for part in MATHJAX_PARTS:
        source, target = es5 / part, src / "_static" / "mathjax" / part
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source, target)
    (src / "notebooks").mkdir()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            tags = cell.get("metadata", {}).get("tags", [])
            if SOLUTION_TAG in tags and HIDE_TAG not in tags:
                cell["metadata"]["tags"] = [*tags, HIDE_TAG]
        if quick:
            nb["cells"].insert(1, {"cell_type": "markdown", "id": "book-quick-mode-note",
                                   "metadata": {}, "source": QUICK_NOTE})
        (src / "notebooks" / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("--mathjax", type=Path, required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    prepare(args.src, args.mathjax, args.quick)


if __name__ == "__main__":
    main()
