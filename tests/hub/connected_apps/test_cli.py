"""``flask apps ...`` through Click's runner."""

from __future__ import annotations

from sso.base.context import hub_state
from sso.connected_apps.service import accepted_secrets, get_app, issuing_secret


def test_apps_add_generates_and_prints_secret_once(app, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["apps", "add", "invoices", "--name", "Invoices", "--login-url",
                                 "http://127.0.0.1:5001/login/multipass/{token}", "--origin", "http://127.0.0.1:5001"])
    assert result.exit_code == 0, result.output
    printed = result.output.strip().splitlines()[-1]
    with app.app_context():
        assert issuing_secret(get_app("invoices")) == printed


def test_apps_add_with_pasted_secret(app, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["apps", "add", "crm", "--name", "CRM", "--login-url",
                                 "https://crm.example/login?multipass={token}", "--secret-stdin"],
                           input="pasted-secret-value-0123\n")
    assert result.exit_code == 0, result.output
    assert "pasted-secret-value-0123" not in result.output
    with app.app_context():
        assert issuing_secret(get_app("crm")) == "pasted-secret-value-0123"


def test_apps_add_errors(app, runner) -> None:  # type: ignore[no-untyped-def]
    base = ["apps", "add", "inv", "--name", "Invoices", "--login-url"]
    for url, extra in [
        ("not a url", []),
        ("https://inv.example/login", []),
        ("https://inv.example/login/{token}", ["--origin", "https://other.example"]),
        ("https://inv.example/login/{token}", ["--origin", "ftp://x"]),
    ]:
        result = runner.invoke(args=base + [url, *extra])
        assert result.exit_code != 0, url
        assert "Error" in result.output and "Traceback" not in result.output
    ok = runner.invoke(args=base + ["https://inv.example/login/{token}"])
    assert ok.exit_code == 0
    dup = runner.invoke(args=base + ["https://inv.example/login/{token}"])
    assert dup.exit_code != 0 and "already exists" in dup.output
    short = runner.invoke(args=["apps", "add", "x2", "--name", "X", "--login-url",
                                "https://x.example/{token}", "--secret-stdin"], input="abc\n")
    assert short.exit_code != 0
    with app.app_context():
        from sso.base.db import db
        from sso.connected_apps.models import ConnectedApp

        assert db.session.scalars(db.select(ConnectedApp.slug)).all() == ["inv"]


def test_apps_rotate_secret(app, runner) -> None:  # type: ignore[no-untyped-def]
    runner.invoke(args=["apps", "add", "inv", "--name", "Invoices", "--login-url", "https://inv.example/l/{token}"])
    result = runner.invoke(args=["apps", "rotate-secret", "inv"])
    assert result.exit_code == 0, result.output
    new = result.output.strip().splitlines()[-1]
    with app.app_context():
        secrets = accepted_secrets(get_app("inv"))
        assert secrets[0] == new and len(secrets) == 2
    pasted = runner.invoke(args=["apps", "rotate-secret", "inv", "--secret-stdin"], input="another-pasted-secret-1\n")
    assert pasted.exit_code == 0
    unknown = runner.invoke(args=["apps", "rotate-secret", "nope"])
    assert unknown.exit_code != 0 and "No connected app" in unknown.output


def test_apps_list(runner) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(args=["apps", "list"]).output == ""
    runner.invoke(args=["apps", "add", "inv", "--name", "Invoices", "--login-url", "https://inv.example/l/{token}"])
    lines = runner.invoke(args=["apps", "list"]).output.splitlines()
    assert lines == ["inv\tenabled\tsecret\tInvoices\thttps://inv.example/l/{token}"]


def test_rewrap_secrets_after_key_rotation(app, runner) -> None:  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    from sso.base.db import db
    from sso.connected_apps.models import AppSecret
    from sso.connected_apps.secrets import SecretBox

    result = runner.invoke(args=["apps", "add", "inv", "--name", "Invoices", "--login-url", "https://inv.example/l/{token}"])
    secret = result.output.strip().splitlines()[-1]
    old_key = app.config["APP_SECRETS_KEYS"][0]
    new_key = Fernet.generate_key().decode()
    app.config["APP_SECRETS_KEYS"] = [new_key, old_key]
    hub_state(app).features.pop("connected_apps", None)  # as a restart with the new keys would
    rewrapped = runner.invoke(args=["apps", "rewrap-secrets"])
    assert rewrapped.exit_code == 0 and "Re-encrypted 1 secrets" in rewrapped.output
    with app.app_context():
        stored = db.session.scalars(db.select(AppSecret.encrypted_value)).one()
        assert SecretBox([new_key]).decrypt(stored) == secret  # the old key is no longer needed
    app.config["APP_SECRETS_KEYS"] = [Fernet.generate_key().decode()]
    hub_state(app).features.pop("connected_apps", None)  # as a restart with the new keys would
    wrong = runner.invoke(args=["apps", "rewrap-secrets"])
    assert wrong.exit_code != 0 and "SSO_APP_SECRETS_KEY" in wrong.output
