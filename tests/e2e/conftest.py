"""The demo's store, built once per test session for every test that runs commands after it."""

from __future__ import annotations

import pytest

from tests.fixtures.documented import Demo, build_demo
from tests.fixtures.web import browser, web_site

__all__ = ["browser", "demo", "web_site"]  # web pages: one server and one chromium per session


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """`examples/churn_demo.py --no-serve` once per session (it takes a few minutes)."""
    return build_demo(tmp_path_factory.mktemp("demo"))
