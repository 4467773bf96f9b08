"""Second factors: TOTP (RFC 6238), one-time recovery codes, WebAuthn passkeys; the
policy that requires them; the admin reset.

Use cases validate, write, record their audit event and commit once. Secrets never reach
the audit log: a TOTP secret is stored encrypted with the app-secrets keys, recovery codes
as HMAC-SHA-256 under the hub's pepper (``SSO_MFA_PEPPER``), passkeys as public keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app, request
from markupsafe import Markup
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import CursorResult
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from sso.audit import record, register_events
from sso.base import context
from sso.base.db import db, transaction
from sso.base.errors import HubError, NotFound, ValidationError

from .factor_models import Passkey, RecoveryCode, TotpFactor
from .mfa_policy import current_policy
from .models import User

register_events(
    "totp_enrolled", "totp_removed", "recovery_codes_made", "recovery_code_used", "passkey_added",
    "passkey_removed", "factor_failed", "factors_reset", "session_ended", "sessions_ended",
    "password_changed", "password_reset_mail", "passkey_login",
)

ISSUER = "Multipass SSO"
TOTP_INTERVAL = 30
RECOVERY_CODES = 10
MAX_PASSKEYS = 20


def _rows(result: Any) -> int:
    """Rows an UPDATE or DELETE touched."""
    return int(cast(CursorResult[Any], result).rowcount)


class FactorFailed(HubError):
    """A wrong second-factor code or passkey: one message whatever was wrong."""

    status = 401
    default_message = "That code or passkey did not work. Try again."


# -- policy ------------------------------------------------------------------------------


def has_factor(user: User) -> bool:
    """Has ``user`` a TOTP app or a passkey (recovery codes alone do not count)?"""
    totp = db.session.scalar(select(func.count()).select_from(TotpFactor).where(TotpFactor.user_id == user.id))
    keys = db.session.scalar(select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id))
    return bool(totp or keys)


def factor_required(user: User) -> bool:
    """Does the policy (an admin's choice, else ``SSO_MFA_REQUIRED``) require a second factor of ``user``?"""
    policy = current_policy()
    return policy == "everyone" or (policy == "admins" and bool(user.is_admin))


# -- TOTP --------------------------------------------------------------------------------


def _box() -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in current_app.config["APP_SECRETS_KEYS"]])


def new_totp_secret() -> str:
    return pyotp.random_base32()


@dataclass(frozen=True)
class TotpSetup:
    """What the enrolment page shows: the secret (to type in) and a QR code as inline SVG
    (an inline image passes the hub's strict Content-Security-Policy, a data: URI would not)."""

    secret: str
    uri: str
    qr_svg: Markup


def totp_setup(user: User, secret: str) -> TotpSetup:
    uri = pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(name=user.login, issuer_name=ISSUER)
    qr = segno.make(uri, error="m").svg_inline(scale=5, border=2, svgclass="qr", title="QR code")
    return TotpSetup(secret, uri, Markup(qr))


def _clean_code(code: object) -> str:
    return "".join(ch for ch in code if not ch.isspace() and ch != "-") if isinstance(code, str) else ""


