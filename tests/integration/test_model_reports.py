"""The model inventory and model risk reports, built from a real store: figures against the store.

One small project is built once with the SDK (datasets, runs, versions, evaluations by segment,
a policy, staging and production with a risk manager's approval, a deployment served in-process,
outcomes, a flag, alert rules) plus a second model that is promoted, rolled back and retired.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import relayml as relay
from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.domain.entities import AuditQuery
from relayml.errors import Conflict, InvalidInput
from relayml.reports.facts import fingerprint, gather

POLICY = """\
evaluation:
  dataset: holdout
environments:
  staging:
    checks:
      - metric: roc_auc
        min: 0.5
  production:
    requires: [staging]
    approvals:
      - role: risk_manager
        not_author: true
"""

ALERTS = """\
alerts:
  - name: any traffic
    model: churn
    env: production
    figure: traffic
    above: 0
    window: day
"""

FEATURES = ["tenure", "charges", "region"]


def customers(rows: int, seed: int) -> pd.DataFrame:
    """A deterministic table with a binary label and a region to segment by."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    charges = rng.normal(65, 20, rows).round(2)
    region = rng.choice(["north", "south"], rows)
    churned = (rng.random(rows) < 1 / (1 + np.exp(0.05 * tenure - 1))).astype(int)
    return pd.DataFrame(
        {"tenure": tenure, "charges": charges, "region": region, "churned": churned}
    )


def _fit(frame: pd.DataFrame, c: float) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [("num", StandardScaler(), ["tenure", "charges"]), ("cat", OneHotEncoder(), ["region"])]
    )
    model = Pipeline([("prep", prep), ("model", LogisticRegression(C=c, max_iter=300))])
    return model.fit(frame[FEATURES], frame["churned"])


def _serve_and_flag(home: Path, backend: Any, frame: pd.DataFrame) -> list[str]:
    """Serve churn@production in-process, answer rows, log outcomes, flag one, run monitors."""
    from fastapi.testclient import TestClient

    from relayml.serve.runner import ModelServer

    server = ModelServer(get_settings(home=home), backend, "churn", ["churn@production"])
    with TestClient(server.app) as client:
        for _ in range(600):  # the models load in the background
            if client.get("/v2/health/ready").status_code == 200:
                break
            time.sleep(0.1)
        answer = client.post("/predict", json={"instances": frame[FEATURES].to_dict("records")})
        answer.raise_for_status()
    server.close()
    ids: list[str] = answer.json()["prediction_ids"]
    backend.log_outcomes("churn", ids[:10], frame["churned"].tolist()[:10], model="churn")
    backend.flag_prediction("churn", ids[0], "unexpected", comment="loyal for years, check it")
    backend.set_alert_rules("churn", ALERTS)
    backend.run_monitors("churn")
    return ids


def build(home: Path) -> dict[str, Any]:
    """The project: churn (2 versions, v2 in production), legacy (rolled back, retired)."""
    relay.init(
        project="churn",
        home=home,
        user="ada",
        description="Predict which customers leave.",
        business_question="reduce customer churn by 10%",
        kpis=[{"name": "churn_rate", "unit": "%", "direction": "decrease", "target": -10.0}],
    )
    frame = customers(400, seed=3)
    relay.log_dataset("customers", frame)
    relay.log_dataset("holdout", customers(200, seed=5))
    relay.check_data("customers@latest", {"checks": [{"column": "tenure", "min": 0}]})
    backend = relay.get_backend()
    backend.add_member("churn", "ada", "data_scientist")
    backend.add_member("churn", "rita", "risk_manager")
    relay.set_policy(POLICY)
    for name, c in (("churn", 1.0), ("churn", 0.1), ("legacy", 1.0), ("legacy", 0.5)):
        with relay.start_run(experiment="baseline", name=f"{name}-{c}") as run:
            run.log_params({"C": c})
            run.log_model(
                _fit(frame, c),
                name,
                input_example=frame[FEATURES].head(5),
                description=f"Scores churn risk (C={c}); not for pricing decisions.",
                datasets=["customers"],
            )
    holdout = customers(200, seed=5)
    for ref in ("churn/1", "churn/2", "legacy/1", "legacy/2"):
        relay.evaluate(ref, holdout, "churned", by=["region"], dataset="holdout")
    rita = backend.with_actor("rita")
    relay.promote("churn/1", to="staging", reason="first try")
    relay.promote("churn/2", to="staging", reason="better")
    relay.promote("churn/2", to="production", reason="best on holdout")
    rita.decide_promotion("churn", "churn/2", "production", "approve", "gates pass")
    backend.deploy("churn", "churn", "production", "single", [_alias()], reason="go live")
    ids = _serve_and_flag(home, backend, customers(30, seed=9))
    # legacy: v1 then v2 in production, rolled back to v1, then retired
    for version in (1, 2):
        relay.promote(f"legacy/{version}", to="staging")
        relay.promote(f"legacy/{version}", to="production")
        rita.decide_promotion("churn", f"legacy/{version}", "production", "approve", "ok")
    relay.promote("legacy/1", to="production", reason="rollback: v2 misbehaved")
    rita.decide_promotion("churn", "legacy/1", "production", "approve", "roll back")
    return {"prediction_ids": ids}


