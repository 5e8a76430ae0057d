"""The demo's store, built once per test run for every test that runs commands after it."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from datetime import datetime

import pytest

from tests.fixtures.documented import Demo, build_demo
from tests.fixtures.web import browser, web_site

__all__ = ["browser", "demo", "web_site"]  # web pages: one server and one chromium per session


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """`relay demo --fast --no-serve`, run once per test run (it takes two or three minutes).

    The first xdist worker to need it builds it under a lock in the run's shared temporary folder;
    each worker then works on its own copy, so no worker ever sees another one's changes.
    """
    base = tmp_path_factory.getbasetemp()
    run = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = run / "demo-shared"
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "built.json"
        if not done.exists():
            built = build_demo(shared)
            saved = {"stdout": built.stdout, "started": built.started.isoformat()}
            done.write_text(json.dumps(saved))
        saved = json.loads(done.read_text())
    own = tmp_path_factory.mktemp("demo") / "home"
    shutil.copytree(shared / "home", own)
    return Demo(own, saved["stdout"], datetime.fromisoformat(saved["started"]))
