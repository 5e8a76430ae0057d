"""Routes of /api/v1 for blobs, members, the model registry, evaluations and promotions."""

from __future__ import annotations

import tempfile
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import any_project, requires
from relayml.api.bodies import EvaluationIn, MemberIn, ModelVersionIn, PolicyIn, PromotionIn
from relayml.api.responses import ok
from relayml.api.routes import MAX_UPLOAD, backend_of
from relayml.domain.models import (
    Evaluation,
    GateReport,
    ModelHistory,
    ModelVersion,
    PolicyInfo,
    Promotion,
    RegisteredModel,
)
from relayml.errors import InvalidInput, NotFound

__all__ = ["router"]

router = APIRouter()


def _doc(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}}


@router.put("/blobs", tags=["artifacts"], dependencies=[requires("tracking.write", any_project)])
async def upload_blob(request: Request) -> Response:
    """Store the request body by content hash; answers {"sha256", "size"}."""
    backend = backend_of(request)
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD:
                raise InvalidInput(f"blob is larger than {MAX_UPLOAD} bytes.")
            spool.write(chunk)
        spool.seek(0)
        sha256, stored = await run_in_threadpool(backend.upload_blob, spool)
    return ok({"sha256": sha256, "size": stored})


@router.get(
    "/blobs/{sha256}", tags=["artifacts"], dependencies=[requires("project.read", any_project)]
)
def download_blob(request: Request, sha256: str) -> Response:
    """A blob's bytes (verified against its hash while they stream)."""
    backend = backend_of(request)
    if not backend.blobs.exists(sha256):
        raise NotFound(f"blob {sha256} is not in the artifact store.")
    return StreamingResponse(
        backend.blobs.iter_chunks(sha256), media_type="application/octet-stream"
    )


@router.get(
    "/projects/{project}/members", tags=["projects"], dependencies=[requires("project.read")]
)
def list_members(request: Request, project: str) -> Response:
    """Members of a project and their roles."""
    return ok(backend_of(request).list_members(project))


@router.post(
    "/projects/{project}/members",
    tags=["projects"],
    status_code=204,
    dependencies=[requires("project.members")],
)
def add_member(request: Request, project: str, body: MemberIn) -> Response:
    """Give a user a role in a project."""
    backend_of(request).add_member(project, body.user, body.role)
    return Response(status_code=204)


@router.get(
    "/projects/{project}/models",
    tags=["models"],
    responses=_doc(list[RegisteredModel]),
    dependencies=[requires("project.read")],
)
def list_models(request: Request, project: str) -> Response:
    """A project's registered models."""
    return ok(backend_of(request).list_models(project))


@router.get(
    "/projects/{project}/models/{name}",
    tags=["models"],
    responses=_doc(RegisteredModel),
    dependencies=[requires("project.read")],
)
def get_model(request: Request, project: str, name: str) -> Response:
    """One registered model with its environments."""
    return ok(backend_of(request).get_model(project, name))


@router.post(
    "/projects/{project}/models/{name}/versions",
    tags=["models"],
    status_code=201,
    responses={201: {"model": ModelVersion}},
    dependencies=[requires("model.write")],
)
def create_model_version(
    request: Request, project: str, name: str, body: ModelVersionIn
) -> Response:
    """Register a version whose files were uploaded to /blobs."""
    version = backend_of(request).create_model_version(
        project,
        name,
        flavor=body.flavor,
        files=body.files,
        signature=body.signature,
        requirements=body.requirements,
        details=body.details,
        run_id=body.run_id,
        description=body.description,
    )
    return ok(version, status_code=201)


@router.get(
    "/projects/{project}/models/{name}/versions",
    tags=["models"],
    responses=_doc(list[ModelVersion]),
    dependencies=[requires("project.read")],
)
def list_model_versions(request: Request, project: str, name: str) -> Response:
    """A model's versions, newest first."""
    return ok(backend_of(request).list_model_versions(project, name))


@router.get(
    "/projects/{project}/model-version",
    tags=["models"],
    responses=_doc(ModelVersion),
    dependencies=[requires("project.read")],
)
def get_model_version(request: Request, project: str, ref: str = Query(...)) -> Response:
    """The version a reference names: churn/3, churn@production or churn (latest)."""
    return ok(backend_of(request).get_model_version(project, ref))


@router.get(
    "/projects/{project}/models/{name}/history",
    tags=["models"],
    responses=_doc(ModelHistory),
    dependencies=[requires("project.read")],
)
def model_history(request: Request, project: str, name: str) -> Response:
    """Which version held which environment, from when to when, and every promotion."""
    return ok(backend_of(request).model_history(project, name))


@router.post(
    "/projects/{project}/evaluations",
    tags=["models"],
    status_code=201,
    responses={201: {"model": Evaluation}},
    dependencies=[requires("model.write")],
)
def create_evaluation(request: Request, project: str, body: EvaluationIn) -> Response:
    """Store an evaluation of a version."""
    return ok(backend_of(request).create_evaluation(project, body.ref, body.result), 201)


@router.get(
    "/projects/{project}/evaluations",
    tags=["models"],
    responses=_doc(list[Evaluation]),
    dependencies=[requires("project.read")],
)
def list_evaluations(request: Request, project: str, ref: str = Query(...)) -> Response:
    """A version's evaluations, newest first."""
    return ok(backend_of(request).list_evaluations(project, ref))


@router.get(
    "/projects/{project}/policy",
    tags=["models"],
    responses=_doc(PolicyInfo),
    dependencies=[requires("project.read")],
)
def get_policy(request: Request, project: str) -> Response:
    """The project's current promotion policy."""
    return ok(backend_of(request).get_policy(project))


@router.put(
    "/projects/{project}/policy",
    tags=["models"],
    responses=_doc(PolicyInfo),
    dependencies=[requires("policy.write")],
)
def set_policy(request: Request, project: str, body: PolicyIn) -> Response:
    """Store a new revision of the project's promotion policy."""
    return ok(backend_of(request).set_policy(project, body.source))


@router.post(
    "/projects/{project}/promotions",
    tags=["models"],
    responses=_doc(Promotion),
    dependencies=[requires("promotion.request")],
)
def promote(request: Request, project: str, body: PromotionIn) -> Response:
    """Request a promotion: gates run and are stored; the answer says what came of it."""
    return ok(backend_of(request).promote(project, body.ref, body.environment, body.reason))


@router.post(
    "/projects/{project}/promotions/decide",
    tags=["models"],
    responses=_doc(Promotion),
    dependencies=[requires("promotion.decide")],
)
def decide_promotion(request: Request, project: str, body: PromotionIn) -> Response:
    """Approve or reject a promotion that waits for approval."""
    if body.decision is None:
        raise InvalidInput("decision is required: 'approve' or 'reject'.")
    # Production also needs promotion.production: the service checks it (models/approval.py),
    # so that a refused attempt is audited however it arrives.
    return ok(
        backend_of(request).decide_promotion(
            project, body.ref, body.environment, body.decision, body.comment
        )
    )


@router.post(
    "/projects/{project}/promotions/check",
    tags=["models"],
    responses=_doc(GateReport),
    dependencies=[requires("project.read")],
)
def check_promotion(request: Request, project: str, body: PromotionIn) -> Response:
    """Run a promotion's gates without changing anything."""
    return ok(backend_of(request).check_promotion(project, body.ref, body.environment))
