"""provisioning outbox: the names of the groups a 'groups' change concerned

A group the hub deleted or renamed is no longer among its groups when the change is
delivered; the row keeps its name so the app's department of that name is left too.

Revision ID: a9b8c7d6e5f4
Revises: e5f6a7b8c9d0
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9b8c7d6e5f4'
down_revision = 'e5f6a7b8c9d0'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable, so a plain ADD COLUMN (no table rebuild on SQLite); older rows have none.
    op.add_column('provisioning_outbox', sa.Column('group_names', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('provisioning_outbox', schema=None) as batch_op:
        batch_op.drop_column('group_names')