def _alias() -> Any:
    from relayml.domain.serving import Variant

    return Variant(version=None, weight=100.0)


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalBackend, dict[str, Any]]]:
    home = tmp_path_factory.mktemp("reports") / "home"
    facts = build(home)
    backend = LocalBackend(get_settings(home=home, user="rita"))
    try:
        yield backend, facts
    finally:
        backend.close()
        relay.init(project="teardown", home=home.parent / "teardown")


def _entry(backend: LocalBackend, model: str) -> Any:
    (entry,) = [e for e in backend.inventory() if e.model == model]
    return entry


def test_inventory_after_promotions_a_rollback_and_a_retirement(built: Any) -> None:
    backend, _ = built
    churn = _entry(backend, "churn")
    assert churn.status == "production" and churn.environments == {"staging": 2, "production": 2}
    assert churn.owner == "ada" and churn.open_flags == 1 and churn.open_alerts == 1
    served = [(s.environment, s.version, s.until is None) for s in churn.served]
    assert served == [("staging", 1, False), ("staging", 2, True), ("production", 2, True)]
    evaluated = max(e.created_at for e in backend.list_evaluations("churn", "churn/2"))
    asked = max(p.requested_at for p in backend.model_history("churn", "churn").promotions)
    assert churn.last_validation == max(evaluated, asked)
    assert churn.risk_tier is None and churn.next_review_due is not None
    assert (churn.next_review_due - churn.last_validation).days == 90  # unrated: as high

    legacy = _entry(backend, "legacy")
    prod = [(s.version, s.until is None) for s in legacy.served if s.environment == "production"]
    assert prod == [(1, False), (2, False), (1, True)]  # v1, v2, then rolled back to v1
    assert legacy.environments == {"staging": 2, "production": 1}

    tiered = backend.set_risk_tier("churn", "legacy", "Low", "internal reporting only")
    assert tiered.risk_tier == "low" and tiered.risk_tier_set_by == "rita"
    assert (tiered.next_review_due - tiered.last_validation).days == 365
    retired = backend.retire_model("churn", "legacy", "replaced by churn")
    assert retired.status == "retired" and retired.environments == {}
    assert retired.retired_by == "rita" and retired.retired_reason == "replaced by churn"
    assert all(s.until is not None for s in retired.served) and not retired.review_overdue
    assert _entry(backend, "legacy").status == "retired"  # kept in the inventory
    assert backend.get_model("churn", "legacy").aliases == {}
    actions = [e.action for e in backend.list_audit(entity_id="churn/legacy")]
    assert actions[:2] == ["model.retire", "model.set_risk_tier"]
    with pytest.raises(Conflict, match="already retired"):
        backend.retire_model("churn", "legacy", "again")
    with pytest.raises(InvalidInput, match="unknown risk tier 'extreme'; use one of high"):
        backend.set_risk_tier("churn", "churn", "extreme", "why not")
    with pytest.raises(InvalidInput, match="needs a reason"):
        backend.set_risk_tier("churn", "churn", "high", " ")
    assert _entry(backend, "churn").risk_tier is None  # nothing half-written


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_report_of_the_production_version_holds_every_section(built: Any) -> None:
    backend, _ = built
    report = backend.build_model_report("churn", "churn")
    html = report.content
    assert report.version == 2 and report.format == "html"
    for anchor in ("purpose", "owners", "intended-use", "lineage", "data", "evaluation", "gates",
                   "timeline", "monitoring", "flags", "explanation", "changes"):  # fmt: skip
        assert f'<section id="{anchor}">' in html, anchor
    text = _text(html)
    assert "reduce customer churn by 10%" in text and "churn_rate" in text
    assert "not for pricing decisions" in text  # the version's description
    (evaluation,) = backend.list_evaluations("churn", "churn/2")
    assert f"{evaluation.metrics['roc_auc']:.4g}" in text
    recalls = {k: v["recall"] for k, v in evaluation.segments["region"].items()}
    gap = max(recalls.values()) - min(recalls.values())
    assert f"{gap:.4g}" in text  # the fairness gap of recall across regions
    (production,) = [
        p for p in backend.model_history("churn", "churn").promotions
        if p.environment == "production"
    ]  # fmt: skip
    assert "rita risk_manager approve" in " ".join(text.split())
    assert f"Promotion {production.id} to production: PROMOTED" in text
    assert "Version 2 has been in production." in text
    assert "customers@1" in text and "400 rows" in text  # lineage and data profile
    assert "loyal for years, check it" in text  # the expert's flag
    assert "any traffic" in text  # the alert
    assert "30" in text  # predictions served that day
    assert "audit chain verified:" in text and "head entry" in text
    assert "model.move_alias" in text and "report.create" not in text
    charts = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(charts) >= 2  # the timeline and the importance bars
    for chart in charts:  # well-formed SVG (no browser here: chromium may be missing)
        assert ElementTree.fromstring(chart).tag == "{http://www.w3.org/2000/svg}svg"
    lanes = ElementTree.fromstring(charts[0]).findall("{http://www.w3.org/2000/svg}rect")
    assert len(lanes) == 3  # staging v1, staging v2, production v2
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing fetched
    assert "<script" not in html and report.size < 2_000_000

    # stored: the blob is the file, the audit entry names the blob and the fingerprint
    assert hashlib.sha256(html.encode()).hexdigest() == report.sha256
    assert backend.blobs.get_bytes(report.sha256).decode() == html
    (entry,) = backend.list_audit(AuditQuery(kind="report.create", limit=1))
    assert entry.after == {"format": "html", "sha256": report.sha256, "size": report.size,
                           "fingerprint": report.fingerprint}  # fmt: skip
    # an auditor regenerates from the same rows: the same fingerprint
    again = backend.build_model_report("churn", "churn", fmt="md")
    assert again.fingerprint == report.fingerprint
    facts = gather(backend, backend.logs, backend.store, "churn", "churn", None)
    assert fingerprint(facts) == report.fingerprint
    assert "## Gates and approvals" in again.content and "| rita | risk_manager |" in again.content


