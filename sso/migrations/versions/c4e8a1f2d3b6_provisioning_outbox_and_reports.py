"""Provisioning outbox (with links and per-app status), stored pairing reports, snapshot versions and refresh progress.

Revision ID: c4e8a1f2d3b6
Revises: d2e3f4a5b6c7
Create Date: 2026-11-30 00:56:25.449808

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e8a1f2d3b6'
down_revision = 'd2e3f4a5b6c7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pairing_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('rows', sa.LargeBinary(), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['connected_apps.id'], name=op.f('fk_pairing_reports_app_id_connected_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairing_reports')),
    sa.UniqueConstraint('app_id', name=op.f('uq_pairing_reports_app_id'))
    )
    op.create_table('provisioning_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('remote_id', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['connected_apps.id'], name=op.f('fk_provisioning_links_app_id_connected_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_provisioning_links_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provisioning_links')),
    sa.UniqueConstraint('app_id', 'user_id', name=op.f('uq_provisioning_links_app_id'))
    )
    op.create_table('provisioning_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('old_login', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['connected_apps.id'], name=op.f('fk_provisioning_outbox_app_id_connected_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_provisioning_outbox_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provisioning_outbox'))
    )
    with op.batch_alter_table('provisioning_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provisioning_outbox_app_id'), ['app_id'], unique=False)
        batch_op.create_index('ix_provisioning_outbox_due', ['failed_at', 'next_attempt_at'], unique=False)

    op.create_table('provisioning_status',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('last_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['connected_apps.id'], name=op.f('fk_provisioning_status_app_id_connected_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provisioning_status')),
    sa.UniqueConstraint('app_id', name=op.f('uq_provisioning_status_app_id'))
    )
    with op.batch_alter_table('pairing_snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('refresh_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('refresh_done', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('refresh_total', sa.Integer(), nullable=True))



def downgrade():
    with op.batch_alter_table('pairing_snapshots', schema=None) as batch_op:
        batch_op.drop_column('refresh_total')
        batch_op.drop_column('refresh_done')
        batch_op.drop_column('refresh_started_at')
        batch_op.drop_column('version')

    op.drop_table('provisioning_status')
    with op.batch_alter_table('provisioning_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_provisioning_outbox_due')
        batch_op.drop_index(batch_op.f('ix_provisioning_outbox_app_id'))

    op.drop_table('provisioning_outbox')
    op.drop_table('provisioning_links')
    op.drop_table('pairing_reports')
