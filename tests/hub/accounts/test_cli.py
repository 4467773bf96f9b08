"""``flask users ...`` and ``flask apps ...`` through Click's runner."""

from __future__ import annotations

from sso.accounts.service import authenticate, find_user
from sso.connected_apps.service import accepted_secrets, get_app, issuing_secret


def test_users_create_with_password(app, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["users", "create", "bob", "bob@example.com", "--name", "Bob B",
                                 "--admin", "--password-stdin"], input="bob-password-1\n")
    assert result.exit_code == 0, result.output
    assert "Created user bob" in result.output
    assert "bob-password-1" not in result.output
    with app.app_context():
        user = authenticate("bob", "bob-password-1")
        assert user.is_admin and user.name == "Bob B"


def test_users_create_without_password_prints_link(app, runner, client) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["users", "create", "carl", "carl@example.com"])
    assert result.exit_code == 0, result.output
    link = result.output.split("Set-password link: ")[1].strip()
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.get("/" + path).status_code == 200


def test_users_create_errors(runner) -> None:  # type: ignore[no-untyped-def]
    dup = runner.invoke(args=["users", "create", "ANN", "other@example.com"])
    assert dup.exit_code != 0 and "already exists" in dup.output
    dup_mail = runner.invoke(args=["users", "create", "ann2", "Ann@Example.com"])
    assert dup_mail.exit_code != 0 and "e-mail" in dup_mail.output
    bad = runner.invoke(args=["users", "create", "x", "not-an-email"])
    assert bad.exit_code != 0 and "not a valid e-mail" in bad.output
    short = runner.invoke(args=["users", "create", "y", "y@example.com", "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least" in short.output
    assert "Traceback" not in dup.output + bad.output + short.output


def test_users_import(app, runner, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "users.csv"
    path.write_text("login,email,name\ndora,dora@example.com,Dora D\neve,eve@example.com,\n", encoding="utf-8")
    first = runner.invoke(args=["users", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "Created 2 users" in first.output
    again = runner.invoke(args=["users", "import", str(path)])
    assert again.exit_code == 0 and "Created 0 users, 2 already present" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nx\n", encoding="utf-8")
    result = runner.invoke(args=["users", "import", str(bad)])
    assert result.exit_code != 0 and "header" in result.output
    missing = runner.invoke(args=["users", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code != 0


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
        from sso.connected_apps.models import ConnectedApp
        from sso.extensions import db

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


def test_password_link_command(app, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["users", "password-link", "ann@example.com"])
    assert result.exit_code == 0 and "/set-password/" in result.output
    assert runner.invoke(args=["users", "password-link", "ghost"]).exit_code != 0
    with app.app_context():
        assert find_user("ann") is not None
