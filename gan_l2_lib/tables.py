"""Tables of a sweep: one row per (λ_G, λ_D), one column per metric (markdown for notebooks, plain text for the CLI).

Labels and number formats come from the metric table (``evaluate.METRICS``); a column that
is not a metric (a logged scalar such as ``weight_norm_d``) or that needs other digits gets
them from the ``labels`` and ``formats`` arguments. It lives apart from ``evaluate`` because it
reads a ``sweep.SweepResult``, and ``sweep`` itself imports ``evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .evaluate import METRICS, format_value, lambda_label, metric
from .metrics import MIN_PAIRS_FOR_MARK, TOO_FEW_SEEDS, PairedEffect, family_verdicts
from .sweep import SweepResult
from .train import SCALAR_KEYS

#: A column's number format: a ``str.format`` pattern for one number (``"{:.3f}"``), or a
#: function of the per-seed values (shape (n_seeds,)) that returns the whole cell.
Format = str | Callable[[np.ndarray], str]
SCALAR_FORMAT = "{:.3g}"
#: How p-values are printed (two significant digits: 0.25, 0.031, 0.002).
P_FORMAT = "{:.2g}"


def _number(fmt: str | None, key: str, value: float) -> str:
    if fmt is None:
        return format_value(key, value) if key in METRICS else SCALAR_FORMAT.format(value)
    return fmt.format(value) if np.isfinite(value) else "–"


def _cell(values: np.ndarray, key: str, fmt: Format | None, ranges: bool) -> str:
    """Mean (lowest–highest seed) of one grid point's per-seed values, NaNs left out."""
    if callable(fmt):
        return fmt(values)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "–"
    mean = _number(fmt, key, float(np.mean(finite)))
    if not ranges or finite.size == 1:
        return mean
    return f"{mean} ({_number(fmt, key, float(finite.min()))}–{_number(fmt, key, float(finite.max()))})"


def metric_table(
    result: SweepResult,
    keys: Sequence[str],
    points: Sequence[tuple[float, float]] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, Format] | None = None,
    ranges: bool = True,
    last: int = 1,
    extra: Mapping[str, Callable[[float, float], str]] | None = None,
    reference_rows: Mapping[str, Mapping[str, float]] | None = None,
) -> str:
    """A markdown table of a sweep: each cell is the seed mean and, in brackets, the seed range.

    Args:
        result: the sweep.
        keys: the columns: summary metrics (``"modes_covered"``, ...) or logged scalars
            (``"weight_norm_d"``: the mean over the last ``last`` logs, as ``seed_values``).
        points: the rows' (λ_G, λ_D); default every point of the grid (of the diagonal, for a
            diagonal sweep), λ_G-major.
        labels: header overrides by key; default ``metric(key).label``, or the key for a scalar.
        formats: number-format overrides by key (see ``Format``); default ``format_value``,
            or ``"{:.3g}"`` for a scalar.
        ranges: add "(lowest–highest seed)" after the mean when there are several seeds.
        last: logs averaged for a logged scalar.
        extra: more columns after ``keys``: header → function of (λ_G, λ_D) giving the cell.
        reference_rows: rows after the grid's, e.g. ``{"real digits": {"mean_confidence": 0.97}}``:
            label → values by key ("–" where a key has none).

    Returns:
        The table as markdown (a diagonal sweep gets one "λ_G = λ_D" column, others two).

    Raises:
        ValueError: for no keys, an unknown key, an override of a key that is not a column,
            a format that is neither a string nor a function, or a point off the grid.
    """
    keys = list(keys)
    labels, formats, extra = dict(labels or {}), dict(formats or {}), dict(extra or {})
    if not keys:
        raise ValueError("a table needs at least one metric key")
    summary_keys = result.summary_keys()  # a metric of the data set that old files lack: "–" cells
    for key in keys:
        if key not in summary_keys and key not in SCALAR_KEYS:
            raise ValueError(f"unknown column {key!r}; summary metrics of this sweep: "
                             f"{', '.join(sorted(summary_keys))}; logged scalars: {', '.join(SCALAR_KEYS)}")
    for name, overrides in (("labels", labels), ("formats", formats)):
        if stray := sorted(set(overrides) - set(keys)):
            raise ValueError(f"{name} has keys that are not columns: {stray}; columns: {keys}")
    for key, fmt in formats.items():
        if not (isinstance(fmt, str) or callable(fmt)):
            raise ValueError(f"formats[{key!r}] must be a format string like '{{:.3f}}' or a function, "
                             f"got {type(fmt).__name__}")
    cfg = result.config
    if points is None:
        points = list(zip(cfg.lambda_g, cfg.lambda_d, strict=True)) if cfg.diagonal else \
            [(g, d) for g in cfg.lambda_g for d in cfg.lambda_d]
    heads = [labels.get(k) or (metric(k).label if k in METRICS else k) for k in keys] + list(extra)
    lam_heads = ["λ_G = λ_D"] if cfg.diagonal else ["λ_G", "λ_D"]
    lines = ["| " + " | ".join(lam_heads + heads) + " |", "|---" * (len(lam_heads) + len(heads)) + "|"]
    for g, d in points:
        lams = [lambda_label(g)] if cfg.diagonal else [lambda_label(g), lambda_label(d)]
        cells = [_cell(result.seed_values(k, g, d, last), k, formats.get(k), ranges) for k in keys]
        lines.append("| " + " | ".join(lams + cells + [fn(g, d) for fn in extra.values()]) + " |")
    for label, values in (reference_rows or {}).items():
        cells = [_cell(np.array([values[k]], dtype=np.float64), k, formats.get(k), ranges) if k in values
                 else "–" for k in keys]
        lines.append("| " + " | ".join([label] + [""] * (len(lam_heads) - 1) + cells + ["–"] * len(extra)) + " |")
    return "\n".join(lines)


