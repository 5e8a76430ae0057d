"""The administrators' page: every user, disable or enable one, set a new password.

Each change goes through the identity services as the signed-in administrator (audited: user.*);
disabling a user or changing their password ends their sessions at once.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from relayml.api.auth import requires
from relayml.domain.identity import Identity
from relayml.domain.permissions import ADMIN_ONLY
from relayml.errors import InvalidInput
from relayml.web.pages.common import form_fields, page_router
from relayml.web.render import backend_of, page

__all__ = ["router"]

router = page_router()
DONE = {
    "disabled": "The user is disabled: their sessions and tokens stop working now.",
    "enabled": "The user may sign in again.",
    "password": "The password is set; the user's sessions ended.",
}


@router.get("/admin/users")
def users_page(
    request: Request, done: str = "", identity: Identity = requires(ADMIN_ONLY)
) -> Response:
    """Every user: who is an administrator, who has a password, who is disabled."""
    shown = backend_of(request).list_users()
    return page(request, "governance/users.html", users=shown, notice=DONE.get(done, ""))


@router.post("/admin/users/{name}/disable")
async def disable(
    request: Request, name: str, identity: Identity = requires(ADMIN_ONLY)
) -> Response:
    """Stop a user from signing in (not oneself)."""
    backend = backend_of(request).with_actor(identity.name)
    await run_in_threadpool(backend.disable_user, name)
    return RedirectResponse("/admin/users?done=disabled", status_code=303)


@router.post("/admin/users/{name}/enable")
async def enable(
    request: Request, name: str, identity: Identity = requires(ADMIN_ONLY)
) -> Response:
    """Let a disabled user sign in again."""
    backend = backend_of(request).with_actor(identity.name)
    await run_in_threadpool(backend.enable_user, name)
    return RedirectResponse("/admin/users?done=enabled", status_code=303)


@router.post("/admin/users/{name}/password")
async def reset_password(
    request: Request, name: str, identity: Identity = requires(ADMIN_ONLY)
) -> Response:
    """Set a new password for a user (typed twice)."""
    fields = await form_fields(request, "password", "again")
    if not fields["password"]:
        raise InvalidInput("type the new password (twice); nothing was changed.")
    if fields["password"] != fields["again"]:
        raise InvalidInput("the two passwords differ; type the same one twice.")
    backend = backend_of(request).with_actor(identity.name)
    await run_in_threadpool(backend.set_password, name, fields["password"])
    return RedirectResponse("/admin/users?done=password", status_code=303)
