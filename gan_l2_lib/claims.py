"""The source article's claims, where this course tests each one, and its verdict from the shipped runs.

The article (``../shared/reference/``) is a Chinese blog post, "L2正则化在生成对抗网络中的应用"
(L2 regularization in generative adversarial networks), signed 禅与计算机程序设计艺术. It adds
λ Σ w² to both networks' losses (λ_G = λ_D = 1e-4, ``sweep.ARTICLE_LAMBDA``) and says this
prevents overfitting, steadies training, improves sample quality and diversity, reduces mode
collapse and, on the generator, makes the generated distribution smoother. Here each claim is a
``Claim`` (our words, English and Chinese) with its ``Evidence``: paired effects of one shipped
sweep's cell against the same sweep's λ = 0 cell, seed by seed (``sweep.cell_effect`` with the
percentile bootstrap, exactly as notebooks 04 and 06 compute their statements). ``claim_verdicts``
reads the shipped results and returns one ``ClaimVerdict`` per claim; ``claims_markdown`` is the
table notebook 00 shows (a test keeps the two equal, so the page cannot drift from the data).

A sweep that is not in ``sweep.shipped_sweeps()`` yet (the overfitting runs of notebook 08, still
being made) gives the verdict ``NOT_MEASURED`` while its files are absent and is measured as soon as
they are there: ``load_evidence_sweep`` returns None for a missing sweep instead of failing.

The rest is the course around the claims: words per notebook and per section of its markdown (for
the reading times of the routes).
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .metrics import MIN_PAIRS_FOR_MARK, TOO_FEW_SEEDS, FamilyVerdict, PairedEffect, family_verdicts
from .sweep import (
    ARTICLE_LAMBDA,
    NULL_LAMBDA,
    SweepResult,
    cell_effect,
    named_sweeps,
    run_sweep,
    shipped_results_dir,
    shipped_sweeps,
)
from .tables import P_FORMAT, format_effect

#: The source article, as it names itself.
ARTICLE_TITLE = "L2正则化在生成对抗网络中的应用"
ARTICLE_TITLE_EN = "L2 regularization in generative adversarial networks (our translation)"
ARTICLE_AUTHOR = "禅与计算机程序设计艺术"
ARTICLE_AUTHOR_EN = "“Zen and the Art of Computer Programming”, a pen name"

#: A claim's verdict, from the paired effect of its first ``Evidence`` (the claim says "L2 improves it").
VERDICT_WORDS = {"better": "supported", "neutral": "not supported: no effect beyond luck",
                 "worse": "contradicted: worse with L2",
                 TOO_FEW_SEEDS: f"not decided: fewer than {MIN_PAIRS_FOR_MARK} seeds"}
#: The verdict of a claim whose runs do not ship yet.
NOT_MEASURED = "not yet measured"
#: The verdict of a claim no measurement can confirm or refute as the article states it.
UNTESTED = "untested as stated"


@dataclass(frozen=True)
class Section:
    """A section of a notebook that tests a claim.

    Attributes:
        notebook: the notebook's file name in ``notebooks/`` (``"06_verdicts_measured.ipynb"``), or None
            while the notebook is not written yet.
        heading: the section's heading text, without the ``#`` marks.
        short: how the page names it, e.g. ``"06 §1"``.
    """

    notebook: str | None
    heading: str
    short: str

    @property
    def anchor(self) -> str:
        """The section's id in the HTML book (``section_anchor(heading)``)."""
        return section_anchor(self.heading)

    def link(self, label: str | None = None) -> str:
        """A markdown link from a notebook beside it to this section (plain text without a notebook)."""
        text = label or self.short
        return f"[{text}]({self.notebook}#{self.anchor})" if self.notebook else text


NB04 = Section("04_training_the_gan.ipynb",
               "5. What to look for: λ = 0, the article's λ = 1e-4, and stronger penalties", "04 §5")
NB06 = Section("06_verdicts_measured.ipynb", "1. The verdicts, measured", "06 §1")
NB08 = Section("08_overfitting_and_instability.ipynb",
               "3. The table: each penalty against no penalty, paired by seed", "08 §3")
