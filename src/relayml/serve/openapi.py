"""OpenAPI descriptions of the model server's raw-body endpoints (they parse JSON themselves)."""

from __future__ import annotations

from typing import Any

__all__ = ["INFER", "MODEL", "OUTCOMES", "PREDICT", "READY", "add_bearer"]

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
_SCALAR = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "boolean"}]}
_RECORD = {
    "type": "object",
    "description": "One row: column name -> value, as in the model's signature.",
    "additionalProperties": {"anyOf": [_SCALAR, {"type": "null"}]},
}


def _body(schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": example}},
        },
        "responses": {
            "400": {"description": "the body is not JSON", "content": _json(_ERROR)},
            "413": {"description": "the body is over the size limit", "content": _json(_ERROR)},
            "422": {"description": "the input does not fit the model", "content": _json(_ERROR)},
        },
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


_ROWS = {"type": "array", "description": "one entry per row, in the order of the request's rows"}
_PREDICTED = {
    "type": "object",
    "required": ["predictions", "prediction_ids", "model", "versions"],
    "properties": {
        "predictions": {**_ROWS, "items": _SCALAR, "description": "the label or value per row"},
        "prediction_ids": {
            **_ROWS,
            "items": {"type": "string"},
            "description": "24 hex digits per row, time-ordered: send them back with outcomes",
        },
        "model": {"type": "string", "description": "the served model's name"},
        "versions": {
            **_ROWS,
            "items": {"type": "integer"},
            "description": "the model version that answered each row (a canary or A/B test "
            "splits a request's rows between versions)",
        },
        "probabilities": {
            **_ROWS,
            "items": {"type": "array", "items": {"type": "number"}},
            "description": "classifiers only: P(class) per row, in the order of the classes "
            "given by GET /v2/models/{name}",
        },
        "decisions": {
            **_ROWS,
            "items": {"anyOf": [_SCALAR, {"type": "null"}]},
            "description": "models with a decision table only: the action per row",
        },
    },
}
_TENSOR_META = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string", "description": "V2 datatype: FP64, INT64, BOOL, BYTES"},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "parameters": {"type": "object"},
    },
}
_VARIANT = {
    "type": "object",
    "required": ["version", "name", "weight", "mode"],
    "properties": {
        "version": {"type": "integer", "description": "the model version it serves now"},
        "name": {"type": "string", "description": "its name in logs and results, e.g. v3"},
        "weight": {"type": "number", "description": "percent of the live rows; 0 for shadows"},
        "mode": {"type": "string", "enum": ["live", "shadow"]},
    },
}
MODEL: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the model's V2 metadata; parameters describe its deployment",
        "content": _json(
            {
                "type": "object",
                "required": ["name", "versions", "platform", "inputs", "outputs", "parameters"],
                "properties": {
                    "name": {"type": "string"},
                    "versions": {"type": "array", "items": {"type": "string"}},
                    "platform": {"type": "string", "description": "the model's flavor"},
                    "inputs": {"type": "array", "items": _TENSOR_META},
                    "outputs": {"type": "array", "items": _TENSOR_META},
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "environment": {"type": ["string", "null"]},
                            "revision": {
                                "type": ["integer", "null"],
                                "description": "the deployment revision served",
                            },
                            "variants": {"type": "array", "items": _VARIANT},
                            "sticky_key": {"type": ["string", "null"]},
                        },
                    },
                },
            }
        ),
    },
    404: {"description": "the model is not served here", "content": _json(_ERROR)},
    503: {"description": "models still loading", "content": _json(_ERROR)},
}

PREDICT = _body(
    {
        "anyOf": [
            _RECORD,
            {
                "type": "object",
                "required": ["instances"],
                "properties": {"instances": {"type": "array", "items": _RECORD, "minItems": 1}},
            },
        ]
    },
    {"instances": [{"tenure": 12, "plan": "basic"}]},
)
PREDICT["responses"]["200"] = {
    "description": "one answer per row, in the order of the rows",
    "content": _json(_PREDICTED),
}

INFER = _body(
    {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "shape", "datatype", "data"],
                    "properties": {
                        "name": {"type": "string"},
                        "shape": {"type": "array", "items": {"type": "integer"}},
                        "datatype": {"type": "string"},
                        "data": {"type": "array"},
                    },
                },
            },
        },
    },
    {"inputs": [{"name": "tenure", "shape": [1], "datatype": "INT64", "data": [12]}]},
)

OUTCOMES = _body(
    {
        "type": "object",
        "required": ["prediction_ids", "values"],
        "properties": {
            "prediction_ids": {"type": "array", "items": {"type": "string"}},
            "values": {"type": "array", "items": _SCALAR},
        },
    },
    {"prediction_ids": ["018f2b6c9a1e4f0c2d3b1a77"], "values": [1]},
)

READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "models still loading, or loading failed"}
}


def add_bearer(schema: dict[str, Any], is_open: Any) -> dict[str, Any]:
    """Declare the bearer token (``--auth``) on every operation ``is_open(method, path)`` denies,
    with its 401 and 403 answers; the schema is changed in place and returned."""
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token with the predict or api scope "
        "(`relay tokens create --scope predict`).",
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if is_open(method.upper(), path):
                continue
            operation["security"] = [{"bearer": []}]
            answers = operation.setdefault("responses", {})
            answers["401"] = {"description": "no valid token", "content": _json(_ERROR)}
            answers["403"] = {
                "description": "the token lacks the scope, or its user the role",
                "content": _json(_ERROR),
            }
    return schema
