"""Configuration from SSO_* variables: generated keys, validation naming the variable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from sso import create_app
from sso.config import load_config
from sso.base.errors import ConfigError
from tests.conftest import PLUGINS


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
    assert first["RATELIMIT_STORAGE_URI"] == "memory://"


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
    assert cfg["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/1"
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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app_secrets_key", "secret_key"]  # no temp files left


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
