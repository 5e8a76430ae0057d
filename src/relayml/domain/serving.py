"""Entities of serving: deployments, their variants, and the traffic specs users type.

A deployment is one model in one environment (``churn`` in ``production``). Its variants are
model versions: live variants share the traffic by weight; shadow variants get a copy of every
request, their answers are logged and never returned. A variant whose version is ``None``
follows the environment's alias, so a promotion changes what it serves.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from relayml.domain.models import ModelRef, parse_model_ref
from relayml.errors import InvalidInput

__all__ = [
    "STRATEGIES",
    "Deployment",
    "DeploymentRevision",
    "Variant",
    "parse_traffic",
    "plan_variants",
]

STRATEGIES = ("single", "canary", "ab", "shadow")
Strategy = Literal["single", "canary", "ab", "shadow"]
_CONFIG = ConfigDict(frozen=True)
_SPEC = re.compile(r"^\s*(?P<ref>[^:,\s]+)\s*(?::\s*(?P<weight>[^,\s]+))?\s*$")


class Variant(BaseModel):
    """One model version of a deployment, with its share of the traffic."""

    model_config = _CONFIG
    version: int | None = Field(description="None: the version the environment's alias names")
    weight: float = Field(description="percent of live traffic; 0 for shadows")
    mode: Literal["live", "shadow"] = "live"

    def label(self, resolved: int | None) -> str:
        """The variant's name in logs and results: v3, or 'alias' while nothing is resolved."""
        version = self.version if self.version is not None else resolved
        return f"v{version}" if version is not None else "alias"


class Deployment(BaseModel):
    """A model served in an environment: its strategy and variants at one revision."""

    model_config = _CONFIG
    project: str
    model: str
    environment: str
    strategy: Strategy
    variants: list[Variant]
    sticky_key: str | None = Field(
        default=None, description="request field whose value keeps a caller on one variant"
    )
    revision: int
    reason: str = ""
    updated_by: str
    updated_at: datetime

    @property
    def key(self) -> str:
        """The deployment's name in paths and logs: churn-production."""
        return f"{self.model}-{self.environment}"


class DeploymentRevision(BaseModel):
    """One stored change of a deployment: who, when, and what it became."""

    model_config = _CONFIG
    revision: int
    strategy: Strategy
    variants: list[Variant]
    sticky_key: str | None = None
    reason: str = ""
    created_by: str
    created_at: datetime


def _weight(text: str | None, spec: str) -> float | None:
    if text is None:
        return None
    try:
        weight = float(text.rstrip("%"))
    except ValueError:
        raise InvalidInput(
            f"{spec!r}: the weight {text!r} is not a number; write it as MODEL/VERSION:PERCENT, "
            "e.g. churn/4:10."
        ) from None
    if not 0 < weight <= 100:
        raise InvalidInput(f"{spec!r}: the weight must be above 0 and at most 100, not {weight:g}.")
    return weight


def parse_traffic(model: str, text: str) -> list[tuple[int, float | None]]:
    """Read 'churn/3:50,churn/4:50' into [(3, 50.0), (4, 50.0)], checking the model's name."""
    parts = [p for p in text.split(",") if p.strip()]
    if not parts:
        raise InvalidInput("no variants given; write them as churn/3:50,churn/4:50.")
    specs: list[tuple[int, float | None]] = []
    for part in parts:
        match = _SPEC.match(part)
        if match is None:
            raise InvalidInput(f"{part!r} is not MODEL/VERSION[:PERCENT], e.g. churn/4:10.")
        ref: ModelRef = parse_model_ref(match["ref"])
        if ref.name != model:
            raise InvalidInput(
                f"{part!r} names the model {ref.name!r}, but this deployment serves {model!r}; "
                "every variant must be a version of the same model."
            )
        if ref.version is None:
            raise InvalidInput(
                f"{part!r} names no version; pin one, e.g. {model}/4"
                + (f" (not @{ref.alias})." if ref.alias else ".")
            )
        specs.append((ref.version, _weight(match["weight"], part)))
    versions = [v for v, _ in specs]
    if len(set(versions)) != len(versions):
        raise InvalidInput(f"{text!r} names a version twice; list each version once.")
    return specs


def plan_variants(
    model: str,
    strategy: Strategy,
    *,
    version: int | None = None,
    canary: str | None = None,
    ab: str | None = None,
    shadow: str | None = None,
) -> list[Variant]:
    """The variants of a deployment from the options a user typed (validated, weights summed)."""
    primary = Variant(version=version, weight=100.0)
    if strategy == "single":
        return [primary]
    if strategy == "canary":
        if not canary:
            raise InvalidInput("a canary needs a version and a share, e.g. --canary churn/4:10.")
        specs = parse_traffic(model, canary)
        if len(specs) != 1 or specs[0][1] is None:
            raise InvalidInput("--canary takes one version and its share, e.g. churn/4:10.")
        canary_version, weight = specs[0]
        assert weight is not None
        if weight >= 100:
            raise InvalidInput(
                "a canary's share must be below 100%; to move all traffic, deploy it."
            )
        if canary_version == version:
            raise InvalidInput(f"{model}/{canary_version} is already the primary version.")
        return [
            Variant(version=version, weight=100.0 - weight),
            Variant(version=canary_version, weight=weight),
        ]
    if strategy == "ab":
        if not ab:
            raise InvalidInput("an A/B test needs its variants, e.g. --ab churn/3:50,churn/4:50.")
        specs = parse_traffic(model, ab)
        if len(specs) < 2:
            raise InvalidInput(
                "an A/B test needs at least two versions, e.g. churn/3:50,churn/4:50."
            )
        given = [w for _, w in specs if w is not None]
        if given and len(given) != len(specs):
            raise InvalidInput("give every A/B variant a share, or none (equal shares).")
        weights = given or [100.0 / len(specs)] * len(specs)
        if given and abs(sum(weights) - 100.0) > 1e-6:
            raise InvalidInput(f"the A/B shares add up to {sum(weights):g}%, not 100%.")
        return [Variant(version=v, weight=w) for (v, _), w in zip(specs, weights, strict=True)]
    if not shadow:
        raise InvalidInput("a shadow deployment needs the shadow version, e.g. --shadow churn/4.")
    specs = parse_traffic(model, shadow)
    if any(w is not None for _, w in specs):
        raise InvalidInput(
            "a shadow gets a copy of every request: give no share (--shadow churn/4)."
        )
    if version is not None and any(v == version for v, _ in specs):
        raise InvalidInput(f"{model}/{version} is the live version; it cannot also be its shadow.")
    return [primary] + [Variant(version=v, weight=0.0, mode="shadow") for v, _ in specs]
