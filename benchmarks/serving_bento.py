"""The BentoML service of the serving benchmark (runs in benchmarks/.work/bentoml-venv).

    SERVING_MODEL=model.pkl bentoml serve serving_bento:GBM --host 127.0.0.1 --port P

    POST /predict    {"rows": [[f0, ..., f19]]} -> [prediction]

One worker; the API is batchable, so BentoML's adaptive batching merges the rows of concurrent
requests into one predict call (its selling point), with BentoML's default bounds;
SERVING_BENTO_BATCH=0 makes it a plain API.
The model is the benchmark's pickled one, loaded in the service's constructor (not through
BentoML's model store, which would only copy the same pickle).
"""

from __future__ import annotations

import os
import pickle
import warnings

import bentoml  # type: ignore[import-not-found]
import numpy as np

MODEL = os.environ.get("SERVING_MODEL", "model.pkl")
BATCHING = os.environ.get("SERVING_BENTO_BATCH", "1") == "1"

# The model was fitted on a DataFrame (columns f0..f19); rows arrive as an array.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


@bentoml.service(workers=1, traffic={"timeout": 60})
class GBM:
    """The benchmark's gradient boosting classifier."""

    def __init__(self) -> None:
        with open(MODEL, "rb") as f:
            self.model = pickle.load(f)

    # BentoML's defaults for the batch (max_batch_size 100, max_latency_ms 60000): with a
    # tight max_latency_ms it answers 503 to the requests that would wait longer.
    @bentoml.api(batchable=BATCHING, batch_dim=0)
    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Class predictions, one per row."""
        return np.asarray(self.model.predict(np.asarray(rows, dtype=np.float64)))
