"""User pairing: each app's directory setting and the last good snapshot of its users.

Revision ID: b7c1d2e3f4a5
Revises: f3a04ee09292
Create Date: 2026-11-25 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7c1d2e3f4a5'
down_revision = 'f3a04ee09292'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('pairing_directories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('encrypted_token', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['connected_apps.id'], name=op.f('fk_pairing_directories_app_id_connected_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairing_directories')),
    sa.UniqueConstraint('app_id', name=op.f('uq_pairing_directories_app_id'))
    )
    op.create_table('pairing_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.Integer(), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('user_count', sa.Integer(), nullable=False),
    sa.Column('users_json', sa.Text(), nullable=False),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('error_kind', sa.String(length=32), nullable=True),
    sa.Column('error_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['connected_apps.id'], name=op.f('fk_pairing_snapshots_app_id_connected_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pairing_snapshots')),
    sa.UniqueConstraint('app_id', name=op.f('uq_pairing_snapshots_app_id'))
    )


def downgrade():
    op.drop_table('pairing_snapshots')
    op.drop_table('pairing_directories')
