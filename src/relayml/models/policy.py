"""The promotion policy of a project (`relay.yaml`) and the gates it defines.

    evaluation:
      dataset: holdout          # gates read the newest evaluation on this dataset (default: any)
    environments:
      staging:
        checks:
          - metric: auc
            min: 0.70
      production:
        requires: [staging]     # the version must be, or have been, in staging
        checks:
          - metric: auc         # a threshold: min and/or max
            min: 0.75
          - no_regression: auc  # not worse than the version now in production, beyond a margin
            margin: 0.01
          - segment_gap: recall # largest gap of a metric across the segments of a column
            by: region
            max: 0.15
        approvals:
          - role: risk_manager  # who must approve; not the version's author unless allowed
            count: 1
            not_author: true
        canary:                 # may a version that does not hold production take a share of
          requires: [staging]   # its traffic (a canary, an A/B variant)? Same keys as above,
          approvals:            # plus max_weight (percent). Cleared with
            - role: devops      # `relay models promote churn/4 --to production --canary`.
          max_weight: 20
        shadow:                 # may a version get a copy of every request (answering no one)?
          requires: [staging]   # Without a shadow rule: yes.
    review:                     # days between model reviews per risk tier (the inventory's
      high: 90                  # "next review due"); unnamed tiers keep 90/180/365/90 for
      low: 365                  # high/medium/low/unrated
    project:                    # optional: the project the file belongs to (name, description,
      name: churn               # business_question, kpis); checked here, not part of the policy

A project without a policy may promote any evaluated or unevaluated version anywhere. An
environment whose policy sets requires, checks or approvals admits no canary or A/B variant
but the version that holds it, unless it declares a `canary` rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from relayml.domain.entities import KPI
from relayml.domain.models import ENVIRONMENTS, Evaluation, GateResult
from relayml.domain.reports import REVIEW_CADENCE
from relayml.errors import InvalidInput

__all__ = [
    "STAGES",
    "ApprovalRule",
    "Check",
    "EnvironmentPolicy",
    "Policy",
    "ProjectSection",
    "Rules",
    "StageRule",
    "evaluate_checks",
    "parse_policy",
    "rules_for",
    "split_target",
]

# What a version may be cleared for in an environment without holding it: a share of its live
# traffic (canary, A/B variant) or a copy of its requests (shadow). A promotion's target is an
# environment ("production") or an environment and a stage ("production:canary").
STAGES = ("canary", "shadow")

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Check(BaseModel):
    """One gate: a metric threshold, a no-regression rule or a segment-gap limit."""

    model_config = _STRICT
    metric: str | None = None
    no_regression: str | None = None
    segment_gap: str | None = None
    min: float | None = None
    max: float | None = None
    margin: float = 0.0
    higher_is_better: bool = True
    by: str | None = None

    @property
    def name(self) -> str:
        """A short readable name of the check."""
        if self.metric:
            bounds = [f">= {self.min:g}" if self.min is not None else ""]
            bounds.append(f"<= {self.max:g}" if self.max is not None else "")
            return f"{self.metric} {' and '.join(b for b in bounds if b)}".strip()
        if self.no_regression:
            return f"no regression of {self.no_regression} (margin {self.margin:g})"
        return f"gap of {self.segment_gap} across {self.by} <= {self.max:g}"


class ApprovalRule(BaseModel):
    """Who must approve a promotion."""

    model_config = _STRICT
    role: str
    count: int = Field(default=1, ge=1)
    not_author: bool = True


class Rules(BaseModel):
    """What a version must show: environments it went through, gates, and approvals."""

    model_config = _STRICT
    requires: list[str] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    approvals: list[ApprovalRule] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when the rules ask for nothing."""
        return not (self.requires or self.checks or self.approvals)


class StageRule(Rules):
    """What a version needs to answer part of an environment's traffic without holding it."""

    max_weight: float | None = Field(default=None, gt=0, lt=100)  # percent; canary only


class EnvironmentPolicy(Rules):
    """What an environment demands of a version before it moves in (or serves a share)."""

    canary: StageRule | None = None
    shadow: StageRule | None = None

    def stage(self, stage: str) -> StageRule | None:
        """The rule a canary or shadow must satisfy; None: no version but the holder may.

        Without a declared rule, a shadow is allowed (it answers no one); a canary is allowed
        only where the environment itself asks for nothing.
        """
        declared: StageRule | None = getattr(self, stage)
        if declared is not None:
            return declared
        if stage == "shadow" or self.empty:
            return StageRule()
        return None


