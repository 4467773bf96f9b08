"""``flask users ...`` through Click's runner."""

from __future__ import annotations

from sso.accounts.service import authenticate, find_user


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


def test_password_link_command(app, runner) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["users", "password-link", "ann@example.com"])
    assert result.exit_code == 0 and "/set-password/" in result.output
    assert runner.invoke(args=["users", "password-link", "ghost"]).exit_code != 0
    with app.app_context():
        assert find_user("ann") is not None


def test_password_link_command_with_a_base_url_and_trusted_hosts(app, runner) -> None:  # type: ignore[no-untyped-def]
    """The CLI builds the link on the base URL's host, which is the one the hub trusts."""
    app.config["BASE_URL"] = "https://sso.example.com"
    app.config["TRUSTED_HOSTS"] = ["sso.example.com"]
    result = runner.invoke(args=["users", "password-link", "ann"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().startswith("https://sso.example.com/set-password/")
