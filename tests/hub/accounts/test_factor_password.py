"""Removing a second factor or replacing the recovery codes asks for the current password,
checked as a password change checks it: a session left open cannot strip the factors."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from tests.conftest import HUB_USER_PASSWORD
from tests.hub.accounts.mfa_helpers import codes_on_page, enrol_totp

WRONG = {"current": "not-my-password"}
RIGHT = {"current": HUB_USER_PASSWORD}


def _failed_checks(app) -> list[dict]:  # type: ignore[no-untyped-def]
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.event == "password_check_failed"))
        return [{"actor": r.actor, "detail": r.detail if isinstance(r.detail, dict) else json.loads(r.detail or "{}")}
                for r in rows]


def _count(app, model) -> int:  # type: ignore[no-untyped-def]
    from sso.base.db import db

    with app.app_context():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _field_error(html: str) -> str:
    found = re.search(r'<p class="field-error" id="current-error">([^<]*)</p>', html)
    assert found, "no error under the password field"
    return found.group(1)


def _add_passkey(app, name: str = "Work laptop") -> int:  # type: ignore[no-untyped-def]
    from sso.accounts.factor_models import Passkey
    from sso.accounts.service import find_user
    from sso.base.db import db

    with app.app_context():
        key = Passkey(user_id=find_user("ann").id, credential_id="cred-" + name.replace(" ", "-"),
                      public_key=b"\x01", sign_count=0, name=name)
        db.session.add(key)
        db.session.commit()
        return int(key.id)


def test_removing_the_authenticator_app_asks_for_the_password(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factor_models import TotpFactor

    auth.login()
    enrol_totp(client, clock)
    account = client.get("/account/").get_data(as_text=True)
    assert 'href="/account/totp/remove"' in account  # a link to the confirm step, not a one-click form
    step = client.get("/account/totp/remove")
    assert step.status_code == 200 and 'name="current"' in step.get_data(as_text=True)
    assert client.post("/account/totp/remove").status_code == 400  # no password: nothing removed
    wrong = client.post("/account/totp/remove", data=WRONG)
    assert wrong.status_code == 400
    assert _field_error(wrong.get_data(as_text=True)) == "Your current password is not right."
    assert _count(app, TotpFactor) == 1
    assert _failed_checks(app) == [{"actor": "ann", "detail": {"action": "totp_remove"}}]
    assert client.post("/account/totp/remove", data=RIGHT).status_code == 302
    assert _count(app, TotpFactor) == 0


def test_new_recovery_codes_ask_for_the_password(app, client, auth, clock) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    _secret, old = enrol_totp(client, clock)
    wrong = client.post("/account/recovery-codes", data=WRONG)
    assert wrong.status_code == 400 and codes_on_page(wrong.get_data(as_text=True)) == []
    assert _failed_checks(app)[-1]["detail"] == {"action": "recovery_codes"}
    auth.logout()
    auth.login()
    assert client.post("/login/verify", data={"code": old[0]}).status_code == 302  # the old codes still work
    new = codes_on_page(client.post("/account/recovery-codes", data=RIGHT).get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)


def test_removing_a_passkey_asks_for_the_password(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factor_models import Passkey

    auth.login()
    key_id = _add_passkey(app)  # after the login: with a passkey the login asks for a second step
    path = f"/account/passkeys/{key_id}/remove"
    step = client.get(path).get_data(as_text=True)
    assert "Remove the passkey Work laptop?" in step and 'name="current"' in step
    wrong = client.post(path, data=WRONG)
    assert wrong.status_code == 400 and _field_error(wrong.get_data(as_text=True))
    assert _count(app, Passkey) == 1
    assert _failed_checks(app)[-1]["detail"] == {"action": "passkey_remove"}
    assert client.post(path, data=RIGHT).status_code == 302
    assert _count(app, Passkey) == 0


def test_someone_elses_passkey_is_not_found(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    key_id = _add_passkey(app)
    auth.login_admin()
    assert client.get(f"/account/passkeys/{key_id}/remove").status_code == 404
    assert client.post(f"/account/passkeys/{key_id}/remove", data=RIGHT).status_code == 404


@pytest.mark.parametrize("path", ["/account/totp/remove", "/account/recovery-codes"])
def test_wrong_passwords_count_with_the_login_throttle(app, client, auth, clock, path) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.factor_models import TotpFactor

    auth.login()
    enrol_totp(client, clock)
    statuses = [client.post(path, data=WRONG).status_code for _ in range(5)]
    assert statuses == [400] * 5
    # The sixth try, even with the right password, and a password change too: the login limit.
    assert client.post(path, data=RIGHT).status_code == 429
    change = {"current": HUB_USER_PASSWORD, "password": "a-new-password-1", "confirm": "a-new-password-1"}
    assert client.post("/account/password", data=change).status_code == 429
    assert _count(app, TotpFactor) == 1


def test_wrong_current_password_of_a_password_change_is_under_its_field(app, client, auth) -> None:  # type: ignore[no-untyped-def]
    auth.login()
    data = {"current": "not-my-password", "password": "a-new-password-1", "confirm": "a-new-password-1"}
    page = client.post("/account/password", data=data)
    assert page.status_code == 400
    assert _field_error(page.get_data(as_text=True)) == "Your current password is not right."
    assert _failed_checks(app) == [{"actor": "ann", "detail": {"action": "password_change"}}]
