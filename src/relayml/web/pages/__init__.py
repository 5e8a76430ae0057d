"""The page routers, in the order they are mounted (one module per area of the product).

To add an area: write ``pages/<area>.py`` with ``router = page_router()`` (pages/common.py),
templates under ``templates/<area>/``, and add its router here.
"""

from __future__ import annotations

from fastapi import APIRouter

from relayml.web.pages import (
    admin,
    audit,
    deployments,
    feedback,
    home,
    models,
    monitoring,
    predictions,
    reports,
    resources,
    session,
)

__all__ = ["ROUTERS"]

ROUTERS: list[APIRouter] = [
    session.router,
    home.router,
    models.router,
    deployments.router,
    monitoring.router,
    predictions.router,
    feedback.router,
    reports.router,
    audit.router,
    resources.router,
    admin.router,
]
