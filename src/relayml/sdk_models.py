"""The model part of the SDK: load, evaluate, promote (``run.log_model`` lives on the run).

predictor = relay.load_model("churn@production")
relay.evaluate("churn/3", holdout, target="churned", by=["region"])
relay.promote("churn/3", to="staging")
relay.set_model_card("churn/3", intended_use="...", limitations="...")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from relayml.domain.models import Evaluation, ModelVersion, PolicyInfo, Promotion
from relayml.domain.reports import ModelCard
from relayml.errors import GateFailed, InvalidInput
from relayml.models import publish
from relayml.models.predictor import Predictor
from relayml.sdk import current_project, get_backend

__all__ = [
    "approve",
    "evaluate",
    "get_model_card",
    "load_model",
    "log_model",
    "log_outcomes",
    "production_frame",
    "promote",
    "reject",
    "set_model_card",
    "set_policy",
]


def log_model(
    model: Any,
    name: str,
    input_example: Any,
    *,
    description: str = "",
    datasets: Sequence[str] = (),
    feature_inputs: Sequence[str] | Mapping[str, str] | None = None,
    project: str | None = None,
) -> ModelVersion:
    """Register a model version outside a run (inside one, prefer run.log_model)."""
    return publish.log_model(
        get_backend(),
        project or current_project(),
        model,
        name,
        input_example,
        description=description,
        datasets=datasets,
        feature_inputs=feature_inputs,
    )


def load_model(ref: str, *, project: str | None = None) -> Predictor:
    """Load 'churn/3', 'churn@production' or 'churn' (latest) as a Predictor."""
    return publish.load_model(get_backend(), project or current_project(), ref)


def evaluate(
    ref: str,
    data: Any,
    target: str,
    *,
    by: Sequence[str] = (),
    dataset: str | None = None,
    project: str | None = None,
) -> Evaluation:
    """Evaluate a version on data (DataFrame, Arrow, CSV/Parquet path) and store the result."""
    return publish.evaluate(
        get_backend(), project or current_project(), ref, data, target, by=by, dataset=dataset
    )


def promote(ref: str, to: str, *, reason: str = "", project: str | None = None) -> Promotion:
    """Ask to move a version into an environment; GateFailed lists the failing gates."""
    result = get_backend().promote(project or current_project(), ref, to, reason)
    if result.status == "FAILED":
        failing = "; ".join(f"{g.name}: {g.detail}" for g in result.gates if not g.passed)
        raise GateFailed(
            f"{result.model}/{result.version} may not enter {to} (promotion {result.id}): {failing}"
        )
    return result


def approve(ref: str, env: str, comment: str = "", *, project: str | None = None) -> Promotion:
    """Approve a promotion that waits for your role."""
    return get_backend().decide_promotion(
        project or current_project(), ref, env, "approve", comment
    )


def reject(ref: str, env: str, comment: str = "", *, project: str | None = None) -> Promotion:
    """Reject a promotion that waits for your role."""
    return get_backend().decide_promotion(project or current_project(), ref, env, "reject", comment)


def set_policy(source: str | Path, *, project: str | None = None) -> PolicyInfo:
    """Store the project's promotion policy from a YAML file (e.g. relay.yaml) or YAML text."""
    text = str(source)
    if isinstance(source, Path) or ("\n" not in text and text.endswith((".yaml", ".yml"))):
        path = Path(source)
        if not path.is_file():
            raise InvalidInput(f"policy file {path} does not exist.")
        text = path.read_text()
    return get_backend().set_policy(project or current_project(), text)


def log_outcomes(
    prediction_ids: Sequence[str],
    values: Sequence[Any],
    *,
    model: str | None = None,
    project: str | None = None,
) -> int:
    """Record true values of earlier predictions (their prediction_ids), e.g. a churned flag."""
    return get_backend().log_outcomes(
        project or current_project(), prediction_ids, values, model=model
    )


def production_frame(
    model: str,
    *,
    env: str = "production",
    since: datetime | None = None,
    until: datetime | None = None,
    as_arrow: bool = False,
    project: str | None = None,
) -> Any:
    """A deployment's logged inputs, predictions, decisions and late outcomes (pandas or Arrow)."""
    table = get_backend().production_table(
        project or current_project(), model, env, since=since, until=until
    )
    return table if as_arrow else table.to_pandas()


def set_model_card(
    ref: str,
    *,
    intended_use: str | None = None,
    limitations: str | None = None,
    project: str | None = None,
) -> ModelCard:
    """Say what a version is for and where it must not be used (None keeps a text); audited."""
    return get_backend().set_model_card(
        project or current_project(), ref, intended_use=intended_use, limitations=limitations
    )


def get_model_card(ref: str, *, project: str | None = None) -> ModelCard:
    """A version's intended use and limitations now (``.current``) and before (``.history``)."""
    return get_backend().get_model_card(project or current_project(), ref)
