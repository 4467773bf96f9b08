"""The hub's app factory: configuration, extensions, blueprints, plugins."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from flask import Flask

from .base.clock import Clock

ROOT = Path(__file__).resolve().parent.parent


class Plugin(Protocol):
    """What :func:`create_app` accepts in ``plugins``: anything with ``init_app(app)``.

    A plugin (for example ``user_pairing.hub``) is called once, after the hub's own
    blueprints and commands are registered; it may register blueprints, CLI commands,
    audit event names and admin links (:func:`sso.base.plugins.add_app_link`). The hub
    never imports a plugin: whoever builds the app (``wsgi.py``, the tests) passes it in.
    """

    def init_app(self, app: Flask) -> None: ...


def create_app(
    test_config: dict[str, Any] | None = None, *, plugins: Iterable[Plugin] = (), clock: Clock | None = None
) -> Flask:
    """Build the hub: load configuration, bind extensions, register blueprints, then plugins.

    ``test_config`` overrides configuration keys (and ``INSTANCE_PATH`` the instance folder);
    ``clock`` replaces the real time (tests pass a :class:`~sso.base.clock.ManualClock`).
    Bad configuration raises :class:`sso.base.errors.ConfigError` naming the variable.
    """
    from . import error_pages, security
    from .accounts import lifetimes, passwords
    from .base import context, extensions
    from .config import instance_folder, load_config

    overrides = dict(test_config or {})
    instance_path = instance_folder(overrides.pop("INSTANCE_PATH", None), os.environ)
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.config.from_mapping(load_config(app.instance_path, overrides=overrides))
    context.init_app(app, clock)

    # Models must be imported before migrations or create_all look at the metadata.
    from .accounts import factor_models as _factor_models  # noqa: F401
    from .accounts import models as _accounts_models  # noqa: F401
    from .audit import models as _audit_models  # noqa: F401
    from .connected_apps import models as _apps_models  # noqa: F401
    from .groups import models as _groups_models  # noqa: F401
    from .oidc import models as _oidc_models  # noqa: F401

    extensions.init_app(app)
    passwords.init_app(app)
    lifetimes.init_app(app)
    error_pages.init_app(app)
    security.init_app(app)

    from . import health
    from .accounts import account_views, mfa_views
    from .accounts import admin as accounts_admin
    from .accounts import cli as accounts_cli
    from .accounts import views as accounts_views
    from .admin import audit as audit_views
    from .connected_apps import cli as apps_cli
    from .connected_apps import links as apps_links
    from .connected_apps import views as apps_views
    from .flows import views as flows_views
    from .groups import admin as groups_admin
    from .groups import cli as groups_cli
    from .portal import views as portal_views

    portal_views.init_app(app)
    for blueprint in (
        accounts_views.bp, accounts_admin.bp, apps_views.bp, audit_views.bp,
        flows_views.bp, health.bp, portal_views.bp, account_views.bp, mfa_views.bp,
    ):
        app.register_blueprint(blueprint)
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Client IPs (throttling, audit) and the scheme come from the trusted proxies.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    app.cli.add_command(accounts_cli.users)
    app.cli.add_command(apps_cli.apps)
    app.cli.add_command(groups_cli.groups)
    groups_admin.init_app(app)
    app.jinja_env.globals["app_links"] = apps_links.app_links  # per-app links (Access, Pairing) on the app page
    from .oidc import setup as oidc_setup

    oidc_setup.init_app(app)
    # The OIDC provider asks the groups package who may open an app and for the groups claim.
    from .groups import group_names, may_open
    from .oidc import hooks as oidc_hooks

    oidc_hooks.set_access_check(may_open, app)
    oidc_hooks.set_group_source(lambda user, _connected_app: group_names(user), app)
    for plugin in plugins:
        plugin.init_app(app)
    return app
