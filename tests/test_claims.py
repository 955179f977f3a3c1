"""gan_l2_lib.claims: the article's claims, their verdicts from the shipped runs, the page and routes of 00."""

import json
import re
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from gan_l2_lib import claims
from gan_l2_lib.claims import (
    CLAIMS,
    INSTRUCTOR_ROUTE,
    NOT_MEASURED,
    SELF_STUDY_ROUTE,
    UNTESTED,
    VERDICT_WORDS,
    RouteStop,
    claim,
    claim_verdicts,
    claims_markdown,
    load_evidence_sweep,
    markdown_words,
    reading_minutes,
    route_markdown,
    section_anchor,
)
from gan_l2_lib.metrics import TOO_FEW_SEEDS
from gan_l2_lib.sweep import (
    ARTICLE_LAMBDA,
    cell_effect,
    load_sweep,
    shipped_results_dir,
    shipped_sweeps,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
START = NOTEBOOKS / "00_start_here.ipynb"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def verdicts():
    return {row.claim.key: row for row in claim_verdicts()}


def _cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]


def _headings(path: Path) -> list[str]:
    return [m.group(1).strip() for text in _cells(path) for m in re.finditer(r"^#{1,3} (.*)$", text, re.M)]


# --- the claims themselves ---------------------------------------------------------------------


@pytest.mark.parametrize("c", CLAIMS, ids=lambda c: c.key)
def test_each_claim_has_english_and_chinese_text(c):
    assert c.en and not CJK.search(c.en) and re.search(r"[a-z]{3}", c.en)
    assert CJK.search(c.zh) and CJK.search(c.name)
    assert c.evidence, "a claim needs at least one measurement"


@pytest.mark.parametrize("c", CLAIMS, ids=lambda c: c.key)
def test_each_claim_links_to_a_notebook_section_that_exists(c, verdicts):
    for ev in c.evidence:
        if ev.where.notebook is None:  # a notebook still being written: its runs must not ship yet
            assert verdicts[c.key].verdict == NOT_MEASURED and ev.sweep not in shipped_sweeps(), (
                f"{c.key}: the runs of {ev.sweep!r} ship now; name the notebook that reads them")
            continue
        target = NOTEBOOKS / ev.where.notebook
        assert target.is_file(), target
        assert ev.where.heading in _headings(target), f"no section {ev.where.heading!r} in {target.name}"
        assert f"({ev.where.notebook}#{ev.where.anchor})" in ev.where.link()


def test_section_anchor_is_the_books_id_of_the_heading():
    assert section_anchor("5. The verdicts, measured") == "the-verdicts-measured"
    assert section_anchor("2. With plain SGD, the penalty *is* weight decay") == "with-plain-sgd-the-penalty-is-weight-decay"
    nodes = pytest.importorskip("docutils.nodes")  # Sphinx (the book) makes section ids with make_id
    for heading in {ev.where.heading for c in CLAIMS for ev in c.evidence}:
        assert section_anchor(heading) == nodes.make_id(heading), heading


def test_claim_looks_up_by_key_and_rejects_an_unknown_one():
    assert claim("stability").key == "stability"
    with pytest.raises(ValueError, match="unknown claim 'stabilty'; known claims: overfitting, stability"):
        claim("stabilty")
    with pytest.raises(ValueError, match="unknown claim"):
        claim_verdicts(["quality", "nope"])


# --- verdicts from the shipped runs --------------------------------------------------------------


def test_verdicts_are_notebook_05s_paired_effects_at_the_articles_lambda(verdicts):
    ring8 = load_sweep(shipped_sweeps()["ring8"])[0]
    art = (ARTICLE_LAMBDA, ARTICLE_LAMBDA)
    for key, metric in (("stability", "mode_shift"), ("quality", "high_quality_fraction"), ("mode_collapse", "modes_covered")):
        direct = cell_effect(ring8, metric, art, method="percentile")
        assert verdicts[key].effect == direct  # the same computation as 06, not a second one
    # the numbers 06's statement 7 states and asserts
    for key, expected in (("stability", (0.41, 0.23, 0.58)), ("quality", (-0.19, -0.35, -0.03))):
        e = verdicts[key].effect
        assert_close(torch.tensor([e.mean, e.low, e.high], dtype=torch.float64),
                     torch.tensor(expected, dtype=torch.float64), atol=0.011, rtol=0)
    # and 04's statement 2: the Fréchet distance at λ = 1e-4 on digits, three seeds
    fd = verdicts["quality"].effects[1]
    assert_close(torch.tensor([fd.mean, fd.low, fd.high], dtype=torch.float64),
                 torch.tensor([5.7, 3.2, 7.7], dtype=torch.float64), atol=0.1, rtol=0)
    assert fd.n == 3


def test_verdict_words_follow_the_family_verdict_of_the_first_effect(verdicts):
    decidable = [row for row in verdicts.values() if row.effect is not None and not row.claim.untested]
    for key, row in verdicts.items():
        if row.verdict == NOT_MEASURED:
            assert row.effect is None
        elif row.claim.untested:
            assert row.verdict == UNTESTED and row.family is None
        else:
            assert row.family_size == len(decidable)
            assert row.verdict == VERDICT_WORDS[row.family.verdict], key
        assert len(row.numbers()) == sum(e is not None for e in row.effects)