def test_a_version_never_in_production_and_a_retired_model(built: Any) -> None:
    backend, _ = built
    first = backend.build_model_report("churn", "churn", version=1, fmt="md")
    assert "Version 1 was never in production (it has been in: staging)." in first.content
    if backend.get_model("churn", "legacy").aliases:
        backend.retire_model("churn", "legacy", "replaced by churn")
    retired = backend.build_model_report("churn", "legacy", fmt="md")
    assert retired.version == 2  # no environment left: the newest version
    assert "The model is retired: replaced by churn" in retired.content
    with pytest.raises(
        InvalidInput, match="unknown report format 'docx'; use one of html, md, pdf"
    ):
        backend.build_model_report("churn", "churn", fmt="docx")


def _fills(page: Any) -> set[str]:
    """The fill colours a PDF page paints with, as #rrggbb."""
    content = page.get_contents().get_data().decode("latin-1")
    found = re.findall(r"([\d.]+) ([\d.]+) ([\d.]+) rg", content)
    return {"#" + "".join(f"{round(float(c) * 255):02x}" for c in rgb) for rgb in found}


def test_the_pdf_report_holds_every_section_its_charts_and_the_chain_status(built: Any) -> None:
    from pypdf import PdfReader

    from relayml.reports import svg

    backend, _ = built
    backend.set_model_card("churn", "churn/2", intended_use="Rank customers for retention offers.")
    report = backend.build_model_report("churn", "churn", fmt="pdf")
    data = report.data()
    assert report.format == "pdf" and report.encoding == "base64" and data.startswith(b"%PDF-")
    assert hashlib.sha256(data).hexdigest() == report.sha256 and len(data) == report.size
    assert backend.blobs.get_bytes(report.sha256) == data  # the PDF is what is stored
    reader = PdfReader(io.BytesIO(data))
    assert (
        reader.metadata is not None
        and reader.metadata.title == "Model risk report: churn version 2"
    )
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    for heading in ("Purpose, business question and KPIs", "Owners and roles",
                    "Intended use and limitations", "Data lineage",
                    "Training data profile and data checks",
                    "Evaluation, segment metrics and fairness gap", "Gates and approvals",
                    "Environments over time", "Monitoring history",
                    "Expert flags and their resolution", "Global explanation",
                    "Change log (audit trail)"):  # fmt: skip
        assert heading in text, heading
    assert "Intended use: Rank customers for retention offers." in text
    assert "Version 2 has been in production." in text
    assert "audit chain verified:" in text and "head entry" in text
    assert f"page 1 of {len(reader.pages)}" in text  # the print stylesheet numbers the pages
    # the inline SVG charts are drawn: the timeline's lanes and the importance bars
    painted = set().union(*(_fills(page) for page in reader.pages))
    assert {svg._COLOURS["production"], svg._COLOURS["staging"]} <= painted
    assert "#5b7fa6" in painted  # the bars of the global importance
    (entry,) = backend.list_audit(AuditQuery(kind="report.create", limit=1))
    assert entry.after is not None and entry.after["format"] == "pdf"
    assert entry.after["sha256"] == report.sha256
