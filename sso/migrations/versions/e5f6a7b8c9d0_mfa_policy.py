"""mfa policy: who must use a second factor, as an admin set it

Revision ID: e5f6a7b8c9d0
Revises: bf8cafb4c8d1
Create Date: 2026-11-30 02:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5f6a7b8c9d0'
down_revision = 'bf8cafb4c8d1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mfa_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('required', sa.String(length=16), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_policy'))
    )


def downgrade():
    op.drop_table('mfa_policy')
