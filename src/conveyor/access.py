"""Who may do what: API tokens with roles, browser sessions and one-time login links.

Tokens look like ``cvy_<id>_<secret>``; only a SHA-256 of the secret is stored (the secret is 32
random bytes, so a plain hash cannot be reversed by guessing). Roles are ordered: a ``viewer``
reads, a ``reviewer`` also works the review queue, an ``admin`` also ingests, pauses automations
and manages tokens.

    with open_state(root) as state:
        token, info = create_token(state, role="viewer", name="wallboard")
        assert check_token(state, token)["role"] == "viewer"
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from conveyor.errors import ConveyorError
from conveyor.state import StateStore

__all__ = [
    "ROLES",
    "AccessError",
    "Role",
    "actor_name",
    "allows",
    "check_session",
    "check_token",
    "create_login_code",
    "create_session",
    "create_token",
    "list_tokens",
    "redeem_login_code",
    "revoke_token",
]

Role = Literal["viewer", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "reviewer", "admin")
SESSION_HOURS = 12
LOGIN_CODE_MINUTES = 60


class AccessError(ConveyorError, PermissionError):
    """A token or session that is unknown, revoked or expired, or a bad role."""


def allows(have: str, need: str) -> bool:
    """Whether role ``have`` may do what needs role ``need``."""
    return ROLES.index(have) >= ROLES.index(need)


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _role(role: str) -> Role:
    if role not in ROLES:
        raise AccessError(f"{role!r} is not a role", hint=f"use one of: {', '.join(ROLES)}")
    return role


def create_token(state: StateStore, *, role: str, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new token (shown once: only its hash is kept) and its public record."""
    role = _role(role)
    tid = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    now = _now().isoformat(timespec="seconds")
    name = name or f"{role} token"
    state.execute(
        "INSERT INTO tokens (id, name, role, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        (tid, name, role, _hash(secret), now),
    )
    return f"cvy_{tid}_{secret}", {"id": tid, "name": name, "role": role, "created_at": now}


def list_tokens(state: StateStore) -> list[dict[str, Any]]:
    return state.execute(
        "SELECT id, name, role, created_at, revoked_at, last_used_at FROM tokens ORDER BY created_at, id"
    )


def revoke_token(state: StateStore, token_id: str) -> dict[str, Any]:
    """Revoke a token by id (its sessions end too)."""
    rows = state.execute("SELECT id, revoked_at FROM tokens WHERE id = ?", (token_id,))
    if not rows:
        known = [t["id"] for t in list_tokens(state)]
        raise AccessError(
            f"no token with id {token_id!r}", hint=f"tokens: {', '.join(known) or 'none'} (`conveyor token list`)"
        )
    with state.transaction():
        state.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (_now().isoformat(timespec="seconds"), token_id),
        )
        state.execute("DELETE FROM sessions WHERE token_id = ?", (token_id,))
    return state.execute("SELECT id, name, role, created_at, revoked_at FROM tokens WHERE id = ?", (token_id,))[0]


def check_token(state: StateStore, token: str) -> dict[str, Any] | None:
    """The token's record (id, name, role) if it is valid, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "cvy":
        return None
    rows = state.execute("SELECT id, name, role, secret_hash, revoked_at FROM tokens WHERE id = ?", (parts[1],))
    if not rows or rows[0]["revoked_at"] is not None:
        return None
    if not hmac.compare_digest(rows[0]["secret_hash"], _hash(parts[2])):
        return None
    now = time.monotonic()
    if now - _LAST_USED.get(parts[1], -1e9) > _LAST_USED_EVERY:  # one write a minute, not one per request
        _LAST_USED[parts[1]] = now
        state.execute(
            "UPDATE tokens SET last_used_at = ? WHERE id = ?", (_now().isoformat(timespec="seconds"), parts[1])
        )
    return {"id": rows[0]["id"], "name": rows[0]["name"], "role": rows[0]["role"]}


#: token id -> when its last use was written (monotonic seconds); ``last_used_at`` is kept to the minute.
_LAST_USED: dict[str, float] = {}
_LAST_USED_EVERY = 60.0


def create_session(state: StateStore, *, role: str, token_id: str | None) -> str:
    """A browser session (the cookie's value) for a token or a login link."""
    secret = secrets.token_urlsafe(32)
    now = _now()
    state.execute(
        "INSERT INTO sessions (secret_hash, token_id, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        (_hash(secret), token_id, _role(role), now.isoformat(), (now + timedelta(hours=SESSION_HOURS)).isoformat()),
    )
    return secret


def check_session(state: StateStore, secret: str) -> dict[str, Any] | None:
    rows = state.execute(
        "SELECT s.token_id, s.role, s.expires_at, t.name FROM sessions s LEFT JOIN tokens t ON t.id = s.token_id "
        "WHERE s.secret_hash = ?",
        (_hash(secret),),
    )
    if not rows or datetime.fromisoformat(rows[0]["expires_at"]) < _now():
        return None
    return {"id": rows[0]["token_id"], "role": rows[0]["role"], "name": rows[0]["name"] or "login link"}


def create_login_code(state: StateStore, *, role: str = "admin") -> str:
    """A one-time code for the login link ``serve`` prints (valid for an hour, used once)."""
    secret = secrets.token_urlsafe(24)
    now = _now()
    state.execute(
        "INSERT INTO login_codes (secret_hash, role, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (_hash(secret), _role(role), now.isoformat(), (now + timedelta(minutes=LOGIN_CODE_MINUTES)).isoformat()),
    )
    return secret


def redeem_login_code(state: StateStore, code: str) -> str | None:
    """The role the code grants, once; None when it is unknown, used or expired."""
    with state.transaction():
        rows = state.execute("SELECT role, expires_at, used_at FROM login_codes WHERE secret_hash = ?", (_hash(code),))
        if not rows or rows[0]["used_at"] is not None or datetime.fromisoformat(rows[0]["expires_at"]) < _now():
            return None
        state.execute("UPDATE login_codes SET used_at = ? WHERE secret_hash = ?", (_now().isoformat(), _hash(code)))
    return str(rows[0]["role"])


def actor_name(who: dict[str, Any] | None) -> str:
    """How the audit log names a caller: ``NAME (token ID)``, or the local user for the CLI."""
    if who is None:
        import getpass

        try:
            return f"{getpass.getuser()} (cli)"
        except (KeyError, OSError):
            return "cli"
    return f"{who.get('name') or 'token'} ({who['id']})" if who.get("id") else str(who.get("name") or "session")
