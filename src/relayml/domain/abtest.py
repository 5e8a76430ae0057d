"""A/B test statistics: each challenger variant compared with the control, per metric; no I/O.

Proportions (accuracy, conversion, "model was right") use a two-proportion z-test with the pooled
standard error for the p-value, and Newcombe's hybrid score interval (method 10, built from the
Wilson interval of each arm) for the confidence interval of the difference: it stays inside
-1..1 and behaves at 0% and 100% rates, where the Wald interval collapses. Means (a KPI value per
prediction, a regression error) use Welch's t-test and its interval of the difference.

A comparison is significant only when p < alpha, the interval excludes zero and both variants
have at least MIN_OUTCOMES outcomes. Differences are challenger minus control. Values that cannot
be computed (the rate of a variant without outcomes, an interval without data) are NaN, and
p_value is None; verdicts never show NaN.

Several challengers: compare each against the control with ``alpha=bonferroni(alpha, k)`` for k
challengers, so that the chance of any false winner stays below alpha.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]  # no stubs installed

from relayml.errors import InvalidInput

__all__ = [
    "DEFAULT_MEAN_EFFECT_STDS",
    "DEFAULT_PROPORTION_EFFECT",
    "MIN_OUTCOMES",
    "Comparison",
    "bonferroni",
    "compare_means",
    "compare_proportions",
    "sample_size_means",
    "sample_size_proportions",
    "summarize",
]

MIN_OUTCOMES = 30  # below this many outcomes per variant nothing is declared significant
DEFAULT_PROPORTION_EFFECT = 0.02  # 2 percentage points, absolute
DEFAULT_MEAN_EFFECT_STDS = 0.1  # 0.1 x the pooled standard deviation

_Kind = Literal["proportion", "mean"]


@dataclass(frozen=True)
class Comparison:
    """One metric of one challenger against the control, with its verdict."""

    metric: str
    control: str
    challenger: str
    control_value: float
    challenger_value: float
    control_n: int
    challenger_n: int
    difference: float  # challenger - control (absolute)
    ci_low: float  # confidence interval of the difference
    ci_high: float
    p_value: float | None  # None when it cannot be computed
    significant: bool
    winner: str | None  # None when not significant
    needed_per_variant: int | None  # outcomes per variant for min_effect at power, if undecided
    verdict: str
    test: str


def bonferroni(alpha: float, comparisons: int) -> float:
    """Alpha to use for each of ``comparisons`` comparisons so the family stays at ``alpha``."""
    _check_level("alpha", alpha)
    if isinstance(comparisons, bool) or not isinstance(comparisons, int) or comparisons < 1:
        raise InvalidInput(f"comparisons must be a whole number of at least 1, got {comparisons!r}")
    return alpha / comparisons


def sample_size_proportions(
    p: float, min_effect: float, *, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Outcomes per variant to detect an absolute change of ``min_effect`` from rate ``p``."""
    _check_level("alpha", alpha)
    _check_level("power", power)
    if not 0 <= p <= 1:
        raise InvalidInput(f"p must be a rate between 0 and 1, got {p}")
    if not 0 < min_effect < 1:
        raise InvalidInput(
            f"min_effect must be an absolute rate change in (0, 1), got {min_effect}"
        )
    p2 = p + min_effect if p <= 0.5 else p - min_effect  # towards 0.5: the larger variance
    if not 0 <= p2 <= 1:
        raise InvalidInput(f"min_effect {min_effect} takes the rate {p} outside 0..1; use less")
    variance = p * (1 - p) + p2 * (1 - p2)
    return max(1, math.ceil(_z_sum(alpha, power) ** 2 * variance / min_effect**2))


