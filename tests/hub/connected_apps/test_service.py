"""Connected apps: validation, encrypted secrets, rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from sso.base.db import db
from sso.base.errors import Conflict, ValidationError
from sso.connected_apps.secrets import SecretBox, SecretDecryptionError, generate_secret
from sso.connected_apps.service import (
    accepted_secrets,
    activate_secret,
    check_login_url_template,
    codec_for,
    create_connected_app,
    discard_staged_secret,
    get_app,
    issuing_secret,
    retire_secret,
    set_secret,
    stage_secret,
    update_connected_app,
)

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ORIGINS = ["https://app.example"]


@pytest.mark.parametrize(
    "template",
    [
        "https://app.example/login/multipass/{token}",
        "https://app.example/login?multipass={token}",
        "https://app.example/account/login?lang=en&multipass={token}",
    ],
)
def test_good_templates(template: str) -> None:
    assert check_login_url_template(template, ORIGINS) == template


@pytest.mark.parametrize(
    "template",
    [
        "https://app.example/login",  # no placeholder
        "https://app.example/{token}/{token}",
        "https://app.example/login/{token}/more",
        "https://app.example/login?multipass=x{token}",
        "https://app.example/login#{token}",
        "https://evil.example/login/{token}",  # origin not allowed
        "//app.example/login/{token}",
        "/login/{token}",
        "javascript:{token}",
        "https://user@app.example/login/{token}",
        "not a url {token}",
    ],
)
def test_bad_templates(template: str) -> None:
    with pytest.raises(ValidationError):
        check_login_url_template(template, ORIGINS)


def test_generated_secret_is_long_and_random() -> None:
    a, b = generate_secret(), generate_secret()
    assert a != b and len(a) >= 43


def test_secret_box_rotation_of_keys() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    stored = SecretBox([old]).encrypt("s3cret-value-123456")
    both = SecretBox([new, old])
    assert both.decrypt(stored) == "s3cret-value-123456"
    assert SecretBox([new]).decrypt(both.rotate(stored)) == "s3cret-value-123456"
    with pytest.raises(SecretDecryptionError):
        SecretBox([new]).decrypt(stored)


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_secret_is_stored_encrypted(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        capp = create_connected_app("inv", "Invoices", "https://app.example/login/multipass/{token}")
        assert capp.allowed_origins == ["https://app.example"]
        plain = set_secret(capp)
        raw = [r[0] for r in db.session.execute(text("SELECT encrypted_value FROM app_secrets"))]
        assert len(raw) == 1
        assert plain not in raw[0]
        assert Fernet(app.config["APP_SECRETS_KEYS"][0]).decrypt(raw[0].encode()).decode() == plain
        assert issuing_secret(capp) == plain


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_staged_rotation_stage_activate_retire(app) -> None:  # type: ignore[no-untyped-def]
    from sso.audit.models import AuditEvent

    with app.app_context():
        capp = create_connected_app("inv", "Invoices", "https://app.example/login/multipass/{token}")
        first = set_secret(capp, "pasted-secret-from-the-app")
        with pytest.raises(Conflict, match="already has an active secret"):
            set_secret(capp)
        with pytest.raises(Conflict, match="Nothing is staged"):
            activate_secret(capp)
        with pytest.raises(Conflict, match="no previous secret"):
            retire_secret(capp)
        row, second = stage_secret(capp)
        assert row.state == "next"
        assert issuing_secret(capp) == first  # the hub keeps issuing with the active secret
        assert accepted_secrets(capp) == [second, first]  # what the app should accept, newest first
        with pytest.raises(Conflict, match="already staged"):
            stage_secret(capp)
        activate_secret(capp)
        assert issuing_secret(capp) == second
        assert accepted_secrets(capp) == [second, first]
        assert [s.status for s in capp.secrets] == ["active", "previous"]
        retire_secret(capp)
        assert accepted_secrets(capp) == [second]
        assert [s.status for s in capp.secrets] == ["active", "retired"]
        assert codec_for(capp).decode(codec_for(capp).encode({"email": "a@b.c"}))["email"] == "a@b.c"
        # Staging while a previous secret is listed: activation retires the older previous.
        _row, third = stage_secret(capp)
        _row, fourth = stage_secret(capp, replace=True)  # the staged one is replaced, not kept
        activate_secret(capp)
        assert accepted_secrets(capp) == [fourth, second]
        assert third not in accepted_secrets(capp)
        _row, fifth = stage_secret(capp)
        activate_secret(capp)
        assert accepted_secrets(capp) == [fifth, fourth]
        assert [s.status for s in capp.secrets].count("retired") == 3
        _row, sixth = stage_secret(capp)
        discard_staged_secret(capp)
        assert issuing_secret(capp) == fifth and sixth not in accepted_secrets(capp)
        events = [e.event for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]
        for name in ("secret_set", "secret_staged", "secret_activated", "secret_retired", "secret_discarded"):
            assert name in events, name
        for detail in db.session.scalars(db.select(AuditEvent.detail)):
            for plain in (first, second, third, fourth, fifth, sixth):
                assert plain not in str(detail)


def test_pasted_secret_must_be_reasonable(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        capp = create_connected_app("inv", "Invoices", "https://app.example/login/multipass/{token}")
        for bad in ("short", "x" * 2000, "has\nnewline-inside-secret"):
            with pytest.raises(ValidationError):
                set_secret(capp, bad)
        assert not capp.secrets


def test_create_validation(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        create_connected_app("inv", "Invoices", "https://app.example/login/multipass/{token}")
        with pytest.raises(ValidationError, match="already exists"):
            create_connected_app("inv", "Again", "https://app.example/login/multipass/{token}")
        for slug in ("Bad Slug", "", "-x", "a" * 65, "../x"):
            with pytest.raises(ValidationError):
                create_connected_app(slug, "X", "https://app.example/login/multipass/{token}")
        with pytest.raises(ValidationError):
            create_connected_app("x", "X", "https://app.example/{token}", token_lifetime=5)
        with pytest.raises(ValidationError):
            create_connected_app("x", "X", "https://app.example/{token}", logout_url="https://evil.example/logout")
        with pytest.raises(ValidationError):
            create_connected_app("x", "X", "https://app.example/{token}", ["https://other.example"])


def test_update_revalidates(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        capp = create_connected_app("inv", "Invoices", "https://app.example/login/multipass/{token}")
        with pytest.raises(ValidationError):
            update_connected_app(capp, login_url_template="https://evil.example/{token}")
        diff = update_connected_app(capp, allowed_origins="https://app.example\nhttps://new.example",
                                    login_url_template="https://new.example/login?multipass={token}")
        assert set(diff) == {"allowed_origins", "login_url_template"}
        assert get_app("inv").allowed_origins == ["https://app.example", "https://new.example"]


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
def test_concurrent_staging_is_a_conflict_not_a_500(app) -> None:  # type: ignore[no-untyped-def]
    """Two admins stage at the same moment: the database keeps one next secret per app and
    the second use case gets a Conflict, with nothing written."""
    from sso.audit.models import AuditEvent
    from sso.connected_apps.models import AppSecret

    with app.app_context():
        set_secret(create_connected_app("inv", "Invoices", "https://app.example/login/multipass/{token}"))
    with app.app_context():
        mine = get_app("inv")  # loaded before the other admin's change
        with app.app_context():  # another request, another session
            stage_secret(get_app("inv"))
        with pytest.raises(Conflict, match="changed at the same moment"):
            stage_secret(mine)
    with app.app_context():
        states = sorted(db.session.scalars(db.select(AppSecret.state)))
        assert states == ["active", "next"]
        assert len(db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == "secret_staged")).all()) == 1


def test_one_secret_per_state_is_enforced_by_the_database(app) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import IntegrityError

    from sso.connected_apps.models import AppSecret

    with app.app_context():
        capp = create_connected_app("inv", "Invoices", "https://app.example/login/multipass/{token}")
        set_secret(capp)
        db.session.add(AppSecret(app_id=capp.id, encrypted_value="x", state="active"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        for _ in range(2):  # retired ones are not limited
            db.session.add(AppSecret(app_id=capp.id, encrypted_value="x", state="retired"))
        db.session.commit()