def _matching_step(secret: str, code: str, after: int) -> int | None:
    """The time step (now, one before or one after) whose code is ``code``, if later than
    ``after``; compared in constant time."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int(context.clock().time() // TOTP_INTERVAL)
    found = None
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.at(step * TOTP_INTERVAL), code) and step > after and found is None:
            found = step
    return found


def enrol_totp(user: User, secret: str, code: object) -> list[str] | None:
    """Store ``secret`` as ``user``'s TOTP app once ``code`` proves the app has it.

    Returns fresh recovery codes when the user had none (shown once), else None.
    Raises ValidationError for a wrong code or when an app is already enrolled.
    """
    step = _matching_step(secret, _clean_code(code), -1)
    if step is None:
        raise ValidationError("That code is not right. Check the time on your phone and try again.")
    with transaction():
        if db.session.scalar(select(TotpFactor).where(TotpFactor.user_id == user.id)) is not None:
            raise ValidationError("An authenticator app is already set up. Remove it first.")
        db.session.add(TotpFactor(
            user_id=user.id, encrypted_secret=_box().encrypt(secret.encode()).decode("ascii"),
            last_step=step, created_at=context.now(),
        ))
        record("totp_enrolled", user=user, actor=user.login)
        codes = None if _unused_codes(user) else _make_recovery_codes(user)
    return codes


def remove_totp(user: User, *, actor: str | None = None) -> None:
    with transaction():
        result = db.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user.id))
        if not _rows(result):
            raise NotFound("No authenticator app is set up.")
        _check_policy_kept(user)
        record("totp_removed", user=user, actor=actor)


def _check_totp(user: User, code: str) -> bool:
    factor = db.session.scalar(select(TotpFactor).where(TotpFactor.user_id == user.id))
    if factor is None:
        return False
    try:
        secret = _box().decrypt(factor.encrypted_secret.encode("ascii")).decode()
    except InvalidToken:
        return False
    step = _matching_step(secret, code, factor.last_step)
    if step is None:
        return False
    # Single use: only one request can move last_step past this step.
    result = db.session.execute(
        update(TotpFactor).where(TotpFactor.id == factor.id, TotpFactor.last_step < step).values(last_step=step)
    )
    return bool(_rows(result))


# -- recovery codes ----------------------------------------------------------------------


def _code_hash(code: str) -> str:
    pepper = current_app.config["MFA_PEPPER"].encode()
    return hmac.new(pepper, code.lower().encode(), hashlib.sha256).hexdigest()


def _unused_codes(user: User) -> int:
    return int(db.session.scalar(
        select(func.count()).select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ) or 0)


def unused_recovery_codes(user: User) -> int:
    return _unused_codes(user)


def _make_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()[:10]
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(raw)))
    record("recovery_codes_made", user=user, actor=user.login, detail={"count": RECOVERY_CODES})
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes (the old ones stop working); shown once."""
    if not has_factor(user):
        raise ValidationError("Set up an authenticator app or a passkey first.")
    with transaction():
        return _make_recovery_codes(user)


def _use_recovery_code(user: User, code: str) -> bool:
    if len(code) != 10:
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _code_hash(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=context.now())
    )
    if _rows(result):
        record("recovery_code_used", user=user, actor=user.login, detail={"left": _unused_codes(user)})
    return bool(_rows(result))


def check_code(user: User, code: object) -> str:
    """Check a second-factor code (TOTP or recovery code) of ``user``; returns which kind
    worked and commits its use. Raises :class:`FactorFailed` (recording ``factor_failed``)."""
    text = _clean_code(code)[:64]
    with transaction():
        if _check_totp(user, text):
            return "totp"
        if _use_recovery_code(user, text):
            return "recovery_code"
    with transaction():
        record("factor_failed", user=user, detail={"login": user.login})
    raise FactorFailed()


# -- passkeys (WebAuthn) -----------------------------------------------------------------


def rp_id() -> str:
    """The relying party id: the host of ``SSO_BASE_URL``, else of the request."""
    base = current_app.config["BASE_URL"]
    return (urlsplit(base).hostname if base else None) or request.host.split(":")[0]


def expected_origin() -> str:
    base = current_app.config["BASE_URL"]
    if base:
        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}"
    return request.host_url.rstrip("/")


def user_handle(user: User) -> bytes:
    """The WebAuthn user handle of ``user``: stable, opaque (no login or e-mail in it)."""
    pepper = current_app.config["MFA_PEPPER"].encode()
    return hmac.new(pepper, f"webauthn-user:{user.id}".encode(), hashlib.sha256).digest()


