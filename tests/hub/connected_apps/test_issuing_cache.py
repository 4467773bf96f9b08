"""The per-process snapshot of a connected app that the jump issues with."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sso.base.db import db
from sso.base.errors import NotFound, ValidationError
from sso.connected_apps.service import (
    IssuingApp,
    activate_secret,
    codec_for,
    get_app,
    get_issuing_app,
    retire_secret,
    stage_secret,
    update_connected_app,
)
from sso.multipass import MultipassCodec

BOTH = pytest.mark.parametrize(
    "db_backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _disable_behind_the_cache() -> None:
    """A change this process's ORM never sees, as another worker's would be."""
    db.session.execute(text("UPDATE connected_apps SET enabled = false WHERE slug = 'invoices'"))
    db.session.commit()


@BOTH
def test_snapshot_is_cached_and_issues_with_the_current_secret(app, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, plain = connected_app
    with app.app_context():
        first = get_issuing_app(slug)
        assert isinstance(first, IssuingApp) and get_issuing_app(slug) is first
        assert first.enabled and first.allowed_origins == ("https://invoices.example",)
        token = codec_for(first).encode({"email": "a@example.com"})
        assert MultipassCodec(plain).decode(token)["email"] == "a@example.com"
        with pytest.raises(NotFound):
            get_issuing_app("nope")


@BOTH
def test_changes_made_in_this_process_apply_at_once(app, connected_app) -> None:  # type: ignore[no-untyped-def]
    slug, _plain = connected_app
    with app.app_context():
        before = get_issuing_app(slug)
        update_connected_app(get_app(slug), enabled=False)
        assert get_issuing_app(slug).enabled is False
        _row, new_plain = stage_secret(get_app(slug))
        assert get_issuing_app(slug).codec is before.codec  # staged: still issuing with the active one
        activate_secret(get_app(slug))
        rotated = get_issuing_app(slug)
        assert rotated.codec is not before.codec
        assert MultipassCodec(new_plain).decode(codec_for(rotated).encode({"email": "a@example.com"}))
        retire_secret(get_app(slug))
        assert get_issuing_app(slug) is not rotated  # any app or secret change drops the cache


def test_changes_from_elsewhere_apply_within_the_ttl(app, connected_app, clock) -> None:  # type: ignore[no-untyped-def]
    slug, _plain = connected_app
    app.config["APP_CACHE_TTL"] = 0.3
    with app.app_context():
        assert get_issuing_app(slug).enabled
        _disable_behind_the_cache()
        clock.advance(0.29)
        assert get_issuing_app(slug).enabled  # still the cached snapshot: another worker's view
        clock.advance(0.02)
        assert get_issuing_app(slug).enabled is False


def test_ttl_is_capped_at_two_seconds_and_zero_turns_the_cache_off(app, connected_app, clock) -> None:  # type: ignore[no-untyped-def]
    slug, _plain = connected_app
    app.config["APP_CACHE_TTL"] = 3600
    with app.app_context():
        assert get_issuing_app(slug).enabled
        _disable_behind_the_cache()
        clock.advance(1.99)
        assert get_issuing_app(slug).enabled
        clock.advance(0.02)
        assert get_issuing_app(slug).enabled is False  # 2 s at most, whatever the setting says
        app.config["APP_CACHE_TTL"] = 0
        db.session.execute(text("UPDATE connected_apps SET enabled = true WHERE slug = 'invoices'"))
        db.session.commit()
        assert get_issuing_app(slug).enabled is True  # no cache at all


def test_jump_refuses_an_app_disabled_on_another_worker_after_the_ttl(app, client, auth, connected_app, clock) -> None:  # type: ignore[no-untyped-def]
    slug, _plain = connected_app
    app.config["APP_CACHE_TTL"] = 0.2
    auth.login()
    assert client.get(f"/sso/jump/{slug}").status_code == 302
    with app.app_context():
        _disable_behind_the_cache()
    assert client.get(f"/sso/jump/{slug}").status_code == 302  # this worker has not seen it yet
    clock.advance(0.25)
    assert client.get(f"/sso/jump/{slug}").status_code == 403


def test_app_without_secret_snapshot_explains(app) -> None:  # type: ignore[no-untyped-def]
    from sso.connected_apps.service import create_connected_app

    with app.app_context():
        create_connected_app("bare", "Bare", "https://bare.example/login/{token}")
        snapshot = get_issuing_app("bare")
        assert snapshot.codec is None
        with pytest.raises(ValidationError, match="no Multipass secret"):
            codec_for(snapshot)
