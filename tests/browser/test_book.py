"""The HTML book (``make book``) in headless Chromium, served from localhost and opened from file://.

Checks every page of ``_build/book/html``: it loads without a console error or a failed request,
asks nothing of any other host (the book reads offline), every internal link points at a built
file (and, with a fragment, at an element id in it), each notebook page shows as many loaded
pictures as its executed notebook (myst-nb writes it to ``_build/book/jupyter_execute/``) has
image outputs, math is typeset by the local MathJax, and the λ explorer's controls swap its picture. Screenshots go to
``test-artifacts/browser/book/``.

Without a built book the tests are skipped with the reason (``make book`` builds it); under
``GAN_L2_REQUIRE_BROWSER=1`` (CI) they fail instead.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOK = Path(os.environ.get("GAN_L2_BOOK_HTML", ROOT / "_build" / "book" / "html"))
ARTIFACTS = ROOT / "test-artifacts" / "browser" / "book"
NOTEBOOK_PAGES = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
LOAD_TIMEOUT_MS = 60_000
VIEWPORT = {"width": 1300, "height": 950}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def book(chromium) -> Path:
    """The built book's folder; skip (fail under CI) when ``make book`` has not run."""
    if not (BOOK / "index.html").is_file():
        message = f"no built book at {BOOK} (run `make book`)"
        if os.environ.get("GAN_L2_REQUIRE_BROWSER") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return BOOK


