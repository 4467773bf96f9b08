"""Configuration from INVOICING_* variables: clear errors at start-up, no built-in secret key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from examples.invoicing import ConfigError, create_app
from examples.invoicing.config import load

from .conftest import HUB_URL, SECRET

BASE_ENV = {"INVOICING_MULTIPASS_SECRETS": SECRET, "INVOICING_HUB_URL": HUB_URL}


def test_environment_is_read(tmp_path: Path) -> None:
    env = {
        **BASE_ENV,
        "INVOICING_MULTIPASS_SECRETS": f"  {SECRET}\n old-secret-still-valid  ",
        "INVOICING_HUB_URL": "https://hub.example.com/",
        "INVOICING_HUB_APP_SLUG": "billing",
        "INVOICING_SCIM_TOKEN": "a-scim-token-long-enough",
        "INVOICING_REDIS_URL": "redis://127.0.0.1:6379/3",
        "INVOICING_MULTIPASS_MAX_AGE": "4",
        "INVOICING_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "INVOICING_SECRET_KEY": "x" * 32,
    }
    settings = load(env, {}, str(tmp_path))
    assert settings["MULTIPASS_SECRETS"] == [SECRET, "old-secret-still-valid"]
    assert settings["HUB_URL"] == "https://hub.example.com"
    assert settings["HUB_APP_SLUG"] == "billing"
    assert settings["SCIM_TOKEN"] == "a-scim-token-long-enough"
    assert settings["REDIS_URL"] == "redis://127.0.0.1:6379/3"
    assert settings["MULTIPASS_MAX_AGE"] == 4
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert settings["SECRET_KEY"] == "x" * 32


def test_defaults(tmp_path: Path) -> None:
    settings = load(BASE_ENV, {}, str(tmp_path))
    assert settings["HUB_APP_SLUG"] == "invoices"
    assert settings["MULTIPASS_MAX_AGE"] == 900
    assert settings["REDIS_URL"] is None and settings["SCIM_TOKEN"] is None
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'invoicing.sqlite3'}"


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path: Path) -> None:
    first = load(BASE_ENV, {}, str(tmp_path / "instance"))["SECRET_KEY"]
    key_file = tmp_path / "instance" / "invoicing-secret-key"
    assert len(first) >= 32 and key_file.read_text() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load(BASE_ENV, {}, str(tmp_path / "instance"))["SECRET_KEY"] == first
    assert load(BASE_ENV, {}, str(tmp_path / "elsewhere"))["SECRET_KEY"] != first


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"INVOICING_HUB_URL": HUB_URL}, "INVOICING_MULTIPASS_SECRETS"),
        ({**BASE_ENV, "INVOICING_MULTIPASS_SECRETS": "short"}, "INVOICING_MULTIPASS_SECRETS"),
        ({"INVOICING_MULTIPASS_SECRETS": SECRET}, "INVOICING_HUB_URL"),
        ({**BASE_ENV, "INVOICING_HUB_URL": "javascript:alert(1)"}, "INVOICING_HUB_URL"),
        ({**BASE_ENV, "INVOICING_HUB_URL": "127.0.0.1:5000"}, "INVOICING_HUB_URL"),
        ({**BASE_ENV, "INVOICING_HUB_APP_SLUG": "in voices"}, "INVOICING_HUB_APP_SLUG"),
        ({**BASE_ENV, "INVOICING_SCIM_TOKEN": "short"}, "INVOICING_SCIM_TOKEN"),
        ({**BASE_ENV, "INVOICING_REDIS_URL": "http://127.0.0.1:6379"}, "INVOICING_REDIS_URL"),
        ({**BASE_ENV, "INVOICING_MULTIPASS_MAX_AGE": "abc"}, "INVOICING_MULTIPASS_MAX_AGE"),
        ({**BASE_ENV, "INVOICING_MULTIPASS_MAX_AGE": "0"}, "INVOICING_MULTIPASS_MAX_AGE"),
        ({**BASE_ENV, "INVOICING_MULTIPASS_MAX_AGE": "3600"}, "INVOICING_MULTIPASS_MAX_AGE"),
        ({**BASE_ENV, "INVOICING_DATABASE_URL": "invoicing.db"}, "INVOICING_DATABASE_URL"),
        ({**BASE_ENV, "INVOICING_SECRET_KEY": "short"}, "INVOICING_SECRET_KEY"),
    ],
)
def test_bad_configuration_names_the_variable(tmp_path: Path, env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load(env, {}, str(tmp_path))


def test_create_app_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INVOICING_HUB_URL", HUB_URL)
    monkeypatch.delenv("INVOICING_MULTIPASS_SECRETS", raising=False)
    with pytest.raises(ConfigError, match="INVOICING_MULTIPASS_SECRETS is not set"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_an_older_database_stops_the_app_with_a_clear_message(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:  # the accounts table as an earlier version made it
        connection.execute(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, login VARCHAR(150), login_key VARCHAR(150) UNIQUE, "
            "email VARCHAR(254), email_key VARCHAR(254) UNIQUE, name VARCHAR(200), active BOOLEAN, created_at DATETIME)"
        )
    connection.close()
    with pytest.raises(ConfigError, match="table accounts lacks external_id, session_nonce, updated_at"):
        create_app({"TESTING": True, "MULTIPASS_SECRETS": ["a-secret-of-sixteen-chars"], "HUB_URL": "http://127.0.0.1:5000",
                    "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x" * 32, "INSTANCE_PATH": str(tmp_path)})
