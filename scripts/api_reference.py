"""Write docs/api.md, the platform API's reference, from the app's OpenAPI schema.

    python scripts/api_reference.py [--check]

--check: exit 1 when docs/api.md differs from what the code would write (tests do this).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from relayml.api.app import create_app
from relayml.api.reference import reference_markdown
from relayml.backend import LocalBackend
from relayml.config import get_settings

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def current() -> str:
    """The reference as the code describes it now (an app on a throwaway embedded store)."""
    with tempfile.TemporaryDirectory() as home:
        backend = LocalBackend(get_settings(home=home))
        try:
            return reference_markdown(create_app(backend))
        finally:
            backend.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check docs/api.md is current")
    args = parser.parse_args()
    text = current()
    if args.check:
        if PAGE.read_text() != text:
            print(f"{PAGE} is out of date: run python scripts/api_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE} ({text.count('### ')} operations)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
