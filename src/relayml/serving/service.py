"""The model server's use cases: answer rows with a deployment's variants, log them, take outcomes.

Each row of a request goes to one live variant: by the hash of its sticky key (so a caller
stays on one variant), else at random by weight, row by row (a 10% canary answers 10% of the
rows, whatever the size of the requests). Shadows get a copy of the rows; their answers are
logged and never returned. Every answered row gets a prediction id: 12 hex digits of the time
in ms, then 12 random ones (sortable by time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from relayml.errors import InvalidInput, ModelFailed, ModelNotReady, NotFound, RelayError
from relayml.predictions import ParquetLog
from relayml.predictions.layout import deployment_partition
from relayml.predictions.outcomes import append_outcomes, check_outcomes
from relayml.serving.codec import Columns
from relayml.serving.logbuffer import RequestBuffer
from relayml.serving.metrics import ServerMetrics
from relayml.serving.runtime import Routed, Runtime, ServedModel
from relayml.serving.variant import LoadedVariant, Prediction

__all__ = ["UNSERVED", "Answer", "ModelService"]

# The request log's partition of requests naming a model this server does not serve: one, however
# many names callers try (a partition per name let any caller grow the server's memory and the
# log's folders without bound). A model's own partitions are '<model>-<environment>'.
UNSERVED = "_unserved"

Part = tuple[LoadedVariant, Sequence[int], Columns]
"""A variant, the positions of the request's rows it answers, and those rows."""


def _split(
    routed: list[Routed],
    decode: Callable[[LoadedVariant], Columns],
    known: tuple[LoadedVariant, Columns] | None = None,
) -> list[Part]:
    """Each variant's rows: the request is validated once per distinct signature, as a whole
    (so an error names the row's place in the request), then cut by the routing."""
    decoded = [known] if known is not None else []
    parts: list[Part] = []
    for variant, indices in routed:
        signature = variant.codec.signature
        columns = next((c for v, c in decoded if v.codec.signature == signature), None)
        if columns is None:
            columns = decode(variant)
            decoded.append((variant, columns))
        parts.append((variant, indices, columns.take(indices)))
    return parts


@dataclass
class Answer:
    """A request's answers, in the order of its rows."""

    model: ServedModel
    values: list[Any]
    probabilities: list[list[float]] | None
    ids: list[str]
    versions: list[int]
    decisions: list[Any] | None = None
    features: list[Any] | None = None  # asked for: each row's looked-up feature values


