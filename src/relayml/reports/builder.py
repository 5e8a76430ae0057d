"""Build a model risk report, store it in the artifact store, and record what it was built from.

A stored report is a blob (by sha256) and an audit entry ``report.create`` naming the model,
version, format, the blob and the fingerprint of its inputs: an auditor builds the report again
and compares fingerprints (same store rows, same fingerprint).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from relayml.artifacts import BlobStore
from relayml.domain.ports import Backend
from relayml.domain.reports import InventoryEntry, ModelReport, check_format
from relayml.errors import InvalidInput
from relayml.governance import audit
from relayml.predictions import PredictionLogs
from relayml.reports.facts import chain_status, fingerprint, gather
from relayml.reports.pdf import html_to_pdf
from relayml.reports.render import render
from relayml.store import Store

__all__ = ["build_model_report", "inventory_document", "inventory_file"]


def build_model_report(
    backend: Backend,
    logs: PredictionLogs,
    store: Store,
    blobs: BlobStore,
    project: str,
    model: str,
    *,
    version: int | None = None,
    fmt: str = "html",
) -> ModelReport:
    """Build the report of a model version from the store, store it, and audit it."""
    check_format(fmt)
    facts = gather(backend, logs, store, project, model, version)
    digest = fingerprint(facts)
    facts["chain"] = chain_status(backend)
    now = datetime.now(UTC)
    content = render(facts, fmt, fingerprint=digest, built_by=backend.actor, now=now)
    data = html_to_pdf(content) if fmt == "pdf" else content.encode()
    sha256, size = blobs.put_bytes(data)
    number = int(facts["version"]["version"])
    with store.write() as conn:
        audit.record(
            conn,
            actor=backend.actor,
            action="report.create",
            entity_kind="report",
            entity_id=f"{project}/{model}/{number}",
            after={"format": fmt, "sha256": sha256, "size": size, "fingerprint": digest},
        )
    return ModelReport(
        project=project,
        model=model,
        version=number,
        format=fmt,
        sha256=sha256,
        size=size,
        fingerprint=digest,
        built_at=now,
        built_by=backend.actor,
        content=base64.b64encode(data).decode() if fmt == "pdf" else content,
        encoding="base64" if fmt == "pdf" else "utf-8",
    )


def _row(e: InventoryEntry) -> list[str]:
    def day(value: Any) -> str:
        return f"{value:%Y-%m-%d}" if value else "-"

    envs = ", ".join(f"{k} v{v}" for k, v in sorted(e.environments.items())) or "-"
    served = "; ".join(
        f"{s.environment} v{s.version} {s.days:.1f} d" + ("" if s.until else " (now)")
        for s in e.served
    )
    return [
        e.project, e.model, e.status, envs, e.owner or "-", e.risk_tier or "not set",
        day(e.last_validation), day(e.next_review_due) + (" OVERDUE" if e.review_overdue else ""),
        str(e.open_alerts), str(e.open_flags), served,
    ]  # fmt: skip


HEADERS = [
    "project", "model", "status", "environments", "owner", "risk tier", "last validation",
    "next review", "open alerts", "open flags", "served",
]  # fmt: skip


def inventory_file(entries: list[InventoryEntry], fmt: str, built_by: str) -> bytes:
    """The inventory as the bytes of an HTML, Markdown or PDF file."""
    check_format(fmt)
    if fmt == "pdf":
        return html_to_pdf(inventory_document(entries, "html", built_by))
    return inventory_document(entries, fmt, built_by).encode()


def inventory_document(entries: list[InventoryEntry], fmt: str, built_by: str) -> str:
    """The inventory as an HTML or Markdown document."""
    from relayml.reports.render import _html_block, _md_block

    check_format(fmt)
    now = datetime.now(UTC)
    title = "Model inventory"
    meta = (
        f"Every model ever in staging or production. Built {now:%Y-%m-%d %H:%M} UTC by {built_by}."
    )
    table = ("table", HEADERS, [_row(e) for e in entries])
    if fmt not in ("html", "md"):
        raise InvalidInput(f"the inventory document is html or md, not {fmt!r}.")
    if fmt == "md":
        return f"# {title}\n\n_{meta}_\n\n{_md_block(table)}\n"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body{{font-family:sans-serif}}table{{border-collapse:"
        "collapse}th,td{border:1px solid #ddd;padding:.25em .5em}</style></head><body>"
        f"<h1>{title}</h1><p>{meta}</p>{_html_block(table)}</body></html>\n"
    )
