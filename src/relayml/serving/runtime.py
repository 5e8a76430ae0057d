"""What a model server holds: the loaded variants of each served model, and how it reloads them.

A served model is a deployment (``churn`` in ``production``) or one pinned version
(``churn/3``), resolved and loaded through a ``ModelSource`` (the registry, or one bundle). For
a watched source, a background thread polls (every ``reload_interval`` seconds) for a new
deployment revision, a moved alias or a new decision table, loads the versions it does not hold
yet, and swaps the routing table on the event loop in one step: requests in flight finish on the
variant they started with, so a redeploy fails no request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relayml.domain.decisions import DecisionTable
from relayml.domain.feature_inputs import feature_inputs_of
from relayml.domain.models import parse_model_ref
from relayml.domain.serving import Variant
from relayml.errors import NotFound
from relayml.models.predictor import Predictor
from relayml.predictions import ParquetLog
from relayml.serving.batcher import InFlight
from relayml.serving.features import FeatureJoin
from relayml.serving.sources import ModelSource
from relayml.serving.variant import LoadedVariant, ServeOptions, VariantContext

__all__ = ["Routed", "Runtime", "ServedModel"]

log = logging.getLogger("relayml.serving")

Routed = tuple[LoadedVariant, Sequence[int]]
"""A live variant and the positions of the request's rows it answers."""


