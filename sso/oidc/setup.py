"""Wire the provider into a hub app: server, blueprint, CLI, audit events, signal receivers."""

from __future__ import annotations

from typing import Any

from flask import Flask, session
from flask_login import user_logged_in

from sso.audit import register_events
from sso.base import context
from sso.base.extensions import csrf
from sso.base.signals import sessions_ended
from sso.connected_apps.protocols import register_protocol

from . import admin, cli, server, service, views

EVENTS = (
    "oidc_authorize", "oidc_refused", "oidc_token", "oidc_tokens_revoked", "oidc_code_replayed",
    "oidc_consent_given", "oidc_consent_revoked", "oidc_client_created", "oidc_key_created",
    "oidc_backchannel_logout", "oidc_client_changed",
)


def _stamp_login(sender: Flask, user: Any = None, **_: Any) -> None:
    """Remember when this session logged in: the ID token's ``auth_time``."""
    if "oidc.server" in context.hub_state(sender).features:
        session["oidc_auth_time"] = int(context.now(sender).timestamp())


def init_app(app: Flask) -> None:
    register_events(*EVENTS)
    srv, protector = server.build(app)
    features = context.hub_state(app).features
    features["oidc.server"] = srv
    features["oidc.protector"] = protector
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    for endpoint in ("token", "userinfo", "revoke", "end_session", "authorize"):
        csrf.exempt(f"{views.__name__}.{endpoint}")
    app.cli.add_command(cli.oidc)
    register_protocol(app, "oidc", cli.add_from_cli)
    sessions_ended.connect(service.on_sessions_ended, weak=False)
    user_logged_in.connect(_stamp_login, sender=app, weak=False)  # this hub only, not any flask-login app
