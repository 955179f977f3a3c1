"""Markdown tables of a sweep (``gan_l2_lib.tables``): labels and formats from the metric table."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from gan_l2_lib.evaluate import format_value, metric
from gan_l2_lib.sweep import SweepConfig, run_sweep, shipped_results_dir
from gan_l2_lib.tables import metric_table


@pytest.fixture(scope="module")
def mnist5k():
    return run_sweep(SweepConfig.default("mnist5k"), shipped_results_dir(), progress=False, train_missing=False)


@pytest.fixture(scope="module")
def ring8_quick():
    return run_sweep(SweepConfig.default("ring8", quick=True), shipped_results_dir(), progress=False,
                     train_missing=False)


def _rows(table: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()]


def test_diagonal_table_has_one_lambda_column_and_seed_ranges(mnist5k):
    rows = _rows(metric_table(mnist5k, ["classes_covered", "reverse_kl"]))
    assert rows[0] == ["λ_G = λ_D", metric("classes_covered").label, metric("reverse_kl").label]
    assert rows[1] == ["---"] * 3
    assert [r[0] for r in rows[2:]] == ["0", "1e-4", "1e-3", "1e-2"]
    kl = mnist5k.seed_values("reverse_kl", 1e-2, 1e-2)
    expected = f"{format_value('reverse_kl', kl.mean())} ({format_value('reverse_kl', kl.min())}–" \
               f"{format_value('reverse_kl', kl.max())})"
    assert rows[5][2] == expected == "0.28 (0.27–0.29)"
    assert rows[5][1] == "9.8 (9.3–10)"  # classes: the count format


def test_overrides_scalars_extra_columns_and_reference_rows(mnist5k):
    table = metric_table(
        mnist5k, ["mean_confidence", "weight_norm_d", "diverged"], [(0.0, 0.0), (1e-2, 1e-2)],
        labels={"mean_confidence": "confidence", "weight_norm_d": "‖w_D‖"},
        formats={"mean_confidence": "{:.3f}", "diverged": lambda v: f"{int(v.sum())} of {len(v)}"},
        ranges=False, last=20, extra={"note": lambda g, d: f"g={g:g}"},
        reference_rows={"real digits": {"mean_confidence": 0.9704}})
    rows = _rows(table)
    assert rows[0] == ["λ_G = λ_D", "confidence", "‖w_D‖", metric("diverged").label, "note"]
    assert rows[2][1] == "0.850" and rows[2][3] == "0 of 3" and rows[2][4] == "g=0"
    w = mnist5k.mean("weight_norm_d", 1e-2, 1e-2, last=20)
    assert rows[3][2] == f"{w:.3g}"  # a logged scalar: its key's default format, no fake metric
    assert rows[4] == ["real digits", "0.970", "–", "–", "–"]


def test_a_two_d_grid_gets_two_lambda_columns_and_one_seed_no_range(ring8_quick):
    rows = _rows(metric_table(ring8_quick, ["modes_covered", "weight_norm_g"]))
    assert rows[0][:2] == ["λ_G", "λ_D"] and rows[0][3] == "weight_norm_g"
    assert [tuple(r[:2]) for r in rows[2:]] == [("0", "0"), ("0", "1e-2"), ("1e-2", "0"), ("1e-2", "1e-2")]
    modes = ring8_quick.record(0.0, 1e-2, 0).summary["modes_covered"]
    assert rows[3][2] == format_value("modes_covered", modes) and "(" not in rows[3][2]


def test_seeds_without_a_value_are_left_out_and_none_gives_a_dash(mnist5k):
    res = copy.deepcopy(mnist5k)
    recs = res.records_at(0.0, 0.0)
    recs[0].summary["reverse_kl"] = float("nan")  # undefined for one seed
    for r in res.records_at(1e-2, 1e-2):
        r.summary["reverse_kl"] = float("nan")  # and for every seed
    rows = _rows(metric_table(res, ["reverse_kl"], [(0.0, 0.0), (1e-2, 1e-2)], formats={"reverse_kl": "{:.4f}"}))
    rest = [r.summary["reverse_kl"] for r in recs[1:]]
    assert rows[2][1] == f"{np.mean(rest):.4f} ({min(rest):.4f}–{max(rest):.4f})"
    assert rows[3][1] == "–"


@pytest.mark.parametrize("kwargs, match", [
    (dict(keys=[]), "at least one metric key"),
    (dict(keys=["fid"]), "unknown column 'fid'"),
    (dict(keys=["reverse_kl"], labels={"frechet_distance": "FD"}), "labels has keys that are not columns"),
    (dict(keys=["reverse_kl"], formats={"reverse_kl": 3}), "must be a format string"),
    (dict(keys=["reverse_kl"], points=[(0.0, 1e-2)]), "no run with"),
])
def test_metric_table_rejects_bad_input(mnist5k, kwargs, match):
    with pytest.raises(ValueError, match=match):
        metric_table(mnist5k, **kwargs)


def test_effect_table_lists_each_comparison_with_its_interval_seed_signs_and_p():
    from gan_l2_lib.metrics import paired_effect
    from gan_l2_lib.tables import effect_table

    base = {s: float(s % 3) for s in range(6)}
    up = paired_effect({s: v + 1.0 for s, v in base.items()}, base, higher_is_better=True)  # +1 every seed
    mixed = paired_effect({0: 2.0, 1: 0.0, 2: 3.0, 3: float("nan")}, base, higher_is_better=True)  # +2, −1, +1
    rows = _rows(effect_table({"all up": up, "mixed": mixed}, "modes_covered"))
    assert rows[0][0] == "comparison" and "modes covered" in rows[0][1] and rows[0][2] == "95 % interval"
    assert rows[0][5:] == ["p (sign-flip)", "verdict"]
    one = format_value("modes_covered", 1.0)
    assert rows[2] == ["all up", one, f"[{one}, {one}]", "6 (0)", "6 / 0", "0.031", "better"]  # p = 2/64
    # three pairs (seeds 3–5 left out): too few to mark, whatever the interval
    assert rows[3][3] == "3 (3)" and rows[3][4] == "2 / 1" and rows[3][6] == "too few seeds"
    assert rows[3][5] == f"{mixed.p_value:.2g}"
    with pytest.raises(ValueError, match="effects is empty"):
        effect_table({}, "modes_covered")


def test_verdict_table_puts_each_metrics_effect_with_interval_and_mark_in_one_row():
    from gan_l2_lib.metrics import paired_effect
    from gan_l2_lib.tables import verdict_table

    base = {s: float(s % 3) for s in range(6)}
    up = paired_effect({s: v + 1.0 for s, v in base.items()}, base, higher_is_better=True)  # +1 every seed
    down = paired_effect({s: v - 0.5 for s, v in base.items()}, base, higher_is_better=False)  # −0.5: lower is better
    four = {s: base[s] for s in range(4)}
    few = paired_effect({s: v + 1.0 for s, v in four.items()}, four, higher_is_better=True)  # 4 seeds: not marked
    rows = _rows(verdict_table({"setting": {"modes_covered": up, "reverse_kl": down}, "other": {"reverse_kl": down},
                                "four seeds": {"modes_covered": few}}, ["modes_covered", "reverse_kl"]))
    assert rows[0] == ["comparison", "Δ modes covered", "Δ reverse KL to uniform"]
    one, half = format_value("modes_covered", 1.0), format_value("reverse_kl", -0.5)
    assert rows[2] == ["setting", f"{one} [{one}, {one}] ▲ better", f"{half} [{half}, {half}] ▲ better"]
    assert rows[3] == ["other", "–", f"{half} [{half}, {half}] ▲ better"]
    assert few.verdict == "better" and rows[4] == ["four seeds", f"{one} [{one}, {one}] ○ n<6", "–"]
    with pytest.raises(ValueError, match="effects is empty"):
        verdict_table({}, ["modes_covered"])
    with pytest.raises(ValueError, match="metric_keys is empty"):
        verdict_table({"a": {}}, [])
    with pytest.raises(ValueError, match=r"row 'setting' has effects of \['reverse_kl'\], which are not columns"):
        verdict_table({"setting": {"reverse_kl": down}}, ["modes_covered"])


def test_family_table_gives_each_declared_cell_its_p_and_holm_p():
    from gan_l2_lib.metrics import holm_adjust, paired_effect
    from gan_l2_lib.tables import family_table

    base = {s: float(s % 3) for s in range(8)}
    up8 = paired_effect({s: v + 1.0 for s, v in base.items()}, base, higher_is_better=True)  # p = 2/256
    six = {s: base[s] for s in range(6)}
    up6 = paired_effect({s: v + 0.5 for s, v in six.items()}, six, higher_is_better=False)  # p = 2/64, worse
    noise = paired_effect({s: v + (0.2 if s % 2 else -0.2) for s, v in base.items()}, base, higher_is_better=True)
    three = {s: base[s] for s in range(3)}
    few = paired_effect({s: v + 1.0 for s, v in three.items()}, three, higher_is_better=True)
    effects = {"a": {"modes_covered": up8, "reverse_kl": up6}, "b": {"modes_covered": noise},
               "c": {"modes_covered": few}}
    family = [("a", "modes_covered"), ("a", "reverse_kl"), ("b", "modes_covered"), ("c", "modes_covered")]
    rows = _rows(family_table(effects, family))
    assert rows[0] == ["comparison", "metric", "Δ mean [95 % interval]", "pairs", "p (sign-flip)",
                       "p (Holm, 4 comparisons)", "verdict (α = 0.05)"]
    holm = holm_adjust([2 / 256, 2 / 64, 1.0, 2 / 8])  # 0.031, 0.094, 1, 0.5
    assert [r[4] for r in rows[2:]] == ["0.0078", "0.031", "1", "0.25"]
    assert [r[5] for r in rows[2:]] == [f"{h:.2g}" for h in holm]
    # a: modes up in 8 of 8 survives Holm; reverse KL up in 6 of 6 does not (3 · 2/64 > 0.05)
    assert [r[6] for r in rows[2:]] == ["▲ better", "· neutral", "· neutral", "○ n<6"]
    one = format_value("modes_covered", 1.0)
    assert rows[2][:4] == ["a", "modes covered", f"{one} [{one}, {one}]", "8"]
    # declaring a smaller family changes the verdict: alone, 6 of 6 worse is called
    assert _rows(family_table(effects, [("a", "reverse_kl")]))[2][6] == "▼ worse"
    for fam, match in (([], "family is empty"), ([("a", "modes_covered")] * 2, "more than once"),
                       ([("b", "reverse_kl")], r"family cell \('b', 'reverse_kl'\) has no effect"),
                       ([("z", "modes_covered")], "has no effect")):
        with pytest.raises(ValueError, match=match):
            family_table(effects, fam)
    with pytest.raises(ValueError, match="alpha must be"):
        family_table(effects, family, alpha=1.5)
