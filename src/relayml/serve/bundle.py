"""Serve one bundle built by `relay models build`: the bundle's minimal HTTP entry point.

    python -m relayml.serve.bundle BUNDLE_DIR [--host 127.0.0.1] [--port 8000]

    GET  /v2/health/live     {"live": true}
    GET  /v2/health/ready    {"ready": true} once the model is loaded
    GET  /v2/models/{name}   Open Inference Protocol model metadata (inputs, outputs, platform)
    POST /predict            one record {...} or {"instances": [{...}, ...]}
                             -> {"predictions": [...]} (and "probabilities" for classifiers)

Every file the manifest lists is checked against its sha256 before the model loads; the server
refuses to start when one differs. Input that does not fit the signature gets 422 with
{"error": "..."}; an error response never has another shape.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from relayml.domain.models import Signature
from relayml.errors import InvalidInput, NotFound, RelayError
from relayml.models import flavors
from relayml.models.bundle import example_record, verify_bundle
from relayml.models.predictor import Predictor
from relayml.models.signature import prepare_input

__all__ = ["create_app", "load_bundle", "main"]

_DATATYPES = {"bool": "BOOL", "int64": "INT64", "float64": "FP64", "string": "BYTES"}
_JSON_TYPES = {
    dict: "an object",
    list: "an array",
    str: "a string",
    bool: "a boolean",
    type(None): "null",
}


def load_bundle(folder: Path) -> tuple[dict[str, Any], Predictor]:
    """The manifest and the model of a verified bundle."""
    manifest = verify_bundle(folder)
    signature = Signature.model_validate(manifest["signature"])
    try:
        native = flavors.load_model(
            manifest["flavor"], Path(folder) / "model", manifest.get("details") or {}
        )
    except RelayError:
        raise
    except Exception as exc:
        hint = ""
        if isinstance(exc, ImportError):
            hint = " Install the bundle's requirements: pip install --find-links wheels -r "
            hint += "requirements.txt"
        raise InvalidInput(
            f"the model of {folder} could not be loaded: {type(exc).__name__}: {exc}.{hint}"
        ) from exc
    predictor = Predictor(
        native,
        signature,
        name=manifest["model"],
        version=manifest["version"],
        flavor=manifest["flavor"],
    )
    return manifest, predictor


def _tensor(name: str, dtype: str, shape: list[int]) -> dict[str, Any]:
    return {"name": name, "datatype": _DATATYPES.get(dtype, "BYTES"), "shape": shape}


def _tensors(signature: Signature) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Open Inference Protocol tensor metadata of the model's inputs and outputs."""
    specs = signature.inputs
    if signature.input_kind == "ndarray":
        inputs = [_tensor("input-0", specs[0].dtype if specs else "float64", [-1, len(specs)])]
    else:
        inputs = [_tensor(s.name, s.dtype, [-1, 1]) for s in specs]
    outputs = [_tensor(s.name, s.dtype, signature.output_shape) for s in signature.outputs]
    if signature.has_proba:
        classes = signature.classes or []
        proba = _tensor("probabilities", "float64", [-1, len(classes) or -1])
        outputs.append({**proba, "parameters": {"classes": classes}})
    return inputs, outputs


def _instances(payload: Any, example: Any) -> list[Any]:
    """The rows of a request body: one record, or the list under "instances"."""
    usage = (
        f'send one record or {{"instances": [...]}}, e.g. {{"instances": [{json.dumps(example)}]}}'
    )
    if isinstance(payload, dict) and "instances" in payload:
        rows = payload["instances"]
        extra = sorted(set(payload) - {"instances"})
        if extra:
            raise InvalidInput(f"unexpected keys next to instances: {', '.join(extra)}; {usage}.")
        if not isinstance(rows, list):
            kind = _JSON_TYPES.get(type(rows), "a number")
            raise InvalidInput(f'"instances" must be a list of records, not {kind}; {usage}.')
        if not rows:
            raise InvalidInput(f'"instances" is empty: there are no rows to predict; {usage}.')
        kinds = (dict, list) if isinstance(example, list) else (dict,)  # arrays take lists too
        wanted = "all records or all lists" if isinstance(example, list) else "records"
        for index, row in enumerate(rows):
            if not isinstance(row, kinds) or type(row) is not type(rows[0]):
                kind = _JSON_TYPES.get(type(row), "a number")
                raise InvalidInput(
                    f"instances[{index}] is {kind}, but instances must be {wanted}; {usage}."
                )
        return rows
    if isinstance(payload, dict) and payload:
        return [payload]
    kind = _JSON_TYPES.get(type(payload), "a number")
    what = "an empty record" if isinstance(payload, dict) else kind
    raise InvalidInput(f"the body is {what}; {usage}.")


