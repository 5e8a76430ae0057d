"""The bare endpoint of the serving benchmark: the least work a Python server can do per request.

    python benchmarks/serving_bare.py MODEL.pkl [--host 127.0.0.1] [--port 8000]

    GET  /health     200 {"ready": true}
    POST /predict    a JSON list of the model's feature values (one row) -> {"predictions": [...]}

A Starlette app with one route that does orjson.loads -> np.array -> model.predict -> orjson,
on the event loop itself (no thread pool, no validation, no logging), served by uvicorn with one
worker, no access log, and the loop and HTTP parser uvicorn picks by default. It is the physical
limit the serving benchmark holds every server to.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["create_app", "main"]

# The model was fitted on a DataFrame (columns f0..f19); an ndarray of the same columns in the
# same order is what it predicts on here, and sklearn's warning about it would only cost time.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


def create_app(model: Any) -> Starlette:
    """The app serving `model` (anything with predict(2-D array))."""
    predict = model.predict
    ready = orjson.dumps({"ready": True})

    async def health(_request: Request) -> Response:
        return Response(ready, media_type="application/json")

    async def score(request: Request) -> Response:
        row = np.array(orjson.loads(await request.body()), dtype=np.float64).reshape(1, -1)
        result = {"predictions": predict(row).tolist()}
        return Response(orjson.dumps(result), media_type="application/json")

    return Starlette(routes=[Route("/health", health), Route("/predict", score, methods=["POST"])])


def main(argv: list[str] | None = None) -> int:
    """Load the pickled model and serve it until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a pickled fitted model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    with args.model.open("rb") as f:
        model = pickle.load(f)
    import uvicorn

    uvicorn.run(create_app(model), host=args.host, port=args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
