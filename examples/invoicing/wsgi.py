"""WSGI entry point: ``gunicorn examples.invoicing.wsgi:app``."""

from __future__ import annotations

from examples.invoicing import create_app

app = create_app()
