"""Every person, every page they can reach: a crawl from the home page and the navigation.

For each demo person: sign in, follow every same-origin link breadth-first (each page route
once, whatever its ids; no sign-out, static files, API, downloads or API docs), and check that
each page answers 200, or 403 with the "Not allowed" page; that no console error or failed
request happened; that axe-core finds no serious or critical violation; that every form field
has a label. A screenshot of each is saved as test-results/web/<role>-<page>.png. The pages are
found by their links, not from a list, so areas added later are crawled too.

Then the keyboard: Tab from the top reaches the skip link, then the navigation, then the page's
content. And every page route, called by each person whose role lacks its action, answers the
403 page (never a 500), while those who hold it are let through.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any
from urllib.parse import urljoin, urlsplit

from starlette.routing import Route

import relayml.api  # noqa: F401  # before relayml.web.pages: the app imports the pages
from relayml.domain.permissions import allowed
from relayml.web.pages import ROUTERS
from tests.fixtures.web import Browser, WebSite, axe_violations, shoot
from tests.integration.test_route_permissions import WEB_PAGES

PAGES_PER_PERSON = 60
SKIPPED = ("/sign-out", "/sign-in", "/static/", "/api/", "/ajax-api/", "/auth/", "/docs",
           "/redoc", "/openapi.json", "/healthz", "/readyz", "/metrics", "/v2")  # fmt: skip
ROUTES = [r for router in ROUTERS for r in router.routes if isinstance(r, Route)]
# Every field the pages draw must have a label (hidden fields and buttons are not fields).
UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => !['hidden', 'submit', 'button', 'reset'].includes(e.type))
  .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')
               && !e.getAttribute('aria-labelledby'))
  .map(e => e.outerHTML.slice(0, 120))"""
LINKS = """() => Array.from(document.querySelectorAll('a[href]'))
  .filter(a => !a.hasAttribute('download'))
  .map(a => new URL(a.getAttribute("href"), document.baseURI).href)"""  # SVG <a> too


def template_of(path: str) -> str | None:
    """The page route serving ``path`` (its template, e.g. /projects/{project}), or None."""
    for route in ROUTES:
        if "GET" in (route.methods or ()) and route.path_regex.match(path):
            return route.path
    return None