def _missing(signature: Signature, data: Any) -> list[str]:
    """The non-nullable input columns that hold missing values."""
    if not isinstance(data, pd.DataFrame):
        return [] if not np.asarray(pd.isna(data)).any() else ["the input array"]
    nulls = data.isna().any()
    return [repr(s.name) for s in signature.inputs if not s.nullable and bool(nulls[s.name])]


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status, media_type="application/json")


def create_app(folder: Path) -> FastAPI:
    """The FastAPI app serving a bundle; raises RelayError if the bundle cannot be served."""
    manifest, predictor = load_bundle(folder)
    signature = predictor.signature
    inputs, outputs = _tensors(signature)
    example = example_record(signature)
    app = FastAPI(title=f"relay bundle {manifest['ref']}", version=str(manifest["version"]))
    app.state.ready = True  # the model loaded above, before the server accepts a connection

    @app.exception_handler(RelayError)
    async def relay_error(_request: Request, exc: RelayError) -> Response:
        return _error(exc.http_status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    @app.get("/v2/health/live")
    def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready")
    def ready() -> dict[str, bool]:
        return {"ready": bool(app.state.ready)}

    @app.get("/v2/models/{name}")
    def model_metadata(name: str) -> dict[str, Any]:
        if name != manifest["model"]:
            raise NotFound(f"no model {name!r} here: this bundle serves {manifest['model']!r}.")
        return {
            "name": manifest["model"],
            "versions": [str(manifest["version"])],
            "platform": manifest["flavor"],
            "inputs": inputs,
            "outputs": outputs,
        }

    def predict_rows(rows: list[Any]) -> dict[str, Any]:
        try:
            data = prepare_input(signature, rows)
        except (ValueError, TypeError, OverflowError) as exc:  # values pandas cannot hold
            raise InvalidInput(f"the instances could not be read as a table: {exc}") from exc
        try:
            result: dict[str, Any] = {"predictions": np.asarray(predictor.predict(data)).tolist()}
            if predictor.has_proba:
                result["probabilities"] = np.asarray(predictor.predict_proba(data)).tolist()
        except RelayError:
            raise
        except Exception as exc:
            failure = f"the model failed on this input: {type(exc).__name__}: {exc}"
            missing = _missing(signature, data)
            if missing:  # the input example had no missing values there: the input is to blame
                raise InvalidInput(
                    f"{failure} (missing values in {', '.join(missing)}, where the model's "
                    "input example had none)"
                ) from exc
            raise RelayError(failure) from exc
        return result

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        body = await request.body()
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"the request body is not JSON ({exc}).") from exc
        result = await run_in_threadpool(predict_rows, _instances(payload, example))
        return Response(orjson.dumps(result, default=str), media_type="application/json")

    return app


def main(argv: list[str] | None = None) -> int:
    """Check and load the bundle, then serve it until interrupted; 1 if it cannot be served."""
    parser = argparse.ArgumentParser(
        prog="python -m relayml.serve.bundle",
        description="Serve a model bundle built by `relay models build`.",
    )
    parser.add_argument("bundle", type=Path, help="the bundle directory (holds relay-bundle.json)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    args = parser.parse_args(argv)
    try:
        app = create_app(args.bundle)
    except RelayError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    import uvicorn

    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