def test_a_claim_needs_its_holm_adjusted_sign_flip_p_not_just_an_interval(verdicts):
    # ring8's quality loss at the article's λ: the percentile interval excludes 0, but with 10 pairs
    # the exact sign-flip p is 0.0625 (8 of 10 seeds lower), so the claim is not decided by it
    quality = verdicts["quality"]
    assert quality.effect.high < 0 and quality.effect.verdict == "worse"
    assert quality.family.p_value == pytest.approx(0.0625) and quality.verdict == VERDICT_WORDS["neutral"]
    p = sorted(row.family.p_value for row in verdicts.values() if row.family is not None)
    stability = verdicts["stability"].family
    assert stability.p_holm == pytest.approx(min(1.0, len(p) * stability.p_value))  # the smallest p: × m
    # fewer than 6 seeds decide nothing, whatever the interval
    overfit = verdicts["overfitting"]
    assert overfit.effect.n == 3 and overfit.verdict == VERDICT_WORDS[TOO_FEW_SEEDS]


def test_a_sweep_that_does_not_ship_yet_reads_as_not_measured_and_a_missing_shipped_one_fails(tmp_path, monkeypatch):
    assert load_evidence_sweep("mnist1k_l2_d", tmp_path) is None
    with pytest.raises(ValueError, match="unknown sweep 'ring9'"):
        load_evidence_sweep("ring9")
    with pytest.raises(ValueError, match="the shipped sweep 'mnist1k_article' is incomplete .*a broken install"):
        claim_verdicts(["stability"], results_dir=tmp_path)
    # as if the overfitting sweeps did not ship yet and their runs were absent: not measured
    for folder in shipped_results_dir().iterdir():
        if folder.name != "mnist5k_train1k":
            (tmp_path / folder.name).symlink_to(folder)
    not_yet = {k: v for k, v in claims.shipped_sweeps().items() if not k.startswith("mnist1k_")}
    monkeypatch.setattr(claims, "shipped_sweeps", lambda: not_yet)
    overfit, stability = claim_verdicts(["overfitting", "stability"], results_dir=tmp_path)
    assert overfit.verdict == NOT_MEASURED and set(overfit.effects) == {None} and overfit.family is None
    assert stability.family_size == 4 and stability.verdict == VERDICT_WORDS["worse"]


# --- the page: notebook 00 and the README --------------------------------------------------------


def test_00_shows_the_claims_table_computed_now(verdicts):
    table = claims_markdown(list(verdicts.values()))
    assert table in _cells(START), ("00's claims table differs from the shipped results: regenerate it "
                                    "with claims.claims_markdown(claims.claim_verdicts())")


def test_readme_and_00_give_the_same_routes():
    routes = next(t for t in _cells(START) if t.startswith("### Routes through the course"))
    body = routes.split("\n", 1)[1].strip()
    assert body in (ROOT / "README.md").read_text(), "the README's routes differ from 00's"


def test_routes_read_existing_sections_and_the_self_study_route_visits_every_notebook():
    for stops in INSTRUCTOR_ROUTE.values():
        table = route_markdown(stops, NOTEBOOKS)  # raises for a missing notebook or section
        assert table.count("\n| ") == len(stops) + 1  # + the total row
    names = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert sorted(stop.notebook for stop in SELF_STUDY_ROUTE) == names


# --- words and reading time ------------------------------------------------------------------------


def _notebook(tmp_path: Path, *markdown: str) -> Path:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": text} for text in markdown]
    cells.insert(1, {"cell_type": "code", "metadata": {}, "source": "not counted at all", "outputs": []})
    path = tmp_path / "01_toy.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_markdown_words_counts_per_section_and_skips_code_and_rules(tmp_path):
    path = _notebook(tmp_path, "# Toy title\n\nOne two three.", "## 1. First\n\n| a | b |\n|---|---|\n| c d | — |",
                     "### Deeper part\n\nλ = 1e-4 here")
    assert markdown_words(path) == {"Toy title": 5, "1. First": 6, "Deeper part": 5}
    with pytest.raises(ValueError, match="is not a readable notebook"):
        markdown_words(tmp_path / "missing.ipynb")


def test_route_markdown_totals_and_rejects_bad_stops(tmp_path):
    path = _notebook(tmp_path, "# Toy title\n\nOne two three.", "## 1. First\n\nfour five", "## 2. Second\n\nsix")
    table = route_markdown([RouteStop(path.name, ("1.",), "read §1")], tmp_path, words_per_minute=(3.0, 1.0))
    # title 5 + §1 4 words read, of 5 + 4 + 3; 9 words at 3 and 1 word per minute
    assert "| 01_toy | read §1 | 9 (12) | 3–9 |" in table and "| **total** | | **9** | **3–9** |" in table
    with pytest.raises(ValueError, match="no section starts with"):
        route_markdown([RouteStop(path.name, ("3.",), "")], tmp_path)
    with pytest.raises(ValueError, match="no such notebook"):
        route_markdown([RouteStop("99_none.ipynb", (), "")], tmp_path)
    with pytest.raises(ValueError, match="at least one stop"):
        route_markdown([], tmp_path)


def test_reading_minutes_at_two_speeds():
    assert_close(torch.tensor(reading_minutes(3000)), torch.tensor([15.0, 20.0]))
    with pytest.raises(ValueError, match="two positive speeds"):
        reading_minutes(100, (0.0, 150.0))


def test_the_article_is_named():
    assert claims.ARTICLE_TITLE == "L2正则化在生成对抗网络中的应用" and claims.ARTICLE_AUTHOR == "禅与计算机程序设计艺术"
    intro = next(t for t in _cells(START) if t.startswith("## The source article and its claims"))
    assert claims.ARTICLE_TITLE in intro and claims.ARTICLE_AUTHOR in intro