NB08_RESCUE = Section("08_overfitting_and_instability.ipynb", "7. Does L2 rescue it?", "08 §7")


@dataclass(frozen=True)
class Evidence:
    """One paired effect a claim rests on: a metric at one cell of a sweep, against its λ = 0 cell.

    Attributes:
        sweep: the sweep's name in ``sweep.named_sweeps()`` or ``sweep.shipped_sweeps()``.
        metric: a summary metric (``evaluate.METRICS``) or a logged scalar (``"weight_norm_g"``).
        cell: the (λ_G, λ_D) compared with (0, 0) of the same sweep, paired by seed.
        label: what the page calls it, e.g. ``"ring8 (10 seeds), mode hopping"``.
        where: the notebook section that states it.
        last: for a logged scalar, the mean over its last ``last`` logs (as ``SweepResult.seed_values``).
        baseline_sweep: the sweep whose (0, 0) cell is the baseline, when it is another one with the
            same base and seeds (``"mnist1k_article"`` pairs with ``"mnist1k_l2_d"``'s λ = 0 runs);
            None: ``sweep`` itself.
    """

    sweep: str
    metric: str
    cell: tuple[float, float]
    label: str
    where: Section
    last: int = 1
    baseline_sweep: str | None = None


@dataclass(frozen=True)
class Claim:
    """One claim of the source article, in our words.

    Attributes:
        key: a short id (``"stability"``).
        name: what it is about, in English and Chinese (``"stability · 稳定性"``).
        en, zh: the claim in English and in Chinese (our sentences, not the article's).
        evidence: the paired effects that test it; the first decides the verdict, the others
            are shown beside it.
        untested: for a claim no measurement decides as stated, why (the verdict is then
            ``UNTESTED`` and the evidence is the nearest thing we measure); None otherwise.
    """

    key: str
    name: str
    en: str
    zh: str
    evidence: tuple[Evidence, ...]
    untested: str | None = None

    @property
    def where(self) -> Section:
        """The section that tests the claim: its first evidence's."""
        return self.evidence[0].where


_ART = (ARTICLE_LAMBDA, ARTICLE_LAMBDA)
_G_ONLY = (ARTICLE_LAMBDA, 0.0)
_D_ONLY = (0.0, ARTICLE_LAMBDA)

