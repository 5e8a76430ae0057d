"""The data scientist's and data engineer's pages in a real browser: runs (filter, sort, columns,
pages, compare, one run), datasets (versions, profile, checks), pipelines (DAG, timings, a step),
lineage, and their home sections; each checked against the store through the API, with no
console error and no serious accessibility violation, and a screenshot of every page.

The module adds its own project (runs, a dataset with a failing check, a policy) through the API
so the demo's project is only read here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from relayml.client.http import HttpBackend
from relayml.config import get_settings
from relayml.data.checks import run_checks
from relayml.data.sources import log_dataset
from relayml.domain.features import Entity, Feature, FeatureSet, Source
from relayml.domain.lineage import LineageEdge, LineageNode
from relayml.features.declare import specs_of
from tests.fixtures.net import loopback
from tests.fixtures.web import Browser, WebSite, axe_violations, shoot

RUNS = 30
HISTORY = 3000  # points of the long run's loss: the charts must come back downsampled


@dataclass
class Seeded:
    """The module's project, its runs by name, and an API backend as the data scientist."""

    project: str
    runs: dict[str, str]
    api: Any


@pytest.fixture(scope="module")
def seeded(web_site: WebSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A project of the data scientist's: 30 sweep runs, two with loss curves, an artifact, a
    dataset whose check fails, a policy checking auc, and dana as its data engineer."""
    me = web_site.data_scientist
    home = tmp_path_factory.mktemp("web-data-client")
    api = HttpBackend(get_settings(server_url=web_site.url, token=web_site.tokens[me], home=home))
    project = f"webdata-{uuid.uuid4().hex[:6]}"
    api.create_project(project, business_question="which sweep wins?")
    runs = {}
    for i in range(RUNS):
        run = api.create_run(project, "sweep", name=f"sweep-{i:02d}")
        api.end_run(
            run.id,
            "FINISHED",
            params={"lr": f"{i / 100:.2f}", "model": "a" if i % 2 else "b"},
            points=[("auc", 0.5 + i / 100, 0, 1_700_000_000_000 + i)],
        )
        runs[run.name] = run.id
    source = home / "notes.txt"
    source.write_text("what the long run learnt\n")
    for name, steps in (("long", HISTORY), ("short", 40)):
        run = api.create_run(project, "curves", name=name)
        if name == "long":
            api.log_artifact(run.id, "notes/notes.txt", source)
        points = [("loss", 1 / (1 + s), s, 1_700_000_000_000 + s) for s in range(steps)]
        api.end_run(run.id, "FINISHED", params={"lr": "0.1", "steps": str(steps)}, points=points)
        runs[name] = run.id
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "age": [30, 41, 200, 25], "plan": list("abab")})
    log_dataset(api, project, "people", frame)
    spec = {"checks": [{"column": "age", "min": 0, "max": 120}, {"column": "id", "unique": True}]}
    run_checks(api, project, "people", spec)
    api.set_policy(
        project, "environments:\n  staging:\n    checks:\n      - metric: auc\n        min: 0.5\n"
    )
    source = LineageNode(kind="source", key=f"s3://{project}/raw.csv", label="raw.csv")
    tables = [LineageNode(kind="dataset", key=f"warehouse/{project}.t{i}") for i in range(130)]
    api.link([source, *tables], [
        LineageEdge(src_kind="source", src_key=source.key, dst_kind="dataset", dst_key=t.key,
                    relation="derived_from")
        for t in tables
    ])  # fmt: skip
    person = Entity("person", join_keys=["id"])
    profile = FeatureSet(name="profile", entity=person, source=Source(dataset="people"),
                         features=[Feature("age", "int64", owner="dana")], event_time="signup",
                         checks=[{"column": "age", "min": 0}], owner="dana")  # fmt: skip
    api.apply_features(project, specs_of([person, profile]))
    api.add_member(project, "dana", "data_engineer")
    api.add_member(project, me, "data_scientist")
    try:
        yield Seeded(project, runs, api)
    finally:
        api.close()


def _clean(browser: Browser, page: Any, shot: str) -> None:
    assert axe_violations(page) == [], shot
    shoot(page, shot)


def _row_names(page: Any) -> list[str]:
    return page.locator("table.runs tbody tr td:nth-child(2) a").all_inner_texts()


def test_the_runs_table_filters_sorts_pages_and_keeps_the_columns_chosen(
    browser: Browser, seeded: Seeded
) -> None:
    site, project = browser.site, seeded.project
    page = browser.signed_in(site.data_scientist)
    base = f"{site.url}/projects/{project}/runs"
    page.goto(base + "?size=25")
    first = _row_names(page)
    api_first = seeded.api.search_runs(project, order_by=["start_time DESC"], max_results=25)
    assert first == [r.name for r in api_first.runs]
    _clean(browser, page, "runs-list")
    page.click("nav.pager a[rel=next]")
    second = _row_names(page)
    assert len(second) == RUNS + 2 - 25 and not set(first) & set(second)
    assert page.locator("nav.pager a[rel=next]").count() == 0
    page.click("nav.pager a[rel=prev]")
    assert _row_names(page) == first

    page.fill("#q", "metrics.auc > 0.7 and params.model = 'a'")
    page.click("form.filters button[type=submit]")
    wanted = seeded.api.search_runs(project, filter="metrics.auc > 0.7 and params.model = 'a'")
    assert sorted(_row_names(page)) == sorted(r.name for r in wanted.runs) and wanted.runs

    page.goto(base + "?size=25")
    page.click("table.runs thead a:text-is('auc')")  # highest first
    assert page.locator("th[aria-sort=descending]").inner_text().startswith("auc")
    best = seeded.api.search_runs(project, order_by=["metrics.auc DESC"], max_results=3)
    assert (
        _row_names(page)[:3] == [r.name for r in best.runs] == ["sweep-29", "sweep-28", "sweep-27"]
    )

    page.click("details.columns summary")
    for box in page.locator("details.columns input[name=col]").all():
        box.set_checked(box.get_attribute("value") == "params.lr")
    page.click("details.columns button[type=submit]")
    assert "col=params.lr" in page.url and "order=metrics.auc" in page.url
    headings = page.locator("table.runs thead th").all_inner_texts()
    assert any(h.startswith("lr") for h in headings) and not any(
        h.startswith("auc") for h in headings
    )
    page.click("nav.pager a[rel=next]")
    assert "cols=params.lr" in page.url  # the choice is kept from page to page

    page.goto(base)
    page.select_option("#exp", "curves")
    page.click("form.filters button[type=submit]")
    assert sorted(_row_names(page)) == ["long", "short"]
    page.context.close()
    assert browser.console_errors == []


def test_a_bad_filter_shows_the_grammar_error_and_bad_requests_are_pages(
    browser: Browser, seeded: Seeded
) -> None:
    site, project = browser.site, seeded.project
    page = browser.signed_in(site.data_scientist)
    answer = page.goto(f"{site.url}/projects/{project}/runs?q=metrics.auc+%3E")
    assert answer is not None and answer.status == 200  # a form to correct, not a failure
    said, where = page.locator(".problem p").inner_text(), page.locator(".problem pre").inner_text()
    assert "expected a value after '>'" in said  # the grammar's message, its caret under the spot
    assert where.splitlines()[0].strip() == "metrics.auc >" and where.rstrip().endswith("^")
    assert page.locator("#q").input_value() == "metrics.auc >"  # kept, to be corrected
    _clean(browser, page, "runs-bad-filter")
    with site.api(site.data_scientist) as api:
        html = {"accept": "text/html"}
        for path, status, says in (
            (f"/projects/{project}/runs?order=bogus", 200, "cannot sort by"),
            (f"/projects/{project}/runs/compare?ids={seeded.runs['long']}", 422, "at least two"),
            (f"/projects/churn/runs/{seeded.runs['long']}", 404, "has no run"),
            (f"/projects/{project}/datasets/nothing", 404, "nothing"),
            (f"/projects/{project}/lineage?kind=run&id=x&depth=9", 422, "depth"),
            (f"/projects/churn/lineage?kind=run&id={seeded.runs['long']}", 404, "has no run"),
            ("/projects/churn/pipelines/no-such-run", 404, "no-such-run"),
        ):
            got = api.get(path, headers=html)
            assert (got.status_code, says in got.text, "<html" in got.text) == (
                status,
                True,
                True,
            ), path
    page.context.close()
    assert browser.console_errors == []


def test_runs_compared_side_by_side_with_charts_and_parallel_coordinates(
    browser: Browser, seeded: Seeded
) -> None:
    site, project = browser.site, seeded.project
    page = browser.signed_in(site.data_scientist)
    page.goto(f"{site.url}/projects/{project}/runs?exp=curves")
    assert page.locator("#compare-button").is_disabled()
    for name in ("long", "short"):
        page.check(f"#pick-{seeded.runs[name]}")
    page.click("#compare-button")
    page.wait_for_url(re.compile(r".*/runs/compare\?ids=.*"))
    assert page.locator("h1").inner_text() == "2 runs compared"
    differs = page.locator("table.params tr.differs th").all_inner_texts()
    assert [d.split()[0] for d in differs] == ["steps"]  # lr is the same, steps differ
    island = json.loads(page.locator("script#metric-0").text_content() or "{}")
    assert len(island["x"]) <= 1000 and len(island["series"]) == 2
    assert "averaged into" in page.locator("figure.chart figcaption").first.inner_text()
    page.wait_for_selector("[data-chart=metric-0] canvas")
    assert page.locator("svg.coords-svg path").count() == 2
    _clean(browser, page, "runs-compare-curves")

    ids = "&".join(f"ids={seeded.runs[f'sweep-{i:02d}']}" for i in (1, 2, 3))
    page.goto(f"{site.url}/projects/{project}/runs/compare?{ids}")
    assert {d.split()[0] for d in page.locator("table.params tr.differs th").all_inner_texts()} == {
        "lr",
        "model",
    }
    assert page.locator("svg.coords-svg path").count() == 3
    assert "more than one point" in page.locator("main").inner_text()  # one auc each: no chart
    _clean(browser, page, "runs-compare")
    page.context.close()
    assert browser.console_errors == []


def test_a_run_shows_what_it_logged_and_its_artifacts_download(
    browser: Browser, seeded: Seeded
) -> None:
    site, project = browser.site, seeded.project
    run = seeded.api.get_run(seeded.runs["long"])
    page = browser.signed_in(site.data_scientist)
    page.goto(f"{site.url}/projects/{project}/runs/{run.id}")
    assert page.locator("h1").inner_text().startswith("Run long")
    params = page.locator("section[aria-labelledby=h-params]")
    assert params.locator("tr:has-text('steps') td").inner_text() == "3000"
    assert "loss" in page.locator("section[aria-labelledby=h-metrics]").inner_text()
    assert run.id in page.locator("dl.facts").first.inner_text()
    island = json.loads(page.locator("script#metric-0").text_content() or "{}")
    assert len(island["x"]) == 1000 and island["x"][0] == 0  # 3,000 points, 1,000 buckets
    assert "averaged into 1000 points of 3,000" in page.locator("figure.chart").inner_text()
    link = page.locator("table.artifacts a")
    assert link.inner_text() == "notes/notes.txt"
    download = page.request.get(site.url + (link.get_attribute("href") or ""))
    assert download.status == 200 and download.text() == "what the long run learnt\n"
    assert page.locator(f"a[href*='lineage?kind=run&id={run.id}']").count() == 1
    _clean(browser, page, "runs-detail")
    page.context.close()
    assert browser.console_errors == []


def test_datasets_show_versions_profiles_and_checks(browser: Browser, seeded: Seeded) -> None:
    site = browser.site
    page = browser.signed_in("dana")
    page.goto(f"{site.url}/projects/churn/datasets")
    with site.api("dana") as api:
        listed = api.get("/api/v1/projects/churn/datasets").json()
        version = api.get("/api/v1/projects/churn/datasets/customers/versions").json()[0]
    names = page.locator("main table tbody tr td:first-child a").all_inner_texts()
    assert names == [d["name"] for d in listed]
    _clean(browser, page, "datasets-list")
    page.click("main table a:text-is('customers')")
    assert page.locator("h1").inner_text() == "Dataset customers"
    assert f"{version['rows']:,}" in page.locator("table.versions").inner_text()
    profiled = page.locator("table.profile tbody th").all_inner_texts()
    assert profiled == [c["name"] for c in version["table_schema"]]
    numeric = [n for n, s in version["profile"]["columns"].items() if s.get("histogram")]
    assert page.locator("svg.hist-svg").count() == len(numeric) > 0
    _clean(browser, page, "datasets-detail")

    page.goto(f"{site.url}/projects/{seeded.project}/datasets/people")
    report = page.locator("section.check-report")
    assert report.locator("h3").inner_text().startswith("Failed")
    assert "age: between 0 and 120" in report.inner_text()
    failing = report.locator("tr:has-text('between')")
    assert failing.locator("td.num").inner_text() == "1"
    failing.locator("summary").click()
    assert failing.locator("summary").inner_text() == "1 failing row"
    assert '"age": 200' in failing.locator("details pre").inner_text()
    _clean(browser, page, "datasets-checks")
    page.goto(site.url + "/")
    board = page.locator("section.board", has_text=seeded.project)
    card = board.locator("article.card", has_text="Failed data checks")
    assert "people@1" in card.inner_text()
    page.context.close()
    assert browser.console_errors == []


def test_features_show_definitions_versions_and_declared_checks(
    browser: Browser, seeded: Seeded
) -> None:
    site, project = browser.site, seeded.project
    listed = seeded.api.list_feature_definitions(project)
    page = browser.signed_in("dana")
    page.goto(f"{site.url}/projects/{project}/features")
    names = page.locator("main table tbody td:first-child a").all_inner_texts()
    assert sorted(names) == sorted(d.name for d in listed) == ["person", "profile"]
    _clean(browser, page, "features-list")
    page.click("main table a:text-is('profile')")
    assert page.locator("h1").inner_text() == "Feature set profile@1"
    assert page.locator("main table tbody tr td:first-child").first.inner_text() == "age"
    assert '"min": 0' in page.locator("main ul code").inner_text()
    assert "No check has run" in page.locator("main").inner_text()
    _clean(browser, page, "features-detail")
    assert browser.console_errors == []
    missing = page.goto(f"{site.url}/projects/{project}/features/feature_set/nothing")
    assert missing is not None and missing.status == 404
    page.context.close()
    assert [e for e in browser.console_errors if "404" not in e] == []
    browser.console_errors.clear()  # chromium logs the 404 just asked for


def test_a_pipeline_run_shows_its_dag_timings_and_a_step(browser: Browser, seeded: Seeded) -> None:
    site = browser.site
    with site.api("dana") as api:
        runs = api.get("/api/v1/projects/churn/pipeline-runs").json()
    page = browser.signed_in("dana")
    page.goto(f"{site.url}/projects/churn/pipelines")
    shown = page.locator("main table tbody tr td:nth-child(2) code").all_inner_texts()
    assert shown == [r["id"][:10] for r in runs]
    _clean(browser, page, "pipelines-list")
    run = runs[0]
    page.click(f"a[href='/projects/churn/pipelines/{run['id']}']")
    page.wait_for_selector("[data-graph=dag] svg")
    steps = [s["step"] for s in run["steps"]]
    assert page.locator("[data-graph=dag] g.node").count() == len(steps)
    assert page.locator("[data-graph=dag] path.edge").count() >= len(steps) - 1 >= 1
    assert page.locator("svg.gantt-svg rect.bar").count() == len(steps)
    page.click(f"table.steps a:text-is('{steps[-1]}')")
    section = page.locator("section#step")
    assert run["steps"][-1]["cache_key"] in section.inner_text()
    assert steps[-2] in section.locator("dd").nth(6).inner_text()  # its input: the step before
    _clean(browser, page, "pipelines-detail")
    page.context.close()
    assert browser.console_errors == []


def test_lineage_is_bounded_and_its_nodes_lead_to_their_pages(
    browser: Browser, seeded: Seeded
) -> None:
    site = browser.site
    page = browser.signed_in("dana")
    page.goto(f"{site.url}/projects/churn/lineage")
    _clean(browser, page, "lineage-start")
    start = page.locator("main ul.lines a:has-text('dataset customers@')").get_attribute("href")
    assert start == "/projects/churn/lineage?kind=dataset_version&id=churn%2Fcustomers%401"
    page.goto(f"{site.url}{start}&depth=2")
    page.wait_for_selector("[data-graph=lineage] svg")
    with site.api("dana") as api:
        graph = api.get("/api/v1/lineage/dataset_version/churn/customers@1?depth=2").json()
    drawn = page.locator("[data-graph=lineage] g.node")
    assert drawn.count() == len(graph["nodes"]) and page.locator("g.node.current").count() == 1
    runs = [n for n in graph["nodes"] if n["kind"] == "run"]
    assert runs, "the demo's runs read customers"
    _clean(browser, page, "lineage")
    page.goto(page.url.replace("depth=2", "depth=1"))
    assert page.locator("[data-graph=lineage] g.node").count() <= drawn.count()
    page.click(f"main ul.lines a[href='/projects/churn/runs/{runs[0]['key']}']")
    assert page.locator("h1").inner_text().startswith("Run ")
    page.context.close()
    assert browser.console_errors == []


def test_a_large_lineage_graph_draws_the_nearest_nodes_and_says_how_many_are_left_out(
    browser: Browser, seeded: Seeded
) -> None:
    site, project = browser.site, seeded.project
    page = browser.signed_in("dana")
    query = f"kind=source&id=s3://{project}/raw.csv&depth=1"
    page.goto(f"{site.url}/projects/{project}/lineage?{query}")
    page.wait_for_selector("[data-graph=lineage] svg")
    assert page.locator("[data-graph=lineage] g.node").count() == 120
    assert page.locator("p.notice-warn").inner_text().startswith("11 more nodes within depth 1")
    _clean(browser, page, "lineage-bounded")
    page.context.close()
    assert browser.console_errors == []


def test_the_data_scientist_home_shows_the_best_runs_by_the_policy_metric(
    browser: Browser, seeded: Seeded
) -> None:
    page = browser.signed_in(browser.site.data_scientist)
    board = page.locator("section.board", has_text=seeded.project)
    card = board.locator("article.card", has_text="Best runs by auc")
    assert card.locator("li a").all_inner_texts()[:2] == [
        "sweep-29: auc 0.79",
        "sweep-28: auc 0.78",
    ]
    card.locator("h3 a").click()
    assert "order=metrics.auc" in page.url and _row_names(page)[0] == "sweep-29"
    page.context.close()
    assert browser.console_errors == []


def test_artifact_links_need_the_session(web_site: WebSite, seeded: Seeded) -> None:
    run = seeded.runs["long"]
    anonymous = loopback.get(f"{web_site.url}/api/v1/runs/{run}/artifacts/notes/notes.txt")
    assert anonymous.status_code == 401