class Policy(BaseModel):
    """A project's promotion policy."""

    model_config = _STRICT
    evaluation: dict[str, str] = Field(default_factory=dict)
    environments: dict[str, EnvironmentPolicy] = Field(default_factory=dict)
    # days between reviews per risk tier (high, medium, low, unrated); unnamed tiers keep the
    # defaults of relayml.domain.reports.REVIEW_CADENCE
    review: dict[str, int] = Field(default_factory=dict)


class _KPIEntry(KPI):
    """A KPI as relay.yaml declares it: unknown fields are typos, refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectSection(BaseModel):
    """The `project` section relay.yaml may hold beside the policy (`relay init` writes one)."""

    model_config = _STRICT
    name: str
    description: str = ""
    business_question: str = ""
    kpis: list[_KPIEntry] = Field(default_factory=list)


def _set_aside_project(document: dict[str, Any]) -> dict[str, Any]:
    """The document without its `project` section, which must be valid when present."""
    if "project" not in document:
        return document
    try:
        ProjectSection.model_validate(document["project"])
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in ("project", *err["loc"]))
        raise InvalidInput(
            f"policy entry {where}: {err['msg']} (the project section holds name, "
            "description, business_question and kpis)."
        ) from exc
    return {key: value for key, value in document.items() if key != "project"}


def _check_shape(rules: str, index: int, check: Check) -> None:
    kinds = [k for k in ("metric", "no_regression", "segment_gap") if getattr(check, k)]
    where = f"{rules}.checks[{index}]"
    if len(kinds) != 1:
        raise InvalidInput(
            f"{where} must have exactly one of metric, no_regression, segment_gap; "
            f"found {kinds or 'none'}."
        )
    if check.metric and check.min is None and check.max is None:
        raise InvalidInput(f"{where}: a metric check needs min, max or both.")
    if check.segment_gap and (check.by is None or check.max is None):
        raise InvalidInput(f"{where}: a segment_gap check needs `by` (a column) and `max`.")


def split_target(target: str) -> tuple[str, str | None]:
    """'production:canary' -> ('production', 'canary'); 'production' -> ('production', None)."""
    environment, _, stage = target.partition(":")
    if environment not in ENVIRONMENTS:
        raise InvalidInput(
            f"unknown environment {environment!r}; use one of {', '.join(ENVIRONMENTS)}."
        )
    if not stage:
        return environment, None
    if stage not in STAGES:
        raise InvalidInput(
            f"{target!r}: after the environment comes canary or shadow "
            f"(e.g. {environment}:canary), not {stage!r}."
        )
    return environment, stage


def rules_for(policy: Policy, target: str) -> Rules | None:
    """The rules a promotion into ``target`` must satisfy; None: the policy admits none."""
    environment, stage = split_target(target)
    rules = policy.environments.get(environment, EnvironmentPolicy())
    return rules if stage is None else rules.stage(stage)


def _check_rules(where: str, rules: Rules) -> None:
    for required in rules.requires:
        if required not in ENVIRONMENTS:
            raise InvalidInput(f"{where}.requires names {required!r}, which is not an environment.")
    for index, check in enumerate(rules.checks):
        _check_shape(where, index, check)


def parse_policy(document: Any) -> Policy:
    """Validate a policy document (from YAML or JSON); InvalidInput names the faulty entry."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InvalidInput("a policy is a mapping with `environments` (see docs/models.md).")
    document = _set_aside_project(document)
    try:
        policy = Policy.model_validate(document)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"policy entry {where}: {err['msg']}.") from exc
    for tier, days in policy.review.items():
        if tier not in REVIEW_CADENCE or not 1 <= days <= 3650:
            raise InvalidInput(
                f"policy entry review.{tier}: give days between reviews (1 to 3650) for the "
                f"tiers {', '.join(REVIEW_CADENCE)}, e.g. `review: {{high: 90, low: 365}}`."
            )
    for env, rules in policy.environments.items():
        if env not in ENVIRONMENTS:
            raise InvalidInput(
                f"policy names environment {env!r}; environments are {', '.join(ENVIRONMENTS)}."
            )
        _check_rules(f"environments.{env}", rules)
        if rules.canary is not None:
            _check_rules(f"environments.{env}.canary", rules.canary)
        if rules.shadow is not None:
            _check_rules(f"environments.{env}.shadow", rules.shadow)
            if rules.shadow.max_weight is not None:
                raise InvalidInput(
                    f"environments.{env}.shadow.max_weight: a shadow answers no one, so it has "
                    "no share to limit; remove max_weight (it belongs to a canary rule)."
                )
    return policy


