"""WSGI entry point: ``gunicorn examples.helpdesk.wsgi:app``."""

from __future__ import annotations

from examples.helpdesk import create_app

app = create_app()
