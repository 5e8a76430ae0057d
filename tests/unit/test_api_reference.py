"""docs/api.md is the reference the code would write now, and it covers every platform route."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from relayml.api.app import create_app
from relayml.api.reference import reference_markdown
from relayml.backend import LocalBackend
from relayml.config import get_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_page_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "api_reference.py"), "--check"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_every_platform_operation_has_a_section_saying_who_may_call_it(tmp_path: Path) -> None:
    backend = LocalBackend(get_settings(home=tmp_path))
    try:
        app = create_app(backend)
        text = reference_markdown(app)
        spec = app.openapi()
    finally:
        backend.close()
    operations = {
        f"{method.upper()} `{path}`"
        for path, ops in spec["paths"].items()
        if path.startswith("/api/v1")
        for method in ops
    }
    sections = set(re.findall(r"^### (.+)$", text, re.M))
    assert operations <= sections and len(operations) > 100
    assert "declares no action" not in text  # every route names the action it takes
    # e.g. creating a run: its body's fields and the roles that may
    run = text.split("### POST `/api/v1/projects/{project}/runs`", 1)[1].split("###", 1)[0]
    assert "`tracking.write`" in run and "data_scientist" in run and "`RunIn`" in run