def _key_point(key: Any) -> float:
    """Where a sticky key falls in [0, 1): the same key always falls in the same place."""
    digest = hashlib.blake2b(str(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass
class ServedModel:
    """A model the server answers for: its live variants by weight, and its shadows."""

    project: str
    name: str
    environment: str | None
    partition: str
    live: list[LoadedVariant]
    shadows: list[LoadedVariant] = field(default_factory=list)
    sticky_key: str | None = None
    revision: int | None = None
    alias_version: int | None = None
    decisions: DecisionTable | None = None
    decision_revision: int | None = None
    _bounds: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        total = 0.0
        for variant in self.live:
            total += variant.weight
            self._bounds.append(total)

    @property
    def variants(self) -> list[LoadedVariant]:
        """Live variants, then shadows."""
        return self.live + self.shadows

    def bind(self, log: ParquetLog | None) -> None:
        """Point every variant at this model's log partition and decision table."""
        context = VariantContext(
            self.project, self.name, self.partition, log, self.decisions, self.decision_revision
        )
        for variant in self.variants:
            variant.context = context

    def choose(self, key: Any = None) -> LoadedVariant:
        """The live variant for a request: by the sticky key's hash, else at random by weight."""
        if len(self.live) == 1:
            return self.live[0]
        point = random.random() if key is None else _key_point(key)
        return self.live[self._slot(point * self._bounds[-1])]

    def route(self, count: int, keys: Sequence[Any] | None = None) -> list[Routed]:
        """The live variant of each of `count` rows, grouped by variant (row order kept).

        A row with a sticky key goes where its key's hash points; any other row is drawn at
        random by weight, row by row, so a variant's share is a share of rows, not of requests.
        """
        if len(self.live) == 1:
            return [(self.live[0], range(count))]
        total = self._bounds[-1]
        points = np.random.random(count) * total
        if keys is not None:
            for index, key in enumerate(keys):
                if key is not None:
                    points[index] = _key_point(key) * total
        slots = np.searchsorted(np.asarray(self._bounds), points, side="right")
        slots = np.minimum(slots, len(self.live) - 1)
        groups: list[Routed] = []
        for slot in np.unique(slots):
            groups.append((self.live[int(slot)], np.flatnonzero(slots == slot).tolist()))
        return groups

    def _slot(self, point: float) -> int:
        for slot, bound in enumerate(self._bounds):
            if point < bound:
                return slot
        return len(self.live) - 1

    def variant_for_version(self, version: int) -> LoadedVariant:
        """The variant serving a version, or NotFound naming the ones served."""
        for variant in self.variants:
            if variant.version == version:
                return variant
        served = ", ".join(str(v.version) for v in self.variants)
        raise NotFound(f"version {version} of {self.name!r} is not served here (served: {served}).")


class Runtime:
    """The served models, loaded through a ModelSource; a watched source is polled for changes."""

    def __init__(
        self,
        source: ModelSource,
        refs: Sequence[str],
        options: ServeOptions,
        on_batch: Any = None,
        on_loaded: Callable[[], None] | None = None,
        on_lookup: Any = None,
    ) -> None:
        """on_batch(model, variant, rows) and on_lookup(model, variant, rows, seconds) report."""
        self.source = source
        self._on_lookup = on_lookup
        self._on_loaded = on_loaded
        self.project = source.project
        self.refs = [parse_model_ref(r) for r in refs]
        self.options = options
        self.models: dict[str, ServedModel] = {}
        self.ready = False
        self.load_error: str | None = None
        self.prediction_log: ParquetLog | None = None  # where answered rows are logged
        self._on_batch = on_batch
        self._cache: dict[tuple[str, int], Predictor] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failing: dict[str, str] = {}  # served ref -> the kind of error its reload hits
        self.in_flight = InFlight()  # the HTTP server's requests (watched by the runner)

    # loading
    def _predictor(self, name: str, version: int) -> Predictor:
        key = (name, version)
        if key not in self._cache:
            self._cache[key] = self.source.predictor(name, version)
        return self._cache[key]

    def _variant(
        self,
        name: str,
        variant: Variant,
        version: int,
        sticky: str | None,
        environment: str,
        fresh: bool = False,
    ) -> LoadedVariant:
        current = self.models.get(name)
        if current is not None and not fresh:
            for held in current.variants:
                same = (held.version, held.mode, held.weight)
                if same == (version, variant.mode, variant.weight):
                    return held
        predictor = self._predictor(name, version)
        passthrough = [sticky] if sticky else []
        label = f"v{version}"
        report = self._on_batch
        on_batch = (lambda rows: report(name, label, rows)) if report is not None else None
        return LoadedVariant(
            predictor, variant, label, passthrough, self.options, on_batch,
            self._features(predictor, name, label, environment), self.in_flight,
        )  # fmt: skip

    def _features(
        self, predictor: Predictor, name: str, label: str, environment: str
    ) -> FeatureJoin | None:
        """The lookup of a version's feature inputs, resolved now (None: it declares none)."""
        inputs = feature_inputs_of(predictor.details)
        if inputs is None:
            return None
        fetcher = self.source.online(inputs, environment)
        looked = self._on_lookup
        on_lookup = (
            (lambda rows, seconds: looked(name, label, rows, seconds))
            if looked is not None
            else None
        )
        return FeatureJoin(inputs, predictor.signature, fetcher, on_lookup)

    def _build(self, index: int, fresh: bool = False) -> ServedModel:
        plan = self.source.plan(self.refs[index])
        live: list[LoadedVariant] = []
        shadows: list[LoadedVariant] = []
        for variant, version in plan.variants:
            target = live if variant.mode == "live" else shadows
            environment = plan.environment or "production"  # a pinned version reads production
            target.append(
                self._variant(plan.name, variant, version, plan.sticky_key, environment, fresh)
            )
        decisions, decision_revision = self.source.decisions(plan.name)
        return ServedModel(
            self.project,
            plan.name,
            plan.environment,
            plan.partition,
            live,
            shadows,
            plan.sticky_key,
            plan.revision,
            plan.alias_version,
            decisions,
            decision_revision,
        )

    def load(self) -> None:
        """Load every served model (blocking); raises what stops a model from loading."""
        models = {}
        for index, ref in enumerate(self.refs):
            models[ref.name] = self._build(index)
            models[ref.name].bind(self.prediction_log)
        self.models = models
        self.ready = True
        if self._on_loaded is not None:
            self._on_loaded()

    # reloading
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Load in the background, then poll a watched source for changes until stop()."""
        self._loop = loop
        if self.ready and not self.source.watched:
            return  # loaded, and nothing can change: no thread
        self._thread = threading.Thread(target=self._watch, name="relay-reload", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            if not self.ready:
                try:
                    self.load()
                    log.info("models loaded: %s", ", ".join(self.describe()))
                    if not self.source.watched:
                        return
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    if error != self.load_error:  # once per cause, not once per interval
                        log.error("could not load the models (retrying): %s", error)
                    self.load_error = error
            else:
                self._poll()
            self._stop.wait(self.options.reload_interval)

    def _poll(self) -> None:
        for index, ref in enumerate(self.refs):
            current = self.models.get(ref.name)
            if current is None:
                continue
            try:
                new = self._changed(index, current)
            except Exception as exc:
                self._failed(str(ref), exc)
                continue
            if self._failing.pop(str(ref), None) is not None:
                log.info("reloading %s works again", ref)
            if new is None:
                continue
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._swap, ref.name, new)
            else:
                self._swap(ref.name, new)

    def _failed(self, ref: str, exc: Exception) -> None:
        """Log a failed reload once, not once per interval: again only when the cause changes."""
        kind = type(exc).__name__
        if self._failing.get(ref) == kind:
            return
        self._failing[ref] = kind
        log.error(
            "reloading %s failed, still serving the loaded versions (retrying every %g s; one "
            "line when it works again): %s",
            ref,
            self.options.reload_interval,
            exc,
        )

    def _changed(self, index: int, current: ServedModel) -> ServedModel | None:
        """A rebuilt model when its deployment, alias or decision table changed, else None."""
        name = self.refs[index].name
        moved = False
        if current.environment is not None:
            state = self.source.state(name, current.environment)
            moved = state != (current.revision, current.alias_version)
        if moved:
            return self._build(index)
        if self._features_moved(current):  # a feature set promoted: resolve it again
            return self._build(index, fresh=True)
        table, revision = self.source.decisions(name)
        if revision == current.decision_revision:
            return None
        return dataclasses.replace(current, decisions=table, decision_revision=revision, _bounds=[])

    def _features_moved(self, model: ServedModel) -> bool:
        """Whether a feature set a variant looks up has another version in its environment now."""
        for variant in model.variants:
            if variant.features is not None:
                fetcher = variant.features.fetcher
                now = self.source.feature_versions(list(fetcher.versions), fetcher.environment)
                if now != fetcher.versions:
                    return True
        return False

    def _swap(self, name: str, new: ServedModel) -> None:
        new.bind(self.prediction_log)
        old = self.models.get(name)
        self.models = {**self.models, name: new}
        kept = {id(v) for v in new.variants}
        if old is not None:
            for variant in old.variants:
                if id(variant) not in kept:
                    variant.batcher.retire()
        log.info("now serving %s", self.describe_model(new))

    def stop(self) -> None:
        """Stop the reload thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # describing
    def describe_model(self, model: ServedModel) -> str:
        """'churn (production, rev 3): v3 90%, v4 10%, shadow v5'."""
        parts = [f"{v.label} {v.weight:g}%" for v in model.live]
        parts += [f"shadow {v.label}" for v in model.shadows]
        where = model.environment or "pinned"
        if model.revision is not None:
            where += f", revision {model.revision}"
        if model.decision_revision is not None:
            parts.append(f"decision table revision {model.decision_revision}")
        return f"{model.name} ({where}): " + ", ".join(parts)

    def describe(self) -> list[str]:
        """One line per served model."""
        return [self.describe_model(m) for m in self.models.values()]