def sample_size_means(
    std: float, min_effect: float, *, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Outcomes per variant to detect a change of ``min_effect`` in a mean with spread ``std``."""
    _check_level("alpha", alpha)
    _check_level("power", power)
    if not (math.isfinite(std) and std > 0):
        raise InvalidInput(f"std must be a positive number, got {std}")
    if not (math.isfinite(min_effect) and min_effect > 0):
        raise InvalidInput(f"min_effect must be a positive number, got {min_effect}")
    return max(2, math.ceil(2 * _z_sum(alpha, power) ** 2 * std**2 / min_effect**2))


def compare_proportions(
    metric: str,
    control: str,
    challenger: str,
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    min_effect: float | None = None,
    higher_is_better: bool = True,
) -> Comparison:
    """Compare success rates of challenger (b) and control (a) by a two-proportion z-test."""
    _check_common(control, challenger, alpha, power, min_effect)
    if min_effect is not None and min_effect >= 1:
        raise InvalidInput(f"min_effect is an absolute rate change below 1, got {min_effect}")
    for name, k, n in ((control, successes_a, n_a), (challenger, successes_b, n_b)):
        if not (_is_int(k) and _is_int(n) and 0 <= k <= n):
            raise InvalidInput(
                f"{name}: successes and outcomes must be whole numbers with "
                f"0 <= successes <= outcomes, got {k!r} of {n!r}"
            )
    rate_a = successes_a / n_a if n_a else math.nan
    rate_b = successes_b / n_b if n_b else math.nan
    ci, p_value, note = (math.nan, math.nan), None, ""
    if n_a and n_b:
        ci = _newcombe(successes_a, n_a, successes_b, n_b, alpha)
        pooled = (successes_a + successes_b) / (n_a + n_b)
        if 0 < pooled < 1:
            se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
            p_value = float(2 * stats.norm.sf(abs(rate_b - rate_a) / se))
        else:
            note = f"{control} and {challenger} are both at {rate_a:.1%}"
    baseline = rate_a if n_a else (rate_b if n_b else 0.5)  # 0.5: the worst case
    effect = DEFAULT_PROPORTION_EFFECT if min_effect is None else min_effect
    needed = sample_size_proportions(baseline, effect, alpha=alpha, power=power)
    return _finish(
        metric, control, challenger, (rate_a, rate_b), (n_a, n_b), ci, p_value,
        alpha=alpha, needed=needed, effect=effect, higher_is_better=higher_is_better,
        test="two-proportion z-test", kind="proportion", note=note,
    )  # fmt: skip


def compare_means(
    metric: str,
    control: str,
    challenger: str,
    values_a: npt.ArrayLike,
    values_b: npt.ArrayLike,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    min_effect: float | None = None,
    higher_is_better: bool = True,
) -> Comparison:
    """Compare the mean of challenger (b) and control (a) values by Welch's t-test."""
    _check_common(control, challenger, alpha, power, min_effect)
    a, b = _values(control, values_a), _values(challenger, values_b)
    mean_a = float(a.mean()) if a.size else math.nan
    mean_b = float(b.mean()) if b.size else math.nan
    ci, p_value, note = (math.nan, math.nan), None, ""
    arms = [x for x in (a, b) if x.size >= 2]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # a constant arm is fine (variance exactly 0); tiny or huge values give NaN, checked below
        warnings.simplefilter("ignore", RuntimeWarning)
        if len(arms) == 2 and (np.ptp(a) > 0 or np.ptp(b) > 0):
            result = stats.ttest_ind(b, a, equal_var=False)
            interval = result.confidence_interval(1 - alpha)
            if math.isfinite(result.pvalue):
                p_value = float(result.pvalue)
                ci = (float(interval.low), float(interval.high))
        dof = sum(x.size - 1 for x in arms)
        std = math.sqrt(sum(float(x.var(ddof=1)) * (x.size - 1) for x in arms) / dof) if dof else 0
    if len(arms) == 2 and p_value is None:
        note = (
            f"values do not vary within either variant ({control} {_num(mean_a, sign=False)}, "
            f"{challenger} {_num(mean_b, sign=False)})"
        )
    effect = DEFAULT_MEAN_EFFECT_STDS * std if min_effect is None else min_effect
    needed = None
    if 0 < std < math.inf:
        needed = sample_size_means(std, effect, alpha=alpha, power=power)
    return _finish(
        metric, control, challenger, (mean_a, mean_b), (a.size, b.size), ci, p_value,
        alpha=alpha, needed=needed, effect=effect, higher_is_better=higher_is_better,
        test="Welch t-test", kind="mean", note=note,
    )  # fmt: skip


def summarize(comparisons: Sequence[Comparison]) -> str:
    """One overall verdict line across metrics (and challengers)."""
    if not comparisons:
        return "nothing to compare yet"
    several = len({(c.control, c.challenger) for c in comparisons}) > 1

    def label(c: Comparison) -> str:
        return f"{c.metric} for {c.challenger} vs {c.control}" if several else c.metric

    if all(_needs_more(c) for c in comparisons):
        more = max(_target(c) - min(c.control_n, c.challenger_n) for c in comparisons)
        names = ", ".join(label(c) for c in comparisons)
        return f"not enough data yet: need about {more:,} more outcomes per variant ({names})"
    parts = []
    for c in comparisons:
        if c.significant and c.p_value is not None:
            loser = c.control if c.winner == c.challenger else c.challenger
            than = f" than {loser}" if several else ""
            parts.append(f"{c.winner} better{than} on {c.metric} ({_fmt_p(c.p_value)})")
        elif _needs_more(c):
            more = _target(c) - min(c.control_n, c.challenger_n)
            parts.append(f"not enough data yet on {label(c)} (about {more:,} more per variant)")
        elif c.p_value is None:
            parts.append(f"no variation to test on {label(c)}")
        else:
            parts.append(f"no significant difference on {label(c)} ({_fmt_p(c.p_value)})")
    return "; ".join(parts)


# --- internals -------------------------------------------------------------------------------


def _finish(
    metric: str, control: str, challenger: str,
    values: tuple[float, float], ns: tuple[int, int], ci: tuple[float, float],
    p_value: float | None, *, alpha: float, needed: int | None, effect: float,
    higher_is_better: bool, test: str, kind: _Kind, note: str,
) -> Comparison:  # fmt: skip
    """Decide significance and the winner, then write the verdict."""
    difference = values[1] - values[0]
    significant = (
        p_value is not None
        and p_value < alpha
        and min(ns) >= MIN_OUTCOMES
        and (ci[0] > 0 or ci[1] < 0)
    )
    winner = None
    if significant:
        winner = challenger if (difference > 0) == higher_is_better else control
    comparison = Comparison(
        metric=metric, control=control, challenger=challenger,
        control_value=values[0], challenger_value=values[1], control_n=ns[0], challenger_n=ns[1],
        difference=difference, ci_low=ci[0], ci_high=ci[1], p_value=p_value,
        significant=significant, winner=winner, needed_per_variant=None if significant else needed,
        verdict="", test=test,
    )  # fmt: skip
    verdict = _verdict(comparison, kind=kind, effect=effect, alpha=alpha, note=note)
    return dataclasses.replace(comparison, verdict=verdict)


def _verdict(c: Comparison, *, kind: _Kind, effect: float, alpha: float, note: str) -> str:
    """One plain sentence for a comparison."""
    level = f"{round(100 * (1 - alpha), 2):g}% CI"
    if c.significant and c.p_value is not None:
        loser = c.control if c.winner == c.challenger else c.challenger
        d, lo, hi = c.difference, c.ci_low, c.ci_high
        if c.winner == c.control:  # show the winner's advantage
            d, lo, hi = -d, -hi, -lo
        return (
            f"{c.winner} better on {c.metric} than {loser}: {_diff(d, kind)} "
            f"({level} {_diff(lo, kind, unit=False)} to {_diff(hi, kind, unit=False)}), "
            f"{_fmt_p(c.p_value)}"
        )
    observed = ""
    if math.isfinite(c.difference):
        observed = f"{c.challenger} vs {c.control} {_diff(c.difference, kind)}"
        if math.isfinite(c.ci_low):
            low, high = _diff(c.ci_low, kind, unit=False), _diff(c.ci_high, kind, unit=False)
            observed += f" ({level} {low} to {high})"
    if _needs_more(c):
        have, target = min(c.control_n, c.challenger_n), _target(c)
        short = [
            v for v, n in ((c.control, c.control_n), (c.challenger, c.challenger_n)) if n == have
        ]
        if have == 0:
            start = f"no outcomes yet for {' and '.join(short)}, about {target:,}"
        else:
            whose = f" for {short[0]}" if len(short) == 1 else ""
            start = f"{have:,} outcome{'' if have == 1 else 's'}{whose} of about {target:,}"
        if c.needed_per_variant is None:
            text = f"{start} needed per variant before any test"
        else:
            size = f" of {_num(effect, sign=False)}" if kind == "mean" else ""
            goal = f"a {100 * effect:.1f}-point difference" if size == "" else f"a difference{size}"
            text = f"{start} needed per variant to detect {goal} (about {target - have:,} more)"
        p_text = "" if c.p_value is None else _fmt_p(c.p_value)
        so_far = ", ".join(x for x in (observed, p_text) if x)
        return f"not enough data yet on {c.metric}: {text}" + (
            f"; so far {so_far}" if so_far else ""
        )
    if c.p_value is None:
        return f"no variation to test on {c.metric}: {note}"
    return f"no significant difference on {c.metric} ({_fmt_p(c.p_value)}): {observed}"


def _needs_more(c: Comparison) -> bool:
    """Whether the comparison is undecided for lack of outcomes."""
    return not c.significant and min(c.control_n, c.challenger_n) < _target(c)


def _target(c: Comparison) -> int:
    """Outcomes per variant wanted before a negative result counts."""
    return max(c.needed_per_variant or 0, MIN_OUTCOMES)


def _newcombe(k_a: int, n_a: int, k_b: int, n_b: int, alpha: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p_b - p_a from the Wilson interval of each arm."""
    ci_a = stats.binomtest(k_a, n_a).proportion_ci(1 - alpha, method="wilson")
    ci_b = stats.binomtest(k_b, n_b).proportion_ci(1 - alpha, method="wilson")
    p_a, p_b = k_a / n_a, k_b / n_b
    d = p_b - p_a
    low = d - math.hypot(p_b - float(ci_b.low), float(ci_a.high) - p_a)
    high = d + math.hypot(float(ci_b.high) - p_b, p_a - float(ci_a.low))
    return low, high


def _z_sum(alpha: float, power: float) -> float:
    """z_{1-alpha/2} + z_{power}, the classic sample-size multiplier."""
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def _values(variant: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The values of a variant as a finite 1-D float array."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{variant}: values must be numbers ({exc})") from None
    if array.ndim != 1:
        raise InvalidInput(f"{variant}: values must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidInput(f"{variant}: values contain NaN or infinity; drop or fill them first")
    return array


def _check_common(
    control: str, challenger: str, alpha: float, power: float, min_effect: float | None
) -> None:
    """Validate what both comparisons share."""
    if control == challenger:
        raise InvalidInput(f"control and challenger must be different variants, both {control!r}")
    _check_level("alpha", alpha)
    _check_level("power", power)
    if min_effect is not None and not (math.isfinite(min_effect) and min_effect > 0):
        raise InvalidInput(f"min_effect must be a positive number, got {min_effect}")


def _check_level(name: str, value: float) -> None:
    """Raise unless ``value`` is strictly between 0 and 1."""
    if not 0 < value < 1:
        raise InvalidInput(f"{name} must be between 0 and 1 (exclusive), got {value}")


def _is_int(value: object) -> bool:
    """Whether ``value`` is a whole number (numpy integers included), not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _fmt_p(p: float) -> str:
    """p=0.41, p=0.013 or p<0.001."""
    if p < 0.001:
        return "p<0.001"
    return f"p={p:.3f}" if p < 0.1 else f"p={p:.2f}"


def _diff(x: float, kind: _Kind, *, unit: bool = True) -> str:
    """A signed difference: percentage points for proportions, a plain number for means."""
    if kind == "proportion":
        return f"{100 * x:+.1f}" + (" points" if unit else "")
    return _num(x)


def _num(x: float, *, sign: bool = True) -> str:
    """A readable number: thousands separators when large, three significant digits when small."""
    plus = "+" if sign else ""
    if abs(x) >= 100:
        return f"{x:{plus},.0f}"
    if abs(x) >= 1 or x == 0:
        return f"{x:{plus}.{2 if abs(x) < 10 else 1}f}"
    return f"{x:{plus}.3g}"
