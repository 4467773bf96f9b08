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


def test_apps_rotate_activate_retire(app, runner) -> None:  # type: ignore[no-untyped-def]
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    added = runner.invoke(args=["apps", "add", "inv", "--name", "Invoices", "--login-url", "https://inv.example/l/{token}"])
    first = added.output.strip().splitlines()[-1]
    for command, message in (("activate-secret", "Nothing is staged"), ("retire-secret", "no previous secret")):
        refused = runner.invoke(args=["apps", command, "inv"])
        assert refused.exit_code != 0 and message in refused.output, refused.output
    result = runner.invoke(args=["apps", "rotate-secret", "inv"])
    assert result.exit_code == 0, result.output
    new = result.output.strip().splitlines()[-1]
    assert "accept both secrets, newest first" in result.output and "activate-secret inv" in result.output
    with app.app_context():
        assert issuing_secret(get_app("inv")) == first  # staged: the hub still issues with the active one
        assert accepted_secrets(get_app("inv")) == [new, first]
    again = runner.invoke(args=["apps", "rotate-secret", "inv", "--secret-stdin"], input="another-pasted-secret-1\n")
    assert again.exit_code != 0 and "already staged" in again.output
    replaced = runner.invoke(args=["apps", "rotate-secret", "inv", "--secret-stdin", "--replace"],
                             input="another-pasted-secret-1\n")
    assert replaced.exit_code == 0 and "another-pasted-secret-1" not in replaced.output
    activated = runner.invoke(args=["apps", "activate-secret", "inv"])
    assert activated.exit_code == 0 and "retire-secret inv" in activated.output
    with app.app_context():
        assert issuing_secret(get_app("inv")) == "another-pasted-secret-1"
        assert accepted_secrets(get_app("inv")) == ["another-pasted-secret-1", first]
    retired = runner.invoke(args=["apps", "retire-secret", "inv"])
    assert retired.exit_code == 0, retired.output
    with app.app_context():
        assert accepted_secrets(get_app("inv")) == ["another-pasted-secret-1"]
        events = [e.event for e in db.session.scalars(db.select(AuditEvent))]
        assert {"secret_staged", "secret_discarded", "secret_activated", "secret_retired"} <= set(events)
        assert all(e.actor == "cli" for e in db.session.scalars(db.select(AuditEvent)))
    unknown = runner.invoke(args=["apps", "rotate-secret", "nope"])
    assert unknown.exit_code != 0 and "No connected app" in unknown.output


def test_two_apps_may_not_share_a_secret_cli(app, runner) -> None:  # type: ignore[no-untyped-def]
    shared = "a-secret-both-apps-would-use\n"
    ok = runner.invoke(args=["apps", "add", "inv", "--name", "Invoices", "--login-url", "https://inv.example/l/{token}",
                             "--secret-stdin"], input=shared)
    assert ok.exit_code == 0
    dup = runner.invoke(args=["apps", "add", "crm", "--name", "CRM", "--login-url", "https://crm.example/l/{token}",
                              "--secret-stdin"], input=shared)
    assert dup.exit_code != 0 and "already stored at the hub" in dup.output and "inv" not in dup.output.lower().replace(
        "invalid", "")
    runner.invoke(args=["apps", "add", "crm", "--name", "CRM", "--login-url", "https://crm.example/l/{token}"])
    staged = runner.invoke(args=["apps", "rotate-secret", "crm", "--secret-stdin"], input=shared)
    assert staged.exit_code != 0 and "already stored at the hub" in staged.output


def test_login_urls_on_the_cli(app, runner) -> None:  # type: ignore[no-untyped-def]
    base = ["apps", "add", "inv", "--name", "Invoices", "--login-url", "https://inv.example/l/{token}"]
    result = runner.invoke(args=[*base, "--login-url-allowed", "https://inv.example/login",
                                 "--login-url-allowed", "https://INV.example:443/sso?from=hub"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert get_app("inv").login_urls == ["https://inv.example/login", "https://inv.example/sso?from=hub"]
    for bad in ("https://evil.example/login", "https://inv.example/login#x", "https://inv.example/l?multipass=1"):
        refused = runner.invoke(args=["apps", "set-login-urls", "inv", bad])
        assert refused.exit_code != 0 and "Traceback" not in refused.output, bad
    cleared = runner.invoke(args=["apps", "set-login-urls", "inv"])
    assert cleared.exit_code == 0 and "service-initiated flow off" in cleared.output
    with app.app_context():
        assert get_app("inv").login_urls == []


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
