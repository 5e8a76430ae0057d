"""The navigation: the site's areas and each project's, shown to those who may read them.

A page module that adds an area adds its link here (label, path, the action needed to see it).
"""

from __future__ import annotations

from relayml.domain.permissions import ADMIN_ONLY, SIGNED_IN

__all__ = ["PROJECT_AREAS", "SITE_AREAS"]

# (label, path, action): a project's areas; {project} is filled in.
PROJECT_AREAS: list[tuple[str, str, str]] = [
    ("Overview", "/projects/{project}", "project.read"),
    ("Datasets", "/projects/{project}/datasets", "project.read"),
    ("Pipelines", "/projects/{project}/pipelines", "project.read"),
    ("Features", "/projects/{project}/features", "project.read"),
    ("Runs", "/projects/{project}/runs", "project.read"),
    ("Models", "/projects/{project}/models", "project.read"),
    ("Deployments", "/projects/{project}/deployments", "project.read"),
    ("Monitoring", "/projects/{project}/monitoring", "project.read"),
    ("Predictions", "/projects/{project}/predictions", "project.read"),
    ("Feedback", "/projects/{project}/feedback", "project.read"),
    ("Lineage", "/projects/{project}/lineage", "project.read"),
    ("Resources", "/projects/{project}/resources", "project.read"),
]
# (label, path, action): areas of the whole site.
SITE_AREAS: list[tuple[str, str, str]] = [
    ("Home", "/", SIGNED_IN),
    ("Projects", "/projects", SIGNED_IN),
    ("Reports", "/reports", "project.read"),
    ("Audit", "/audit", "audit.read"),
    ("Users", "/admin/users", ADMIN_ONLY),
]
