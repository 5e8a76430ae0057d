"""Drift statistics: how far a current sample of a column lies from its reference sample.

Pure numpy/scipy on arrays and counts, no I/O. What they fill in (DriftConfig, ColumnDrift,
DriftReport) is defined in `relayml.domain.drift_results`; `relayml.monitoring.drift_reports`
turns Arrow columns into the sorted arrays, bin counts and category counts used here.

Methods (score, and when a column drifts at the default threshold):
    ks             Kolmogorov-Smirnov two-sample test: p-value, drifts when < 0.05.
    wasserstein    Wasserstein-1 distance divided by the reference's standard deviation (floored
                   at 0.001, as Evidently does): drifts when >= 0.1 (a tenth of a std).
    psi            population stability index, sum (c - r) ln(c / r) over shares r, c of the ten
                   reference deciles (numbers) or of the categories; an empty bin counts as a share
                   of 1e-4: drifts when >= 0.1 (the usual reading: < 0.1 stable, > 0.25 major).
    chisquare      chi-square test of homogeneity of the 2 x k table of counts (no continuity
                   correction): p-value, drifts when < 0.05. With two categories it is the
                   two-proportion z-test that Evidently uses for binary columns.
    jensenshannon  Jensen-Shannon distance with the natural log (scipy's and Evidently's default,
                   so the thresholds mean the same; 0 to sqrt(ln 2) = 0.83; the base-2 distance is
                   this value / 0.83): drifts when >= 0.1. On numbers: over the reference deciles.

Default choice, Evidently's rules, made on the reference alone (every window of a monitor is then
judged by the same method): categorical columns, and numeric ones with at most 5 distinct
reference values, use chisquare when the reference has at most 1,000 values, else jensenshannon;
other numeric columns use ks up to 1,000 reference values, else wasserstein. Small samples get a
test, large ones a distance: at a million rows a p-value flags differences far too small to matter
(KS rejects a shift of 0.01 std), while a distance's threshold is a size of effect that does not
move with the sample size. A dataset drifts when the share of its drifted columns is at least
`drift_share` (0.5).

Exact and binned: for samples in memory KS and Wasserstein are exact (one stable merge of the two
sorted samples). Samples streamed in parts are summarised by a `NumericSketch`: counts and sums in
up to 10,000 bins cut at reference quantiles (as NannyML does above 10,000 rows), mergeable. From
it KS is evaluated at the bin edges and Wasserstein treats each bin as a point mass at its mean;
with 10,000 bins both stay within a few thousandths of the exact values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats  # type: ignore[import-untyped]  # no stubs installed
from scipy.spatial import distance  # type: ignore[import-untyped]

from relayml.domain.drift_results import (
    P_VALUES,
    ColumnDrift,
    DriftConfig,
    Histogram,
    Kind,
    Method,
)
from relayml.errors import InvalidInput

__all__ = [
    "NumericSketch",
    "categorical_drift",
    "categorical_scores",
    "cdf_distances",
    "numeric_drift",
    "psi",
    "sketch_drift",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
PSI_EMPTY = 1e-4  # share given to an empty bin
STD_FLOOR = 0.001  # Evidently's floor of the reference std in the normed Wasserstein distance
PLOT_BINS = 20
DECILES = np.linspace(0.1, 0.9, 9)


# ---------------------------------------------------------------- statistics


def cdf_distances(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance of two sorted, non-empty samples, exactly."""
    n_r, n_c = reference.size, current.size
    merged = np.concatenate((reference, current))
    order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
    merged = merged[order]
    gap = np.cumsum(order < n_r, dtype=np.float64)  # reference values up to each point
    del order
    gap *= 1.0 / n_r + 1.0 / n_c
    seen = np.arange(1.0, n_r + n_c + 1.0)
    seen /= n_c
    gap -= seen  # F_ref - F_cur after each point
    del seen
    np.abs(gap, out=gap)
    steps = np.diff(merged)
    ks = float(np.max(gap[:-1], where=steps > 0, initial=0.0))  # last point of each tie
    return ks, float(np.dot(gap[:-1], steps))


def psi(reference: NDArray[Any], current: NDArray[Any]) -> float:
    """Population stability index of two count vectors over the same bins."""
    r = np.maximum(reference / reference.sum(), PSI_EMPTY)
    c = np.maximum(current / current.sum(), PSI_EMPTY)
    return float(np.sum((c - r) * np.log(c / r)))


def categorical_scores(reference: NDArray[Any], current: NDArray[Any], method: Method) -> float:
    """The score of count vectors over the same categories (or bins) by one method."""
    seen = (reference + current) > 0
    reference, current = reference[seen], current[seen]
    if method == "psi":
        return psi(reference, current)
    if method == "jensenshannon":
        return float(distance.jensenshannon(reference, current))
    if method == "chisquare":
        if reference.size < 2:
            return 1.0
        table = np.vstack((reference, current))
        return float(stats.chi2_contingency(table, correction=False).pvalue)
    raise InvalidInput(f"{method!r} does not apply to counts; use chisquare, jensenshannon or psi")


