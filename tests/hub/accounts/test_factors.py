"""Second factors: TOTP enrolment and sign-in, recovery codes, throttling of the second
step, the policy that requires a factor, and the admin reset."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import HUB_ADMIN_PASSWORD, HUB_USER_PASSWORD
from tests.hub.accounts.mfa_helpers import codes_on_page, enrol_totp, secret_on_page, totp_code


def _events(app) -> list[str]:  # type: ignore[no-untyped-def]
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    with app.app_context():
        return [e.event for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def _signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/account/").status_code == 200


def test_enrolment_shows_a_qr_code_and_the_key(client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    html = client.get("/account/totp").get_data(as_text=True)
    assert '<svg' in html and 'class="qr"' in html
    secret = secret_on_page(html)
    assert len(secret) == 32
    # The same secret until the app is confirmed (a reload must not change the QR code).
    assert secret_on_page(client.get("/account/totp").get_data(as_text=True)) == secret


def test_wrong_code_does_not_enrol(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    secret = secret_on_page(client.get("/account/totp").get_data(as_text=True))
    wrong = str((int(totp_code(secret, clock)) + 1) % 1_000_000).zfill(6)
    assert client.post("/account/totp", data={"code": wrong}).status_code == 400
    assert "totp_enrolled" not in _events(app)


def test_login_with_totp_asks_for_the_code(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    secret, _codes = enrol_totp(client, clock)
    auth.logout()
    response = auth.login()
    assert response.status_code == 302 and response.headers["Location"] == "/login/verify"
    assert not _signed_in(client)  # nothing is signed in between the steps
    clock.advance(30)
    done = client.post("/login/verify", data={"code": totp_code(secret, clock)})
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert _signed_in(client)
    assert _events(app)[-1] == "factor_ok"


def test_a_totp_code_works_once(client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    secret, _codes = enrol_totp(client, clock)
    auth.logout()
    clock.advance(30)
    code = totp_code(secret, clock)
    auth.login()
    assert client.post("/login/verify", data={"code": code}).status_code == 302
    auth.logout()
    auth.login()
    # Same window, same code: refused (replay), and so is the code of the step before.
    assert client.post("/login/verify", data={"code": code}).status_code == 401
    assert client.post("/login/verify", data={"code": totp_code(secret, clock, -1)}).status_code == 401
    clock.advance(30)
    assert client.post("/login/verify", data={"code": totp_code(secret, clock)}).status_code == 302


def test_enrolment_code_cannot_be_replayed_at_login(client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    secret, _codes = enrol_totp(client, clock)
    auth.logout()
    auth.login()
    assert client.post("/login/verify", data={"code": totp_code(secret, clock)}).status_code == 401


def test_recovery_codes_work_once_each(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    _secret, codes = enrol_totp(client, clock)
    assert len(set(codes)) == 10
    auth.logout()
    auth.login()
    assert client.post("/login/verify", data={"code": codes[0].upper()}).status_code == 302
    assert "recovery_code_used" in _events(app)
    auth.logout()
    auth.login()
    assert client.post("/login/verify", data={"code": codes[0]}).status_code == 401
    assert client.post("/login/verify", data={"code": codes[1].replace("-", "")}).status_code == 302


def test_recovery_codes_are_stored_hashed(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factor_models import RecoveryCode
    from sso.base.db import db

    auth.login()
    _secret, codes = enrol_totp(client, clock)
    with app.app_context():
        stored = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10
    plain = {c.replace("-", "") for c in codes}
    assert not plain & set(stored) and all(len(h) == 64 for h in stored)


def test_regenerating_recovery_codes_voids_the_old_ones(client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    _secret, old = enrol_totp(client, clock)
    new = codes_on_page(client.post("/account/recovery-codes", data={"current": HUB_USER_PASSWORD}).get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    auth.logout()
    auth.login()
    assert client.post("/login/verify", data={"code": old[0]}).status_code == 401
    assert client.post("/login/verify", data={"code": new[0]}).status_code == 302


def test_totp_secret_is_encrypted_at_rest(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factor_models import TotpFactor
    from sso.base.db import db

    auth.login()
    secret, _codes = enrol_totp(client, clock)
    with app.app_context():
        stored = db.session.scalar(sa.select(TotpFactor.encrypted_secret))
    assert stored and secret not in stored


def test_wrong_codes_are_throttled_per_account(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    secret, _codes = enrol_totp(client, clock)
    auth.logout()
    clock.advance(30)
    auth.login()
    for _ in range(5):  # LOGIN_LIMIT_LOGIN: 5 per minute
        assert client.post("/login/verify", data={"code": "000000"}).status_code == 401
    # Signing in with the right password again does not reset the count of wrong codes.
    auth.login()
    refused = client.post("/login/verify", data={"code": totp_code(secret, clock)})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert _events(app).count("factor_failed") == 5
    clock.advance(60)
    assert client.post("/login/verify", data={"code": totp_code(secret, clock)}).status_code == 302


def test_a_wrong_code_says_nothing_else(client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    enrol_totp(client, clock)
    auth.logout()
    auth.login()
    answers = [client.post("/login/verify", data={"code": code}) for code in ("123456", "abcde-fghij", "x")]
    assert [a.status_code for a in answers] == [401, 401, 401]
    bodies = {a.get_data(as_text=True).replace('value="' + c + '"', "") for a, c in
              zip(answers, ("123456", "abcde-fghij", "x"), strict=True)}
    assert len(bodies) == 1  # a wrong app code, a wrong recovery code, junk: one answer
    assert "That code or passkey did not work." in bodies.pop()


def test_second_step_without_a_password_goes_back_to_login(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/login/verify", data={"code": "123456"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_second_step_expires(client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    secret, _codes = enrol_totp(client, clock)
    auth.logout()
    auth.login()
    clock.advance(601)
    response = client.post("/login/verify", data={"code": totp_code(secret, clock)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not _signed_in(client)


def test_deactivated_between_the_steps_cannot_finish(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import find_user, update_user

    auth.login()
    secret, _codes = enrol_totp(client, clock)
    auth.logout()
    auth.login()
    with app.app_context():
        update_user(find_user("ann"), active=False)
    clock.advance(30)
    response = client.post("/login/verify", data={"code": totp_code(secret, clock)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not _signed_in(client)


def test_next_survives_the_second_step(client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    secret, _codes = enrol_totp(client, clock)
    auth.logout()
    auth.login(next="/account/")
    clock.advance(30)
    assert client.post("/login/verify", data={"code": totp_code(secret, clock)}).headers["Location"] == "/account/"


@pytest.mark.parametrize("policy, who, walked", [
    ("admins", "admin", True), ("admins", "ann", False), ("everyone", "ann", True), ("none", "admin", False),
])
def test_policy_walks_users_through_enrolment(hub_config, clock, policy, who, walked) -> None:  # type: ignore[no-untyped-def]
    from sso import create_app
    from sso.accounts.service import create_user
    from sso.base.db import db
    from tests.conftest import PLUGINS

    app = create_app({**hub_config, "MFA_REQUIRED": policy}, plugins=PLUGINS, clock=clock)
    with app.app_context():
        db.create_all()
        create_user("admin", "admin@example.com", admin=True, password=HUB_ADMIN_PASSWORD)
        create_user("ann", "ann@example.com", password=HUB_USER_PASSWORD)
    client = app.test_client()
    password = HUB_ADMIN_PASSWORD if who == "admin" else HUB_USER_PASSWORD
    response = client.post("/login", data={"login": who, "password": password})
    try:
        if not walked:
            assert response.headers["Location"] == "/"
            return
        assert response.headers["Location"] == "/login/verify"
        assert client.get("/login/verify").headers["Location"] == "/login/setup"
        assert client.get("/").status_code == 302  # not signed in yet
        html = client.get("/login/setup").get_data(as_text=True)
        assert '<svg' in html and 'class="qr"' in html
        secret = secret_on_page(html)
        done = client.post("/login/setup", data={"code": totp_code(secret, clock)})
        assert done.status_code == 200 and len(codes_on_page(done.get_data(as_text=True))) == 10
        assert client.get("/").status_code == 200  # signed in
        # Required: the only factor cannot be removed.
        assert client.post("/account/totp/remove", data={"current": password}).status_code == 400
    finally:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def test_admin_resets_factors_audited(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factor_models import RecoveryCode, TotpFactor
    from sso.accounts.service import find_user
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    auth.login()
    enrol_totp(client, clock)
    auth.logout()
    auth.login_admin()
    with app.app_context():
        ann_id = find_user("ann").id
    page = client.get(f"/admin/users/{ann_id}").get_data(as_text=True)
    assert "Reset second factors" in page
    assert client.post(f"/admin/users/{ann_id}/reset-factors").status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TotpFactor)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == "factors_reset")).one()
        assert event.actor == "admin" and event.user_id == ann_id
    auth.logout()
    assert auth.login().headers["Location"] == "/"  # no second step any more


def test_reset_factors_is_admin_only(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import find_user

    with app.app_context():
        admin_id = find_user("admin").id
    auth.login()
    assert client.post(f"/admin/users/{admin_id}/reset-factors").status_code in {302, 403}
    assert "factors_reset" not in _events(app)


def test_remove_totp(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    enrol_totp(client, clock)
    assert client.post("/account/totp/remove", data={"current": HUB_USER_PASSWORD}).status_code == 302
    assert "totp_removed" in _events(app)
    auth.logout()
    assert auth.login().headers["Location"] == "/"


def test_a_webauthn_challenge_is_taken_once_even_from_a_copied_cookie(app, clock) -> None:  # type: ignore[no-untyped-def]
    from flask import session

    from sso.accounts.factors import FactorFailed
    from sso.accounts.mfa_views import keep_challenge, take_challenge

    with app.test_request_context("/"):
        keep_challenge("challenge-1")
        copy = dict(session)
        assert take_challenge() == "challenge-1"
        session.update(copy)  # the old cookie, sent again
        with pytest.raises(FactorFailed):
            take_challenge()


def test_a_webauthn_challenge_expires(app, clock) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factors import FactorFailed
    from sso.accounts.mfa_views import CHALLENGE_SECONDS, keep_challenge, take_challenge

    with app.test_request_context("/"):
        keep_challenge("challenge-2")
        clock.advance(CHALLENGE_SECONDS + 1)
        with pytest.raises(FactorFailed):
            take_challenge()


def test_a_passwordless_passkey_is_recorded_with_its_use_in_one_commit(app) -> None:  # type: ignore[no-untyped-def]
    """``check_passkey(None, ...)`` is the passwordless sign-in use case: the sign count, the
    last use and ``passkey_login`` go in one commit (a real ES256 assertion, made here with
    ``cryptography`` the way an authenticator makes it; the browser test drives chromium's)."""
    import base64
    import hashlib
    import json

    import cbor2
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from sso.accounts.factor_models import Passkey
    from sso.accounts.factors import check_passkey, expected_origin, rp_id, user_handle
    from sso.accounts.service import find_user
    from sso.base.db import db
    from tests.hub.test_use_cases import commits

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    key = ec.generate_private_key(ec.SECP256R1())
    numbers = key.public_key().public_numbers()
    cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
    credential_id = b64(b"credential-of-ann")
    with app.test_request_context("/login/passkey", method="POST"):
        user = find_user("ann")
        db.session.add(Passkey(user_id=user.id, credential_id=credential_id, public_key=cose, sign_count=0, name="k"))
        db.session.commit()
        before = len(_events(app))
        challenge = b64(b"a challenge the hub kept" * 2)
        auth_data = hashlib.sha256(rp_id().encode()).digest() + b"\x05" + (7).to_bytes(4, "big")  # UP + UV
        client_data = json.dumps({"type": "webauthn.get", "challenge": challenge, "origin": expected_origin()}).encode()
        signature = key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        credential = {"id": credential_id, "rawId": credential_id, "type": "public-key", "response": {
            "authenticatorData": b64(auth_data), "clientDataJSON": b64(client_data), "signature": b64(signature),
            "userHandle": b64(user_handle(user)),
        }}
        with commits() as seen:
            assert check_passkey(None, credential, challenge).id == user.id
        assert len(seen) == 1
        assert db.session.scalars(sa.select(Passkey.sign_count).filter_by(credential_id=credential_id)).one() == 7
    assert _events(app)[before:] == ["passkey_login"]