class ModelService:
    """Answers requests for the runtime's models; logs predictions and outcomes off the hot path."""

    def __init__(
        self,
        runtime: Runtime,
        metrics: ServerMetrics,
        predictions: ParquetLog | None,
        outcomes: ParquetLog | None,
        requests: ParquetLog | None = None,
    ) -> None:
        self.requests = requests
        self._request_buffers: dict[str, RequestBuffer] = {}  # per partition of the request log
        self.runtime = runtime
        self.metrics = metrics
        self.predictions = predictions
        self.outcomes = outcomes
        self._shadow_tasks: set[asyncio.Task[None]] = set()

    def model(self, name: str | None) -> ServedModel:
        """A served model by name; the only one when name is None."""
        models = self.runtime.models
        if not self.runtime.ready:
            raise ModelNotReady.loading(self.runtime.load_error)
        if name is None:
            if len(models) == 1:
                return next(iter(models.values()))
            raise InvalidInput(
                "this server serves several models; name one with ?model=NAME or use "
                f"/v2/models/NAME/infer (served: {', '.join(sorted(models))})."
            )
        if name not in models:
            raise NotFound(
                f"model {name!r} is not served here (served: {', '.join(sorted(models))})."
            )
        return models[name]

    async def answer_rows(
        self,
        model: ServedModel,
        rows: Sequence[Any],
        key: Any = None,
        features: bool = False,
        logged_at: int | None = None,
    ) -> Answer:
        """Route, validate, predict and log the rows of a /predict request.

        A request key (the X-Relay-Key header) keeps the whole request on one variant and is
        logged as every row's key; otherwise each row is routed on its own, by its sticky field
        when the deployment has one, else at random by weight. `features`: answer the values
        a model with feature inputs looked up. `logged_at`: a replayed request's own time.
        """
        start = time.perf_counter()
        sticky = model.sticky_key

        def decode(variant: LoadedVariant) -> Columns:
            return variant.codec.from_records(rows, sticky).with_key(key).replayed(logged_at)

        if key is not None:
            variant = model.choose(key)
            return await self._answer(
                model, [(variant, range(len(rows)), decode(variant))], start, decode, features
            )
        keys = None
        if sticky is not None:
            keys = [row.get(sticky) if isinstance(row, dict) else None for row in rows]
        return await self._answer(
            model, _split(model.route(len(rows), keys), decode), start, decode, features
        )

    async def answer_columns(
        self,
        model: ServedModel,
        inputs: Any,
        version: int | None,
        key: Any = None,
        features: bool = False,
        logged_at: int | None = None,
    ) -> Answer:
        """Route, validate, predict and log the tensors of a V2 infer request.

        A pinned version answers every row; a request key keeps the request on one variant;
        otherwise each row is drawn at random by weight.
        """
        start = time.perf_counter()

        def decode(variant: LoadedVariant) -> Columns:
            return variant.codec.from_v2(inputs).with_key(key).replayed(logged_at)

        if version is not None or key is not None:
            variant = (
                model.variant_for_version(version) if version is not None else model.choose(key)
            )
            columns = decode(variant)
            return await self._answer(
                model, [(variant, range(columns.rows), columns)], start, decode, features
            )
        first = decode(model.live[0])
        routed = model.route(first.rows)
        return await self._answer(
            model, _split(routed, decode, (model.live[0], first)), start, decode, features
        )

    @contextmanager
    def counting_refusals(self, model: ServedModel) -> Iterator[None]:
        """Count a request to `model` refused as invalid input (relay_rejected_requests_total):
        the prediction routes read their whole request inside it."""
        try:
            yield
        except InvalidInput:
            self.metrics.refused(model.name)
            raise

    async def _answer(
        self,
        model: ServedModel,
        parts: list[Part],
        start: float,
        decode: Any,
        features: bool = False,
    ) -> Answer:
        for _variant, _, columns in parts:
            if columns.rows == 0:
                raise InvalidInput("there are no rows to predict.")
        parts = [(v, i, c.at(start)) for v, i, c in parts]
        if len(parts) == 1:  # the usual case: no task per request
            results = [await self._predict(model, parts[0][0], parts[0][2])]
        else:
            results = list(await asyncio.gather(*(self._predict(model, v, c) for v, _, c in parts)))
        total = sum(c.rows for _, _, c in parts)
        ids: list[str] = [""] * total
        values: list[Any] = [None] * total
        probabilities: list[Any] | None = None
        versions = [0] * total
        decisions: list[Any] | None = None
        used: list[Any] | None = [None] * total if features else None
        for (variant, indices, _columns), result in zip(parts, results, strict=True):
            if used is not None and variant.features is not None and result.features is not None:
                for position, index in enumerate(indices):
                    used[index] = variant.features.describe(result.features[position])
            answers = result.values.tolist()
            proba = result.probabilities.tolist() if result.probabilities is not None else None
            if proba is not None and probabilities is None:
                probabilities = [None] * total
            if result.decisions is not None and decisions is None:
                decisions = [None] * total
            for position, index in enumerate(indices):
                values[index] = answers[position]
                versions[index] = variant.version
                ids[index] = result.ids[position]
                if proba is not None:
                    assert probabilities is not None
                    probabilities[index] = proba[position]
                if result.decisions is not None:
                    assert decisions is not None
                    decisions[index] = result.decisions[position]
        for shadow in model.shadows:
            self._shadow(model, shadow, decode, ids, start)
        return Answer(model, values, probabilities, ids, versions, decisions, used)

    async def _predict(
        self, model: ServedModel, variant: LoadedVariant, columns: Columns
    ) -> Prediction:
        began = time.perf_counter()
        try:
            result = await variant.batcher.submit(columns)
        except RelayError:
            raise
        except Exception as exc:
            self.metrics.errors.labels(model.name, variant.label).inc()
            raise ModelFailed(
                f"{model.name}/{variant.version} failed on this input: {type(exc).__name__}: {exc}"
            ) from exc
        seconds = time.perf_counter() - began
        self.metrics.predicted(model.name, variant.label, variant.mode, columns.rows, seconds)
        return result

    def _shadow(
        self, model: ServedModel, shadow: LoadedVariant, decode: Any, ids: list[str], start: float
    ) -> None:
        """Send a copy of the request to a shadow under the same ids; it logs, returns nothing."""
        try:
            columns: Columns = decode(shadow).at(start, ids)
        except RelayError:
            self.metrics.errors.labels(model.name, shadow.label).inc()
            return

        async def run() -> None:
            try:
                await self._predict(model, shadow, columns)
            except Exception:
                return

        task = asyncio.get_running_loop().create_task(run())
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    def record_request(self, route: str, name: str | None, status: int, seconds: float) -> None:
        """Log one prediction request's status and time (the error rate's source)."""
        if self.requests is None:
            return
        models = self.runtime.models
        if name is None:
            if len(models) != 1:
                return
            name = next(iter(models))
        model = models.get(name)
        partition = model.partition if model is not None else UNSERVED
        buffer = self._request_buffers.get(partition)
        if buffer is None:
            place = deployment_partition(self.runtime.project, partition)
            buffer = self._request_buffers.setdefault(
                partition, RequestBuffer(self.requests, place)
            )
        buffer.add(time.time_ns() // 1_000_000, route, status, seconds * 1000)

    def record_outcomes(self, model: str | None, ids: Any, values: Any, source: str) -> int:
        """Queue outcomes (true values) for predictions, joined to them later by id."""
        if self.outcomes is None:
            check_outcomes(ids, values)
            raise InvalidInput(
                "this server keeps no logs, so outcomes cannot be stored here; a bundle's server "
                "keeps them when started with --log-dir DIR."
            )
        return append_outcomes(
            self.outcomes, self.runtime.project, ids, values, model=model, source=source
        )
