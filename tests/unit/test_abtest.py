"""A/B statistics: hand-checked tests and intervals, simulated power and errors, verdicts."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from relayml.domain.abtest import (
    MIN_OUTCOMES,
    Comparison,
    bonferroni,
    compare_means,
    compare_proportions,
    sample_size_means,
    sample_size_proportions,
    summarize,
)
from relayml.errors import InvalidInput

Z_SUM = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)


def classic_n(p1: float, p2: float) -> float:
    """n = (z_{1-a/2} + z_{1-b})^2 (p1(1-p1) + p2(1-p2)) / d^2 at alpha 0.05, power 0.8."""
    return Z_SUM**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2


def assert_clean(c: Comparison) -> None:
    """The verdict of ``c`` is a sentence without NaN and the p-value, if any, is a probability."""
    assert c.verdict and "nan" not in c.verdict.lower() and "inf" not in c.verdict.lower()
    assert c.p_value is None or 0 <= c.p_value <= 1
    assert c.needed_per_variant is None or c.needed_per_variant > 0


# --- proportions: known values -----------------------------------------------------------------


def test_z_test_p_value_matches_a_hand_computation() -> None:
    c = compare_proportions("accuracy", "A", "B", 700, 1000, 745, 1000)
    pooled = (700 + 745) / 2000
    z = (0.745 - 0.700) / math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert c.p_value == pytest.approx(2 * stats.norm.sf(z), rel=1e-9)
    assert c.difference == pytest.approx(0.045)
    assert (c.control_value, c.challenger_value) == (0.7, 0.745)
    assert c.test == "two-proportion z-test"


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80, method 10.
    c = compare_proportions("accuracy", "A", "B", 48, 80, 56, 70)
    assert c.difference == pytest.approx(0.2)
    assert (c.ci_low, c.ci_high) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_significant_result_names_winner_metric_interval_and_p() -> None:
    c = compare_proportions("accuracy", "control", "v2", 7000, 10000, 7310, 10000)
    assert c.significant and c.winner == "v2" and c.needed_per_variant is None
    assert c.verdict == (
        "v2 better on accuracy than control: +3.1 points (95% CI +1.8 to +4.3), p<0.001"
    )


def test_p_value_formats() -> None:
    c = compare_proportions("accuracy", "A", "B", 700, 1000, 750, 1000)
    assert c.significant and "p=0.012" in c.verdict and "+5.0 points" in c.verdict
    c = compare_proportions("accuracy", "A", "B", 50_000, 100_000, 50_100, 100_000)
    assert not c.significant and c.winner is None
    assert c.verdict.startswith("no significant difference on accuracy (p=0.65): B vs A +0.1")


def test_control_can_win_and_the_verdict_shows_its_advantage() -> None:
    c = compare_proportions("accuracy", "A", "B", 760, 1000, 700, 1000)
    assert c.winner == "A" and c.difference < 0 and c.ci_high < 0
    assert c.verdict.startswith("A better on accuracy than B: +6.0 points (95% CI +2.1 to +9.9)")


def test_lower_is_better_flips_the_winner() -> None:
    low = compare_proportions("error_rate", "A", "B", 100, 1000, 60, 1000, higher_is_better=False)
    high = compare_proportions("error_rate", "A", "B", 100, 1000, 60, 1000)
    assert low.winner == "B" and high.winner == "A"
    assert low.verdict.startswith("B better on error_rate than A: -4.0 points")
    rng = np.random.default_rng(3)
    a, b = rng.normal(2.0, 1.0, 400), rng.normal(1.7, 1.0, 400)
    assert compare_means("mae", "A", "B", a, b, higher_is_better=False).winner == "B"
    assert compare_means("mae", "A", "B", a, b).winner == "A"


# --- simulations -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_a_real_five_point_difference_is_found_at_5000_per_arm(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k_a, k_b = rng.binomial(5000, 0.70), rng.binomial(5000, 0.75)
    c = compare_proportions("accuracy", "A", "B", int(k_a), 5000, int(k_b), 5000)
    assert c.significant and c.winner == "B" and c.ci_low > 0
    m = compare_means("value", "A", "B", rng.normal(1.0, 1.0, 5000), rng.normal(1.05, 1.0, 5000))
    assert m.significant and m.winner == "B"


def test_identical_arms_give_false_positives_near_alpha() -> None:
    rng = np.random.default_rng(12345)
    hits_p = hits_m = 0
    for _ in range(200):
        k_a, k_b = rng.binomial(1000, 0.6, size=2)
        hits_p += compare_proportions("acc", "A", "B", int(k_a), 1000, int(k_b), 1000).significant
        values = rng.exponential(2.0, size=(2, 200))
        hits_m += compare_means("kpi", "A", "B", values[0], values[1]).significant
    assert 0.01 <= hits_p / 200 <= 0.10
    assert 0.01 <= hits_m / 200 <= 0.10


# --- not enough data and sample sizes ----------------------------------------------------------


def test_small_samples_say_not_enough_data_with_a_sensible_count() -> None:
    c = compare_proportions("accuracy", "A", "B", 12, 20, 18, 20)  # p=0.03, but n < the floor
    assert c.p_value is not None and c.p_value < 0.05
    assert not c.significant and c.winner is None
    assert c.needed_per_variant == pytest.approx(classic_n(0.6, 0.62), rel=0.10)
    more = c.needed_per_variant - 20
    assert c.verdict.startswith(
        f"not enough data yet on accuracy: 20 outcomes of about {c.needed_per_variant:,} "
        f"needed per variant to detect a 2.0-point difference (about {more:,} more)"
    )
    bigger = compare_proportions("accuracy", "A", "B", 360, 600, 372, 600, min_effect=0.05)
    assert bigger.needed_per_variant == pytest.approx(classic_n(0.6, 0.55), rel=0.10)
    assert "5.0-point" in bigger.verdict and "600 outcomes of about 1," in bigger.verdict


def test_sample_size_formulas() -> None:
    assert sample_size_proportions(0.5, 0.02) == math.ceil(classic_n(0.5, 0.52))
    assert sample_size_proportions(0.9, 0.05) == math.ceil(classic_n(0.9, 0.85))
    assert sample_size_proportions(0.0, 0.1) == math.ceil(classic_n(0.0, 0.1))
    assert sample_size_means(1.0, 0.1) == math.ceil(2 * Z_SUM**2 * 100)
    assert sample_size_means(2.0, 0.1, power=0.9) > sample_size_means(2.0, 0.1)
    assert sample_size_proportions(0.5, 0.02, alpha=0.01) > sample_size_proportions(0.5, 0.02)


def test_means_default_effect_is_a_tenth_of_the_pooled_std() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(10, 3, 300), rng.normal(10, 3, 300)
    c = compare_means("value_saved", "A", "B", a, b)
    std = math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    assert c.needed_per_variant == sample_size_means(std, 0.1 * std)
    assert c.verdict.startswith("not enough data yet on value_saved: 300 outcomes of about 1,570")


# --- means -------------------------------------------------------------------------------------


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(5.0, 1.0, 80), rng.normal(5.6, 3.0, 120)
    c = compare_means("latency", "A", "B", a, b, alpha=0.1)
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(0.9)
    assert c.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert c.difference == pytest.approx(b.mean() - a.mean())
    assert c.test == "Welch t-test" and (c.control_n, c.challenger_n) == (80, 120)
    assert "90% CI" in c.verdict


def test_mean_verdict_numbers_are_readable() -> None:
    rng = np.random.default_rng(2)
    c = compare_means("value", "A", "B", rng.normal(5000, 2000, 500), rng.normal(5600, 2000, 500))
    assert c.significant and c.winner == "B"
    assert re.fullmatch(
        r"B better on value than A: \+\d{3} \(95% CI \+\d{3} to \+\d{3}\), p<0\.001", c.verdict
    ), c.verdict
    big = compare_means("value", "A", "B", np.arange(0.0, 100.0), np.arange(2000.0, 2100.0))
    assert big.verdict.startswith("B better on value than A: +2,000 (95% CI +1,992 to +2,008)")
    small = compare_means("rate", "A", "B", np.linspace(0, 0.1, 99), np.linspace(0.03, 0.13, 99))
    assert small.verdict.startswith("B better on rate than A: +0.03 (95% CI +0.0218 to +0.0382)")


# --- edge cases --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k_a", "n_a", "k_b", "n_b"),
    [(0, 0, 7, 12), (5, 10, 0, 0), (0, 0, 0, 0), (40, 40, 50, 50), (0, 500, 0, 500),
     (10_000, 10_000, 10_000, 10_000), (100, 100, 95, 100), (0, 1, 1, 1)],
)  # fmt: skip
def test_degenerate_proportions_never_produce_nan_verdicts(
    k_a: int, n_a: int, k_b: int, n_b: int
) -> None:
    c = compare_proportions("accuracy", "A", "B", k_a, n_a, k_b, n_b)
    assert_clean(c)
    assert c.significant == (k_b == 95)  # 100% vs 95% over 100 each is a real difference
    if min(n_a, n_b) == 0 or (k_a + k_b) in (0, n_a + n_b):
        assert c.p_value is None


def test_missing_outcomes_are_named() -> None:
    c = compare_proportions("accuracy", "A", "B", 0, 0, 7, 12)
    assert math.isnan(c.control_value) and math.isnan(c.difference)
    assert c.verdict.startswith("not enough data yet on accuracy: no outcomes yet for A, about ")
    both = compare_proportions("accuracy", "A", "B", 0, 0, 0, 0)
    assert "no outcomes yet for A and B" in both.verdict
    full = compare_proportions("accuracy", "A", "B", 10_000, 10_000, 10_000, 10_000)
    assert full.verdict == "no variation to test on accuracy: A and B are both at 100.0%"
    assert full.ci_low <= 0 <= full.ci_high


@pytest.mark.parametrize(
    ("a", "b"),
    [([], [1.0, 2.0]), ([1.0], [2.0]), ([1.0] * 50, [2.0] * 50), ([3.0] * 50, [3.0] * 50),
     ([1.0] * 50, list(np.linspace(0, 2, 50))), ([], [])],
)  # fmt: skip
def test_degenerate_means_never_produce_nan_verdicts(a: list[float], b: list[float]) -> None:
    c = compare_means("mae", "A", "B", np.array(a), np.array(b))
    assert_clean(c)
    assert not c.significant


def test_constant_arms_cannot_be_tested() -> None:
    c = compare_means("mae", "A", "B", np.ones(50), np.full(50, 2.0))
    assert c.p_value is None and c.difference == 1.0
    assert c.verdict == (
        "no variation to test on mae: values do not vary within either variant (A 1.00, B 2.00)"
    )
    few = compare_means("mae", "A", "B", np.array([1.0]), np.array([2.0, 3.0]))
    assert few.verdict.startswith("not enough data yet on mae: 1 outcome for A of about 1,570")


@pytest.mark.parametrize(
    "call",
    [
        lambda: compare_proportions("m", "A", "B", 11, 10, 5, 10),
        lambda: compare_proportions("m", "A", "B", -1, 10, 5, 10),
        lambda: compare_proportions("m", "A", "B", 1.5, 10, 5, 10),
        lambda: compare_proportions("m", "A", "A", 1, 10, 5, 10),
        lambda: compare_proportions("m", "A", "B", 1, 10, 5, 10, alpha=0),
        lambda: compare_proportions("m", "A", "B", 1, 10, 5, 10, power=1.0),
        lambda: compare_proportions("m", "A", "B", 1, 10, 5, 10, min_effect=1.5),
        lambda: compare_means("m", "A", "B", np.array([1.0, np.nan]), np.ones(3)),
        lambda: compare_means("m", "A", "B", np.ones((2, 2)), np.ones(3)),
        lambda: compare_means("m", "A", "B", np.ones(3), np.ones(3), min_effect=-1),
        lambda: sample_size_proportions(1.2, 0.02),
        lambda: sample_size_proportions(0.5, 0.0),
        lambda: sample_size_means(0.0, 0.1),
        lambda: bonferroni(0.05, 0),
        lambda: bonferroni(1.5, 2),
    ],
)
def test_bad_input_is_rejected(call: object) -> None:
    with pytest.raises(InvalidInput):
        call()  # type: ignore[operator]


# --- several challengers and the summary -------------------------------------------------------


def test_bonferroni_divides_alpha_and_widens_the_interval() -> None:
    assert bonferroni(0.05, 2) == 0.025
    assert bonferroni(0.05, 1) == 0.05
    c = compare_proportions("accuracy", "A", "B", 700, 1000, 750, 1000, alpha=bonferroni(0.05, 2))
    assert "97.5% CI" in c.verdict and c.significant  # p=0.012 < 0.025
    strict = compare_proportions("accuracy", "A", "B", 700, 1000, 750, 1000, alpha=0.01)
    assert not strict.significant and "99% CI" in strict.verdict


def test_summary_lines() -> None:
    win = compare_proportions("accuracy", "A", "B", 700, 1000, 750, 1000)
    rng = np.random.default_rng(0)
    same = compare_means(
        "value_saved", "A", "B", rng.normal(0, 1, 20_000), rng.normal(0, 1, 20_000)
    )
    few = compare_proportions("accuracy", "A", "B", 5, 10, 7, 12)
    assert re.fullmatch(
        r"B better on accuracy \(p=0\.012\); no significant difference on value_saved "
        r"\(p=0\.\d\d\d?\)",
        summarize([win, same]),
    )
    line = summarize([few, compare_proportions("recall", "A", "B", 3, 10, 4, 10)])
    assert line.startswith("not enough data yet: need about ") and "(accuracy, recall)" in line
    assert "not enough data yet on accuracy" in summarize([win, few])
    assert summarize([]) == "nothing to compare yet"
    other = compare_proportions("accuracy", "A", "C", 700, 1000, 640, 1000)
    assert summarize([win, other]) == (
        "B better than A on accuracy (p=0.012); A better than C on accuracy (p=0.004)"
    )


# --- properties --------------------------------------------------------------------------------

arm = st.integers(1, 3000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@settings(max_examples=150, deadline=None)
@given(a=arm, b=arm)
def test_interval_contains_difference_and_swapping_arms_negates_it(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    c = compare_proportions("acc", "A", "B", *a, *b)
    s = compare_proportions("acc", "B", "A", *b, *a)
    assert -1 <= c.ci_low <= c.difference <= c.ci_high <= 1
    assert s.difference == pytest.approx(-c.difference)
    assert (s.ci_low, s.ci_high) == pytest.approx((-c.ci_high, -c.ci_low))
    assert s.p_value == c.p_value and s.winner == c.winner
    assert_clean(c)


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=60),
    b=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=60),
)
def test_means_swap_and_interval_properties(a: list[float], b: list[float]) -> None:
    c = compare_means("kpi", "A", "B", np.array(a), np.array(b))
    s = compare_means("kpi", "B", "A", np.array(b), np.array(a))
    assert_clean(c)
    assert s.difference == pytest.approx(-c.difference)
    if c.p_value is not None:
        assert c.ci_low <= c.difference <= c.ci_high
        assert s.p_value == pytest.approx(c.p_value)
    assert c.winner == s.winner
    assert c.control_n == len(a) >= 2 and MIN_OUTCOMES == 30
