"""The report's sections about the model in operation: monitoring, flags, explanation, changes."""

from __future__ import annotations

from typing import Any

from relayml.reports import svg
from relayml.reports.text import Block, num, when

__all__ = ["changes", "explanation", "flags", "monitoring"]


def monitoring(f: dict[str, Any]) -> list[Block]:
    """Performance, KPIs and drift per day and environment, and the alerts."""
    blocks: list[Block] = []
    for env, m in sorted(f["monitoring"].items()):
        if "note" in m:
            blocks.append(("p", f"{env}: {m['note']}"))
            continue
        perf = m.get("performance", [])
        rows = [
            [
                when(w["start"])[:10],
                str(w["predictions"]),
                str(w["outcomes"]),
                ", ".join(f"{k} {v:.4g}" for k, v in w["metrics"].items()) or "-",
                ", ".join(f"{k} {v:.4g}" for k, v in w["estimated"].items()) or "-",
            ]
            for w in perf
        ]
        blocks.append(
            ("table", [f"{env}: day", "predictions", "outcomes", "measured", "estimated"], rows)
        )
        kpis = [
            [when(w["start"])[:10], str(w["outcomes"]),
             ", ".join(f"{k} {num(v.get('value'))}" for k, v in w["kpis"].items()) or "-"]
            for w in m.get("kpis", [])
        ]  # fmt: skip
        if kpis:
            blocks.append(("table", [f"{env}: KPIs by day", "outcomes", "KPIs"], kpis))
        acc = [
            (when(w["start"])[:10], w["metrics"]["accuracy"])
            for w in perf
            if "accuracy" in w["metrics"]
        ]
        if len(acc) > 1:
            blocks.append(("svg", svg.line(acc, f"{env}: accuracy per day")))
        drift = [
            [
                when(w["start"])[:10],
                str(w["rows"]),
                f"{w['share']:.0%}",
                ", ".join(w["drifted"]) or "-",
            ]
            for w in m.get("drift", [])
        ]
        if drift:
            blocks.append(
                (
                    "table",
                    [
                        f"{env}: drift vs {m.get('drift_reference')}",
                        "rows",
                        "share drifted",
                        "columns",
                    ],
                    drift,
                )
            )
        elif "drift_note" in m:
            blocks.append(("p", f"{env} drift: {m['drift_note']}"))
    alerts = [
        [str(a["id"]), a["rule"], a["severity"], a["status"], a["message"], when(a["opened_at"])]
        for a in f["alerts"]
    ]
    blocks.append(("table", ["alert", "rule", "severity", "status", "message", "opened"], alerts))
    return blocks or [("p", "Never monitored.")]


def flags(f: dict[str, Any]) -> list[Block]:
    """The experts' flags on predictions and how each was resolved."""
    rows = [
        [
            str(x["id"]),
            x["kind"],
            x["prediction_id"],
            x["comment"],
            x["created_by"],
            x["status"],
            x["resolution"] or "-",
            x["resolved_by"] or "-",
        ]
        for x in f["flags"]
    ]
    if not rows:
        return [("p", "No prediction of this model was flagged.")]
    opened = sum(1 for x in f["flags"] if x["status"] == "open")
    return [
        ("p", f"{len(rows)} flag(s), {opened} open."),
        (
            "table",
            ["flag", "kind", "prediction", "comment", "by", "status", "resolution", "resolved by"],
            rows,
        ),
    ]


def explanation(f: dict[str, Any]) -> list[Block]:
    """Global importance of each input, as bars and a table."""
    imp = f["importance"] or {}
    if "importance" not in imp:
        return [("p", f"No global explanation: {imp.get('note', 'not computed')}")]
    values = {k: float(v) for k, v in imp["importance"].items()}
    return [
        ("p", f"Mean absolute contribution of each input to the prediction, over {imp['data']}."),
        ("svg", svg.bars(values, "global importance")),
        ("table", ["input", "mean |contribution|"], [[k, num(v)] for k, v in values.items()]),
    ]


def changes(f: dict[str, Any]) -> list[Block]:
    """The audit entries about the model, with the chain's verification status."""
    found = f["changes"]
    rows = [
        [str(c["id"]), when(c["at"]), c["actor"], c["action"], c["entity"]]
        for c in found["entries"]
    ]
    chain = f["chain"]
    blocks: list[Block] = [
        ("p", chain["note"] if not chain["verified"] else f"audit chain verified: {chain['note']}")
    ]
    older = found["total"] - len(rows)
    if older > 0:
        blocks.append(
            (
                "p",
                f"The newest {len(rows):,} of {found['total']:,} entries; all of them: "
                f"relay audit export --out audit.jsonl.",
            )
        )
    blocks.append(("table", ["entry", "when", "who", "action", "entity"], rows))
    return blocks
