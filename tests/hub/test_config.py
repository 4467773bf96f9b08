"""Configuration from SSO_* variables: generated keys, validation naming the variable,
plugin settings, and the rotation of SSO_SECRET_KEY."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from sso import create_app
from sso.base.errors import ConfigError
from sso.config import ROOT, SETTINGS, Computed, Setting, instance_folder, load_config, load_settings, whole_number
from tests.conftest import HUB_USER_PASSWORD, PLUGINS, AuthActions


def test_generates_keys_once_into_instance(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sso.config"):
        first = load_config(tmp_path, environ={})
    assert "SSO_SECRET_KEY is not set" in caplog.text
    assert "SSO_APP_SECRETS_KEY is not set" in caplog.text
    assert (tmp_path / "secret_key").read_text().strip() == first["SECRET_KEY"]
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert len(first["SECRET_KEY"]) >= 32
    Fernet(first["APP_SECRETS_KEYS"][0])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sso.config"):
        second = load_config(tmp_path, environ={})
    assert second["SECRET_KEY"] == first["SECRET_KEY"]
    assert second["APP_SECRETS_KEYS"] == first["APP_SECRETS_KEYS"]
    assert "generated" not in caplog.text
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'sso.sqlite3'}"
    assert first["THROTTLE_STORAGE_URI"] == "memory://"


def test_secret_keys_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        cfg = load_config(tmp_path, environ={})
    assert cfg["SECRET_KEY"] not in caplog.text
    assert cfg["APP_SECRETS_KEYS"][0] not in caplog.text


def test_environment_values_are_used(tmp_path: Path) -> None:
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    cfg = load_config(tmp_path, environ={
        "SSO_DATABASE_URL": "postgresql://u@db.example/sso",
        "SSO_SECRET_KEY": "x" * 40,
        "SSO_APP_SECRETS_KEY": f"{k1}, {k2}",
        "SSO_REDIS_URL": "redis://127.0.0.1:6379/1",
        "SSO_BASE_URL": "https://sso.example/",
    })
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/sso"
    assert cfg["APP_SECRETS_KEYS"] == [k1, k2]
    assert cfg["THROTTLE_STORAGE_URI"] == "redis://127.0.0.1:6379/1"
    assert cfg["SESSION_COOKIE_SECURE"] is True
    assert cfg["BASE_URL"] == "https://sso.example"
    assert cfg["SESSION_COOKIE_HTTPONLY"] is True and cfg["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SSO_DATABASE_URL", "not a url"),
        ("SSO_DATABASE_URL", "mysql://x@y/z"),
        ("SSO_SECRET_KEY", "short"),
        ("SSO_APP_SECRETS_KEY", "not-a-fernet-key"),
        ("SSO_APP_SECRETS_KEY", " , "),
        ("SSO_REDIS_URL", "http://127.0.0.1:6379"),
        ("SSO_BASE_URL", "sso.example"),
        ("SSO_COOKIE_SECURE", "perhaps"),
        ("SSO_LOGIN_LIMIT_IP", "lots"),
        ("SSO_LOGIN_LIMIT_LOGIN", "5 per fortnight-ish"),
        ("SSO_SECRET_KEY", " , "),
        ("SSO_SECRET_KEY", "k" * 30 + ",short"),
        ("SSO_PROXY_COUNT", "11"),
        ("SSO_AUDIT_BUFFERED", "jump,bad name!"),
        ("SSO_APP_CACHE_TTL", "3"),
        ("SSO_APP_CACHE_TTL", "-1"),
        ("SSO_APP_CACHE_TTL", "nan"),
        ("SSO_USERS_PER_PAGE", "0"),
        ("SSO_AUDIT_PER_PAGE", "many"),
        ("SSO_SET_PASSWORD_MAX_AGE", "10"),
        ("SSO_SET_PASSWORD_MAX_AGE", "1.5"),
        ("SSO_MAX_CONTENT_LENGTH", "1e9"),
    ],
)
def test_bad_values_stop_start_up_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, environ={variable: value})
    assert variable in str(info.value)


def test_create_app_refuses_bad_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSO_APP_SECRETS_KEY", "nope")
    with pytest.raises(ConfigError, match="SSO_APP_SECRETS_KEY"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": "sqlite://"}, plugins=PLUGINS)


def test_cookie_secure_can_be_forced(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, environ={"SSO_COOKIE_SECURE": "true", "SSO_SECRET_KEY": "y" * 30})
    assert cfg["SESSION_COOKIE_SECURE"] is True


def test_concurrent_first_starts_agree(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: load_config(tmp_path, environ={})["SECRET_KEY"], range(8)))
    assert len(set(keys)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app_secrets_key", "mfa_pepper", "secret_key"]  # no temp files left


def test_proxy_count(tmp_path: Path) -> None:
    assert load_config(tmp_path, environ={"SSO_PROXY_COUNT": "1"})["PROXY_COUNT"] == 1
    with pytest.raises(ConfigError, match="SSO_PROXY_COUNT"):
        load_config(tmp_path, environ={"SSO_PROXY_COUNT": "-1"})


def test_forwarded_client_ip_is_used_behind_a_trusted_proxy(hub_config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    monkeypatch.setenv("SSO_PROXY_COUNT", "1")
    app = create_app(dict(hub_config), plugins=PLUGINS)
    with app.app_context():
        db.create_all()
    client = app.test_client()
    client.post("/login", data={"login": "x", "password": "y"}, headers={"X-Forwarded-For": "203.0.113.9"})
    with app.app_context():
        assert db.session.scalars(db.select(AuditEvent.ip)).all() == ["203.0.113.9"]
        db.session.remove()  # release the read lock before DROP TABLE (PostgreSQL would wait)
        db.drop_all()
        db.engine.dispose()


# -- one declaration per key --------------------------------------------------------------------


def test_every_declared_key_is_loaded_with_its_default(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, environ={})
    assert [s.key for s in SETTINGS if s.key not in cfg] == []
    for setting in SETTINGS:
        if not isinstance(setting.default, Computed):
            assert cfg[setting.key] == setting.default, setting.key
    assert cfg["INSTANCE_PATH"] == str(tmp_path)
    assert cfg["APP_CACHE_TTL"] == 2 and cfg["SET_PASSWORD_MAX_AGE"] == 3 * 24 * 3600
    assert cfg["SECRET_KEY_FALLBACKS"] == [] and cfg["AUDIT_BUFFERED"] == frozenset({"jump"})


def test_tunable_values_come_from_the_environment(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, environ={
        "SSO_APP_CACHE_TTL": "0", "SSO_USERS_PER_PAGE": " 20 ", "SSO_AUDIT_PER_PAGE": "30",
        "SSO_SET_PASSWORD_MAX_AGE": "3600", "SSO_MAX_CONTENT_LENGTH": "2048", "SSO_AUDIT_BUFFERED": "none",
        "SSO_LOGIN_LIMIT_LOGIN": "3 per minute", "SSO_COOKIE_SECURE": "off",
    })
    assert (cfg["APP_CACHE_TTL"], cfg["USERS_PER_PAGE"], cfg["AUDIT_PER_PAGE"]) == (0, 20, 30)
    assert (cfg["SET_PASSWORD_MAX_AGE"], cfg["MAX_CONTENT_LENGTH"]) == (3600, 2048)
    assert cfg["AUDIT_BUFFERED"] == frozenset() and cfg["LOGIN_LIMIT_LOGIN"] == "3 per minute"
    assert cfg["SESSION_COOKIE_SECURE"] is False and cfg["REMEMBER_COOKIE_SECURE"] is False


def test_derived_keys_follow_given_values(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, environ={}, overrides={"REDIS_URL": "redis://r.example/2",
                                                      "BASE_URL": "https://sso.example"})
    assert cfg["THROTTLE_STORAGE_URI"] == "redis://r.example/2"
    assert cfg["SESSION_COOKIE_SECURE"] is True and cfg["REMEMBER_COOKIE_SECURE"] is True


def test_a_given_key_is_neither_read_nor_generated(tmp_path: Path) -> None:
    broken = {"SSO_SECRET_KEY": "short", "SSO_APP_CACHE_TTL": "99", "SSO_DATABASE_URL": "nope"}
    cfg = load_config(tmp_path, environ=broken, overrides={
        "SECRET_KEY": "g" * 30, "APP_CACHE_TTL": 0.5, "SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True,
    })
    assert cfg["SECRET_KEY"] == "g" * 30 and cfg["SECRET_KEY_FALLBACKS"] == []  # SSO_SECRET_KEY not read at all
    assert cfg["APP_CACHE_TTL"] == 0.5 and cfg["TESTING"] is True  # undeclared keys pass through
    assert not (tmp_path / "secret_key").exists()


def test_given_lists_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SSO_APP_SECRETS_KEY"):
        load_config(tmp_path, environ={}, overrides={"APP_SECRETS_KEYS": ["nope"]})
    with pytest.raises(ConfigError, match="SSO_SECRET_KEY"):
        load_config(tmp_path, environ={}, overrides={"SECRET_KEY": "n" * 30, "SECRET_KEY_FALLBACKS": ["short"]})
    cfg = load_config(tmp_path, environ={}, overrides={"SECRET_KEY": "n" * 30, "SECRET_KEY_FALLBACKS": None})
    assert cfg["SECRET_KEY_FALLBACKS"] == []


def test_instance_folder(tmp_path: Path) -> None:
    assert instance_folder(tmp_path / "given", {"SSO_INSTANCE_PATH": str(tmp_path / "env")}) == str(tmp_path / "given")
    assert instance_folder(None, {"SSO_INSTANCE_PATH": str(tmp_path / "env")}) == str(tmp_path / "env")
    assert instance_folder(None, {"SSO_INSTANCE_PATH": " "}) == str(ROOT / "instance")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="SSO_INSTANCE_PATH"):
        instance_folder(None, {"SSO_INSTANCE_PATH": str(tmp_path / "file")})


def test_create_app_uses_sso_instance_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSO_INSTANCE_PATH", str(tmp_path / "elsewhere"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "k" * 32}, plugins=PLUGINS)
    assert app.instance_path == app.config["INSTANCE_PATH"] == str(tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere" / "app_secrets_key").exists()


# -- plugin settings ----------------------------------------------------------------------------------


def test_plugin_settings_come_from_their_variables(hub_config, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SSO_PAIRING_PER_PAGE", "7")
    monkeypatch.setenv("SSO_PAIRING_SOURCE_TIMEOUT", "2.5")
    app = create_app(dict(hub_config), plugins=PLUGINS)
    assert (app.config["PAIRING_PER_PAGE"], app.config["PAIRING_SOURCE_TIMEOUT"]) == (7, 2.5)
    monkeypatch.setenv("SSO_PAIRING_PER_PAGE", "0")
    given = create_app({**hub_config, "PAIRING_PER_PAGE": 3}, plugins=PLUGINS)  # given: the variable is not read
    assert given.config["PAIRING_PER_PAGE"] == 3
    with pytest.raises(ConfigError, match="SSO_PAIRING_PER_PAGE"):
        create_app(dict(hub_config), plugins=PLUGINS)


def test_load_settings_rules(tmp_path: Path) -> None:
    from flask import Flask

    app = Flask(__name__, instance_path=str(tmp_path))
    mine = (Setting("DEMO_PER_PAGE", "SSO_DEMO_PER_PAGE", "int", 10, whole_number(1, 99), "demo"),)
    load_settings(app, mine, {})
    assert app.config["DEMO_PER_PAGE"] == 10
    app.config.pop("DEMO_PER_PAGE")
    load_settings(app, mine, {"SSO_DEMO_PER_PAGE": "12"})
    assert app.config["DEMO_PER_PAGE"] == 12
    load_settings(app, mine, {"SSO_DEMO_PER_PAGE": "100"})  # already in app.config: given, not read
    assert app.config["DEMO_PER_PAGE"] == 12
    with pytest.raises(ConfigError, match="BASE_URL"):
        load_settings(app, (Setting("BASE_URL", None, "URL", None, None, "a hub key again"),), {})
    with pytest.raises(ValueError, match="parser"):
        Setting("DEMO", "SSO_DEMO", "int", 1, None, "a variable without a parser")


# -- rotating SSO_SECRET_KEY ----------------------------------------------------------------------------

KEY_A, KEY_B = "a" * 20 + secrets.token_urlsafe(16), "b" * 20 + secrets.token_urlsafe(16)


def test_secret_key_list_newest_first(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, environ={"SSO_SECRET_KEY": f" {KEY_B} , {KEY_A} "})
    assert cfg["SECRET_KEY"] == KEY_B and cfg["SECRET_KEY_FALLBACKS"] == [KEY_A]
    assert not (tmp_path / "secret_key").exists()
    with pytest.raises(ConfigError, match="SSO_SECRET_KEY: key number 2 is too short"):
        load_config(tmp_path, environ={"SSO_SECRET_KEY": f"{KEY_B},{KEY_A[:23]}"})


@pytest.fixture
def hub_with_keys(hub_config, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Builds hubs on one database whose ``SSO_SECRET_KEY`` is the given text; the first
    one gets the tables and the user ``ann``."""
    from sso.accounts.service import create_user
    from sso.base.db import db

    made: list[Flask] = []

    def build(keys: str) -> Flask:
        monkeypatch.setenv("SSO_SECRET_KEY", keys)
        app = create_app({k: v for k, v in hub_config.items() if k != "SECRET_KEY"}, plugins=PLUGINS)
        if not made:
            with app.app_context():
                db.create_all()
                create_user("ann", "ann@example.com", "Ann Example", password=HUB_USER_PASSWORD)
        made.append(app)
        return app

    yield build
    for index, app in enumerate(made):
        with app.app_context():
            db.session.remove()
            if index == 0:
                db.drop_all()
            db.engine.dispose()


