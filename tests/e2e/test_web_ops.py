"""The models, deployments, monitoring, predictions and feedback pages in a real browser on the
demo's data: the risk manager approves a production promotion the data scientist asked for, the
subject-matter expert flags a prediction and finds it in the triage, other roles see no approve
button and are refused if they post the form anyway; no console error, axe clean, screenshots."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx

import relayml as relay
from relayml.predictions import PredictionLogs
from relayml.predictions.ids import new_prediction_ids
from relayml.predictions.layout import deployment_partition
from tests.fixtures.web import Browser, WebSite, axe_violations, shoot

PROJECT = "churn"


def _checked(page: Any, name: str) -> None:
    assert axe_violations(page) == [], name
    shoot(page, name)


def _session(site: WebSite, user: str) -> tuple[httpx.Client, str]:
    """A signed-in HTTP session of ``user`` (cookie) and its CSRF token, as a browser has."""
    client = httpx.Client(base_url=site.url, timeout=30)
    signed = client.post(
        "/sign-in", data={"user": user, "password": site.passwords[user], "next": "/"}
    )
    assert signed.status_code == 303
    token = re.search(r'data-csrf="([^"]+)"', client.get("/").text)
    assert token is not None
    return client, token.group(1)


def _pending_production(site: WebSite) -> int:
    """A version waiting for the risk manager's approval into production: when there is none
    yet, the data scientist registers the production model again as a new version (the same
    predictions, so the same gates pass), evaluates it and asks for staging, then production."""
    with site.api(site.data_scientist) as ds:
        history = ds.get(f"/api/v1/projects/{PROJECT}/models/churn/history").json()
        for promo in history["promotions"]:
            if promo["status"] == "PENDING_APPROVAL" and promo["environment"] == "production":
                return int(promo["version"])
        relay.init(project=PROJECT, home=site.home)  # the data scientist: who ran the demo
        holdout = relay.load_dataset("customers_holdout@latest")
        inputs = holdout.drop(columns=["churned"])
        native = relay.load_model("churn@production").native
        with relay.start_run(experiment="web-test", name="repackaged") as run:
            version = run.log_model(native, "churn", input_example=inputs.head(5))
        relay.evaluate(version.ref, holdout, "churned", by=["region"], dataset="customers_holdout")
        relay.flush()
        for env in ("staging", "production"):
            asked = ds.post(
                f"/api/v1/projects/{PROJECT}/promotions",
                json={"ref": version.ref, "environment": env, "reason": "web test"},
            )
            assert asked.status_code == 200, asked.text
        assert asked.json()["status"] == "PENDING_APPROVAL", asked.text
        return int(version.version)


def test_the_risk_manager_approves_and_nobody_else_can(browser: Browser) -> None:
    site = browser.site
    version = _pending_production(site)
    where = f"{site.url}/projects/{PROJECT}/models/churn/{version}"
    for user in ("devon", "sofia", "sam"):  # devops, software engineer, subject-matter expert
        page = browser.signed_in(user)
        page.goto(where)
        assert "risk_manager" in page.locator("article.pending .waiting").inner_text()
        assert page.locator("button.approve").count() == 0, user
        page.context.close()
    sofia, token = _session(site, "sofia")  # not even promotion.decide: the route refuses
    refused = sofia.post(
        where.removeprefix(site.url) + "/decide",
        data={"csrf_token": token, "environment": "production", "decision": "approve"},
    )
    assert refused.status_code == 403
    devon, token = _session(site, "devon")  # promotion.decide, but not into production
    refused = devon.post(
        where.removeprefix(site.url) + "/decide",
        data={"csrf_token": token, "environment": "production", "decision": "approve"},
    )
    assert refused.status_code == 403 and "may not" in refused.text
    assert '<p class="error" role="alert">' in refused.text  # a page with the notice, no 500
    mine, token = _session(site, site.data_scientist)  # the author: the service refuses
    refused = mine.post(
        where.removeprefix(site.url) + "/decide",
        data={"csrf_token": token, "environment": "production", "decision": "approve"},
    )
    assert refused.status_code == 403 and "logged" in refused.text
    for client in (sofia, devon, mine):
        client.close()

    page = browser.signed_in("rita")
    page.goto(f"{site.url}/projects/{PROJECT}/models")
    _checked(page, "models-list")
    page.click("table a[href='/projects/churn/models/churn']")
    assert page.locator("h1").inner_text() == "churn"
    assert page.locator("svg.timeline").count() == 1
    _checked(page, "models-model")
    page.goto(where)
    assert page.locator("figure.graph svg").count() == 1  # the lineage, drawn by dagre
    assert "gap" in page.locator("table.segments").first.inner_text()
    _checked(page, "models-version-pending")
    assert page.locator("form.decide input[name=csrf_token]").get_attribute("value")
    page.fill("textarea[name=comment]", "gates pass; approved in the browser")
    page.click("button.approve")
    page.wait_for_url(re.compile(r".*\?done=approve$"))
    assert page.locator("p.notice").inner_text() == "Approved."
    assert page.locator("article.pending").count() == 0
    shoot(page, "models-version-approved")
    with site.api("rita") as rita:
        model = rita.get(f"/api/v1/projects/{PROJECT}/models/churn").json()
        assert model["aliases"]["production"] == version
        audit = rita.get("/api/v1/audit", params={"actor": "rita", "limit": 20}).json()
        assert any("approved in the browser" in str(e) for e in audit)
    assert page.locator("form.request").count() == 0  # rita may not request promotions
    page.context.close()
    page = browser.signed_in(site.data_scientist)  # asks again: the refusal is on the page
    page.goto(where)
    page.select_option("#environment", "production")
    page.fill("#reason", "once more")
    before = len(browser.console_errors)
    page.click("form.request button")
    assert f"churn/{version} is already in production" in page.locator("p.error").inner_text()
    told = browser.console_errors[before:]  # the browser notes the answer's status, 409
    assert all("409" in line for line in told), told
    del browser.console_errors[before:]
    shoot(page, "models-version-refused")
    page.context.close()
    assert browser.console_errors == []


def test_the_expert_flags_a_prediction_and_finds_it_in_the_triage(browser: Browser) -> None:
    site = browser.site
    page = browser.signed_in("sam")
    page.goto(f"{site.url}/projects/{PROJECT}/predictions")
    rows = page.locator("table.predictions tbody tr")
    assert rows.count() == 50  # a bounded page of the latest
    _checked(page, "predictions-list")
    page.click("a[rel=next]")
    assert page.locator("table.predictions tbody tr").count() == 50
    older = page.locator("table.predictions tbody tr a").first.inner_text()
    page.go_back()
    chosen = page.locator("table.predictions tbody tr a").nth(3).inner_text()
    assert chosen != older
    page.fill("#find-id", chosen)  # found by its id, as the CRM got it from the API
    page.click("form.find button")
    assert chosen in page.locator("h1").inner_text()
    with site.api("sam") as sam:
        record = sam.get(f"/api/v1/projects/{PROJECT}/predictions/{chosen}").json()
    assert page.locator("dd.decision").inner_text() == record["decision"]
    assert page.locator("svg.bars rect").count() == len(record["inputs"])  # the explanation
    _checked(page, "prediction")
    page.check("#kind-wrong")
    page.fill("#flag-comment", "this customer renewed for two years")
    page.select_option("#correct-value", "0")
    page.click("form.flag button[type=submit]")
    page.wait_for_url(re.compile(r".*\?done=flagged$"))
    assert "feedback triage" in page.locator("p.notice").inner_text()
    assert "this customer renewed" in page.locator("ul.flags").inner_text()
    page.goto(f"{site.url}/projects/{PROJECT}/feedback")
    row = page.locator("table.flags tr", has_text="this customer renewed")
    assert row.count() == 1 and chosen in row.inner_text()
    _checked(page, "feedback-triage")
    with site.api("sam") as sam:
        flags = sam.get(f"/api/v1/projects/{PROJECT}/feedback").json()
        flag = next(f for f in flags if f["comment"] == "this customer renewed for two years")
        assert flag["kind"] == "wrong" and flag["correct_value"] == 0
    page.fill(f"#resolution-{flag['id']}", "outcome recorded; model retrained next month")
    page.click(f"#flag-{flag['id']} button")
    page.wait_for_url(re.compile(r".*\?done=resolved$"))
    assert page.locator(f"#flag-{flag['id']}").count() == 0  # no longer open
    page.goto(f"{site.url}/projects/{PROJECT}/feedback?status=resolved")
    assert "model retrained next month" in page.locator(f"#flag-{flag['id']}").inner_text()
    page.context.close()

    sofia, token = _session(site, "sofia")  # no feedback.flag: no form, and the post is refused
    text = sofia.get(f"/projects/{PROJECT}/predictions/{chosen}").text
    assert "form.flag" not in text and 'class="stack flag"' not in text
    refused = sofia.post(
        f"/projects/{PROJECT}/predictions/{chosen}/flag",
        data={"csrf_token": token, "kind": "wrong", "comment": "x"},
    )
    assert refused.status_code == 403
    bad, token = _session(site, "sam")  # a right answer that is not one of the classes
    told = bad.post(
        f"/projects/{PROJECT}/predictions/{chosen}/flag",
        data={"csrf_token": token, "kind": "wrong", "correct_value": "maybe"},
    )
    assert told.status_code == 422 and "not one of the model&#39;s classes" in told.text
    sofia.close()
    bad.close()
    assert browser.console_errors == []


def test_deployments_monitoring_and_each_role_s_home(browser: Browser) -> None:
    site = browser.site
    with site.api("devon") as devon:
        model = devon.get(f"/api/v1/projects/{PROJECT}/models/churn").json()
    page = browser.signed_in("devon")
    page.goto(f"{site.url}/projects/{PROJECT}/deployments")
    row = page.locator("table.deployments tbody tr", has_text="churn in production")
    assert row.count() == 1
    assert int(row.locator("td.num").first.inner_text().replace(",", "")) >= 0
    _checked(page, "deployments-list")
    page.click("text=churn in production")
    assert page.locator("h1").inner_text() == "churn in production"
    facts = page.locator("dl.facts").inner_text()
    assert f"v{model['aliases']['production']}" in facts
    assert "requests" in page.locator("p.health").inner_text()
    assert page.locator("figure.chart .uplot").count() == 2
    assert "A/B" in page.locator("h2", has_text="A/B").inner_text()
    _checked(page, "deployments-deployment")
    page.goto(f"{site.url}/projects/{PROJECT}/monitoring")
    kpis = page.locator("ul.kpis-now").inner_text()
    assert "EUR of the 15,000 target" in kpis  # revenue_saved, in business terms
    assert page.locator("table.heat tbody tr").count() == 5  # one row per input
    assert page.locator("figure.chart .uplot").count() >= 2
    _checked(page, "monitoring")
    page.context.close()

    with site.api("devon") as devon:  # an A/B test in production while the homes are seen
        versions = devon.get(f"/api/v1/projects/{PROJECT}/models/churn/versions").json()
        history = devon.get(f"/api/v1/projects/{PROJECT}/models/churn/history").json()
        staged = {  # the policy's canary rule: an A/B challenger has been in staging
            p["version"]
            for p in history["promotions"]
            if p["environment"] == "staging" and p["status"] == "PROMOTED"
        }
        other = next(
            v["version"]
            for v in versions
            if v["version"] != model["aliases"]["production"] and v["version"] in staged
        )
        ab = devon.put(
            f"/api/v1/projects/{PROJECT}/models/churn/deployments/production",
            json={"strategy": "ab", "reason": "web test",
                  "variants": [{"version": None, "weight": 50}, {"version": other, "weight": 50}]},
        )  # fmt: skip
        assert ab.status_code == 200, ab.text
    try:
        _ab_test_is_shown_and_only_deployers_may_ship_a_winner(browser, other)
        _each_role_s_home(browser)
        _the_winner_is_shipped(browser, model["aliases"]["production"], other)
    finally:
        with site.api("devon") as devon:  # back to one version following the alias
            back = devon.put(
                f"/api/v1/projects/{PROJECT}/models/churn/deployments/production",
                json={"strategy": "single", "variants": [{"version": None, "weight": 100}]},
            )
            assert back.status_code == 200, back.text
    assert browser.console_errors == []
    assert browser.failed_requests == []


def _ab_test_is_shown_and_only_deployers_may_ship_a_winner(browser: Browser, other: int) -> None:
    site = browser.site
    page = browser.signed_in("devon")
    page.goto(f"{site.url}/projects/{PROJECT}/deployments/churn/production")
    assert "ab" in page.locator("dl.facts").inner_text()
    assert f"v{other}" in page.locator("table", has_text="Traffic").first.inner_text()
    verdict = page.locator("p.verdict").inner_text()
    assert verdict  # no winner yet on the demo's outcomes: no button
    assert page.locator("form.promote-winner").count() == 0
    shoot(page, "deployments-ab")
    page.context.close()
    sofia, token = _session(site, "sofia")
    path = f"/projects/{PROJECT}/deployments/churn/production/promote-winner"
    assert sofia.post(path, data={"csrf_token": token}).status_code == 403
    devon, token = _session(site, "devon")
    told = devon.post(path, data={"csrf_token": token})
    assert told.status_code == 422 and "no winner" in told.text  # said on the page, not a 500
    sofia.close()
    devon.close()


def _the_winner_is_shipped(browser: Browser, holder: int, other: int) -> None:
    """Answers of both variants are logged as a model server logs them (the alias's version
    right, the challenger wrong) with their outcomes; DevOps ships the winner from the page."""
    site = browser.site
    logs = PredictionLogs(str(site.home / "artifacts"))
    now = int(time.time() * 1000)
    ids = {v: new_prediction_ids(300, now) for v in (holder, other)}  # as the server makes them
    with logs.writer("predictions") as log:
        for version, right in ((holder, True), (other, False)):
            log.append(deployment_partition(PROJECT, "churn-production"), {
                "timestamp": [now + i for i in range(300)],
                "prediction_id": ids[version],
                "model": ["churn"] * 300,
                "version": [version] * 300,
                "variant": [f"v{version}"] * 300,
                "mode": ["live"] * 300,
                "latency_ms": [5.0] * 300,
                "prediction": [(i % 2) if right else 1 - (i % 2) for i in range(300)],
            })  # fmt: skip
    every = ids[holder] + ids[other]
    logs.log_outcomes(PROJECT, every, [i % 2 for i in range(300)] * 2, model="churn",
                      source="test")  # fmt: skip
    page = browser.signed_in("devon")
    page.goto(f"{site.url}/projects/{PROJECT}/deployments/churn/production")
    assert f"Winner: v{holder}" in page.locator("p.verdict").inner_text()
    assert "p-value" in page.locator("table", has_text="p-value").inner_text()
    shoot(page, "deployments-ab-winner")
    page.click("form.promote-winner button")
    page.wait_for_url(re.compile(r".*\?done=shipped$"))
    assert "serves all the traffic" in page.locator("p.notice").inner_text()
    with site.api("devon") as devon:
        now_serving = devon.get(
            f"/api/v1/projects/{PROJECT}/models/churn/deployments/production"
        ).json()
        assert now_serving["strategy"] == "single"
        assert now_serving["updated_by"] == "devon"  # the signed-in person, audited as such
    page.context.close()


def _each_role_s_home(browser: Browser) -> None:
    site = browser.site
    for user, title in (
        ("sam", "KPIs against their targets"),
        ("devon", "Deployments and their health"),
        ("sofia", "Endpoints"),
        (site.data_scientist, "A/B tests running"),
    ):
        page = browser.signed_in(user)
        card = page.locator("article.card", has_text=title)
        assert card.count() >= 1, (user, title)
        if user == "sam":
            assert "EUR" in card.first.inner_text()
        if user == "sofia":
            assert card.first.locator("a[href='/docs']").count() == 1
        if user == site.data_scientist:
            assert "churn in production: ab" in card.first.inner_text()
        shoot(page, f"home-ops-{user}")
        page.context.close()


def test_bad_addresses_answer_pages_not_errors(web_site: WebSite) -> None:
    with web_site.api("sam") as sam:
        html = {"accept": "text/html"}
        for path, code in (
            (f"/projects/{PROJECT}/models/churn/not-a-number", 404),
            (f"/projects/{PROJECT}/models/churn/999", 404),
            (f"/projects/{PROJECT}/models/nothing", 404),
            (f"/projects/{PROJECT}/deployments/churn/development", 404),
            (f"/projects/{PROJECT}/deployments/churn/qa", 422),
            (f"/projects/{PROJECT}/predictions?deployment=nothing-here", 200),
            (f"/projects/{PROJECT}/predictions?cursor=garbage", 200),
            (f"/projects/{PROJECT}/monitoring?window=fortnight", 200),
            (f"/projects/{PROJECT}/feedback?status=whatever&page=-3&size=100000", 200),
        ):
            answer = sam.get(path, headers=html)
            assert answer.status_code == code, (path, answer.text[:300])
            assert "<html" in answer.text
        told = sam.get(f"/projects/{PROJECT}/predictions?cursor=garbage", headers=html).text
        assert "cursor" in told and "not valid" in told


DEMO_ALERTS = """\
alerts:
  - {name: inputs drift, model: churn, env: production, figure: drift_share, above: 0.3,
     window: day, severity: warning}
  - {name: no traffic, model: churn, figure: traffic, below: 1, window: hour}
