"""Explanations of logged predictions and of model versions, the training data as background.

The service: it finds the prediction, the model and the background; the Shapley algorithms are
in `relayml.monitoring.attributions`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pandas as pd

from relayml.domain.models import ModelVersion
from relayml.domain.monitoring import PredictionRecord
from relayml.domain.ports import Backend
from relayml.errors import InvalidInput
from relayml.models.publish import load_model
from relayml.monitoring.attributions import explain_row, global_importance
from relayml.monitoring.feedback import find_prediction
from relayml.monitoring.windows import reference_for
from relayml.predictions import PredictionLogs

__all__ = ["explain_prediction", "model_importance"]

BACKGROUND_ROWS = 200


def _background(
    backend: Backend, project: str, version: ModelVersion, dataset: str | None
) -> pd.DataFrame | None:
    """A sample of the reference (training) data, or None when the version has none."""
    try:
        frame, _ = reference_for(backend, project, version, dataset)
    except InvalidInput:
        if dataset is not None:
            raise
        return None
    return frame.sample(min(BACKGROUND_ROWS, len(frame)), random_state=0)


def _logged_inputs(
    logs: PredictionLogs, project: str, record: PredictionRecord, columns: list[str]
) -> pd.DataFrame:
    """Up to BACKGROUND_ROWS inputs the deployment logged the week before this prediction."""
    table = logs.read(
        "predictions",
        project,
        record.deployment,
        start=record.timestamp - timedelta(days=7),
        end=record.timestamp + timedelta(seconds=1),
        columns=[f"input.{c}" for c in columns],
    ).to_pandas()
    table.columns = [c.removeprefix("input.") for c in table.columns]
    return table.sample(min(BACKGROUND_ROWS, len(table)), random_state=0)


def explain_prediction(
    backend: Backend, logs: PredictionLogs, project: str, prediction_id: str
) -> dict[str, Any]:
    """Each input's contribution to one logged prediction, and what was explained how."""
    record = find_prediction(logs, project, prediction_id)
    ref = f"{record.model}/{record.version}"
    version = backend.get_model_version(project, ref)
    predictor = load_model(backend, project, ref)
    background = _background(backend, project, version, None)
    source = "a sample of the training data"
    if background is None:  # no training dataset: the traffic the model served stands in
        background = _logged_inputs(logs, project, record, list(record.inputs))
        source = f"{len(background)} logged predictions (the model has no training dataset)"
    explanation = explain_row(predictor, record.inputs, background)
    return {
        "background": source,
        "prediction_id": prediction_id,
        "model": record.model,
        "version": record.version,
        "answer": record.prediction,
        "decision": record.decision,
        **asdict(explanation),
    }


def model_importance(
    backend: Backend, project: str, ref: str, dataset: str | None = None
) -> dict[str, Any]:
    """Mean |contribution| of each input over the training data (or a dataset chosen instead)."""
    version = backend.get_model_version(project, ref)
    frame, name = reference_for(backend, project, version, dataset)
    predictor = load_model(backend, project, f"{version.model}/{version.version}")
    importance = global_importance(predictor, frame)
    return {"model": version.model, "version": version.version, "data": name,
            "importance": importance}  # fmt: skip
