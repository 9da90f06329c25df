"""Users: creation (CLI, admin), single-sign-on identities (issuer + subject) and roles from
their claims."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from strokealert.api.security import hash_password
from strokealert.db.models.users import ROLES, User
from strokealert.errors import InputError


def add_user(session: Session, username: str, role: str, password: str | None, *,
             display_name: str | None = None, person_id: int | None = None,
             now: Any = None) -> User:
    """Create a local user with an argon2id password hash, or (``password`` None) an account
    only single sign-on can enter, linked on a login by :func:`find_sso_user`; InputError on
    bad input."""
    from datetime import UTC, datetime

    username = username.strip()
    if not username or len(username) > 128:
        raise InputError("username must be 1–128 characters")
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InputError(f"user {username!r} already exists")
    try:
        password_hash = None if password is None else hash_password(password)
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


def find_sso_user(session: Session, issuer: str, subject: str, claims: dict[str, Any], *,
                  link_email: bool) -> User | None:
    """The user linked to this SSO identity: by issuer + subject (a link made before issuers
    were stored counts for the one configured issuer). With ``link_email`` (setting
    ``oidc_link_verified_email``) and ``email_verified`` true in the claims, also an unlinked
    SSO-only account (no password) named by the email. Never a password account by name or
    email: those are linked by an admin (:func:`link_sso`)."""
    user = session.scalar(select(User).where(
        User.oidc_subject == subject,
        or_(User.oidc_issuer == issuer, User.oidc_issuer.is_(None))))
    email = claims.get("email")
    if user is None and link_email and claims.get("email_verified") is True and email:
        user = session.scalar(select(User).where(
            User.username == str(email), User.oidc_subject.is_(None),
            User.password_hash.is_(None)))
    return user


def claimed_name(claims: dict[str, Any], subject: str) -> str:
    """The name the provider gives the user (preferred_username, else email, else subject)."""
    return str(claims.get("preferred_username") or claims.get("email") or subject)[:128]


def add_sso_user(session: Session, issuer: str, subject: str, claims: dict[str, Any],
                 role: str) -> User:
    """A new SSO-only user (no password). Its username is the claimed name unless a user
    already has it; then the name with the subject appended (a name only labels)."""
    from datetime import UTC, datetime

    name = claimed_name(claims, subject)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        name = f"{name[:80]} ({subject[:40]})"
    user = User(username=name, display_name=str(claims.get("name") or name)[:128], role=role,
                oidc_issuer=issuer, oidc_subject=subject, created_at=datetime.now(UTC),
                active=True)
    session.add(user)
    session.flush()
    return user


def link_sso(session: Session, username: str, issuer: str, subject: str) -> User:
    """An admin links a local user to an SSO identity (it keeps its role); InputError when the
    user is unknown or the identity is already another user's."""
    user = user_named(session, username)
    holder = session.scalar(select(User).where(User.oidc_issuer == issuer,
                                               User.oidc_subject == subject))
    if holder is not None and holder.id != user.id:
        raise InputError(f"that identity is already linked to {holder.username!r}")
    user.oidc_issuer, user.oidc_subject = issuer, subject
    session.flush()
    return user


def user_named(session: Session, username: str) -> User:
    """The user called ``username``; InputError when there is none."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise InputError(f"no user named {username!r}")
    return user
