"""Feature references (customer:tenure, customer@2:tenure) and what changed between two specs."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from relayml.errors import InvalidInput

__all__ = ["FeatureRef", "diff_specs", "parse_feature_ref", "spec_hash"]

_STORED = ConfigDict(ser_json_inf_nan="strings", frozen=True)


def spec_hash(spec: dict[str, Any]) -> str:
    """sha256 of a spec's canonical JSON: the same definition, the same hash."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def diff_specs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What changed between two specs, one short line per field (features by name)."""
    changes: list[str] = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if key == "features":
            olds = {f["name"]: f for f in before or []}
            news = {f["name"]: f for f in after or []}
            changes += [f"+ feature {n}" for n in news if n not in olds]
            changes += [f"- feature {n}" for n in olds if n not in news]
            changes += [f"~ feature {n}" for n in news if n in olds and olds[n] != news[n]]
        else:
            changes.append(f"~ {key}: {_short(before)} -> {_short(after)}")
    return changes


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


class FeatureRef(BaseModel):
    """A parsed feature reference: customer:tenure, customer@2:tenure."""

    model_config = _STORED
    feature_set: str
    feature: str
    version: int | None = None

    def __str__(self) -> str:
        at = f"@{self.version}" if self.version is not None else ""
        return f"{self.feature_set}{at}:{self.feature}"


_REF = re.compile(r"^(?P<set>[A-Za-z0-9][A-Za-z0-9_\-.]*)(?:@(?P<v>\d+))?:(?P<f>[A-Za-z_]\w*)$")


def parse_feature_ref(text: str) -> FeatureRef:
    """Parse 'customer:tenure' or 'customer@2:tenure'; InvalidInput otherwise."""
    match = _REF.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"{text!r} is not a feature reference; write feature_set:feature (customer:tenure) "
            "or feature_set@version:feature (customer@2:tenure)."
        )
    version = match.group("v")
    return FeatureRef(
        feature_set=match.group("set"),
        feature=match.group("f"),
        version=int(version) if version else None,
    )
