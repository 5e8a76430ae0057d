"""What drift is judged by and what it found: methods, thresholds, per-column results, the report.

The statistics that fill these in are in `relayml.domain.drift_stats` (numpy/scipy); these
definitions need neither, so a caller that only reads or configures drift loads no numerics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast

from relayml.errors import InvalidInput

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "P_VALUES",
    "ColumnDrift",
    "DriftConfig",
    "DriftReport",
    "Histogram",
    "Kind",
    "Method",
]

Method = Literal["ks", "wasserstein", "psi", "chisquare", "jensenshannon"]
Kind = Literal["numeric", "categorical"]

METHODS: Mapping[Kind, frozenset[str]] = MappingProxyType(
    {
        "numeric": frozenset({"ks", "wasserstein", "psi", "jensenshannon"}),
        "categorical": frozenset({"chisquare", "jensenshannon", "psi"}),
    }
)
DEFAULT_THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {"ks": 0.05, "chisquare": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1, "psi": 0.1}
)
P_VALUES = frozenset({"ks", "chisquare"})  # small scores mean drift


@dataclass(frozen=True)
class DriftConfig:
    """How drift is judged: methods and thresholds per column or kind, and the drift share."""

    methods: Mapping[str, Method] = field(default_factory=dict)
    thresholds: Mapping[str, float] = field(default_factory=dict)
    numeric_method: Method | None = None
    categorical_method: Method | None = None
    method_thresholds: Mapping[str, float] = field(default_factory=dict)
    drift_share: float = 0.5
    small_sample: int = 1000
    discrete_values: int = 5
    stream_bins: int = 10_000

    def __post_init__(self) -> None:
        if not 0 < self.drift_share <= 1:
            raise InvalidInput(f"drift_share must be in (0, 1], not {self.drift_share}")
        if self.stream_bins < 10:
            raise InvalidInput(f"stream_bins must be at least 10, not {self.stream_bins}")
        known = METHODS["numeric"] | METHODS["categorical"]
        for where, method in [*self.methods.items(), *((m, m) for m in self.method_thresholds)]:
            if method not in known:
                raise InvalidInput(
                    f"unknown drift method {method!r} for {where!r}; use one of "
                    f"{', '.join(sorted(known))}"
                )
        for kind, chosen in (
            ("numeric", self.numeric_method),
            ("categorical", self.categorical_method),
        ):
            allowed = METHODS[cast(Kind, kind)]
            if chosen is not None and chosen not in allowed:
                raise InvalidInput(
                    f"{chosen!r} does not apply to {kind} columns; use one of "
                    f"{', '.join(sorted(allowed))}"
                )
        for method, value in self.method_thresholds.items():
            _check_threshold(method, cast(Method, method), value)
        for column, value in self.thresholds.items():
            _check_threshold(column, self.methods.get(column, "wasserstein"), value)

    def method_for(self, column: str, kind: Kind, reference_count: int) -> Method:
        """The method for a column: its own, its kind's, or the default for its kind and size."""
        method = self.methods.get(column) or (
            self.numeric_method if kind == "numeric" else self.categorical_method
        )
        if method is None:
            small = reference_count <= self.small_sample
            if kind == "numeric":
                return "ks" if small else "wasserstein"
            return "chisquare" if small else "jensenshannon"
        if method not in METHODS[kind]:
            raise InvalidInput(
                f"column {column!r} is {kind}: {method!r} does not apply; use one of "
                f"{', '.join(sorted(METHODS[kind]))}"
            )
        return method

    def threshold_for(self, column: str, method: Method) -> float:
        """The threshold for a column judged by a method."""
        if column in self.thresholds:
            return _check_threshold(column, method, self.thresholds[column])
        return float(self.method_thresholds.get(method, DEFAULT_THRESHOLDS[method]))


def _check_threshold(where: str, method: Method, value: float) -> float:
    p_value = method in P_VALUES
    if not (0 < value < 1 if p_value else value > 0):
        raise InvalidInput(
            f"drift threshold {value} for {where!r} is out of range: "
            + ("a p-value's must be in (0, 1)" if p_value else "a distance's must be > 0")
        )
    return float(value)


@dataclass(frozen=True)
class Histogram:
    """Counts of both samples in at most 20 bins, for a plot."""

    reference: tuple[int, ...]
    current: tuple[int, ...]
    edges: tuple[float, ...] = ()  # numeric: one more than the bins
    labels: tuple[str, ...] = ()  # categorical: one per bin; the last may be "(other)"


@dataclass(frozen=True)
class ColumnDrift:
    """The drift of one column: method, score, threshold, verdict, counts and a histogram."""

    column: str
    kind: Kind
    method: Method
    score: float
    threshold: float
    drifted: bool
    reference_count: int  # values present (not null, not NaN)
    current_count: int
    reference_missing: float  # share of rows missing the value
    current_missing: float
    histogram: Histogram
    binned: bool = False  # scores from a NumericSketch rather than the exact samples


@dataclass(frozen=True)
class DriftReport:
    """Drift of every column, and whether the dataset drifted (share of drifted columns)."""

    columns: tuple[ColumnDrift, ...]
    reference_rows: int
    current_rows: int
    drift_share_threshold: float = 0.5
    prediction: ColumnDrift | None = None  # reported, not counted in the share

    @property
    def drifted_columns(self) -> tuple[str, ...]:
        """Names of the drifted columns."""
        return tuple(c.column for c in self.columns if c.drifted)

    @property
    def share(self) -> float:
        """Share of columns that drifted."""
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drifted(self) -> bool:
        """Whether the share of drifted columns reaches the threshold."""
        return bool(self.columns) and self.share >= self.drift_share_threshold

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return {
            **asdict(self),
            "drifted_columns": list(self.drifted_columns),
            "share": self.share,
            "dataset_drifted": self.dataset_drifted,
        }
