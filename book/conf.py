"""Sphinx configuration of the HTML book (``make book``): the executed notebooks + the λ explorer.

Everything the pages need is in the build: the theme's assets come with sphinx-book-theme,
MathJax from a local copy in ``_static/mathjax`` (put there by ``book/prepare.py``), and no
widget manager is loaded: widget cells show their static PNG (``widgets.PictureBox``).
"""

import os

project = "gan-l2: L2 regularization in GANs"
author = "gan-l2"
extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "make_explorer.py", "prepare.py"]
html_theme = "sphinx_book_theme"
html_title = "gan-l2 · L2 regularization in GANs"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "search_bar_text": "Search the book…",
}
html_context = {"default_mode": "light"}  # without it the theme logs a console error on first visit
html_last_updated_fmt = None
html_copy_source = False
# offline: MathJax 3 from the build's own _static folder (relative path = relative to _static)
mathjax_path = "mathjax/tex-mml-chtml.js"
# execution: every notebook, in this folder's copy; a failing cell fails the build
nb_execution_mode = "force"
nb_execution_timeout = int(os.environ.get("BOOK_CELL_TIMEOUT", "600"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_ipywidgets_js = {}  # no widget manager from a CDN: the widget's image/png is the fallback
nb_mime_priority_overrides = [
    ("html", "application/vnd.jupyter.widget-view+json", None),
    ("html", "image/gif", 15),
]
myst_enable_extensions = ["dollarmath", "amsmath"]
suppress_warnings = ["mystnb.unknown_mime_type"]
