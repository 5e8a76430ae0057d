"""`relay init NAME`: a project scaffold written from the Jinja2 templates in ./templates.

    scaffold = render_project("my-project", Path("my-project"))   # a Scaffold: what was written

Template paths map to project paths: `__package__` becomes the Python package's name (derived
from the project's: my-project -> my_project), a leading `dot-` becomes `.` (so that packaging
keeps the files) and the `.j2` suffix goes.
"""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from relayml.errors import Conflict, InvalidInput

__all__ = ["DEFAULT_QUESTION", "Scaffold", "package_name", "render_project"]

TEMPLATES = Path(__file__).with_name("templates") / "project"
DEFAULT_QUESTION = (
    "Which customers are likely to leave next month, so that we can offer them a reason to stay?"
)
RUFF_VERSION = "0.17.6"  # the pre-commit hook's ruff (relayml's own, requirements/dev.lock)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_RESERVED = {"relayml", "relay", "test", "tests", "src", "setup", "site"}


@dataclass(frozen=True)
class Scaffold:
    """What `relay init` wrote: the folder, the package name and the files (relative paths)."""

    root: Path
    project: str
    package: str
    files: tuple[Path, ...]
    replaced: tuple[Path, ...]


def package_name(name: str) -> str:
    """The Python package of a project name (my-project -> my_project); InvalidInput if none."""
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 60:
        raise InvalidInput(
            f"project name {name!r} is not allowed: start with a letter and use only letters, "
            "digits, '-' and '_' (at most 60 characters), e.g. churn-model; the Python "
            "package is derived from it (churn_model)."
        )
    package = name.lower().replace("-", "_")
    if keyword.iskeyword(package) or package in sys.stdlib_module_names or package in _RESERVED:
        raise InvalidInput(
            f"project name {name!r} gives the Python package {package!r}, which would shadow "
            f"{'a Python keyword' if keyword.iskeyword(package) else 'a module of that name'}; "
            f"choose another name, e.g. {name}-model."
        )
    return package


def _target_path(template: Path, package: str) -> Path:
    parts = [
        package if part == "__package__" else "." + part[4:] if part.startswith("dot-") else part
        for part in template.parts
    ]
    return Path(*parts).with_suffix("")  # drop .j2


def _templates() -> list[Path]:
    return sorted(p.relative_to(TEMPLATES) for p in TEMPLATES.rglob("*.j2"))


def _check_target(root: Path, force: bool) -> None:
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"{root} is a file; give a folder for the project with --dir.")
    if force or not root.exists():
        return
    entries = sorted(p.name for p in root.iterdir())
    if entries:
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise Conflict(
            f"{root} is not empty ({len(entries)} entries: {shown}); choose an empty or new "
            "folder with --dir, or pass --force to write the scaffold's files into it "
            "(files of the same name are replaced, others are kept)."
        )


def render_project(
    name: str,
    root: Path,
    *,
    business_question: str | None = None,
    description: str | None = None,
    force: bool = False,
) -> Scaffold:
    """Write the scaffold of project `name` into `root` (refused when not empty unless force)."""
    import jinja2

    from relayml import __version__

    package = package_name(name)
    question = " ".join((business_question or DEFAULT_QUESTION).split())
    if not question:
        raise InvalidInput("the business question is empty; say what the model answers.")
    _check_target(root, force)
    context = {
        "name": name,
        "package": package,
        "business_question": question,
        "description": description or f"{name}: {question}",
        "relayml_version": __version__.split("+")[0],
        "ruff_version": RUFF_VERSION,
    }
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # code and YAML, not HTML
    )
    rendered = {  # every file rendered before any is written
        _target_path(template, package): environment.get_template(template.as_posix()).render(
            context
        )
        for template in _templates()
    }
    replaced = tuple(target for target in rendered if (root / target).exists())
    for target, text in rendered.items():
        path = root / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Scaffold(root, name, package, tuple(rendered), replaced)
