"""Every Python example in the README and the docs is a file in docs_src/ that runs.

The markdown shows the file's text verbatim (checked here), and a page's files are run as a
newcomer runs them: in order, in one fresh folder, on the embedded store, with no settings.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS_SRC = ROOT / "docs_src"
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)

# markdown -> the docs_src files its Python blocks show, in order
SHOWN = {
    "README.md": ["readme_tour.py"],
    "docs/quickstart.md": ["quickstart.py"],
    "docs/tracking.md": ["tracking_quickstart.py"],
    "docs/models.md": ["models_log.py", "models_load.py", "models_evaluate.py"],
    "docs/data.md": ["data_datasets.py", "data_pipelines.py"],
    "docs/features.md": ["features_define.py", "features_train.py", "features_serve.py"],
}
# what each file prints when it worked
PRINTS = {
    "readme_tour.py": "0.91",
    "quickstart.py": "churn/1 in staging predicts [1, 0, 0]",
    "tracking_quickstart.py": "0.91",
    "models_log.py": "logged churn/1",
    "models_load.py": "churn@production says [1]",
    "models_evaluate.py": "ROC AUC on the holdout: 0.",
    "data_datasets.py": "customers@1: 4 customers",
    "data_pipelines.py": "2 customers of 21 or more",
    "features_define.py": "declares customer, customer and offer",
    "features_train.py": "model_versions=['churn_features/1']",
    "features_serve.py": "churn_online/1 looks up customer:tenure, customer:monthly_charges",
}


def test_every_markdown_file_with_python_is_accounted_for() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    with_python = {
        str(page.relative_to(ROOT)) for page in pages if _PYTHON_BLOCK.search(page.read_text())
    }
    assert with_python == set(SHOWN)


@pytest.mark.parametrize("page", sorted(SHOWN))
def test_the_markdown_shows_the_files_verbatim(page: str) -> None:
    blocks = _PYTHON_BLOCK.findall((ROOT / page).read_text())
    files = [(DOCS_SRC / name).read_text() for name in SHOWN[page]]
    assert blocks == files, f"{page}'s Python blocks differ from docs_src/{SHOWN[page]}"


def test_every_docs_src_file_is_shown_somewhere() -> None:
    shown = {name for names in SHOWN.values() for name in names}
    assert {path.name for path in DOCS_SRC.glob("*.py")} == shown == set(PRINTS)


@pytest.mark.parametrize("page", sorted(SHOWN))
def test_the_page_examples_run_in_order_in_a_fresh_folder(page: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    for name in SHOWN[page]:
        out = subprocess.run(
            [sys.executable, str(DOCS_SRC / name)],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
            env=env,
        )
        assert out.returncode == 0, f"{name}: {out.stderr}"
        assert PRINTS[name] in out.stdout, f"{name}: {out.stdout}"
    assert (tmp_path / ".relay" / "relay.db").is_file()  # the embedded store, in the folder
