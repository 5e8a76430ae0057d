"""Where a model server's models come from: a store's deployments, or one bundle on disk.

The runtime asks a source what a served reference resolves to now (a ``Plan``: its variants and
the versions they serve), for a version's ``Predictor``, and for a model's decision table. A
``BackendSource`` answers from the registry through a Backend and is watched for changes; a
``BundleSource`` serves the one verified model of a bundle as a single live variant and never
changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from relayml.domain.decisions import DecisionTable
from relayml.domain.feature_inputs import FeatureInputs
from relayml.domain.models import ModelRef
from relayml.domain.ports import Backend
from relayml.domain.serving import Variant
from relayml.errors import InvalidInput, NotFound
from relayml.models.bundle import load_bundle
from relayml.models.predictor import Predictor
from relayml.models.publish import load_model
from relayml.predictions.layout import deployment_key
from relayml.serving.features import OnlineFetcher, fetcher_for

__all__ = ["BackendSource", "BundleSource", "ModelSource", "Plan"]


@dataclass(frozen=True)
class Plan:
    """What a served reference resolves to now: its variants, each with the version it serves."""

    name: str
    environment: str | None
    partition: str
    variants: list[tuple[Variant, int]]
    sticky_key: str | None = None
    revision: int | None = None
    alias_version: int | None = None


class ModelSource(Protocol):
    """What the runtime loads served models through."""

    project: str
    watched: bool  # True: what a reference resolves to may change while the server runs

    def plan(self, ref: ModelRef) -> Plan:
        """The variants a reference resolves to now; NotFound when nothing is served."""
        ...

    def state(self, name: str, environment: str) -> tuple[int | None, int | None]:
        """(deployment revision, the environment alias's version): a cheap check for changes."""
        ...

    def predictor(self, name: str, version: int) -> Predictor:
        """One model version, loaded; NotFound, CorruptArtifact."""
        ...

    def decisions(self, name: str) -> tuple[DecisionTable | None, int | None]:
        """A model's decision table and its revision, or (None, None)."""
        ...

    def online(self, inputs: FeatureInputs, environment: str) -> OnlineFetcher:
        """The online lookup of a model's feature sets in an environment, resolved now."""
        ...

    def feature_versions(self, sets: list[str], environment: str) -> dict[str, int]:
        """The versions of feature sets in an environment now (a cheap check for changes)."""
        ...


def _pinned(name: str, version: int) -> Plan:
    variant = Variant(version=version, weight=100.0)
    return Plan(name, None, f"{name}-v{version}", [(variant, version)])


class BackendSource:
    """Models from the registry: pinned versions, or a deployment and its environment's alias."""

    watched = True

    def __init__(self, backend: Backend, project: str) -> None:
        self.backend = backend
        self.project = project

    def plan(self, ref: ModelRef) -> Plan:
        """A pinned version, or the deployment of ref's environment (production by default)."""
        if ref.version is not None:
            return _pinned(ref.name, ref.version)
        environment = ref.alias or "production"
        revision, alias_version = self.backend.deployment_state(self.project, ref.name, environment)
        deployment = None
        if revision is not None:
            deployment = self.backend.get_deployment(self.project, ref.name, environment)
        variants = deployment.variants if deployment else [Variant(version=None, weight=100.0)]
        resolved: list[tuple[Variant, int]] = []
        for variant in variants:
            version = variant.version if variant.version is not None else alias_version
            if version is None:
                raise NotFound(
                    f"no version of {ref.name!r} is in {environment} yet; promote one with "
                    f"`relay models promote {ref.name}/<version> --to {environment}`."
                )
            resolved.append((variant, version))
        return Plan(
            ref.name,
            environment,
            deployment_key(ref.name, environment),
            resolved,
            deployment.sticky_key if deployment else None,
            deployment.revision if deployment else None,
            alias_version,
        )

    def state(self, name: str, environment: str) -> tuple[int | None, int | None]:
        """The deployment's revision and the alias's version."""
        return self.backend.deployment_state(self.project, name, environment)

    def predictor(self, name: str, version: int) -> Predictor:
        """The version's files fetched (hash-checked) and loaded."""
        return load_model(self.backend, self.project, f"{name}/{version}")

    def decisions(self, name: str) -> tuple[DecisionTable | None, int | None]:
        """The model's newest decision table, or (None, None) when it has none."""
        try:
            info = self.backend.get_decision_table(self.project, name)
        except NotFound:
            return None, None
        return DecisionTable.from_document(info.document), info.revision

    def online(self, inputs: FeatureInputs, environment: str) -> OnlineFetcher:
        """The backend's online table (its store, or its `relay server`)."""
        return fetcher_for(self.backend, self.project, inputs, environment)

    def feature_versions(self, sets: list[str], environment: str) -> dict[str, int]:
        """Each set's version in the environment, from the registry."""
        return {
            name: self.backend.get_feature_definition(
                self.project, "feature_set", name, environment=environment
            ).version
            for name in sets
        }


class BundleSource:
    """The one model of a bundle built by `relay models build`, verified and loaded once."""

    watched = False

    def __init__(self, folder: Path) -> None:
        """Check every file of the bundle against its sha256, then load the model."""
        self.folder = Path(folder)
        self.manifest, self._predictor = load_bundle(self.folder)
        self.project: str = str(self.manifest["project"])
        self.name: str = str(self.manifest["model"])
        self.version = int(self.manifest["version"])

    @property
    def ref(self) -> str:
        """The reference that names the bundle's model: churn/3."""
        return f"{self.name}/{self.version}"

    def _check(self, name: str, version: int | None) -> None:
        if name != self.name or version not in (None, self.version):
            raise NotFound(
                f"this bundle serves {self.ref} only; {name}"
                + (f"/{version}" if version is not None else "")
                + " is not in it."
            )

    def plan(self, ref: ModelRef) -> Plan:
        """The bundle's version as the one live variant."""
        self._check(ref.name, ref.version)
        return _pinned(self.name, self.version)

    def state(self, name: str, environment: str) -> tuple[int | None, int | None]:
        """A bundle has no deployments."""
        return None, None

    def predictor(self, name: str, version: int) -> Predictor:
        """The bundle's model (loaded when the source was made)."""
        self._check(name, version)
        return self._predictor

    def decisions(self, name: str) -> tuple[DecisionTable | None, int | None]:
        """A bundle carries no decision table."""
        return None, None

    def online(self, inputs: FeatureInputs, environment: str) -> OnlineFetcher:
        """A bundle has no online store: refused."""
        raise InvalidInput(
            f"{self.ref} looks features up online ({', '.join(inputs.columns.values())}), and "
            "a bundle has no online store; serve it with `relay serve` next to the platform's "
            "store instead."
        )

    def feature_versions(self, sets: list[str], environment: str) -> dict[str, int]:
        """A bundle serves no feature inputs."""
        return {}
