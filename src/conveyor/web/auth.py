"""Who is asking: a Bearer token (API clients, the CLI) or a session cookie (the pages).

Every route depends on :func:`require` with the role it needs; the answer is 401 without valid
credentials and 403 with a role too low. A request authenticated by cookie that changes
something (POST, DELETE...) must come from the server's own pages (its Origin is checked), so
another site cannot make a logged-in browser act.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from conveyor.access import allows, check_session, check_token

__all__ = ["COOKIE", "Principal", "require", "require_inline"]

COOKIE = "conveyor_session"
_bearer = HTTPBearer(auto_error=False, description="A token from `conveyor token create` (or the CLI's own).")
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

Principal = dict[str, Any]


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return False
    return urlsplit(origin).netloc == request.headers.get("host")


def require(role: str) -> Callable[..., Principal]:
    """A dependency admitting callers with at least ``role`` (run in the server's thread pool)."""

    def dependency(request: Request, credentials: _Credentials) -> Principal:
        return _check(request, credentials, role)

    dependency.__name__ = f"require_{role}"
    return dependency


def require_inline(role: str) -> Callable[..., Any]:
    """The same check run on the event loop itself: for short routes that do all their work
    there (a decision), sparing two thread hops per request."""

    async def dependency(request: Request, credentials: _Credentials) -> Principal:
        return _check(request, credentials, role)

    dependency.__name__ = f"require_{role}_inline"
    return dependency


def _check(request: Request, credentials: HTTPAuthorizationCredentials | None, role: str) -> Principal:
    state = request.app.state.state
    who = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        who = check_token(state, credentials.credentials)
    elif request.cookies.get(COOKIE):
        who = check_session(state, request.cookies[COOKIE])
        if who is not None and request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(request):
            raise HTTPException(403, "a change made with a session cookie must come from this server's pages")
    if who is None:
        raise HTTPException(
            401,
            "a valid token is needed: `Authorization: Bearer TOKEN` (see `conveyor token create`), or log in",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not allows(who["role"], role):
        raise HTTPException(403, f"this needs the {role} role; the token has {who['role']}")
    request.state.principal = who
    return who