def _judge(
    column: str, kind: Kind, reference_count: int, config: DriftConfig | None
) -> tuple[Method, float]:
    config = config or DriftConfig()
    method = config.method_for(column, kind, reference_count)
    return method, config.threshold_for(column, method)


def _verdict(method: Method, score: float, threshold: float) -> bool:
    if math.isnan(score):
        return False
    return score < threshold if method in P_VALUES else score >= threshold


def _shares(count: int, missing: int) -> float:
    return missing / (count + missing) if count + missing else 0.0


def _quantiles(sorted_values: FloatArray, q: FloatArray) -> FloatArray:
    """np.quantile (linear) of a sorted sample, without np.quantile's partition of it."""
    at = q * (sorted_values.size - 1)
    low = np.floor(at).astype(np.int64)
    high = np.minimum(low + 1, sorted_values.size - 1)
    return sorted_values[low] + (at - low) * (sorted_values[high] - sorted_values[low])


def _counts_in(sorted_values: FloatArray, cuts: FloatArray) -> IntArray:
    """Counts of a sorted sample in the bins (-inf, c0), [c0, c1), ..., [c_last, inf)."""
    bounds = np.searchsorted(sorted_values, cuts, side="left")
    return np.diff(bounds, prepend=0, append=sorted_values.size).astype(np.int64)


def _plot_edges(low: float, high: float) -> FloatArray:
    return np.linspace(low, high if high > low else low + 1.0, PLOT_BINS + 1)


def _result(
    column: str,
    kind: Kind,
    method: Method,
    score: float,
    threshold: float,
    counts: tuple[int, int],
    missing: tuple[int, int],
    histogram: Histogram,
    binned: bool = False,
) -> ColumnDrift:
    return ColumnDrift(
        column=column,
        kind=kind,
        method=method,
        score=score,
        threshold=threshold,
        drifted=_verdict(method, score, threshold),
        reference_count=counts[0],
        current_count=counts[1],
        reference_missing=_shares(counts[0], missing[0]),
        current_missing=_shares(counts[1], missing[1]),
        histogram=histogram,
        binned=binned,
    )


def numeric_drift(
    column: str,
    reference: FloatArray,
    current: FloatArray,
    config: DriftConfig | None = None,
    *,
    missing: tuple[int, int] = (0, 0),
) -> ColumnDrift:
    """Drift of a numeric column from its sorted finite reference and current values."""
    counts = (int(reference.size), int(current.size))
    method, threshold = _judge(column, "numeric", counts[0], config)
    if not (reference.size and current.size):
        empty = Histogram((), ())
        return _result(column, "numeric", method, math.nan, threshold, counts, missing, empty)
    if method == "ks":
        if counts[0] == counts[1] and round(cdf_distances(reference, current)[0] * counts[0]) <= 1:
            score = 1.0  # the least distance two samples of n can have: scipy's exact path warns
        else:
            mode = "exact" if max(counts) <= 10_000 else "asymp"
            score = float(stats.ks_2samp(reference, current, method=mode).pvalue)
    elif method == "wasserstein":
        score = cdf_distances(reference, current)[1] / max(float(np.std(reference)), STD_FLOOR)
    else:
        cuts = np.unique(_quantiles(reference, DECILES))
        score = categorical_scores(_counts_in(reference, cuts), _counts_in(current, cuts), method)
    edges = _plot_edges(min(reference[0], current[0]), max(reference[-1], current[-1]))
    histogram = Histogram(
        reference=tuple(_counts_in(reference, edges[1:-1]).tolist()),
        current=tuple(_counts_in(current, edges[1:-1]).tolist()),
        edges=tuple(edges.tolist()),
    )
    return _result(column, "numeric", method, score, threshold, counts, missing, histogram)


def categorical_drift(
    column: str,
    labels: Sequence[str],
    reference: NDArray[Any],
    current: NDArray[Any],
    config: DriftConfig | None = None,
    *,
    missing: tuple[int, int] = (0, 0),
) -> ColumnDrift:
    """Drift of a categorical column from the counts of each category in both samples."""
    reference = np.asarray(reference, dtype=np.int64)
    current = np.asarray(current, dtype=np.int64)
    counts = (int(reference.sum()), int(current.sum()))
    method, threshold = _judge(column, "categorical", counts[0], config)
    score = categorical_scores(reference, current, method) if all(counts) else math.nan
    order = np.argsort(-(reference + current), kind="stable")
    top, rest = order[: PLOT_BINS - 1], order[PLOT_BINS - 1 :]
    ref_bins, cur_bins = reference[top].tolist(), current[top].tolist()
    names = [str(labels[i]) for i in top]
    if rest.size:
        ref_bins.append(int(reference[rest].sum()))
        cur_bins.append(int(current[rest].sum()))
        names.append("(other)")
    histogram = Histogram(tuple(ref_bins), tuple(cur_bins), labels=tuple(names))
    return _result(column, "categorical", method, score, threshold, counts, missing, histogram)


