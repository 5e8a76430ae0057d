"""The risk manager's, auditor's and architect's pages in a real browser on the demo's data:
the inventory and risk tiers, model risk reports built and downloaded, the audit log paged and
filtered with the chain verified on demand, and a project's resources."""

from __future__ import annotations

from relayml.backend import LocalBackend
from relayml.config import get_settings
from relayml.identity.tokens import create_token
from relayml.identity.users import add_user
from tests.fixtures.net import loopback
from tests.fixtures.web import Browser, WebSite, axe_violations, shoot


def _inventory(site: WebSite, user: str) -> dict[str, dict[str, object]]:
    with site.api(user) as api:
        found = api.get("/api/v1/inventory")
    assert found.status_code == 200, found.text
    return {f"{e['project']}/{e['model']}": e for e in found.json()}


def test_the_risk_manager_sets_a_tier_and_builds_and_downloads_a_report(browser: Browser) -> None:
    site = browser.site
    errors_before = len(browser.console_errors)
    page = browser.signed_in("rita")
    page.click("header nav a:text('Reports')")
    page.wait_for_url(site.url + "/reports")
    inventory = _inventory(site, "rita")
    rows = page.locator("table.inventory tbody tr")
    assert rows.count() == len(inventory) >= 1
    assert inventory["churn/churn"]["status"] in page.locator("#model-churn-churn").inner_text()
    assert axe_violations(page) == []
    shoot(page, "reports-risk-manager")

    card = page.locator("section.act", has_text="churn / churn")
    reason = "scores every customer; errors cost retention spend"
    card.locator("select[name=tier]").select_option("high")
    card.locator("form.tier-form input[name=reason]").fill(reason)
    with page.expect_navigation():
        card.locator("form.tier-form button").click()
    assert page.url == site.url + "/reports?done=tier", page.content()
    assert page.locator("p.notice").inner_text() == "The risk tier is set."
    entry = _inventory(site, "rita")["churn/churn"]
    assert (entry["risk_tier"], entry["risk_tier_reason"], entry["risk_tier_set_by"]) == (
        "high",
        reason,
        "rita",
    )
    assert reason in page.locator("#model-churn-churn").inner_text()

    stored = page.locator("table.reports tbody tr a[download]").count()
    card = page.locator("section.act", has_text="churn / churn")
    card.locator("select[name=format]").select_option("md")
    card.locator("form.report-form button").click()
    page.wait_for_url(site.url + "/reports?done=report#stored")
    reports = page.locator("table.reports tbody tr", has=page.locator("a[download]"))
    newest = reports.first
    assert "churn / churn" in newest.inner_text() and "md" in newest.inner_text()
    assert reports.count() == stored + 1 or reports.count() == 25
    fingerprint = newest.locator("code").get_attribute("title")
    with page.expect_download() as download:
        newest.locator("a[download]").click()
    text = download.value.path().read_text()
    assert fingerprint and fingerprint in text and "churn" in text
    shoot(page, "reports-built")
    page.context.close()
    assert browser.console_errors[errors_before:] == []


def test_only_those_allowed_see_the_forms_and_the_server_refuses_the_others(
    browser: Browser,
) -> None:
    site = browser.site
    expected = {"audrey": (0, 1), "sam": (0, 0), "rita": (1, 1)}  # (tier forms, report forms)
    for user, (tiers, builds) in expected.items():
        page = browser.signed_in(user)
        page.goto(site.url + "/reports")
        assert page.locator("h1").inner_text() == "Model inventory and reports"
        assert (page.locator("form.tier-form").count() >= 1) == bool(tiers), user
        assert (page.locator("form.report-form").count() >= 1) == bool(builds), user
        page.context.close()
    for user in ("sam", "audrey", "devon"):
        with site.api(user) as api:
            refused = api.post(
                "/reports/churn/churn/risk-tier",
                data={"tier": "low", "reason": "not mine to set"},
                headers={"accept": "text/html"},
            )
        assert refused.status_code == 403 and "Not allowed" in refused.text, user
    assert _inventory(site, "rita")["churn/churn"]["risk_tier"] != "low"
    with site.api("rita") as api:
        missing_reason = api.post("/reports/churn/churn/risk-tier", data={"tier": "low"})
        bad_tier = api.post(
            "/reports/churn/churn/risk-tier", data={"tier": "extreme", "reason": "why not"}
        )
        no_report = api.get(f"/reports/churn/churn/1/{'0' * 64}")
    assert missing_reason.status_code == 422 and "reason" in missing_reason.text
    assert bad_tier.status_code == 422 and "unknown risk tier" in bad_tier.text
    assert no_report.status_code == 404