def format_table(result: SweepResult) -> str:
    """A plain-text table: one row per (λ_G, λ_D), seed-averaged summary metrics.

    Args:
        result: a finished sweep.

    Returns:
        The table; its columns are the metrics of ``evaluate.METRICS`` marked ``in_table``
        that the runs recorded, in the order of ``METRICS``.
    """
    rows = result.table()
    cols = [m.key for m in METRICS.values() if m.in_table and rows and m.key in rows[0]]
    header = f"{'lambda_g':>9} {'lambda_d':>9} " + " ".join(f"{c:>21}" for c in cols)
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['lambda_g']:>9g} {r['lambda_d']:>9g} " + " ".join(f"{r[c]:>21.3f}" for c in cols))
    return "\n".join(lines)


def effect_table(effects: Mapping[str, PairedEffect], metric_key: str, fmt: str | None = None) -> str:
    """A markdown table of paired effects: one row per comparison, the effect with its interval.

    Args:
        effects: row label → ``metrics.PairedEffect`` (e.g. from ``sweep.cell_effect``), all of
            ``metric_key``.
        metric_key: the metric compared (its label and number format come from ``evaluate.METRICS``;
            a logged scalar gets ``SCALAR_FORMAT``).
        fmt: a ``str.format`` pattern for the numbers instead of the metric's own.

    Returns:
        The table: comparison, mean difference, 95 % interval, seeds (paired / left out), how
        many seeds moved up and down, the sign-flip p-value (not adjusted for the other rows:
        see ``family_table``) and the verdict — ``PairedEffect.marked_verdict``, so "too few
        seeds" below ``metrics.MIN_PAIRS_FOR_MARK`` pairs.

    Raises:
        ValueError: for no effects.
    """
    if not effects:
        raise ValueError("effects is empty: give at least one {label: PairedEffect}")
    label = metric(metric_key).label if metric_key in METRICS else metric_key

    def num(v: float) -> str:
        return _number(fmt, metric_key, v)

    lines = [f"| comparison | Δ {label} (mean) | {round(100 * next(iter(effects.values())).confidence)} % interval "
             "| seeds paired (left out) | seeds up / down | p (sign-flip) | verdict |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, e in effects.items():
        deltas = np.asarray(e.deltas)
        lines.append(f"| {name} | {num(e.mean)} | [{num(e.low)}, {num(e.high)}] | {e.n} ({e.n_dropped}) "
                     f"| {int((deltas > 0).sum())} / {int((deltas < 0).sum())} | {P_FORMAT.format(e.p_value)} "
                     f"| {e.marked_verdict} |")
    return "\n".join(lines)


#: How ``verdict_table`` and ``family_table`` mark a verdict; an effect of fewer than
#: ``metrics.MIN_PAIRS_FOR_MARK`` pairs gets "○ n<6" whatever its interval.
VERDICT_MARKS = {"better": "▲ better", "worse": "▼ worse", "higher": "↑ higher", "lower": "↓ lower",
                 "neutral": "· neutral", TOO_FEW_SEEDS: f"○ n<{MIN_PAIRS_FOR_MARK}"}


def format_effect(metric_key: str, effect: PairedEffect) -> str:
    """One paired effect as "mean [low, high] mark" in the metric's number format (``VERDICT_MARKS``).

    Args:
        metric_key: the metric compared (a key of ``evaluate.METRICS``, or a logged scalar,
            formatted with ``SCALAR_FORMAT``).
        effect: its ``metrics.PairedEffect``.

    Returns:
        The text of one cell of ``verdict_table``, e.g. ``"0.41 [0.23, 0.58] ▼ worse"`` (an effect of
        fewer than ``metrics.MIN_PAIRS_FOR_MARK`` pairs is marked "○ n<6", whatever its interval).
    """
    def num(v: float) -> str:
        return _number(None, metric_key, v)

    return f"{num(effect.mean)} [{num(effect.low)}, {num(effect.high)}] {VERDICT_MARKS[effect.marked_verdict]}"


def verdict_table(effects: Mapping[str, Mapping[str, PairedEffect]], metric_keys: Sequence[str]) -> str:
    """A markdown table of paired effects on several metrics: one row per comparison, one column per metric.

    Each cell reads "mean [low, high] mark", so a row says at a glance what one setting did to
    every metric, and a null-control row beside it shows how large luck is. The mark is
    ``VERDICT_MARKS[PairedEffect.marked_verdict]``: an effect of fewer than
    ``metrics.MIN_PAIRS_FOR_MARK`` pairs reads "○ n<6" however its interval lies. The marks are
    not adjusted for the many cells of the table; ``family_table`` does that for a declared family.

    Args:
        effects: row label → {metric key → ``metrics.PairedEffect``} (e.g. from ``sweep.cell_effect``);
            a metric missing from a row leaves its cell as "–".
        metric_keys: the columns, in order (labels and number formats from ``evaluate.METRICS``).

    Returns:
        The table, with a header row naming each metric as "Δ <label>".

    Raises:
        ValueError: for no rows, no columns, or a row with effects of metrics not in ``metric_keys``.
    """
    if not effects:
        raise ValueError("effects is empty: give at least one {label: {metric: PairedEffect}}")
    keys = list(metric_keys)
    if not keys:
        raise ValueError("metric_keys is empty: name at least one metric column")
    for name, row in effects.items():
        if extra := sorted(set(row) - set(keys)):
            raise ValueError(f"row {name!r} has effects of {extra}, which are not columns; columns: {keys}")
    labels = [metric(k).label if k in METRICS else k for k in keys]
    lines = ["| comparison | " + " | ".join(f"Δ {lab}" for lab in labels) + " |",
             "|---|" + "---:|" * len(keys)]
    for name, row in effects.items():
        cells = []
        for k in keys:
            e = row.get(k)
            cells.append("–" if e is None else format_effect(k, e))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def family_table(effects: Mapping[str, Mapping[str, PairedEffect]], family: Sequence[tuple[str, str]],
                 alpha: float = 0.05) -> str:
    """A markdown table of a declared family of comparisons with Holm-adjusted p-values.

    Declare the family — the (comparison, metric) cells a notebook's statements rest on —
    before reading the results; the family's size is what the Holm adjustment pays for
    (``metrics.family_verdicts``).

    Args:
        effects: row label → {metric key → ``metrics.PairedEffect``}, as for ``verdict_table``.
        family: the family's (row label, metric key) cells, in the order of the table, each once.
        alpha: the family-wise error rate, in (0, 1).

    Returns:
        The table: comparison, metric, mean difference [interval], pairs, the sign-flip p, the
        Holm-adjusted p and the family-wise mark (``VERDICT_MARKS`` of
        ``metrics.FamilyVerdict.verdict``: a direction only where the adjusted p is ≤ ``alpha``
        and there are at least ``metrics.MIN_PAIRS_FOR_MARK`` pairs).

    Raises:
        ValueError: for an empty family, a cell listed twice, a cell with no effect, or a bad alpha.
    """
    family = [tuple(cell) for cell in family]
    if not family:
        raise ValueError("family is empty: declare at least one (comparison, metric) cell")
    if dup := sorted({c for c in family if family.count(c) > 1}):
        raise ValueError(f"family lists cells more than once: {dup}")
    for name, key in family:
        if key not in effects.get(name, {}):
            raise ValueError(f"family cell ({name!r}, {key!r}) has no effect; rows: {list(effects)}")
    verdicts = family_verdicts({(name, key): effects[name][key] for name, key in family}, alpha)
    lines = [f"| comparison | metric | Δ mean [{round(100 * effects[family[0][0]][family[0][1]].confidence)} % interval] "
             f"| pairs | p (sign-flip) | p (Holm, {len(family)} comparisons) | verdict (α = {alpha:g}) |",
             "|---|---|---:|---:|---:|---:|---|"]
    for (name, key), fv in verdicts.items():
        e = effects[name][key]
        label = metric(key).label if key in METRICS else key
        lines.append(f"| {name} | {label} | {_number(None, key, e.mean)} [{_number(None, key, e.low)}, "
                     f"{_number(None, key, e.high)}] | {e.n} | {P_FORMAT.format(fv.p_value)} "
                     f"| {P_FORMAT.format(fv.p_holm)} | {VERDICT_MARKS[fv.verdict]} |")
    return "\n".join(lines)