def _metric(evaluation: Evaluation, name: str) -> float | None:
    return evaluation.metrics.get(name)


def _no_evaluation(wanted: str | None, found: Sequence[str]) -> str:
    """Why there is no evaluation to check: none at all, or none on the policy's dataset."""
    call = (
        f"relay.evaluate(ref, data, target, dataset={wanted!r})" if wanted else "relay.evaluate()"
    )
    if not found:
        return f"the version has no evaluation to check; run {call} first."
    return (
        f"the policy checks the evaluation on dataset {wanted!r}, but this version was only "
        f"evaluated on {', '.join(repr(name) for name in found)}; run {call} (an evaluation "
        "on data passed without dataset= is named after that data)."
    )


def evaluate_checks(
    checks: list[Check],
    evaluation: Evaluation | None,
    incumbent: Evaluation | None,
    *,
    wanted: str | None = None,
    found: Sequence[str] = (),
) -> list[GateResult]:
    """Run the checks against a version's evaluation and the incumbent's (same dataset).

    Without an evaluation, the failure names the dataset the policy wants and those found.
    """
    if not checks:
        return []
    if evaluation is None:
        return [GateResult(name="evaluation", passed=False, detail=_no_evaluation(wanted, found))]
    results = []
    for check in checks:
        if check.metric:
            figure = _metric(evaluation, check.metric)
            if figure is None:
                results.append(_missing(check, evaluation, check.metric))
                continue
            low_ok = check.min is None or figure >= check.min
            high_ok = check.max is None or figure <= check.max
            threshold = check.min if not low_ok or check.max is None else check.max
            results.append(
                GateResult(
                    name=check.name,
                    passed=low_ok and high_ok,
                    figure=figure,
                    threshold=threshold,
                    detail=f"{check.metric} = {figure:.4g} on {evaluation.dataset}",
                )
            )
        elif check.no_regression:
            results.append(_regression(check, evaluation, incumbent))
        else:
            results.append(_segment_gap(check, evaluation))
    return results


def _missing(check: Check, evaluation: Evaluation, metric: str) -> GateResult:
    return GateResult(
        name=check.name,
        passed=False,
        detail=f"metric {metric!r} is not in the evaluation on {evaluation.dataset} "
        f"(it has: {', '.join(sorted(evaluation.metrics))}).",
    )


def _regression(check: Check, evaluation: Evaluation, incumbent: Evaluation | None) -> GateResult:
    metric = check.no_regression or ""
    figure = _metric(evaluation, metric)
    if figure is None:
        return _missing(check, evaluation, metric)
    if incumbent is None:
        return GateResult(
            name=check.name,
            passed=True,
            detail="no version holds this environment yet, or it has no evaluation on "
            f"{evaluation.dataset}: nothing to regress from.",
        )
    before = _metric(incumbent, metric)
    if before is None:
        return _missing(check, incumbent, metric)
    change = figure - before if check.higher_is_better else before - figure
    return GateResult(
        name=check.name,
        passed=change >= -check.margin,
        figure=change,
        threshold=-check.margin,
        detail=f"{metric} {figure:.4g} vs {before:.4g} for {incumbent.model}/{incumbent.version} "
        f"(change {change:+.4g}, allowed down to {-check.margin:+.4g})",
    )


def _segment_gap(check: Check, evaluation: Evaluation) -> GateResult:
    metric, by = check.segment_gap or "", check.by or ""
    segments = evaluation.segments.get(by)
    if not segments:
        return GateResult(
            name=check.name,
            passed=False,
            detail=f"the evaluation has no segments by {by!r}; evaluate with by=[{by!r}].",
        )
    values = {k: v[metric] for k, v in segments.items() if metric in v}
    if len(values) < 2:
        return GateResult(
            name=check.name,
            passed=False,
            detail=f"fewer than two segments of {by!r} have {metric!r}.",
        )
    worst, best = min(values, key=values.__getitem__), max(values, key=values.__getitem__)
    gap = values[best] - values[worst]
    return GateResult(
        name=check.name,
        passed=gap <= (check.max or 0.0),
        figure=gap,
        threshold=check.max,
        detail=f"{metric} ranges from {values[worst]:.4g} ({by}={worst}) "
        f"to {values[best]:.4g} ({by}={best})",
    )
