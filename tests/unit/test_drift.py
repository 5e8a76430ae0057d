"""Drift statistics against scipy's reference implementations, method choice, and the sketch."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import jensenshannon

from relayml.domain.drift_results import ColumnDrift, DriftConfig, DriftReport, Histogram
from relayml.domain.drift_stats import (
    NumericSketch,
    categorical_drift,
    categorical_scores,
    cdf_distances,
    numeric_drift,
    psi,
    sketch_drift,
)
from relayml.errors import InvalidInput

RNG = np.random.default_rng(7)


def _pair(n_r: int, n_c: int, shift: float = 0.0, decimals: int | None = None) -> tuple:
    ref = RNG.normal(0.0, 1.0, n_r)
    cur = RNG.normal(shift, 1.3, n_c)
    if decimals is not None:  # many ties
        ref, cur = np.round(ref, decimals), np.round(cur, decimals)
    return np.sort(ref), np.sort(cur)


# -- the statistics against scipy ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("n_r", "n_c", "decimals"),
    [(1, 1, None), (7, 300, None), (1000, 2500, None), (50_000, 30_000, None), (4000, 900, 1)],
)
def test_cdf_distances_equal_scipy(n_r: int, n_c: int, decimals: int | None) -> None:
    ref, cur = _pair(n_r, n_c, 0.2, decimals)
    ks, w1 = cdf_distances(ref, cur)
    assert ks == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
    assert w1 == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-5, 5), min_size=1, max_size=40),
    st.lists(st.integers(-5, 5), min_size=1, max_size=40),
)
def test_cdf_distances_on_ties_and_tiny_samples(ref: list[int], cur: list[int]) -> None:
    r, c = np.sort(np.array(ref, dtype=float)), np.sort(np.array(cur, dtype=float))
    ks, w1 = cdf_distances(r, c)
    with warnings.catch_warnings():  # scipy's p-value of tiny samples may warn; not used here
        warnings.simplefilter("ignore", RuntimeWarning)
        assert ks == pytest.approx(stats.ks_2samp(r, c).statistic, abs=1e-12)
    assert w1 == pytest.approx(stats.wasserstein_distance(r, c), abs=1e-9)


def test_numeric_scores_equal_scipy() -> None:
    ref, cur = _pair(800, 600, 0.1)
    ks = numeric_drift("x", ref, cur, DriftConfig(methods={"x": "ks"}))
    assert ks.score == pytest.approx(stats.ks_2samp(ref, cur).pvalue, rel=1e-9)
    wd = numeric_drift("x", ref, cur, DriftConfig(methods={"x": "wasserstein"}))
    assert wd.score == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9)
    # psi and Jensen-Shannon over the ten reference deciles
    cuts = np.quantile(ref, np.linspace(0.1, 0.9, 9))
    r = np.bincount(np.searchsorted(cuts, ref, "right"), minlength=10)
    c = np.bincount(np.searchsorted(cuts, cur, "right"), minlength=10)
    js = numeric_drift("x", ref, cur, DriftConfig(methods={"x": "jensenshannon"}))
    assert js.score == pytest.approx(jensenshannon(r / r.sum(), c / c.sum()), rel=1e-9)
    ps = numeric_drift("x", ref, cur, DriftConfig(methods={"x": "psi"}))
    assert ps.score == pytest.approx(psi(r, c), rel=1e-12)


def test_constant_reference_uses_the_std_floor() -> None:
    ref, cur = np.full(2000, 3.0), np.full(2000, 3.01)
    result = numeric_drift("x", ref, cur)
    assert result.method == "wasserstein"
    assert result.score == pytest.approx(0.01 / 0.001)


def test_categorical_scores_equal_scipy() -> None:
    ref, cur = np.array([500, 300, 200, 0]), np.array([420, 330, 230, 20])
    table = np.vstack((ref, cur))
    assert categorical_scores(ref, cur, "chisquare") == pytest.approx(
        stats.chi2_contingency(table, correction=False).pvalue, rel=1e-12
    )
    assert categorical_scores(ref, cur, "jensenshannon") == pytest.approx(
        jensenshannon(ref / ref.sum(), cur / cur.sum()), rel=1e-12
    )
    # psi by hand: the unseen category gets a share of 1e-4 in the reference
    r = np.array([0.5, 0.3, 0.2, 1e-4])
    c = cur / cur.sum()
    assert categorical_scores(ref, cur, "psi") == pytest.approx(np.sum((c - r) * np.log(c / r)))


def test_chisquare_on_two_categories_is_the_two_proportion_z_test() -> None:
    ref, cur = np.array([420, 580]), np.array([470, 530])
    p1, p2 = ref[0] / ref.sum(), cur[0] / cur.sum()
    pooled = (ref[0] + cur[0]) / (ref.sum() + cur.sum())
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / ref.sum() + 1 / cur.sum()))
    z_p = 2 * stats.norm.sf(abs(z))
    assert categorical_scores(ref, cur, "chisquare") == pytest.approx(z_p, rel=1e-9)


def test_ks_of_equal_samples_one_step_apart_is_certain() -> None:
    ref = np.array([-5.0, -5.0, -4.0, 4.0, 5.0])
    cur = np.array([-5.0, -4.0, -4.0, 4.0, 5.0])  # scipy's exact p-value warns here (1 + 2e-16)
    assert numeric_drift("x", ref, cur).score == 1.0


def test_one_category_everywhere_is_no_drift() -> None:
    result = categorical_drift("c", ["a", "b"], np.array([10, 0]), np.array([7, 0]))
    assert result.method == "chisquare"
    assert result.score == 1.0
    assert not result.drifted


# -- method choice, thresholds, verdicts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "size", "method"),
    [
        ("numeric", 1000, "ks"),
        ("numeric", 1001, "wasserstein"),
        ("categorical", 1000, "chisquare"),
        ("categorical", 1001, "jensenshannon"),
    ],
)
def test_default_method_by_kind_and_reference_size(kind: str, size: int, method: str) -> None:
    assert DriftConfig().method_for("x", kind, size) == method  # type: ignore[arg-type]


def test_overrides_of_method_and_threshold() -> None:
    config = DriftConfig(
        methods={"a": "psi"},
        numeric_method="ks",
        thresholds={"a": 0.25},
        method_thresholds={"ks": 0.01},
        drift_share=0.3,
    )
    assert config.method_for("a", "numeric", 10**6) == "psi"
    assert config.method_for("b", "numeric", 10**6) == "ks"
    assert config.method_for("c", "categorical", 10**6) == "jensenshannon"
    assert config.threshold_for("a", "psi") == 0.25
    assert config.threshold_for("b", "ks") == 0.01
    assert config.threshold_for("c", "jensenshannon") == 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": {"a": "anderson"}}, "unknown drift method 'anderson' for 'a'"),
        ({"numeric_method": "chisquare"}, "'chisquare' does not apply to numeric columns"),
        ({"categorical_method": "ks"}, "'ks' does not apply to categorical columns"),
        ({"method_thresholds": {"ks": 5.0}}, "a p-value's must be in (0, 1)"),
        ({"thresholds": {"a": -1.0}}, "a distance's must be > 0"),
        ({"drift_share": 0.0}, "drift_share must be in (0, 1]"),
        ({"stream_bins": 2}, "stream_bins must be at least 10"),
    ],
)
def test_bad_config_says_what_to_fix(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        DriftConfig(**kwargs)
    assert message in err.value.message


def test_a_method_of_the_wrong_kind_for_a_column() -> None:
    config = DriftConfig(methods={"plan": "wasserstein"})
    with pytest.raises(InvalidInput, match="column 'plan' is categorical: 'wasserstein'"):
        categorical_drift("plan", ["a"], np.array([3]), np.array([4]), config)


def test_verdicts_by_p_value_and_by_distance() -> None:
    ref, cur = _pair(500, 500, 0.0)
    same = numeric_drift("x", ref, cur + 0.0)
    moved = numeric_drift("x", ref, np.sort(RNG.normal(1.0, 1.0, 500)))
    assert same.method == moved.method == "ks"
    assert moved.score < 0.05 and moved.drifted
    big_r = _pair(5000, 5000, 0.0)[0]
    assert not numeric_drift("x", big_r, np.sort(RNG.normal(0, 1, 5000))).drifted
    shifted = numeric_drift("x", big_r, big_r + 0.1 * np.std(big_r))
    assert shifted.method == "wasserstein"
    assert shifted.score == pytest.approx(0.1) and shifted.drifted  # at the threshold: drifted


def test_an_empty_sample_gives_no_score_and_no_verdict() -> None:
    result = numeric_drift("x", np.sort(RNG.normal(size=10)), np.array([]), missing=(0, 5))
    assert math.isnan(result.score) and not result.drifted
    assert result.current_missing == 1.0


# -- histograms and the report -------------------------------------------------------------------


def test_histograms_hold_at_most_20_bins_and_every_value() -> None:
    ref, cur = _pair(3000, 2000, 0.5)
    hist = numeric_drift("x", ref, cur).histogram
    assert len(hist.edges) == 21 and len(hist.reference) == len(hist.current) == 20
    assert sum(hist.reference) == 3000 and sum(hist.current) == 2000
    labels = [f"v{i}" for i in range(30)]
    counts = np.arange(30, 0, -1)
    cat = categorical_drift("c", labels, counts, counts[::-1]).histogram
    assert len(cat.labels) == 20 and cat.labels[0] == "v0" and cat.labels[-1] == "(other)"
    assert sum(cat.reference) == counts.sum() == sum(cat.current)


def _column(name: str, drifted: bool) -> ColumnDrift:
    return ColumnDrift(
        name, "numeric", "wasserstein", 0.5 if drifted else 0.0, 0.1, drifted, 10, 10, 0.0, 0.0,
        Histogram((10,), (10,), edges=(0.0, 1.0)),
    )  # fmt: skip


def test_dataset_drift_is_the_share_of_drifted_columns() -> None:
    columns = tuple(_column(f"c{i}", i < 2) for i in range(4))
    report = DriftReport(columns, 100, 100, prediction=_column("y", True))
    assert report.drifted_columns == ("c0", "c1")
    assert report.share == 0.5 and report.dataset_drifted
    assert not DriftReport(columns, 100, 100, drift_share_threshold=0.75).dataset_drifted
    data = json.loads(json.dumps(report.to_dict()))
    assert data["prediction"]["column"] == "y" and data["dataset_drifted"] is True


# -- the sketch of samples streamed in parts -----------------------------------------------------


def test_sketch_parts_add_up_to_the_sketch_of_the_whole() -> None:
    ref, cur = _pair(20_000, 30_000, 0.1)
    edges = NumericSketch.edges_for(ref, 1000)
    whole = NumericSketch(edges)
    whole.add(cur)
    parts = [NumericSketch(edges) for _ in range(3)]
    for part, chunk in zip(parts, np.array_split(RNG.permutation(cur), 3), strict=True):
        part.add(chunk)
    merged = parts[0].merge(parts[1]).merge(parts[2])
    assert np.array_equal(merged.counts, whole.counts)
    assert np.allclose(merged.sums, whole.sums)
    assert merged.n == 30_000 and merged.std == pytest.approx(np.std(cur), rel=1e-12)
    assert (merged.low, merged.high) == (cur[0], cur[-1])


@pytest.mark.parametrize("method", ["wasserstein", "ks", "psi", "jensenshannon"])
def test_sketch_scores_are_close_to_the_exact_ones(method: str) -> None:
    ref, cur = _pair(200_000, 100_000, 0.05)
    config = DriftConfig(methods={"x": method})  # type: ignore[dict-item]
    edges = NumericSketch.edges_for(ref)
    r, c = NumericSketch(edges), NumericSketch(edges)
    r.add(ref)
    c.add(cur)
    exact = numeric_drift("x", ref, cur, config)
    binned = sketch_drift("x", r, c, config)
    assert binned.binned and not exact.binned
    assert binned.score == pytest.approx(exact.score, abs=2e-3, rel=2e-2)
    assert binned.drifted == exact.drifted
