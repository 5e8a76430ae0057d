"""The web pages' frame, in a real browser on the demo's data: signing in and out as each
person, each one's home page ("what needs my attention"), errors as pages, no console error, no
serious accessibility violation, a screenshot of every page visited."""

from __future__ import annotations

import re

import httpx

from tests.fixtures.net import loopback
from tests.fixtures.web import Browser, WebSite, axe_violations, shoot


def test_each_person_signs_in_sees_their_roles_work_and_signs_out(browser: Browser) -> None:
    site = browser.site
    for user, role in site.roles().items():
        page = browser.signed_in(user)
        assert page.locator("header .who").inner_text().startswith(user)
        board = page.locator("section.board").first
        title = {"ml_engineer": "ML engineer", "subject_matter_expert": "Subject-matter"}.get(
            role, role.replace("_", " ").capitalize()[:8]
        )
        assert title.lower() in board.locator("h2").inner_text().lower(), (user, role)
        assert board.locator("article.card").count() >= 1
        assert axe_violations(page) == [], user
        shoot(page, f"home-{role}")
        page.click("header .who button")
        page.wait_for_url(site.url + "/sign-in")
        page.goto(site.url + "/")
        assert page.locator("h1").inner_text() == "Sign in to relayml"  # the session is over
        page.context.close()
    assert browser.console_errors == []
    assert browser.failed_requests == []


def test_a_wrong_password_is_told_and_the_page_asked_for_comes_back_after_sign_in(
    browser: Browser,
) -> None:
    site = browser.site
    context = browser.browser.new_context()
    page = context.new_page()
    page.goto(site.url + "/projects/churn")
    assert page.locator("h1").inner_text() == "Sign in to relayml"
    page.fill("#user", "sam")
    page.fill("#password", "not-the-password")
    page.click("form.stack button[type=submit]")
    assert "wrong user name or password" in page.locator("p.error").inner_text()
    shoot(page, "sign-in-refused")
    page.fill("#user", "sam")
    page.fill("#password", site.passwords["sam"])
    page.click("form.stack button[type=submit]")
    page.wait_for_url(site.url + "/projects/churn")
    assert page.locator("h1").inner_text() == "churn"
    shoot(page, "project-churn")
    context.close()


def test_a_token_signs_in_too(browser: Browser) -> None:
    site = browser.site
    context = browser.browser.new_context()
    page = context.new_page()
    page.goto(site.url + "/sign-in")
    page.click("details summary")
    page.fill("#token", site.tokens["devon"])
    page.click("details button[type=submit]")
    page.wait_for_url(site.url + "/")
    assert page.locator("header .who").inner_text().startswith("devon")
    context.close()


def test_errors_are_pages_and_the_api_keeps_its_shape(web_site: WebSite) -> None:
    html = {"accept": "text/html"}
    anonymous = loopback.get(web_site.url + "/projects", headers=html)
    assert anonymous.status_code == 303  # a browser goes to the form, and comes back after
    assert anonymous.headers["location"] == "/sign-in?next=%2Fprojects"
    bare = loopback.get(web_site.url + "/projects")
    assert bare.status_code == 401 and "Sign in to relayml" in bare.text
    with web_site.api("sam") as sam:
        missing = sam.get("/projects/churn/nothing-here", headers=html)
        assert missing.status_code == 404 and "there is no page at" in missing.text
        elsewhere = sam.get("/projects/no-such-project")
        assert elsewhere.status_code == 404 and "no project" in elsewhere.text
        assert "<html" in elsewhere.text
        api = sam.get("/api/v1/projects/no-such-project")
        assert api.status_code == 404 and api.json()["error"]["code"] == "NOT_FOUND"
    page = loopback.get(web_site.url + "/sign-in")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert not re.search(r"<script>(?!\s*$)", page.text), "no inline script on any page"


def test_a_form_posted_with_the_session_but_without_its_csrf_token_is_refused(
    web_site: WebSite,
) -> None:
    with httpx.Client(base_url=web_site.url) as client:
        signed = client.post(
            "/sign-in", data={"user": "sam", "password": web_site.passwords["sam"], "next": "/"}
        )
        assert signed.status_code == 303 and "relay_session" in client.cookies
        refused = client.post("/sign-out", data={})
        assert refused.status_code == 403 and "CSRF" in refused.text
        token = re.search(r'data-csrf="([^"]+)"', client.get("/").text)
        assert token is not None
        out = client.post("/sign-out", data={"csrf_token": token.group(1)})
        assert out.status_code == 303 and out.headers["location"] == "/sign-in"
