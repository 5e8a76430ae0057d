"""The key that signs session cookies: from the setting, else one file per RELAY_HOME that every
worker shares (made once, mode 0600, even when several start at the same moment)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from relayml.api.sessions import KEY_FILE, session_key
from relayml.config import get_settings


def test_the_key_is_made_once_private_and_shared(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path / "home")
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: session_key(settings), range(16)))
    assert len(keys) == 1
    key = keys.pop()
    assert len(key) >= 40
    path = tmp_path / "home" / KEY_FILE
    assert path.read_text().strip() == key
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [KEY_FILE]  # no temporary file left
    assert session_key(get_settings(home=tmp_path / "other")) != key


def test_the_setting_wins_and_no_file_is_written(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path / "home", session_secret="from-the-environment")
    assert session_key(settings) == "from-the-environment"
    assert not (tmp_path / "home").exists()
