"""Projects: the business question, its owner and its KPIs."""

from relayml.projects.service import (
    create_project,
    get_project,
    list_projects,
    project_id,
    update_project,
)

__all__ = ["create_project", "get_project", "list_projects", "project_id", "update_project"]
