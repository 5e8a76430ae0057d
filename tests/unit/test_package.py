"""The public surface: exports, settings documentation, migrations in step with the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import relayml
from relayml import pipelines, sdk, sdk_data, sdk_models, sdk_runs
from relayml.config import Settings
from relayml.store import HEAD_REVISION

ROOT = Path(__file__).resolve().parents[2]


def test_exports_are_sorted_and_resolve() -> None:
    assert relayml.__all__ == sorted(relayml.__all__)
    from relayml import features

    assert relayml.features is features  # a module: relay.features.Entity(...), training_frame
    for name in relayml.__all__:
        if name == "features":
            continue
        source = next(
            m for m in (sdk_data, sdk_models, sdk_runs, sdk, pipelines) if name in m.__all__
        )
        assert getattr(relayml, name) is getattr(source, name)
    modules = (sdk, sdk_runs, sdk_models, sdk_data)
    assert set(relayml.__all__) == set().union(*(m.__all__ for m in modules)) | {
        "pipeline",
        "step",
        "features",
    }


def test_import_relayml_loads_no_heavy_modules() -> None:
    code = (
        "import sys, relayml; heavy = [m for m in ('sqlalchemy', 'pandas', 'numpy', 'fastapi', "
        "'httpx', 'pydantic') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_setting_has_help_and_is_documented() -> None:
    docs = (ROOT / "docs" / "configuration.md").read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no help text"
        assert f"RELAY_{name.upper()}" in docs, f"RELAY_{name.upper()} missing from the docs"


def test_head_revision_matches_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "src/relayml/store/migrations"))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION
