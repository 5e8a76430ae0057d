"""The sections of a model risk report (SR 11-7, EU AI Act Annex IV), laid out from its facts.

A section is (anchor, title, blocks); a block is ("p", text), ("table", headers, rows) or
("svg", markup). render.py turns them into HTML or Markdown, so both formats say the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relayml.reports import svg
from relayml.reports.operations import changes, explanation, flags, monitoring
from relayml.reports.text import Block, Section, dt, num, spans, when

__all__ = ["Block", "Section", "sections"]

MAX_EARLIER = 20  # earlier model card texts shown (all of them: relay models card show --history)


def _purpose(f: dict[str, Any]) -> list[Block]:
    p, m, v = f["project"], f["model"], f["version"]
    kpis = [
        [k["name"], k["unit"], k["direction"], num(k["target"]), k["description"]]
        for k in p["kpis"]
    ]
    return [
        ("p", f"Project {p['name']}: {p['description'] or '(no description)'}"),
        ("p", f"Business question: {p['business_question'] or '(not stated)'}"),
        (
            "p",
            f"Model {m['name']}, version {v['version']} ({v['flavor']}, task "
            f"{v['signature']['task']}), registered by {v['created_by']} on "
            f"{when(v['created_at'])}. Versions of the model: {spans(f['versions'])}.",
        ),
        ("table", ["KPI", "unit", "direction", "target", "how it is judged"], kpis),
    ]


def _owners(f: dict[str, Any]) -> list[Block]:
    rows = [[user, ", ".join(roles)] for user, roles in sorted(f["members"].items())]
    tags = f["model"]["tags"]
    return [
        (
            "p",
            f"Project owner: {f['project']['owner'] or '-'}; model owner: "
            f"{f['model']['owner'] or '-'}; risk tier: {tags.get('relay.risk_tier', 'not set')}"
            + (
                f" ({tags['relay.risk_tier_reason']})" if tags.get("relay.risk_tier_reason") else ""
            ),
        ),
        ("table", ["member", "roles"], rows),
    ]


def _card(f: dict[str, Any]) -> list[Block]:
    v = f["version"]
    ref = f"{f['model']['name']}/{v['version']}"
    said = f"Description given at registration: {v['description'] or '(none)'}"
    card = f.get("card") or {}
    now = card.get("current")
    if not now:
        return [
            ("p", f"No model card was set for {ref}: nobody has stated its intended use and "
                  f"limitations (relay models card set {ref} --intended-use ... "
                  "--limitations ...)."),
            ("p", said),
        ]  # fmt: skip
    earlier = card["history"][:-1][::-1][:MAX_EARLIER]
    blocks: list[Block] = [
        ("p", f"Intended use: {now['intended_use'] or '(not stated)'}"),
        ("p", f"Limitations: {now['limitations'] or '(not stated)'}"),
        ("p", f"Set by {now['set_by']} on {when(now['set_at'])} (audit entry "
              f"{now['audit_id']}); {len(card['history'])} text(s) so far. {said}"),
    ]  # fmt: skip
    if earlier:
        rows = [
            [when(t["set_at"]), t["set_by"], t["intended_use"], t["limitations"]] for t in earlier
        ]
        blocks.append(("table", ["earlier text set", "by", "intended use", "limitations"], rows))
    return blocks


def _intended_use(f: dict[str, Any]) -> list[Block]:
    sig = f["version"]["signature"]
    inputs = [[c["name"], c["dtype"], "yes" if c["nullable"] else "no"] for c in sig["inputs"]]
    return [
        *_card(f),
        ("table", ["input", "type", "may be empty"], inputs),
        (
            "p",
            f"Outputs: {', '.join(c['name'] for c in sig['outputs'])}"
            + (f"; classes {sig['classes']}" if sig.get("classes") else ""),
        ),
        ("p", "Requirements: " + (", ".join(f["version"]["requirements"]) or "-")),
    ]


def _variant(x: dict[str, Any]) -> str:
    which = f"v{x['version']}" if x["version"] else "the alias"
    return f"{which} {x['weight']:g}% {x['mode']}"


def _lineage(f: dict[str, Any]) -> list[Block]:
    edges = [
        [f"{e['src_kind']} {e['src_key']}", e["relation"], f"{e['dst_kind']} {e['dst_key']}"]
        for e in f["lineage"]["edges"]
    ]
    deployed = [
        [
            d["environment"],
            d["strategy"],
            str(d["revision"]),
            ", ".join(_variant(x) for x in d["variants"]),
        ]
        for d in f["deployments"]
    ]
    run = f["run"]
    blocks: list[Block] = [("table", ["from", "relation", "to"], edges)]
    if run:
        blocks.append(
            (
                "p",
                f"Training run {run['name']} ({run['id']}) by {run['user']} on "
                f"{when(run['start_time'])}; params: "
                + ", ".join(f"{k}={v}" for k, v in sorted(run["params"].items())),
            )
        )
    blocks.append(("table", ["deployed in", "strategy", "revision", "variants"], deployed))
    return blocks


def _data(f: dict[str, Any]) -> list[Block]:
    if not f["data"]:
        return [("p", "The version was logged without its training datasets (datasets=[...]).")]
    blocks: list[Block] = []
    for d in f["data"]:
        if d.get("missing"):
            blocks.append(("p", f"Dataset {d['ref']}: not found in the store."))
            continue
        blocks.append(
            (
                "p",
                f"Dataset {d['ref']}: {d['rows']} rows, {d['columns']} columns, "
                f"content hash {d['content_hash'][:16]}..., source {d['source'].get('kind', '-')}",
            )
        )
        rows = [
            [
                name,
                c.get("type", ""),
                str(c.get("nulls", "")),
                num(c.get("min")),
                num(c.get("mean")),
                num(c.get("max")),
                num(c.get("distinct")),
            ]
            for name, c in d["profile"].items()
        ]
        blocks.append(
            ("table", ["column", "type", "nulls", "min", "mean", "max", "distinct"], rows)
        )
        checks = [
            [
                str(c["id"]),
                "passed" if c["passed"] else "FAILED",
                f"{c['count']} checks",
                ", ".join(c["failed"]) or "-",
                c["by"],
                when(c["at"]),
            ]
            for c in d["checks"]
        ]
        blocks.append(
            ("table", ["data check", "result", "size", "failed", "by", "when"], checks)
            if checks
            else ("p", "No data checks were recorded on this dataset version.")
        )
    return blocks


def _evaluation(f: dict[str, Any]) -> list[Block]:
    if not f["evaluations"]:
        return [("p", "This version has no evaluation.")]
    blocks: list[Block] = []
    for e in f["evaluations"]:
        blocks.append(
            (
                "p",
                f"On {e['dataset']} ({e['rows']} rows, target {e['target']}), by "
                f"{e['created_by']} on {when(e['created_at'])}:",
            )
        )
        blocks.append(
            ("table", ["metric", "value"], [[k, num(v)] for k, v in sorted(e["metrics"].items())])
        )
        for column, values in e["segments"].items():
            metrics = sorted({m for v in values.values() for m in v})
            rows = [[seg, *(num(v.get(m)) for m in metrics)] for seg, v in sorted(values.items())]
            blocks.append(("table", [f"segment: {column}", *metrics], rows))
        gaps = [
            [g["by"], g["metric"], num(g["gap"]), g["lowest"], g["highest"]] for g in e["fairness"]
        ]
        if gaps:
            blocks.append(
                ("table", ["fairness gap by", "metric", "gap", "lowest", "highest"], gaps)
            )
        if e["kpis"]:
            blocks.append(
                (
                    "table",
                    ["KPI", "value"],
                    [[k, num(v.get("value"))] for k, v in e["kpis"].items()],
                )
            )
    return blocks


def _gates(f: dict[str, Any]) -> list[Block]:
    mine = [p for p in f["promotions"] if p["version"] == f["version"]["version"]]
    if not mine:
        return [("p", "No promotion of this version was requested.")]
    blocks: list[Block] = []
    for p in mine:
        blocks.append(
            (
                "p",
                f"Promotion {p['id']} to {p['environment']}: {p['status']}; asked by "
                f"{p['requested_by']} on {when(p['requested_at'])} (policy revision "
                f"{p['policy_revision'] or '-'}), decided {when(p['decided_at'])}. "
                f"Reason: {p['reason'] or '-'}",
            )
        )
        gates = [
            [
                g["name"],
                "passed" if g["passed"] else "FAILED",
                num(g["figure"]),
                num(g["threshold"]),
                g["detail"],
            ]
            for g in p["gates"]
        ]
        if gates:
            blocks.append(("table", ["gate", "result", "figure", "threshold", "detail"], gates))
        approvals = [
            [a["user"], a["role"], a["decision"], when(a["at"]), a["comment"]]
            for a in p["approvals"]
        ]
        if approvals:
            blocks.append(("table", ["approver", "role", "decision", "when", "comment"], approvals))
    return blocks


def _timeline(f: dict[str, Any], now: datetime) -> list[Block]:
    events = f["timeline"]
    number = f["version"]["version"]
    held = [e for e in events if e["version"] == number]
    environments = sorted({e["alias"] for e in held})
    if "production" not in environments:
        where = ", ".join(environments) or "no environment"
        verdict = f"Version {number} was never in production (it has been in: {where})."
    else:
        verdict = f"Version {number} has been in production."
    stretches = [
        (
            e["alias"],
            e["version"],
            dt(e["assigned_at"]),
            dt(e["ended_at"]) if e["ended_at"] else None,
        )
        for e in events
    ]
    rows = [
        [
            e["alias"],
            f"v{e['version']}",
            when(e["assigned_at"]),
            when(e["ended_at"]) if e["ended_at"] else "now",
            e["assigned_by"],
            e["reason"],
        ]
        for e in events
    ]
    retired = f["model"]["tags"].get("relay.retired_at")
    blocks: list[Block] = [("p", verdict)]
    if retired:
        blocks.append(
            ("p", f"The model is retired: {f['model']['tags'].get('relay.retired_reason', '')}")
        )
    blocks += [
        ("svg", svg.timeline(stretches, now)),
        ("table", ["environment", "version", "from", "to", "by", "reason"], rows),
    ]
    return blocks


def sections(facts: dict[str, Any], now: datetime) -> list[Section]:
    """The report's sections in order, from its facts."""
    return [
        ("purpose", "Purpose, business question and KPIs", _purpose(facts)),
        ("owners", "Owners and roles", _owners(facts)),
        ("intended-use", "Intended use and limitations", _intended_use(facts)),
        ("lineage", "Data lineage", _lineage(facts)),
        ("data", "Training data profile and data checks", _data(facts)),
        ("evaluation", "Evaluation, segment metrics and fairness gap", _evaluation(facts)),
        ("gates", "Gates and approvals", _gates(facts)),
        ("timeline", "Environments over time", _timeline(facts, now)),
        ("monitoring", "Monitoring history", monitoring(facts)),
        ("flags", "Expert flags and their resolution", flags(facts)),
        ("explanation", "Global explanation", explanation(facts)),
        ("changes", "Change log (audit trail)", changes(facts)),
    ]
