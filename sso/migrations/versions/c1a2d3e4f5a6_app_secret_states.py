"""Staged secret rotation (a state per app secret, when it was activated and last issued)
and the registered login URLs of the service-initiated flow.

Data: each app's current secret becomes ``active``; of its other unretired secrets the
newest becomes ``previous`` and any older one ``retired``; retired ones stay ``retired``.
Each app's login URLs start as its login URL template without a ``multipass={token}``
query parameter when it has one, else empty (IT registers them; see
docs/connecting-an-app.md).

Revision ID: c1a2d3e4f5a6
Revises: b7c1d2e3f4a5
Create Date: 2026-11-30 01:20:00

"""
from datetime import datetime, timezone
from urllib.parse import urlsplit

from alembic import op
import sqlalchemy as sa


revision = 'c1a2d3e4f5a6'
down_revision = 'b7c1d2e3f4a5'
branch_labels = None
depends_on = None


def _default_login_urls(template):
    parts = urlsplit(template)
    pairs = parts.query.split("&") if parts.query else []
    if "multipass={token}" not in pairs or "{token}" in parts.path:
        return []
    rest = "&".join(p for p in pairs if p != "multipass={token}")
    netloc = parts.netloc.lower()
    scheme = parts.scheme.lower()
    for suffix in ((":443",) if scheme == "https" else (":80",) if scheme == "http" else ()):
        if netloc.endswith(suffix):
            netloc = netloc[: -len(suffix)]
    url = f"{scheme}://{netloc}{parts.path or '/'}"
    return [f"{url}?{rest}" if rest else url]


# Only plain ADD/DROP COLUMN here, never a table rebuild of connected_apps: on SQLite a
# rebuild drops the table, and with foreign keys on that deletes every app's secrets.

def upgrade():
    op.add_column('app_secrets', sa.Column('state', sa.String(length=16), nullable=False, server_default='active'))
    op.add_column('app_secrets', sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('app_secrets', sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('connected_apps', sa.Column('login_urls', sa.JSON(), nullable=False, server_default='[]'))

    conn = op.get_bind()
    now = datetime.now(timezone.utc)
    secrets = sa.table('app_secrets', sa.column('id', sa.Integer()), sa.column('app_id', sa.Integer()),
                       sa.column('is_current', sa.Boolean()), sa.column('retired_at', sa.DateTime(timezone=True)),
                       sa.column('created_at', sa.DateTime(timezone=True)), sa.column('state', sa.String()))
    rows = conn.execute(sa.select(secrets.c.id, secrets.c.app_id, secrets.c.is_current, secrets.c.retired_at)
                        .order_by(secrets.c.app_id, secrets.c.id.desc())).all()
    has_previous, has_active = set(), set()
    for row in rows:
        values = {}
        if row.retired_at is not None:
            values['state'] = 'retired'
        elif row.is_current and row.app_id not in has_active:
            has_active.add(row.app_id)
            values['state'] = 'active'
        elif row.app_id not in has_previous:
            has_previous.add(row.app_id)
            values['state'] = 'previous'
        else:
            values['state'] = 'retired'
            values['retired_at'] = now
        conn.execute(secrets.update().where(secrets.c.id == row.id).values(**values))

    apps = sa.table('connected_apps', sa.column('id', sa.Integer()), sa.column('login_url_template', sa.String()),
                    sa.column('login_urls', sa.JSON()))
    for app in conn.execute(sa.select(apps.c.id, apps.c.login_url_template)).all():
        conn.execute(apps.update().where(apps.c.id == app.id)
                     .values(login_urls=_default_login_urls(app.login_url_template or "")))

    op.drop_column('app_secrets', 'is_current')
    op.create_index('uq_app_secrets_live_state', 'app_secrets', ['app_id', 'state'], unique=True,
                    sqlite_where=sa.text("state != 'retired'"), postgresql_where=sa.text("state != 'retired'"))


def downgrade():
    op.drop_index('uq_app_secrets_live_state', table_name='app_secrets')
    op.add_column('app_secrets', sa.Column('is_current', sa.Boolean(), nullable=False, server_default=sa.false()))
    conn = op.get_bind()
    now = datetime.now(timezone.utc)
    secrets = sa.table('app_secrets', sa.column('id', sa.Integer()), sa.column('state', sa.String()),
                       sa.column('is_current', sa.Boolean()), sa.column('retired_at', sa.DateTime(timezone=True)))
    conn.execute(secrets.update().values(is_current=secrets.c.state == 'active'))
    # A staged secret never issued: it goes (retired) rather than silently becoming "previous".
    conn.execute(secrets.update().where(secrets.c.state == 'next', secrets.c.retired_at.is_(None))
                 .values(retired_at=now))
    op.drop_column('app_secrets', 'last_used_at')
    op.drop_column('app_secrets', 'activated_at')
    op.drop_column('app_secrets', 'state')
    op.drop_column('connected_apps', 'login_urls')
