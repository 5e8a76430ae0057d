"""The alert rules file (alerts.yaml): what to watch, when to fire, whom to tell, what to start.

    alerts:
      - name: inputs drift
        model: churn
        env: production
        figure: drift_share          # see FIGURES
        above: 0.3                   # or below: ...
        window: day                  # hour | day | week: the figure over the last window
        severity: warning            # info | warning | critical
        webhook: http://hooks.internal/relay   # optional: a JSON POST, retried
        retrain: pipelines/train.py:train      # optional: `relay pipelines run` this on firing

Figures: ``drift_share`` (share of drifted input columns), ``dataset_drifted`` (1 or 0),
``drift:<column>`` (that column's drift score), ``prediction_drift`` (the predictions' score),
``accuracy`` (rows whose outcome arrived), ``estimated_accuracy`` (from probabilities),
``kpi:<name>`` (a project KPI over the window), ``latency_p99_ms``, ``traffic`` (predictions in
the window; ``below: 1`` alerts on missing traffic), ``error_rate`` (share of prediction requests
answered 4xx or 5xx), ``review_overdue_days`` (days since the model's periodic review fell due,
from the model inventory; negative while not due; ``above: 0`` alerts on an overdue review; env
and window do not matter).
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from relayml.errors import InvalidInput

__all__ = ["FIGURES", "RuleSpec", "parse_alert_rules"]

FIGURES = (
    "drift_share",
    "dataset_drifted",
    "prediction_drift",
    "accuracy",
    "estimated_accuracy",
    "latency_p99_ms",
    "traffic",
    "error_rate",
    "review_overdue_days",
)
_PREFIXED = re.compile(r"^(drift|kpi):(.+)$")
_KEYS = {"name", "model", "env", "figure", "above", "below", "window", "severity"}
_KEYS |= {"webhook", "retrain", "enabled"}


class RuleSpec(BaseModel):
    """One alert rule as written in the file."""

    model_config = ConfigDict(frozen=True)
    name: str = Field(min_length=1, max_length=200)
    model: str
    env: str = "production"
    figure: str
    above: float | None = None
    below: float | None = None
    window: Literal["hour", "day", "week"] = "day"
    severity: Literal["info", "warning", "critical"] = "warning"
    webhook: str | None = None
    retrain: str | None = None
    enabled: bool = True

    def breached(self, value: float | None) -> bool:
        """Whether a figure crosses the threshold (no figure never does)."""
        if value is None:
            return False
        if self.above is not None and value > self.above:
            return True
        return self.below is not None and value < self.below

    def condition(self) -> str:
        """'drift_share > 0.3' for messages."""
        if self.above is not None:
            return f"{self.figure} > {self.above:g}"
        return f"{self.figure} < {self.below:g}"


def _check_rule(index: int, raw: Any) -> RuleSpec:
    where = f"alerts[{index}]"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be a mapping with name, model, figure and above/below.")
    name = raw.get("name", where)
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise InvalidInput(
            f"{where} ({name}): unknown keys {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_KEYS))}."
        )
    missing = [k for k in ("name", "model", "figure") if k not in raw]
    if missing:
        raise InvalidInput(f"{where} ({name}): missing {', '.join(missing)}.")
    if ("above" in raw) == ("below" in raw):
        raise InvalidInput(f"{where} ({name}): give exactly one of above: or below:.")
    figure = raw["figure"]
    if not isinstance(figure, str) or not (figure in FIGURES or _PREFIXED.match(figure)):
        raise InvalidInput(
            f"{where} ({name}): unknown figure {figure!r}; use one of {', '.join(FIGURES)}, "
            "drift:<column> or kpi:<name>."
        )
    webhook = raw.get("webhook")
    if webhook is not None and not str(webhook).startswith(("http://", "https://")):
        raise InvalidInput(f"{where} ({name}): webhook must be an http(s) URL, not {webhook!r}.")
    try:
        return RuleSpec.model_validate(raw)
    except Exception as exc:  # pydantic's message, with the rule named
        raise InvalidInput(f"{where} ({name}): {exc}") from None


def parse_alert_rules(source: str) -> list[RuleSpec]:
    """Read an alerts file (YAML or JSON): a mapping with a list under `alerts`."""
    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"the alerts file is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("alerts"), list):
        raise InvalidInput("the alerts file must hold `alerts:` followed by a list of rules.")
    rules = [_check_rule(i, raw) for i, raw in enumerate(document["alerts"])]
    names = [r.name for r in rules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInput(f"rule names must be unique; repeated: {', '.join(twice)}.")
    return rules