def _session_cookie(app: Flask) -> str:
    client = app.test_client()
    assert AuthActions(client).login().status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _logged_in(app: Flask, cookie: str) -> bool:
    client = app.test_client()
    client.set_cookie("session", cookie)
    status = client.get("/").status_code
    assert status in {200, 302}
    return status == 200


def _link(app: Flask) -> str:
    from sso.accounts.models import User
    from sso.accounts.service import make_set_password_token
    from sso.base.db import db

    with app.app_context():
        return make_set_password_token(db.session.scalars(db.select(User).filter_by(login="ann")).one())


def _link_works(app: Flask, token: str) -> bool:
    from sso.accounts.service import InvalidSetPasswordLink, check_set_password_token

    with app.app_context():
        try:
            return check_set_password_token(token).login == "ann"
        except InvalidSetPasswordLink:
            return False


def test_sessions_and_links_survive_a_rotation_until_the_old_key_goes(hub_with_keys) -> None:  # type: ignore[no-untyped-def]
    old = hub_with_keys(KEY_A)
    cookie, link = _session_cookie(old), _link(old)
    assert _logged_in(old, cookie) and _link_works(old, link)

    rotated = hub_with_keys(f"{KEY_B},{KEY_A}")
    assert rotated.config["SECRET_KEY"] == KEY_B and rotated.config["SECRET_KEY_FALLBACKS"] == [KEY_A]
    assert _logged_in(rotated, cookie) and _link_works(rotated, link)

    dropped = hub_with_keys(KEY_B)
    assert not _logged_in(dropped, cookie) and not _link_works(dropped, link)


def test_after_a_rotation_the_new_key_signs(hub_with_keys) -> None:  # type: ignore[no-untyped-def]
    rotated = hub_with_keys(f"{KEY_B},{KEY_A}")
    cookie, link = _session_cookie(rotated), _link(rotated)
    new_only, old_only = hub_with_keys(KEY_B), hub_with_keys(KEY_A)
    assert _logged_in(new_only, cookie) and _link_works(new_only, link)
    assert not _logged_in(old_only, cookie) and not _link_works(old_only, link)


def test_links_verify_with_every_key_of_a_longer_list(hub_with_keys) -> None:  # type: ignore[no-untyped-def]
    key_c = "c" * 20 + secrets.token_urlsafe(16)
    links = {key: _link(hub_with_keys(key)) for key in (KEY_A, KEY_B, key_c)}
    three = hub_with_keys(f"{key_c},{KEY_B},{KEY_A}")  # newest first: the middle and oldest keys still verify
    assert three.config["SECRET_KEY_FALLBACKS"] == [KEY_B, KEY_A]
    assert all(_link_works(three, link) for link in links.values())
    assert _link_works(hub_with_keys(KEY_B), links[KEY_B]) and not _link_works(hub_with_keys(KEY_B), links[key_c])