def registration_options(user: User) -> tuple[str, str]:
    """Options for ``navigator.credentials.create`` as JSON, and the challenge to keep."""
    existing = db.session.scalars(select(Passkey.credential_id).where(Passkey.user_id == user.id)).all()
    if len(existing) >= MAX_PASSKEYS:
        raise ValidationError(f"You have {MAX_PASSKEYS} passkeys already. Remove one first.")
    options = generate_registration_options(
        rp_id=rp_id(), rp_name=ISSUER, user_name=user.login, user_id=user_handle(user),
        user_display_name=user.display_name,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=_b64decode(cid)) for cid in existing],
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def add_passkey(user: User, credential: Any, challenge: str, name: object) -> Passkey:
    """Verify a registration response and store the passkey; raises ValidationError."""
    label = (name if isinstance(name, str) else "").strip()[:100] or "Passkey"
    try:
        verified = verify_registration_response(
            credential=_as_json(credential), expected_challenge=_b64decode(challenge),
            expected_rp_id=rp_id(), expected_origin=expected_origin(),
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as err:
        raise ValidationError("The passkey could not be registered. Please try again.") from err
    cid = bytes_to_base64url(verified.credential_id)
    with transaction():
        if db.session.scalar(select(Passkey.id).where(Passkey.credential_id == cid)) is not None:
            raise ValidationError("This passkey is registered already.")
        key = Passkey(
            user_id=user.id, credential_id=cid, public_key=verified.credential_public_key,
            sign_count=verified.sign_count, name=label, created_at=context.now(),
        )
        db.session.add(key)
        db.session.flush()
        record("passkey_added", user=user, actor=user.login, detail={"name": label})
    return key


def _as_json(credential: Any) -> str:
    if isinstance(credential, str):
        return credential
    if not isinstance(credential, dict):
        raise ValueError("not a credential")
    return json.dumps(credential)


def authentication_options(user: User | None) -> tuple[str, str]:
    """Options for ``navigator.credentials.get``: the user's passkeys as a second factor,
    or any discoverable passkey (``user`` None: passwordless sign-in)."""
    allow = None
    if user is not None:
        ids = db.session.scalars(select(Passkey.credential_id).where(Passkey.user_id == user.id)).all()
        allow = [PublicKeyCredentialDescriptor(id=_b64decode(cid)) for cid in ids]
    options = generate_authentication_options(
        rp_id=rp_id(), allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED if user is None
        else UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def check_passkey(user: User | None, credential: Any, challenge: str) -> User:
    """Verify an authentication response. With ``user`` the passkey must be theirs (second
    factor); without, it names its user (passwordless, user verification required) and
    ``passkey_login`` is recorded with the passkey's use, in one commit.
    Raises :class:`FactorFailed` for every failure, a disabled account included."""
    try:
        data = json.loads(_as_json(credential))
        cid = data["id"] if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError) as err:
        raise FactorFailed() from err
    key = db.session.scalar(select(Passkey).where(Passkey.credential_id == cid)) if isinstance(cid, str) else None
    owner = db.session.get(User, key.user_id) if key is not None else None
    if key is None or owner is None or (user is not None and owner.id != user.id):
        raise FactorFailed()
    try:
        verified = verify_authentication_response(
            credential=_as_json(credential), expected_challenge=_b64decode(challenge),
            expected_rp_id=rp_id(), expected_origin=expected_origin(),
            credential_public_key=key.public_key, credential_current_sign_count=key.sign_count,
            require_user_verification=user is None,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as err:
        with transaction():
            record("factor_failed", user=owner, detail={"login": owner.login, "kind": "passkey"})
        raise FactorFailed() from err
    handle = data.get("response", {}).get("userHandle") if user is None else None
    if user is None and (not isinstance(handle, str) or not hmac.compare_digest(
            _b64decode(handle), user_handle(owner))):
        raise FactorFailed()
    if not owner.active:
        raise FactorFailed()  # a disabled account answers like a wrong passkey
    with transaction():
        key.sign_count = verified.new_sign_count
        key.last_used_at = context.now()
        if user is None:  # passwordless: the passkey is the whole sign-in
            record("passkey_login", user=owner, actor=owner.login)
    return owner


def list_passkeys(user: User) -> list[Passkey]:
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)))


def has_totp(user: User) -> bool:
    return db.session.scalar(select(TotpFactor.id).where(TotpFactor.user_id == user.id)) is not None


def remove_passkey(user: User, passkey_id: int) -> None:
    with transaction():
        key = db.session.get(Passkey, passkey_id)
        if key is None or key.user_id != user.id:
            raise NotFound("No such passkey.")
        name = key.name
        db.session.delete(key)
        db.session.flush()
        _check_policy_kept(user)
        record("passkey_removed", user=user, actor=user.login, detail={"name": name})


def _check_policy_kept(user: User) -> None:
    if factor_required(user) and not has_factor(user):
        raise ValidationError("A second factor is required for your account: add another one before removing this.")


def reset_factors(user: User, *, actor: str | None) -> None:
    """Admin: remove every factor and recovery code of ``user`` (audited). When a factor is
    required, the user sets up a new one at their next sign-in."""
    with transaction():
        counts = {
            "totp": _rows(db.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user.id))),
            "passkeys": _rows(db.session.execute(delete(Passkey).where(Passkey.user_id == user.id))),
            "recovery_codes": _rows(db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))),
        }
        record("factors_reset", user=user, actor=actor, detail=counts)
