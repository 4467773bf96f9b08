"""A small invoicing app that signs its users in through the Multipass SSO hub.

It is the reference for connecting any app to the hub, so from ``sso`` it uses only the
token core (:mod:`sso.multipass`) and the hub's pure rules: :mod:`sso.base.identity` (who
is who: the same comparison the pairing page makes), :mod:`sso.base.redirects` (where a
browser may be sent) and :mod:`sso.base.errors`. Never the hub's app, database, models or
plugins; ``tests/examples/invoicing/test_dependencies.py`` checks it. Run it with::

    INVOICING_MULTIPASS_SECRETS=... INVOICING_HUB_URL=http://127.0.0.1:5000 \\
        flask --app examples.invoicing run --port 5001

Configuration: see :mod:`examples.invoicing.config` (``INVOICING_*`` variables).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response
from flask_wtf.csrf import CSRFProtect

from . import auth, config, db, demo, errors, health, invoices, multipass, scim
from .config import ConfigError

__all__ = ["ConfigError", "create_app"]

#: The app's own cookie name. Cookies do not keep ports apart, so on 127.0.0.1 the hub's
#: ``session`` cookie and ours would overwrite each other under the same name.
SESSION_COOKIE_NAME = "invoicing_session"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from ``INVOICING_*`` variables; keys of ``test_config`` override them.

    ``test_config`` uses the names without the prefix (``HUB_URL``, ``MULTIPASS_SECRETS``,
    ``DATABASE_URL``, ...), plus ``INSTANCE_PATH`` and any Flask setting (``TESTING``).
    Raises :class:`ConfigError`, naming the variable, when the configuration is unusable.
    """
    overrides = dict(test_config or {})
    instance_path = overrides.pop("INSTANCE_PATH", None) or os.environ.get("INVOICING_INSTANCE_PATH") or None
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    app.config.update(config.load(os.environ, overrides, app.instance_path))
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        # Lax: sent on top-level navigations from the hub and in same-site iframes (the
        # front-channel logout); see auth.frontchannel_logout.
        SESSION_COOKIE_SAMESITE="Lax",
        # Behind https (judged by the hub's scheme: both are deployed alike) the cookie is Secure.
        SESSION_COOKIE_SECURE=urlsplit(app.config["HUB_URL"]).scheme == "https",
        MAX_CONTENT_LENGTH=1024 * 1024,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
    )
    app.config.update({k: v for k, v in overrides.items() if k not in _CONFIG_NAMES})

    CSRFProtect(app)
    db.init_app(app)
    multipass.init_app(app)
    auth.init_app(app)
    invoices.init_app(app)
    scim.init_app(app)
    health.init_app(app)
    errors.init_app(app)
    demo.init_app(app)
    app.after_request(_security_headers)
    app.context_processor(lambda: {"hub_url": app.config["HUB_URL"], "app_name": APP_NAME})
    return app


APP_NAME = "InvoiceOcean-like Invoicing"

_CONFIG_NAMES = {
    "MULTIPASS_SECRETS", "HUB_URL", "HUB_APP_SLUG", "SCIM_TOKEN", "REDIS_URL",
    "MULTIPASS_MAX_AGE", "DATABASE_URL",
}


def _security_headers(response: Response) -> Response:
    # No page may be framed, except the front-channel logout, which sets its own policy.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
