"""Users: creation (CLI, admin), roles from single-sign-on claims."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from strokealert.api.security import hash_password
from strokealert.db.models.users import ROLES, User
from strokealert.errors import InputError


def add_user(session: Session, username: str, role: str, password: str, *,
             display_name: str | None = None, person_id: int | None = None,
             now: Any = None) -> User:
    """Create a local user with an argon2id password hash; InputError on bad input."""
    from datetime import UTC, datetime

    username = username.strip()
    if not username or len(username) > 128:
        raise InputError("username must be 1–128 characters")
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InputError(f"user {username!r} already exists")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    user = User(username=username, display_name=display_name or username, role=role,
                password_hash=password_hash, person_id=person_id, active=True,
                created_at=now or datetime.now(UTC))
    session.add(user)
    session.flush()
    return user


def role_from_claims(claims: dict[str, Any], claim: str, default: str | None) -> str | None:
    """The first known role in the ID token's ``claim`` (string or list), else ``default``."""
    value = claims.get(claim)
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, str) and item in ROLES:
            return item
    return default if default in ROLES else None