def test_the_auditor_pages_filters_and_verifies_the_audit_log(browser: Browser) -> None:
    site = browser.site
    page = browser.signed_in("audrey")
    page.click("header nav a:text('Audit')")
    page.wait_for_url(site.url + "/audit")
    with site.api("audrey") as api:
        newest = api.get("/api/v1/audit", params={"limit": 25}).json()
    page.select_option("#f-size", "25")
    page.click("form.filters button")
    ids = [int(t) for t in page.locator("table.audit tbody tr td.num").all_inner_texts()]
    assert len(ids) == 25 and ids[0] >= newest[0]["id"] and ids == sorted(ids, reverse=True)
    page.click("a:text('Older entries')")
    older = [int(t) for t in page.locator("table.audit tbody tr td.num").all_inner_texts()]
    assert older and older[0] < ids[-1]
    assert axe_violations(page) == []

    page.fill("#f-actor", "rita")
    page.fill("#f-kind", "model.set_risk_tier")
    page.click("form.filters button")
    with site.api("audrey") as api:
        by_rita = api.get(
            "/api/v1/audit", params={"actor": "rita", "kind": "model.set_risk_tier"}
        ).json()
    rows = page.locator("table.audit tbody tr")
    if by_rita:
        assert rows.count() == len(by_rita)
        assert all("model.set_risk_tier" in t for t in rows.all_inner_texts())
    else:
        assert rows.first.inner_text() == "No entry matches."
    page.fill("#f-since", "2001-01-02")
    page.fill("#f-until", "2001-01-01")
    page.click("form.filters button")
    assert rows.first.inner_text() == "No entry matches."

    page.goto(site.url + "/audit")
    page.click("button:text('Verify the chain now')")
    result = page.locator("#verify-result .chain")
    result.wait_for()
    assert page.url == site.url + "/audit"  # htmx swapped the result in place
    with site.api("audrey") as api:
        verified = api.get("/api/v1/audit/verify").json()
    assert verified["ok"] and "The chain is intact." in result.inner_text()
    assert axe_violations(page) == []
    shoot(page, "audit-verified")
    page.context.close()
    with site.api("sam") as api:
        assert api.get("/audit", headers={"accept": "text/html"}).status_code == 403
    with site.api("audrey") as api:
        bad_day = api.get("/audit", params={"since": "yesterday"})
        bad_entity = api.get("/audit", params={"entity": ":x"})
    assert bad_day.status_code == 422 and "2026-12-02" in bad_day.text
    assert bad_entity.status_code == 422 and "KIND:ID" in bad_entity.text


def test_the_architect_sees_the_resources_of_a_project(browser: Browser) -> None:
    site = browser.site
    page = browser.signed_in("ari")
    page.goto(site.url + "/projects/churn")
    page.click("nav.areas a:text('Resources')")
    page.wait_for_url(site.url + "/projects/churn/resources")
    with site.api("ari") as api:
        overview = api.get("/api/v1/projects/churn/resources").json()
    text = page.locator("main").inner_text()
    for s in overview["serving"]:
        assert s["deployment"] in text
    for c in overview["compute"]:
        assert c["name"] in text
    if overview["compute"]:
        assert page.locator("svg.bars").count() >= 1
    assert axe_violations(page) == []
    shoot(page, "resources-architect")
    page.select_option("#days", "30")
    page.click("form.filters button")
    page.wait_for_url(site.url + "/projects/churn/resources?days=30")
    page.context.close()
    assert loopback.get(site.url + "/projects/churn/resources?days=0").status_code in (401, 422)


def test_an_administrator_disables_enables_and_sets_a_password(browser: Browser) -> None:
    site = browser.site
    admin = "webadmin"  # the demo has no administrator who signs in: one, on the site's store
    backend = LocalBackend(get_settings(home=site.home, monitor_interval=0))
    try:
        add_user(backend.store, "test", admin, admin=True, password="an-admins-passphrase-7")
        site.tokens[admin] = create_token(backend.store, "test", admin, "web")[1]
    finally:
        backend.close()
    site.passwords[admin] = "an-admins-passphrase-7"
    with site.api(admin) as api:
        made = api.post("/api/v1/users", json={"name": "webtemp", "email": "t@example.org"})
    assert made.status_code == 201, made.text
    page = browser.signed_in(admin)
    page.click("header nav a:text('Users')")
    page.wait_for_url(site.url + "/admin/users")
    with site.api(admin) as api:
        users = api.get("/api/v1/users").json()
    assert page.locator("table.users tbody tr").count() == len(users)
    row = page.locator("#user-webtemp")
    assert "tokens only" in row.inner_text() and "active" in row.inner_text()
    assert axe_violations(page) == []
    shoot(page, "admin-users")

    row.locator("button:text('Disable')").click()
    page.wait_for_url(site.url + "/admin/users?done=disabled")
    with site.api(admin) as api:
        assert api.get("/api/v1/users/webtemp").json()["disabled_at"] is not None
    page.locator("#user-webtemp button:text('Enable')").click()
    page.wait_for_url(site.url + "/admin/users?done=enabled")
    with site.api(admin) as api:
        assert api.get("/api/v1/users/webtemp").json()["disabled_at"] is None

    row = page.locator("#user-webtemp")
    row.locator("summary").click()
    row.locator("input[name=password]").fill("a-long-enough-passphrase-42")
    row.locator("input[name=again]").fill("a-long-enough-passphrase-42")
    row.locator("form.stack button").click()
    page.wait_for_url(site.url + "/admin/users?done=password")
    assert "password" in page.locator("#user-webtemp").inner_text()
    page.context.close()
    site.passwords["webtemp"] = "a-long-enough-passphrase-42"
    try:
        newcomer = browser.signed_in("webtemp")  # the new password signs in
        assert newcomer.locator("header .who").inner_text().startswith("webtemp")
        assert newcomer.locator("header nav a:text('Users')").count() == 0
        newcomer.context.close()
    finally:
        del site.passwords["webtemp"]
    with site.api("rita") as api:
        refused = api.get("/admin/users", headers={"accept": "text/html"})
        refused_post = api.post("/admin/users/webtemp/disable", headers={"accept": "text/html"})
    assert refused.status_code == 403 and "Not allowed" in refused.text
    assert refused_post.status_code == 403
    with site.api(admin) as api:
        differ = api.post("/admin/users/webtemp/password", data={"password": "x1", "again": "x2"})
        myself = api.post(f"/admin/users/{admin}/disable")
    assert differ.status_code == 422 and "differ" in differ.text
    assert myself.status_code == 422 and "yourself" in myself.text