def _slug(template: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", template.lower()).strip("-") or "home"


# What a page draws for a person: its route, its answer, and the forms, buttons and fields on it.
SHAPE = """() => Array.from(document.querySelectorAll('form, input, select, textarea, button'))
  .map(e => e.tagName + (e.getAttribute('action') || '') + (e.getAttribute('name') || ''))
  .join('|')"""


def _crawl(browser: Browser, user: str, role: str, checked: set[str]) -> dict[str, Any]:
    """Visit every page reachable from ``/`` as ``user``; what each answered, and the faults.

    axe-core, the label check and the screenshot run once per page shape (route, answer, and
    the forms and fields drawn): another person seeing the same shape adds nothing to check.
    """
    site = browser.site
    origin = urlsplit(site.url).netloc
    page = browser.signed_in(user)
    queue: deque[str] = deque([site.url + "/"])
    seen: set[str] = set()
    visited: dict[str, int] = {}
    faults: list[str] = []
    while queue and len(visited) < PAGES_PER_PERSON:
        url = queue.popleft()
        path = urlsplit(url).path
        key = template_of(path) or path
        if key in seen:
            continue
        seen.add(key)
        response = page.goto(url)
        status = response.status if response else 0
        visited[key] = status
        heading = page.locator("h1").first.inner_text() if page.locator("h1").count() else ""
        if status == 403:
            if heading != "Not allowed":
                faults.append(f"{url}: 403 without the 'Not allowed' page ({heading!r})")
        elif status != 200:
            faults.append(f"{url}: answered {status} ({heading!r})")
        shape = f"{key} {status} {page.evaluate(SHAPE)}"
        if shape not in checked:
            checked.add(shape)
            for problem in axe_violations(page):
                faults.append(f"{url}: {problem}")
            for field in page.evaluate(UNLABELLED):
                faults.append(f"{url}: a field without a label: {field}")
            shoot(page, f"{role}-{_slug(key)}")
        for href in page.evaluate(LINKS):
            parts = urlsplit(href)
            if parts.netloc != origin or parts.path.startswith(SKIPPED):
                continue
            target = urljoin(site.url, parts.path + (f"?{parts.query}" if parts.query else ""))
            if (template_of(parts.path) or parts.path) not in seen:
                queue.append(target)
    page.context.close()
    return {"visited": visited, "faults": faults}


def test_each_person_crawls_every_page_they_can_reach(browser: Browser) -> None:
    errors_before = len(browser.console_errors)
    failed_before = len(browser.failed_requests)
    faults: list[str] = []
    reached: dict[str, dict[str, int]] = {}
    checked: set[str] = set()
    for user, role in browser.site.roles().items():
        found = _crawl(browser, user, role, checked)
        reached[role] = found["visited"]
        faults += [f"{user} ({role}) {fault}" for fault in found["faults"]]
    # 403 pages are answered on purpose: the browser reports them as failed loads (taken off
    # the shared list: other modules' tests read it too)
    reported = browser.console_errors[errors_before:]
    del browser.console_errors[errors_before:]
    assert not faults, "\n".join(faults)
    errors = [e for e in reported if "status of 403" not in e]
    assert errors == []
    assert browser.failed_requests[failed_before:] == []
    for role, visited in reached.items():
        assert {"/", "/projects", "/projects/{project}"} <= set(visited), role
    # each person's navigation leads to what their role is for
    assert "/reports" in reached["risk_manager"] and "/audit" in reached["risk_manager"]
    assert "/audit" in reached["auditor"]
    assert "/projects/{project}/resources" in reached["ml_engineer"]
    assert "/audit" not in reached["subject_matter_expert"]  # no link drawn: not theirs


def test_keyboard_reaches_the_skip_link_then_the_navigation_then_the_content(
    browser: Browser,
) -> None:
    site = browser.site
    for user in ("rita", "sam"):
        page = browser.signed_in(user)
        page.goto(site.url + "/projects")  # its content has links: something to reach
        where = []
        for _ in range(40):
            page.keyboard.press("Tab")
            where.append(
                page.evaluate(
                    """() => { const e = document.activeElement;
                      if (e.matches('a.skip')) return 'skip';
                      if (e.closest('main')) return 'main';
                      if (e.closest('nav')) return 'nav';
                      if (e.closest('header')) return 'header';
                      return e.tagName; }"""
                )
            )
            if where[-1] == "main":
                break
        assert where[0] == "skip", where
        assert "nav" in where and where[-1] == "main", where
        assert where.index("nav") < where.index("main")
        # the skip link itself jumps over the navigation to the content
        page.goto(site.url + "/projects")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        assert page.url.endswith("#main")
        page.keyboard.press("Tab")
        assert page.evaluate("() => !!document.activeElement.closest('main')")
        page.context.close()


def _value(param: str) -> str:
    return {"project": "churn", "model": "churn", "version": "1", "environment": "production",
            "sha256": "0" * 64}.get(param, "1")  # fmt: skip


def test_every_page_refuses_a_role_without_its_action_with_the_403_page(web_site: WebSite) -> None:
    problems = []
    html = {"accept": "text/html"}
    held = {}  # each person's roles in the demo's project, and whether an administrator
    for user in web_site.roles():
        with web_site.api(user) as client:
            me = client.get("/api/v1/me").json()
        held[user] = (me["roles"].get("churn", []), me["is_admin"])
    for (method, template), action in sorted(WEB_PAGES.items()):
        url = re.sub(r"\{(\w+)(?::path)?\}", lambda m: _value(m.group(1)), template)
        for user, role in web_site.roles().items():
            roles, admin = held[user]
            may = allowed(roles, action, admin=admin)
            if method != "GET" and may:
                continue  # a write they may make: not made here (the pages' own tests do)
            with web_site.api(user) as client:
                response = client.request(method, url, headers=html, data={})
            got = response.status_code
            if may and (got in (401, 403) or got >= 500):
                problems.append(f"{user} ({role}) {method} {url}: {got}, but may {action}")
            if not may:
                # a route naming no project finds it through an id: a made-up one is not found
                ok = got == 403 or (got == 404 and "{project}" not in template)
                if not ok or (got == 403 and "Not allowed" not in response.text):
                    problems.append(f"{user} ({role}) {method} {url}: {got}, want the 403 page")
    assert not problems, "\n".join(problems)


def test_the_crawl_knows_each_page_route() -> None:
    assert template_of("/projects/churn") == "/projects/{project}"
    assert template_of("/audit") == "/audit"
    assert template_of("/no/such/page") is None
    assert {template_of(t.replace("{project}", "churn")) for (m, t) in WEB_PAGES if m == "GET"} >= {
        "/",
        "/reports",
        "/audit",
        "/projects/{project}/resources",
    }
