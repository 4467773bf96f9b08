"""Who must use a second factor: the admin's choice stored in the database, else the
``SSO_MFA_REQUIRED`` setting. A user the policy covers who has no factor yet sets one up at
their next sign-in (:mod:`.login_steps`)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import exists, func, select

from sso.audit import record, register_events
from sso.base import context
from sso.base.db import db, transaction
from sso.base.errors import ValidationError

from .factor_models import MfaPolicy, Passkey, TotpFactor
from .models import User

register_events("mfa_policy_changed")

POLICIES = ("none", "admins", "everyone")
_ROW = 1


def current_policy() -> str:
    """``none``, ``admins`` or ``everyone``: the stored choice, or the setting's default."""
    row = db.session.get(MfaPolicy, _ROW)
    return row.required if row is not None else str(current_app.config["MFA_REQUIRED"])


def stored_policy() -> MfaPolicy | None:
    """The admin's stored choice (who and when), or None while the setting decides."""
    return db.session.get(MfaPolicy, _ROW)


def set_policy(required: str, *, actor: str) -> None:
    """Admin: require a second factor of nobody, of admins or of everyone (audited)."""
    if required not in POLICIES:
        raise ValidationError("Choose nobody, administrators or everyone.", field="required")
    with transaction():
        before = current_policy()
        row = db.session.get(MfaPolicy, _ROW)
        if row is None:
            row = MfaPolicy(id=_ROW, required=required)
            db.session.add(row)
        row.required, row.changed_at, row.changed_by = required, context.now(), actor
        record("mfa_policy_changed", actor=actor, detail={"from": before, "to": required})


@dataclass(frozen=True)
class Affected:
    """Active users a policy covers who have no second factor yet: asked at next sign-in."""

    count: int
    logins: list[str]


def without_factor(required: str, limit: int = 10) -> Affected:
    """Who ``required`` would walk through enrolment at their next sign-in."""
    if required not in ("admins", "everyone"):
        return Affected(0, [])
    query = select(User.login).where(
        User.active.is_(True),
        ~exists().where(TotpFactor.user_id == User.id),
        ~exists().where(Passkey.user_id == User.id),
    )
    if required == "admins":
        query = query.where(User.is_admin.is_(True))
    count = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    logins = list(db.session.scalars(query.order_by(User.login).limit(limit)))
    return Affected(int(count), logins)
