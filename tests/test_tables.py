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


def test_effect_table_lists_each_comparison_with_its_interval_and_seed_signs():
    from gan_l2_lib.metrics import paired_effect
    from gan_l2_lib.tables import effect_table

    base = {0: 1.0, 1: 2.0, 2: 3.0, 3: 1.0}
    up = paired_effect({0: 2.0, 1: 3.0, 2: 4.0, 3: 2.0}, base, higher_is_better=True)  # +1 every seed
    mixed = paired_effect({0: 2.0, 1: 1.0, 2: 3.0, 3: float("nan")}, base, higher_is_better=True)
    rows = _rows(effect_table({"all up": up, "mixed": mixed}, "modes_covered"))
    assert rows[0][0] == "comparison" and "modes covered" in rows[0][1] and rows[0][2] == "95 % interval"
    assert rows[2] == ["all up", format_value("modes_covered", 1.0), f"[{format_value('modes_covered', 1.0)}, "
                       f"{format_value('modes_covered', 1.0)}]", "4 (0)", "4 / 0", "better"]
    assert rows[3][3] == "3 (1)" and rows[3][4] == "1 / 1" and rows[3][5] == "neutral"
    with pytest.raises(ValueError, match="effects is empty"):
        effect_table({}, "modes_covered")


def test_verdict_table_puts_each_metrics_effect_with_interval_and_mark_in_one_row():
    from gan_l2_lib.metrics import paired_effect
    from gan_l2_lib.tables import verdict_table

    base = {0: 1.0, 1: 2.0, 2: 3.0, 3: 1.0}
    up = paired_effect({0: 2.0, 1: 3.0, 2: 4.0, 3: 2.0}, base, higher_is_better=True)  # +1 every seed
    down = paired_effect({0: 0.5, 1: 1.5, 2: 2.5, 3: 0.5}, base, higher_is_better=False)  # −0.5: lower is better
    rows = _rows(verdict_table({"setting": {"modes_covered": up, "reverse_kl": down}, "other": {"reverse_kl": down}},
                               ["modes_covered", "reverse_kl"]))
    assert rows[0] == ["comparison", "Δ modes covered", "Δ reverse KL to uniform"]
    one, half = format_value("modes_covered", 1.0), format_value("reverse_kl", -0.5)
    assert rows[2] == ["setting", f"{one} [{one}, {one}] ▲ better", f"{half} [{half}, {half}] ▲ better"]
    assert rows[3] == ["other", "–", f"{half} [{half}, {half}] ▲ better"]
    with pytest.raises(ValueError, match="effects is empty"):
        verdict_table({}, ["modes_covered"])
    with pytest.raises(ValueError, match="metric_keys is empty"):
        verdict_table({"a": {}}, [])
    with pytest.raises(ValueError, match=r"row 'setting' has effects of \['reverse_kl'\], which are not columns"):
        verdict_table({"setting": {"reverse_kl": down}}, ["modes_covered"])