@pytest.fixture(scope="module")
def served(book):
    """The book on a localhost HTTP server (any static host behaves the same): its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _pages(book: Path) -> list[str]:
    return sorted(str(p.relative_to(book)) for p in book.rglob("*.html")
                  if "_static" not in p.parts and "jupyter_execute" not in p.parts)


def _image_outputs(notebook: Path) -> int:
    nb = json.loads(notebook.read_text())
    return sum(1 for cell in nb["cells"] if cell["cell_type"] == "code" for out in cell.get("outputs", [])
               if out.get("output_type") in ("display_data", "execute_result")
               and any(m in out.get("data", {}) for m in IMAGE_MIMES))


def _has_math(notebook: Path) -> bool:
    nb = json.loads(notebook.read_text())
    return any("$" in "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


class PageVisit:
    """Open one URL in a fresh page, recording console errors, failed and off-site requests."""

    def __init__(self, chromium, url: str, allowed_prefix: str) -> None:
        self.context = chromium.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status}: {r.url}")
                     if r.status >= 400 else None)
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} {r.failure}"))
        self.page.on("request", lambda r: None if r.url.startswith((allowed_prefix, "data:", "blob:"))
                     else self.errors.append(f"off-site request: {r.url}"))
        self.page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
        if url.startswith("http"):  # file:// pages never report "network idle" to playwright
            self.page.wait_for_load_state("networkidle", timeout=LOAD_TIMEOUT_MS)

    def close(self) -> None:
        self.context.close()


def _wait_for_math(page) -> int:
    """Number of typeset formulas once MathJax has finished (0 when the page has no math)."""
    page.wait_for_function("() => !window.MathJax || !MathJax.startup || !MathJax.startup.promise"
                           " || MathJax.startup.promise.then(() => true)", timeout=LOAD_TIMEOUT_MS)
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    return page.locator("mjx-container").count()


def _check_links(page, page_url: str, base: str, book: Path) -> tuple[int, list[str]]:
    """Every relative link of the page: (count, the ones that do not resolve to a file / an id)."""
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    bad, n = [], 0
    for href in hrefs:
        if re.match(r"^[a-z]+:", href) and not href.startswith(base):
            continue  # absolute links leave the book (none should be needed to read it)
        n += 1
        target = urlsplit(urljoin(page_url, href))
        path = book / unquote(target.path[len(urlsplit(base).path):])
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            bad.append(f"{href} -> {path}")
        elif target.fragment and f'id="{unquote(target.fragment)}"' not in path.read_text(errors="replace"):
            bad.append(f"{href}: no id {target.fragment!r} in {path.name}")
    return n, bad


def test_every_page_loads_offline_with_working_links(chromium, served, book):
    pages = _pages(book)
    assert "index.html" in pages and len(pages) >= len(NOTEBOOK_PAGES) + 2  # + index, explorer
    problems, n_links = [], 0
    for rel in pages:
        visit = PageVisit(chromium, served + rel, served)
        try:
            _wait_for_math(visit.page)
            n, bad = _check_links(visit.page, served + rel, served, book)
            n_links += n
            problems += [f"{rel}: {e}" for e in visit.errors + bad]
            if rel == "index.html":
                visit.page.screenshot(path=ARTIFACTS / "index.png", full_page=False)
        finally:
            visit.close()
    print(f"book: {len(pages)} pages, {n_links} internal links checked")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("stem", NOTEBOOK_PAGES)
def test_notebook_page_shows_every_figure_and_its_math(chromium, served, book, stem):
    executed = book.parent / "jupyter_execute" / "notebooks" / f"{stem}.ipynb"
    assert executed.is_file(), f"no executed notebook {executed}"
    expected = _image_outputs(executed)
    visit = PageVisit(chromium, f"{served}notebooks/{stem}.html", served)
    try:
        n_math = _wait_for_math(visit.page)
        images = visit.page.locator("div.cell_output img")
        shown = images.count()
        loaded = visit.page.eval_on_selector_all(
            "div.cell_output img", "els => els.filter(e => e.complete && e.naturalWidth > 0).length")
        visit.page.screenshot(path=ARTIFACTS / f"{stem}.png", full_page=False)
        print(f"{stem}: {shown} pictures on the page, {expected} image outputs, {n_math} formulas")
        if stem.startswith("00_"):  # the Chinese terms reach the page as text (system fonts draw them)
            assert "权重衰减" in visit.page.inner_text("main")
        assert not visit.errors, "\n".join(visit.errors)
    finally:
        visit.close()
    assert expected > 0
    assert shown == expected and loaded == expected
    if _has_math(executed):
        assert n_math > 0, "the notebook has $...$ math but the page shows no typeset formula"


def test_book_reads_from_file_urls(chromium, book):
    """Opened from disk (no server): relative links, MathJax and the explorer still work."""
    for rel in ("index.html", "notebooks/01_l2_penalty_basics.html", "explorer.html"):
        visit = PageVisit(chromium, (book / rel).as_uri(), "file://")
        try:
            n_math = _wait_for_math(visit.page)
            assert not visit.errors, "\n".join(visit.errors)
            if rel.startswith("notebooks/"):
                assert n_math > 0
        finally:
            visit.close()


def test_explorer_sliders_swap_the_picture(chromium, served, book):
    index = json.loads((book / "_static" / "explorer" / "explorer.json").read_text())
    n_pictures = len(list((book / "_static" / "explorer").glob("*.webp")))
    expected = sum(len(g["lambda_g"]) * len(g["lambda_d"]) * len(g["seeds"]) for g in index["datasets"].values())
    assert set(index["datasets"]) == {"ring8", "grid25"} and n_pictures == expected
    visit = PageVisit(chromium, served + "explorer.html", served)
    page = visit.page
    picture = page.locator("#explorer-image")

    def shown() -> str:
        page.wait_for_function("() => { const i = document.getElementById('explorer-image');"
                               " return i.complete && i.naturalWidth > 0; }", timeout=LOAD_TIMEOUT_MS)
        return picture.get_attribute("src")

    try:
        seen = [shown()]
        for slider in ("#explorer-lambda-d", "#explorer-lambda-g", "#explorer-seed"):
            page.locator(slider).focus()
            page.keyboard.press("ArrowRight")
            seen.append(shown())
        page.select_option("#explorer-dataset", "grid25")
        seen.append(shown())
        page.screenshot(path=ARTIFACTS / "explorer.png", full_page=True)
        assert not visit.errors, "\n".join(visit.errors)
    finally:
        visit.close()
    print(f"explorer: {n_pictures} pictures; sliders showed {seen}")
    assert len(set(seen)) == len(seen), f"every move must swap the picture: {seen}"
    assert seen[0].endswith("ring8_g0_d0_s0.webp") and "grid25" in seen[-1]
