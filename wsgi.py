"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``.

The hub with the user-pairing plugin (its admin pages and ``pairing`` commands).
"""

import user_pairing.hub
from sso import create_app

app = create_app(plugins=[user_pairing.hub])
