"""The small filter language MLflow uses to search experiments and registered models:
``name = 'x'``, ``name LIKE '%x%'``, ``tags.k = 'v'``, joined by AND."""

from __future__ import annotations

import re

from relayml.api.mlflow.errors import MlflowError

__all__ = ["matches", "parse_filter"]

_NAME_FILTER = re.compile(
    r"^\s*(?:attributes\.|attribute\.|attr\.)?(name|run_id|source_run_id|tags?\.`?[\w.\-]+`?)\s*"
    r"(=|!=|LIKE|ILIKE)\s*(?:'((?:[^']|'')*)'|\"((?:[^\"]|\"\")*)\")\s*$",
    re.IGNORECASE,
)


def _like(pattern: str, text: str, case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, 0 if case else re.IGNORECASE) is not None


def matches(name: str, tags: dict[str, str], clauses: list[tuple[str, str, str]]) -> bool:
    """True when a name and tags satisfy every clause."""
    for field, op, value in clauses:
        if field.lower() in ("name", "run_id", "source_run_id"):
            actual: str | None = name if field.lower() == "name" else tags.get(field.lower())
        else:
            actual = tags.get(field.split(".", 1)[1].strip("`"))
        op = op.upper()
        if actual is None:
            if op == "!=":
                continue
            return False
        if (op == "=" and actual != value) or (op == "!=" and actual == value):
            return False
        if op in ("LIKE", "ILIKE") and not _like(value, actual, op == "LIKE"):
            return False
    return True


def parse_filter(text: str | None) -> list[tuple[str, str, str]]:
    """(field, op, value) clauses of a filter on name and tags; INVALID_PARAMETER_VALUE."""
    if not text or not text.strip():
        return []
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _NAME_FILTER.match(part)
        if match is None:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                f"unsupported filter {part!r}: relayml searches by "
                "name or tags.<key> with =, !=, LIKE or ILIKE, joined by AND.",
            )
        value = match.group(3) if match.group(3) is not None else match.group(4)
        clauses.append((match.group(1), match.group(2), value.replace("''", "'")))
    return clauses
