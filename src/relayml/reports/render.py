"""Model risk reports as one self-contained HTML file (inline CSS and SVG) or as Markdown."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from relayml.reports.sections import Block, sections

__all__ = ["render"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.meta{color:#555;font-size:.9em}nav a{margin-right:.8em}
@media print{nav{display:none}h2{break-after:avoid}figure,tr{break-inside:avoid}
thead{display:table-header-group}}
"""


def _title(facts: dict[str, Any]) -> str:
    return f"Model risk report: {facts['model']['name']} version {facts['version']['version']}"


def _html_block(block: Block) -> str:
    if block[0] == "p":
        return f"<p>{escape(str(block[1]))}</p>"
    if block[0] == "svg":
        return f"<figure>{block[1]}</figure>" if block[1] else ""
    headers, rows = block[1], block[2]
    if not rows:
        return f"<p><em>{escape(headers[0])}: none.</em></p>"
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block) -> str:
    if block[0] == "p":
        return str(block[1])
    if block[0] == "svg":
        return ""  # charts are in the HTML report; the tables carry the same figures
    headers, rows = block[1], block[2]
    if not rows:
        return f"_{headers[0]}: none._"
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(
    facts: dict[str, Any], fmt: str, *, fingerprint: str, built_by: str, now: datetime
) -> str:
    """The report of these facts in format html or md."""
    parts = sections(facts, now)
    title = _title(facts)
    meta = (
        f"Project {facts['project']['name']}. Built {now:%Y-%m-%d %H:%M} UTC by {built_by} "
        f"from the store; inputs fingerprint sha256 {fingerprint}."
    )
    if fmt == "md":
        out = [f"# {title}", "", f"_{meta}_", ""]
        for _, heading, blocks in parts:
            out += [f"## {heading}", ""]
            out += [text + "\n" for text in (_md_block(b) for b in blocks) if text]
        return "\n".join(out).rstrip() + "\n"
    nav = "".join(f'<a href="#{anchor}">{escape(heading)}</a>' for anchor, heading, _ in parts)
    body = "".join(
        f'<section id="{anchor}"><h2>{escape(heading)}</h2>'
        + "".join(_html_block(b) for b in blocks)
        + "</section>"
        for anchor, heading, blocks in parts
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="meta">{escape(meta)}</p><nav>{nav}</nav>'
        f"{body}</body></html>\n"
    )