# ---------------------------------------------------------------- samples streamed in parts


@dataclass
class NumericSketch:
    """Counts and sums of a numeric sample in fixed bins; parts of a sample merge by adding."""

    edges: FloatArray  # increasing; bins: (-inf, e0), [e0, e1), ..., [e_last, inf)
    counts: IntArray = field(init=False)
    sums: FloatArray = field(init=False)
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0  # sum of squared deviations from the mean
    low: float = math.inf
    high: float = -math.inf

    def __post_init__(self) -> None:
        self.counts = np.zeros(self.edges.size + 1, dtype=np.int64)
        self.sums = np.zeros(self.edges.size + 1, dtype=np.float64)

    @staticmethod
    def edges_for(sorted_values: FloatArray, bins: int = 10_000) -> FloatArray:
        """Bin edges at the quantiles of a sorted reference sample (at most bins + 1)."""
        if not sorted_values.size:
            return np.zeros(1)
        return np.unique(_quantiles(sorted_values, np.linspace(0.0, 1.0, bins + 1)))

    def add(self, values: FloatArray) -> None:
        """Count finite values, in any order."""
        if not values.size:
            return
        ordered = np.sort(values)
        bounds = np.concatenate(([0], np.searchsorted(ordered, self.edges, "left"), [ordered.size]))
        counts = np.diff(bounds)
        sums = np.add.reduceat(np.append(ordered, 0.0), bounds[:-1])
        sums[counts == 0] = 0.0
        mean = float(ordered.mean())
        self._absorb(ordered.size, mean, float(np.var(ordered)) * ordered.size, counts, sums)
        self.low, self.high = min(self.low, ordered[0]), max(self.high, ordered[-1])

    def merge(self, other: NumericSketch) -> NumericSketch:
        """Absorb another part of the same sample (same edges); returns self."""
        if other.n:
            self._absorb(other.n, other.mean, other.m2, other.counts, other.sums)
            self.low, self.high = min(self.low, other.low), max(self.high, other.high)
        return self

    def _absorb(self, n: int, mean: float, m2: float, counts: IntArray, sums: FloatArray) -> None:
        total = self.n + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.n * n / total
        self.mean += delta * n / total
        self.n = total
        self.counts += counts
        self.sums += sums

    @property
    def std(self) -> float:
        """Population standard deviation."""
        return math.sqrt(self.m2 / self.n) if self.n else math.nan


def _sketch_scores(ref: NumericSketch, cur: NumericSketch, method: Method) -> float:
    if method == "ks":
        gap = np.cumsum(ref.counts)[:-1] / ref.n - np.cumsum(cur.counts)[:-1] / cur.n
        d = float(np.max(np.abs(gap)))
        return float(stats.kstwo.sf(d, max(1, round(ref.n * cur.n / (ref.n + cur.n)))))
    if method == "wasserstein":
        r, c = ref.counts > 0, cur.counts > 0
        w1 = stats.wasserstein_distance(
            ref.sums[r] / ref.counts[r], cur.sums[c] / cur.counts[c], ref.counts[r], cur.counts[c]
        )
        return float(w1) / max(ref.std, STD_FLOOR)
    # the reference deciles, as unions of fine bins
    below = np.cumsum(ref.counts)[:-1] / ref.n  # share of the reference below each edge
    starts = np.unique(np.concatenate(([0], np.searchsorted(below, DECILES) + 1)))
    starts = starts[starts < ref.counts.size]
    return categorical_scores(
        np.add.reduceat(ref.counts, starts), np.add.reduceat(cur.counts, starts), method
    )


def sketch_drift(
    column: str,
    reference: NumericSketch,
    current: NumericSketch,
    config: DriftConfig | None = None,
    *,
    missing: tuple[int, int] = (0, 0),
) -> ColumnDrift:
    """Drift of a numeric column from sketches of both samples over the same edges."""
    counts = (reference.n, current.n)
    method, threshold = _judge(column, "numeric", counts[0], config)
    if not (reference.n and current.n):
        empty = Histogram((), ())
        return _result(column, "numeric", method, math.nan, threshold, counts, missing, empty, True)
    score = _sketch_scores(reference, current, method)
    edges = _plot_edges(min(reference.low, current.low), max(reference.high, current.high))

    def plot(s: NumericSketch) -> tuple[int, ...]:
        full = s.counts > 0
        where = np.searchsorted(edges[1:-1], s.sums[full] / s.counts[full], "right")
        return tuple(np.bincount(where, s.counts[full], PLOT_BINS).astype(np.int64).tolist())

    histogram = Histogram(plot(reference), plot(current), edges=tuple(edges.tolist()))
    return _result(column, "numeric", method, score, threshold, counts, missing, histogram, True)