#: The article's claims, in the order the page lists them.
CLAIMS: tuple[Claim, ...] = (
    Claim("overfitting", "overfitting · 过拟合",
          "L2 keeps the networks from overfitting (memorizing) their training data.",
          "L2 正则化能防止网络对训练数据过拟合（死记训练样本）。",
          (Evidence("mnist1k_article", "d_gap_prob", _ART,
                    "1,000 training digits (3 seeds), D's overfitting gap", NB08, baseline_sweep="mnist1k_l2_d"),
           Evidence("mnist1k_null", "d_gap_prob", (0.0, NULL_LAMBDA),
                    "its null control, λ_D = 1e-8", NB08, baseline_sweep="mnist1k_l2_d"),
           Evidence("mnist1k_l2_d", "d_gap_prob", (0.0, 1e-2),
                    "λ_D = 1e-2 alone (100 × the article's)", NB08))),
    Claim("stability", "stability · 稳定性",
          "L2 makes GAN training more stable.",
          "L2 正则化让 GAN 的训练更稳定。",
          (Evidence("ring8", "mode_shift", _ART, "ring8 (10 seeds), mode hopping", NB06),
           Evidence("ring8", "d_loss_tail_std", _ART, "ring8, oscillation of D's loss", NB06),
           Evidence("mnist5k", "d_loss_tail_std", _ART, "digits (3 seeds), oscillation of D's loss", NB04),
           Evidence("ring8_beta1_0.9", "high_quality_fraction", _ART,
                    "a baseline that fails (ring8, Adam β₁ = 0.9, 10 seeds): samples on a mode", NB08_RESCUE))),
    Claim("quality", "sample quality · 样本质量",
          "L2 improves the quality of the generated samples.",
          "L2 正则化提高生成样本的质量。",
          (Evidence("ring8", "high_quality_fraction", _ART, "ring8 (10 seeds), high-quality fraction", NB06),
           Evidence("mnist5k", "frechet_distance", _ART, "digits (3 seeds), Fréchet distance", NB04))),
    Claim("diversity", "diversity · 多样性",
          "L2 makes the generated samples more diverse.",
          "L2 正则化让生成的样本更加多样。",
          (Evidence("ring8", "reverse_kl", _ART, "ring8 (10 seeds), reverse KL of the mode histogram", NB06),
           Evidence("stacked_mnist", "modes_covered", _ART, "stacked digits (3 seeds), triples covered", NB06))),
    Claim("mode_collapse", "mode collapse · 模式崩溃",
          "L2 reduces mode collapse, the generator producing only a few kinds of samples.",
          "L2 正则化能减轻模式崩溃（生成器只产生少数几种样本）。",
          (Evidence("ring8", "modes_covered", _ART, "ring8 (10 seeds), modes covered", NB06),
           Evidence("grid25", "modes_covered", _ART, "grid25 (10 seeds), modes covered", NB06))),
    Claim("smoother_g", "a smoother generator · 更平滑的生成分布",
          "L2 on the generator makes the distribution it generates smoother.",
          "对生成器施加 L2 正则化，会让它生成的分布更平滑。",
          (Evidence("ring8", "weight_norm_g", _G_ONLY, "ring8 (10 seeds), λ_G = 1e-4 alone, ‖w_G‖", NB06, last=20),
           Evidence("ring8", "reverse_kl", _G_ONLY, "ring8, λ_G = 1e-4 alone, reverse KL", NB06)),
          untested="the article does not say what “smoother” means"),
)


