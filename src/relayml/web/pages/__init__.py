"""The page routers, in the order they are mounted (one module per area of the product).

To add an area: write ``pages/<area>.py`` with ``router = page_router()`` (pages/common.py),
templates under ``templates/<area>/``, and add its router here.
"""

from __future__ import annotations

from fastapi import APIRouter

from relayml.web.pages import (
    admin,
    audit,
    datasets,
    deployments,
    features,
    feedback,
    home,
    lineage,
    models,
    monitoring,
    pipelines,
    predictions,
    reports,
    resources,
    run_detail,
    runs,
    session,
)

__all__ = ["ROUTERS"]

ROUTERS: list[APIRouter] = [
    session.router,
    home.router,
    runs.router,  # before run_detail: /runs/compare is not a run id
    run_detail.router,
    datasets.router,
    pipelines.router,
    features.router,
    lineage.router,
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
