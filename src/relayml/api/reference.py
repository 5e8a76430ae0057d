"""The platform API's reference in Markdown, made from the app's OpenAPI schema and the action
each route declares (docs/api.md; `python scripts/api_reference.py` writes it, a test checks that
it is current).

Per operation: what it does, who may call it (the action and the project roles holding it), its
path and query parameters, its body's fields and its answers. The model server's routes are in
docs/serving.md; the MLflow-compatible routes in docs/mlflow.md.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI

from relayml.api.auth import declared_routes
from relayml.domain.permissions import ACTIONS, ADMIN_ONLY, PUBLIC, SIGNED_IN, roles_allowed

__all__ = ["reference_markdown"]

_METHODS = ("get", "post", "put", "patch", "delete")
_WHO = {
    PUBLIC: "anyone, no sign-in",
    SIGNED_IN: "any signed-in user",
    ADMIN_ONLY: "an administrator",
}
_INTRO = """\
# API reference

Made from the server's OpenAPI schema (`/openapi.json`, browsable at `/docs` on a running
`relay server`) by `python scripts/api_reference.py`; a test fails when this page is out of date.

Every call but the health routes and sign-in needs an identity: `Authorization: Bearer <token>`
(a personal token from `relay tokens create`) or the session cookie of the web pages. "Who" names
the action a route declares and the project roles that hold it (an administrator may take every
action; `relay roles` prints the whole table). Errors always have one shape,
`{"error": {"code": "...", "message": "..."}}`: 400/422 bad input (the message says what and how
to fix it), 401 no or bad identity, 403 a role without the action, 404 unknown name, 409 a
conflict with the current state, 413 a body over the size cap.
"""


def _ref_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if schema.get("type") == "array" and "items" in schema:
        return f"list of {_ref_name(schema['items'])}"
    if "anyOf" in schema:
        return " or ".join(_ref_name(s) for s in schema["anyOf"])
    return str(schema.get("type", "object"))


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        kinds = [_type(s) for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(kinds) or "null"
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "$ref" in schema:
        return _ref_name(schema)
    return str(schema.get("type", "any"))


def _fields(spec: dict[str, Any], name: str) -> list[str]:
    schema = spec.get("components", {}).get("schemas", {}).get(name, {})
    required = set(schema.get("required", ()))
    lines = []
    for field, prop in schema.get("properties", {}).items():
        need = ", required" if field in required else ""
        about = prop.get("description", "")
        lines.append(f"  - `{field}` ({_type(prop)}{need}){': ' + about if about else ''}")
    return lines


def _who(action: str | None, also: tuple[str, ...] = ()) -> str:
    if action is None:
        return "declares no action"
    if action in _WHO:
        return _WHO[action]
    roles = ", ".join(roles_allowed(action)) or "administrators only"
    said = f"`{action}` ({ACTIONS[action]}): {roles}"
    for lesser in also:  # the route checks which one its body needs
        said += f"; or `{lesser}` for {ACTIONS[lesser]}: {', '.join(roles_allowed(lesser))}"
    return said


def _operation(spec: dict[str, Any], method: str, path: str, op: dict[str, Any], who: str) -> str:
    lines = [f"### {method.upper()} `{path}`", ""]
    text = (op.get("description") or op.get("summary") or "").strip()
    if text:
        lines += [text.splitlines()[0], ""]
    lines.append(f"- **Who**: {who}")
    params = op.get("parameters", [])
    for where in ("path", "query"):
        found = [p for p in params if p.get("in") == where]
        if found:
            shown = ", ".join(
                f"`{p['name']}` ({_type(p.get('schema', {}))}"
                + (", required" if p.get("required") and where == "query" else "")
                + ")"
                for p in found
            )
            lines.append(f"- **{where.capitalize()}**: {shown}")
    body = op.get("requestBody", {}).get("content", {})
    for kind, content in body.items():
        name = _ref_name(content.get("schema", {}))
        lines.append(f"- **Body** ({kind}): `{name}`")
        lines += _fields(spec, name)
    answers = []
    for status, answer in sorted(op.get("responses", {}).items()):
        if status == "422" and answer.get("description") == "Validation Error":
            continue  # every route with input has it; said once in the introduction
        schema = answer.get("content", {}).get("application/json", {}).get("schema")
        what = f"`{_ref_name(schema)}`" if schema else answer.get("description", "")
        answers.append(f"{status} {what}".strip())
    if answers:
        lines.append(f"- **Answers**: {'; '.join(answers)}")
    return "\n".join(lines)


def reference_markdown(app: FastAPI) -> str:
    """The reference of every /api/v1 and health route of ``app``, grouped by tag."""
    spec = app.openapi()
    actions = {  # a route's {name:path} converter is {name} in the schema
        (r.method, re.sub(r"\{(\w+):\w+\}", r"{\1}", r.path)): (r.action, r.also)
        for r in declared_routes(app)
    }
    groups: dict[str, list[str]] = {}
    for path, operations in spec["paths"].items():
        if not (path.startswith("/api/v1") or path in ("/healthz", "/readyz")):
            continue
        for method in _METHODS:
            op = operations.get(method)
            if op is None:
                continue
            tag = (op.get("tags") or ["health"])[0]
            who = _who(*actions.get((method.upper(), path), (None, ())))
            groups.setdefault(tag, []).append(_operation(spec, method, path, op, who))
    contents = ", ".join(f"[{tag}](#{tag.replace(' ', '-')})" for tag in groups)
    parts = [_INTRO, f"Groups: {contents}.", ""]
    for tag, operations in groups.items():
        parts += [f"## {tag}", "", "\n\n".join(operations), ""]
    return "\n".join(parts).rstrip() + "\n"
