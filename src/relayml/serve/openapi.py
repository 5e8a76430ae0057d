"""OpenAPI descriptions of the model server's raw-body endpoints (they parse JSON themselves)."""

from __future__ import annotations

from typing import Any

__all__ = ["INFER", "OUTCOMES", "PREDICT", "READY"]

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