def claim(key: str) -> Claim:
    """The ``Claim`` with this key.

    Raises:
        ValueError: for an unknown key (the message lists the known ones).
    """
    for c in CLAIMS:
        if c.key == key:
            return c
    raise ValueError(f"unknown claim {key!r}; known claims: {', '.join(c.key for c in CLAIMS)}")


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim's verdict, computed from the results.

    Attributes:
        claim: the claim.
        verdict: ``VERDICT_WORDS[...]`` of its first evidence's family verdict, ``UNTESTED`` or
            ``NOT_MEASURED``.
        effects: one ``metrics.PairedEffect`` per evidence, in order (None where its sweep's files
            are absent).
        family: the first evidence's ``metrics.FamilyVerdict``: its sign-flip p, Holm-adjusted over
            the deciding effects of every measured, decidable claim (None for the others).
        family_size: how many claims that family holds.
    """

    claim: Claim
    verdict: str
    effects: tuple[PairedEffect | None, ...]
    family: FamilyVerdict | None = None
    family_size: int = 0

    @property
    def effect(self) -> PairedEffect | None:
        """The effect that decides the verdict (the first evidence's)."""
        return self.effects[0]

    def numbers(self) -> list[str]:
        """Each measured evidence as "label: mean [low, high] mark" (``tables.format_effect``)."""
        return [f"{ev.label}: {format_effect(ev.metric, e)}"
                for ev, e in zip(self.claim.evidence, self.effects, strict=True) if e is not None]


def load_evidence_sweep(name: str, results_dir: str | Path | None = None) -> SweepResult | None:
    """A sweep's results from the shipped folder, or None when its files are not (all) there.

    Args:
        name: a name of ``sweep.named_sweeps()`` or ``sweep.shipped_sweeps()``.
        results_dir: where the run files live; default ``sweep.shipped_results_dir()`` (never the
            user's cache: the page reports what ships).

    Returns:
        The ``sweep.SweepResult``, or None when a run is missing.

    Raises:
        ValueError: for an unknown sweep name.
    """
    configs = shipped_sweeps() | named_sweeps()
    if name not in configs:
        raise ValueError(f"unknown sweep {name!r}; known sweeps: {', '.join(sorted(configs))}")
    folder = Path(results_dir) if results_dir is not None else shipped_results_dir()
    try:
        return run_sweep(configs[name], folder, train_missing=False)
    except ValueError:
        return None  # not (all) there


def claim_verdicts(keys: tuple[str, ...] | list[str] | None = None,
                   results_dir: str | Path | None = None) -> list[ClaimVerdict]:
    """Each claim's verdict and its paired effects, computed from the shipped results.

    Every effect is ``sweep.cell_effect(result, metric, cell, method="percentile")`` against the
    (0, 0) cell of its sweep (or of ``Evidence.baseline_sweep``): the numbers the notebooks state.
    A claim's verdict is not its interval alone: the deciding effects of all measured claims form
    one family, each judged by its exact sign-flip p with Holm's adjustment over the family
    (``metrics.family_verdicts``), so five claims tested at once cannot turn luck into a verdict;
    fewer than ``metrics.MIN_PAIRS_FOR_MARK`` seeds decide nothing.

    Args:
        keys: the claims (``Claim.key``), in the order wanted; None: all of ``CLAIMS``.
        results_dir: the folder of run files; default the shipped one.

    Returns:
        One ``ClaimVerdict`` per claim.

    Raises:
        ValueError: for an unknown claim key, or when a sweep that ships with the package
            (``sweep.shipped_sweeps()``) is missing: a broken install, not a claim still untested.
    """
    wanted = [c.key for c in CLAIMS] if keys is None else [claim(k).key for k in keys]
    shipped = shipped_sweeps()
    loaded: dict[str, SweepResult | None] = {}

    def load(name: str) -> SweepResult | None:
        # each sweep read once; a shipped one that is incomplete is a broken install, not "not measured"
        if name not in loaded:
            loaded[name] = load_evidence_sweep(name, results_dir)
            if loaded[name] is None and name in shipped:
                raise ValueError(f"the shipped sweep {name!r} is incomplete in "
                                 f"{results_dir or shipped_results_dir()}: a broken install")
        return loaded[name]

    rows = []
    for c in CLAIMS:  # the family is every claim, whichever are asked for
        effects = []
        for ev in c.evidence:
            res, base = load(ev.sweep), load(ev.baseline_sweep or ev.sweep)
            effects.append(None if res is None or base is None else
                           cell_effect(res, ev.metric, ev.cell, baseline_result=base, last=ev.last,
                                       method="percentile"))
        rows.append(ClaimVerdict(c, NOT_MEASURED if effects[0] is None else UNTESTED, tuple(effects)))
    # the deciding effects of the claims that a measurement can decide form one family: each is
    # judged by its exact sign-flip p, Holm-adjusted over the family (metrics.family_verdicts)
    decidable = {row.claim.key: row.effect for row in rows if row.effect is not None and not row.claim.untested}
    family = family_verdicts(decidable) if decidable else {}
    by_key = {}
    for row in rows:
        if row.claim.key in family:
            fv = family[row.claim.key]
            row = dataclasses.replace(row, verdict=VERDICT_WORDS.get(fv.verdict, fv.verdict), family=fv,
                                      family_size=len(family))
        by_key[row.claim.key] = row
    return [by_key[k] for k in wanted]


def claims_markdown(rows: list[ClaimVerdict]) -> str:
    """The claims table of notebook 00: claim (English, Chinese), where tested, verdict, key numbers.

    Args:
        rows: from ``claim_verdicts``.

    Returns:
        A markdown table; its links point at notebook sections (relative to ``notebooks/``).
    """
    lines = ["| the article says (our words) | tested in | verdict | the numbers: paired change with L2, "
             "mean [95 % interval] |", "|---|---|---|---|"]
    for row in rows:
        c = row.claim
        sections = []
        for ev in c.evidence:
            if ev.where not in sections:
                sections.append(ev.where)
        where = ", ".join(s.link() for s in sections)
        if row.verdict == NOT_MEASURED:
            numbers = "its runs are being made"
        else:
            numbers = "<br>".join(row.numbers())
        verdict = f"**{row.verdict}**" + (f" — {c.untested}" if c.untested and row.verdict == UNTESTED else "")
        if row.family is not None and row.family.verdict != TOO_FEW_SEEDS:
            verdict += (f"<br>(sign-flip p = {P_FORMAT.format(row.family.p_value)}; Holm over "
                        f"{row.family_size} claims: {P_FORMAT.format(row.family.p_holm)})")
        lines.append(f"| **{c.name}**<br>{c.en}<br>{c.zh} | {where} | {verdict} | {numbers} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The course around the claims: words per notebook and section (reading times of the routes)
# ---------------------------------------------------------------------------------------------


def section_anchor(heading: str) -> str:
    """A section's id in the HTML book: docutils' ``make_id`` of its heading.

    Lower case, accents and other non-ASCII letters dropped (λ, Chinese), every run of other
    characters one ``-``, no leading digits or hyphens: ``"5. The verdicts, measured"`` →
    ``"the-verdicts-measured"``.
    """
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text)
    return re.sub(r"^[^a-z]+|-+$", "", text)


def markdown_words(notebook: str | Path) -> dict[str, int]:
    """Words of a notebook's markdown cells, per section (headings of levels 1 to 3).

    A word is a whitespace-separated token with a letter or digit in it (table rules and lone
    symbols do not count; a formula counts its tokens). Code cells and outputs do not count.

    Args:
        notebook: the ``.ipynb`` file.

    Returns:
        ``{heading: words}`` in the notebook's order; words before the first heading under ``""``.

    Raises:
        ValueError: if the file is not a notebook.
    """
    path = Path(notebook)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a readable notebook: {err}") from None
    words: dict[str, int] = {}
    section = ""
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in source.splitlines():
            if m := re.match(r"^#{1,3} (.*)", line):
                section = m.group(1).strip()
            n = sum(1 for tok in line.split() if re.search(r"\w", tok))
            words[section] = words.get(section, 0) + n
    return words


def reading_minutes(words: int, words_per_minute: tuple[float, float] = (200.0, 150.0)) -> tuple[float, float]:
    """Reading time of ``words`` words: (fast, slow) minutes at the given speeds (default 200 and 150 per minute)."""
    fast, slow = words_per_minute
    if not (0 < fast and 0 < slow):
        raise ValueError(f"words_per_minute must be two positive speeds, got {words_per_minute!r}")
    return words / fast, words / slow


@dataclass(frozen=True)
class RouteStop:
    """One notebook on a route through the course: the sections read, the ones skipped.

    Attributes:
        notebook: the notebook's file name in ``notebooks/``.
        read: heading prefixes of the sections read (``"Goal"``, ``"3."``); empty: all of it.
            The title (the level-1 heading) is always read.
        note: what to do there, one line (what to run, what to skip and why).
    """

    notebook: str
    read: tuple[str, ...]
    note: str

    def words(self, notebooks_dir: str | Path) -> tuple[int, int]:
        """(words read, words in the notebook) of this stop's markdown (``markdown_words``)."""
        sections = markdown_words(Path(notebooks_dir) / self.notebook)
        title = next(iter(sections), "")
        read = sum(n for h, n in sections.items()
                   if not self.read or h == title or any(h.startswith(p) for p in self.read))
        return read, sum(sections.values())


def route_markdown(stops: tuple[RouteStop, ...] | list[RouteStop], notebooks_dir: str | Path,
                   words_per_minute: tuple[float, float] = (200.0, 150.0)) -> str:
    """A route as a markdown table: notebook, what to do, words read (of the notebook's), reading minutes.

    Args:
        stops: the route.
        notebooks_dir: the folder of the notebooks (their words are counted now).
        words_per_minute: (fast, slow) reading speeds.

    Returns:
        The table, with a total row.

    Raises:
        ValueError: for an empty route, or a stop whose notebook is missing or lacks a section it reads.
    """
    if not stops:
        raise ValueError("a route needs at least one stop")
    lines = ["| notebook | what to do | words read (of all) | reading, min |", "|---|---|---:|---:|"]
    total = 0
    for stop in stops:
        path = Path(notebooks_dir) / stop.notebook
        if not path.is_file():
            raise ValueError(f"route stop {stop.notebook!r}: no such notebook in {notebooks_dir}")
        headings = list(markdown_words(path))
        if missing := [p for p in stop.read if not any(h.startswith(p) for h in headings)]:
            raise ValueError(f"route stop {stop.notebook!r}: no section starts with {missing}; sections: {headings}")
        read, every = stop.words(notebooks_dir)
        total += read
        fast, slow = reading_minutes(read, words_per_minute)
        lines.append(f"| {stop.notebook.removesuffix('.ipynb')} | {stop.note} | {read:,} ({every:,}) "
                     f"| {fast:.0f}–{slow:.0f} |")
    fast, slow = reading_minutes(total, words_per_minute)
    lines.append(f"| **total** | | **{total:,}** | **{fast:.0f}–{slow:.0f}** |")
    return "\n".join(lines)


#: Two 90-minute classes: which sections to read, what to run, what to leave for self-study.
INSTRUCTOR_ROUTE: dict[str, tuple[RouteStop, ...]] = {
    "class 1: what L2 is, and what it does in the smallest GAN": (
        RouteStop("00_start_here.ipynb", ("The source article", "The claims", "Glossary"),
                  "the article's claims and their verdicts, the glossary; the data tour is self-study"),
        RouteStop("01_l2_penalty_basics.ipynb", ("Goal", "1.", "2.", "3.", "5.", "Summary"),
                  "run §3 (Adam + L2 is not AdamW) and §5 (the article's line that does not run); skip §4, §6"),
        RouteStop("02_regularized_gan_losses.ipynb", ("Goal", "1.", "3.", "5.", "Summary"),
                  "the losses and which gradients each penalty reaches; skip §2 (the optimal D) and §4 (numerics)"),
        RouteStop("03_dirac_gan_stability.ipynb", ("Goal", "1.", "2.", "3.", "4.", "7.", "9.", "Summary"),
                  "damping by L2 on D, the dead deeper D (§7), the sliders (§9); skip §5, §6, §8"),
    ),
    "class 2: the article's claims against training runs": (
        RouteStop("04_training_the_gan.ipynb", ("Goal", "3.", "5."),
                  "train live in quick mode (§3), then the statements of §5; skip §1, §2, §4 and the Summary"),
        RouteStop("05_lambda_lab.ipynb", ("2.", "4.", "Summary"),
                  "the maps (§2), one dashboard comparison (§4); how the maps were made (§1) and §3 are "
                  "self-study"),
        RouteStop("06_verdicts_measured.ipynb", ("Goal", "1.", "2."),
                  "the tables with their null control (§1), statements 1–7 (ring8, §2); grid25, the "
                  "digits (§3–4) and the Summary are self-study"),
        RouteStop("07_alternatives_to_l2.ipynb", ("Goal", "2.", "7.", "Summary"),
                  "what to use instead of L2 on D: the samples (§2) and the verdict (§7)"),
    ),
}

#: Alone, in order, every section and exercise: one sitting per notebook.
SELF_STUDY_ROUTE: tuple[RouteStop, ...] = (
    RouteStop("00_start_here.ipynb", (), "run it first: it checks the install; the claims page, then the data"),
    RouteStop("01_l2_penalty_basics.ipynb", (), "all, with the exercises"),
    RouteStop("02_regularized_gan_losses.ipynb", (), "all, with the exercises"),
    RouteStop("03_dirac_gan_stability.ipynb", (), "all; predict each slider's effect before moving it"),
    RouteStop("04_training_the_gan.ipynb", (), "all; full mode (no GAN_L2_QUICK) trains for real if you can wait"),
    RouteStop("05_lambda_lab.ipynb", (), "all; move the dashboard's sliders before reading each map's marks"),
    RouteStop("06_verdicts_measured.ipynb", (), "all, with the exercise"),
    RouteStop("07_alternatives_to_l2.ipynb", (), "all, with the exercises"),
    RouteStop("08_overfitting_and_instability.ipynb", (), "all, then come back to 00's claims table"),
)