"""
BUSY = (
    "alerts:\n  - {name: busy, model: churn, env: production, figure: traffic, above: 0, "
    "window: day}\n"
)


def test_devops_acknowledges_an_alert_the_expert_cannot(browser: Browser) -> None:
    site = browser.site
    with site.api("devon") as devon:  # a rule the demo's traffic fires, evaluated now
        assert (
            devon.put(f"/api/v1/projects/{PROJECT}/alerts/rules", json={"source": BUSY}).status_code
            == 200
        )
        assert devon.post(f"/api/v1/projects/{PROJECT}/monitors/run").status_code == 200
        events = devon.get(f"/api/v1/projects/{PROJECT}/alerts").json()
    try:
        busy = next(e for e in events if e["rule"] == "busy" and e["status"] == "open")
        page = browser.signed_in("sam")
        page.goto(f"{site.url}/projects/{PROJECT}/monitoring")
        row = page.locator(f"#alert-{busy['id']}")
        assert "busy" in row.inner_text() and row.locator("button").count() == 0
        page.context.close()
        page = browser.signed_in("devon")
        page.goto(f"{site.url}/projects/{PROJECT}/monitoring")
        page.click(f"#alert-{busy['id']} button")
        page.wait_for_url(re.compile(r".*\?done=acknowledged(#alerts)?$"))
        assert "acknowledged by devon" in page.locator(f"#alert-{busy['id']}").inner_text()
        shoot(page, "monitoring-alert-acknowledged")
        page.context.close()
        with site.api("devon") as devon:
            events = devon.get(f"/api/v1/projects/{PROJECT}/alerts").json()
            done = next(e for e in events if e["id"] == busy["id"])
            assert done["status"] == "acknowledged" and done["acknowledged_by"] == "devon"
    finally:
        with site.api("devon") as devon:  # the demo's rules again
            put = devon.put(
                f"/api/v1/projects/{PROJECT}/alerts/rules", json={"source": DEMO_ALERTS}
            )
            assert put.status_code == 200
    assert browser.console_errors == []
