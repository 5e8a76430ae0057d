"""The model server's answer bodies: a model's V2 metadata, /predict and V2 infer answers."""

from __future__ import annotations

from typing import Any

from relayml.serving.runtime import ServedModel
from relayml.serving.service import Answer
from relayml.serving.tensors import v2_datatype
from relayml.serving.variant import LoadedVariant

__all__ = ["infer_body", "metadata", "predict_body"]


def metadata(model: ServedModel, variant: LoadedVariant) -> dict[str, Any]:
    """Inputs (what a request carries), outputs and variants of a served model (V2)."""
    signature = variant.codec.signature  # what a request carries (keys, not looked-up features)
    if signature.input_kind == "ndarray":
        dtype = signature.inputs[0].dtype if signature.inputs else "float64"
        inputs = [
            {
                "name": "input-0",
                "datatype": v2_datatype(dtype),
                "shape": [-1, len(signature.inputs)],
            }
        ]
    else:
        inputs = [
            {"name": s.name, "datatype": v2_datatype(s.dtype), "shape": [-1]}
            for s in signature.inputs
        ]
    outputs: list[dict[str, Any]] = [
        {"name": s.name, "datatype": v2_datatype(s.dtype), "shape": [-1]} for s in signature.outputs
    ]
    if variant.use_proba:
        classes = signature.classes or []
        outputs.append(
            {
                "name": "probabilities",
                "datatype": "FP64",
                "shape": [-1, len(classes)],
                "parameters": {"classes": classes},
            }
        )
    meta: dict[str, Any] = {
        "name": model.name,
        "versions": [str(v.version) for v in model.variants],
        "platform": variant.predictor.flavor,
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {
            "environment": model.environment,
            "revision": model.revision,
            "variants": [
                {"version": v.version, "name": v.label, "weight": v.weight, "mode": v.mode}
                for v in model.variants
            ],
            "sticky_key": model.sticky_key,
        },
    }
    if variant.features is not None:
        meta["parameters"]["feature_inputs"] = {
            "columns": variant.features.inputs.columns,
            "environment": variant.features.environment,
        }
    return meta


def predict_body(answer: Answer) -> dict[str, Any]:
    """The /predict answer: predictions, ids, versions (probabilities, decisions, features)."""
    body: dict[str, Any] = {
        "predictions": answer.values,
        "prediction_ids": answer.ids,
        "model": answer.model.name,
        "versions": answer.versions,
    }
    if answer.probabilities is not None:
        body["probabilities"] = answer.probabilities
    if answer.decisions is not None:
        body["decisions"] = answer.decisions
    if answer.features is not None:
        body["features"] = answer.features
    return body


def infer_body(answer: Answer, request_id: Any) -> dict[str, Any]:
    """The V2 infer answer: one output tensor per answer, ids and features in parameters."""
    variant = answer.model.live[0]
    outputs_spec = variant.predictor.signature.outputs
    name = outputs_spec[0].name if outputs_spec else "prediction"
    dtype = v2_datatype(outputs_spec[0].dtype) if outputs_spec else "BYTES"
    rows = len(answer.values)
    outputs = [{"name": name, "shape": [rows], "datatype": dtype, "data": answer.values}]
    if answer.probabilities is not None:
        width = len(answer.probabilities[0]) if rows else 0
        flat = [p for row in answer.probabilities for p in row]
        outputs.append(
            {"name": "probabilities", "shape": [rows, width], "datatype": "FP64", "data": flat}
        )
    if answer.decisions is not None:
        outputs.append(
            {"name": "decision", "shape": [rows], "datatype": "BYTES", "data": answer.decisions}
        )
    versions = sorted(set(answer.versions))
    body: dict[str, Any] = {
        "model_name": answer.model.name,
        "model_version": ",".join(str(v) for v in versions),
        "outputs": outputs,
        "parameters": {"prediction_ids": answer.ids, "versions": answer.versions},
    }
    if answer.features is not None:
        body["parameters"]["features"] = answer.features
    body["id"] = str(request_id) if request_id is not None else answer.ids[0]
    return body
